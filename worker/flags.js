// Feature-flag evaluation for the Worker: the same rules and arithmetic as
// Go's flags.Evaluate (github.com/factory-wager/edgeconf/flags), so a user
// gets the same decision at the edge as in Go code. The Go tests hold this
// file to 100% agreement with flags/testdata/flags-vectors.json.
//
//   bucket = (murmur3_x86_32(utf8(flagKey) ++ utf8(userId), seed 0) * 10000) >> 32   // 0..9999
//   on iff bucket < round(rolloutPercentage * 100)
//
// Changing any of this re-buckets every user; a change needs a new BUCKETING
// name here and in Go.

/** Name and version of the bucketing algorithm, reported with decisions. */
export const BUCKETING = "murmur3-x86-32/v1";
/** Number of buckets; a rollout of p percent covers buckets [0, round(p*100)). */
export const BUCKETS = 10000;
/** Decision.bucket when the decision did not need a bucket. */
export const NO_BUCKET = -1;

export const REASON_DISABLED = "disabled";
export const REASON_ALLOWED_USER = "allowed-user";
export const REASON_NO_USER = "no-user";
export const REASON_IN_ROLLOUT = "in-rollout";
export const REASON_OUT_OF_ROLLOUT = "out-of-rollout";

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/**
 * MurmurHash3 x86_32 of bytes[0..len) with the given seed, as an unsigned
 * 32-bit integer.
 * @param {Uint8Array} bytes
 * @param {number} [len]
 * @param {number} [seed]
 * @returns {number}
 */
export function murmur3x86_32(bytes, len = bytes.length, seed = 0) {
  let h1 = seed | 0;
  const end = len & ~3;
  let k1;
  for (let i = 0; i < end; i += 4) {
    k1 = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  k1 = 0;
  switch (len & 3) {
    case 3:
      k1 ^= bytes[end + 2] << 16;
    // falls through
    case 2:
      k1 ^= bytes[end + 1] << 8;
    // falls through
    case 1:
      k1 ^= bytes[end];
      k1 = Math.imul(k1, 0xcc9e2d51);
      k1 = (k1 << 15) | (k1 >>> 17);
      k1 = Math.imul(k1, 0x1b873593);
      h1 ^= k1;
  }
  h1 ^= len;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

/**
 * The user's bucket for the flag, 0..9999.
 * The two strings are encoded to UTF-8 separately and hashed back to back,
 * exactly as Go hashes flagKey+userID.
 * @param {string} flagKey
 * @param {string} userId
 * @returns {number}
 */
export function bucket(flagKey, userId) {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  const need = 3 * (flagKey.length + userId.length);
  if (scratch.length < need) scratch = new Uint8Array(need);
  const a = encoder.encodeInto(flagKey, scratch).written;
  const b = encoder.encodeInto(userId, scratch.subarray(a)).written;
  const h = murmur3x86_32(scratch, a + b, 0);
  // h * 10000 < 2^46 is exact in a double, and so is the division by 2^32.
  return Math.floor((h * BUCKETS) / 4294967296);
}

/**
 * Buckets covered by a rollout percentage: round(p*100) clamped to 0..10000
 * (NaN and negative percentages cover nothing).
 * @param {number} p
 * @returns {number}
 */
export function threshold(p) {
  if (!(p > 0)) return 0;
  if (p >= 100) return BUCKETS;
  // Math.round rounds halves up, as Go's math.Round does for positive numbers.
  return Math.round(p * 100);
}

// Allowed-user sets, built once per flag object (treat flag objects as
// immutable: the Worker's configuration is replaced, not edited).
const allowedSets = new WeakMap();

function isAllowed(flag, userId) {
  const list = flag.allowedUsers;
  if (!list || list.length === 0) return false;
  let set = allowedSets.get(flag);
  if (set === undefined) {
    set = new Set(list);
    allowedSets.set(flag, set);
  }
  return set.has(userId);
}

/**
 * Decides whether userId gets the flag: a disabled flag is off; a user in
 * allowedUsers is on at any percentage; an empty userId is on only at 100%;
 * otherwise the user is on iff bucket(flagKey, userId) < threshold(rolloutPercentage).
 * @param {string} flagKey
 * @param {{enabled?: boolean, rolloutPercentage?: number, allowedUsers?: string[]}} flag
 * @param {string | null | undefined} userId
 * @returns {{enabled: boolean, reason: string, bucket: number}}
 */
export function evaluate(flagKey, flag, userId) {
  const id = userId == null ? "" : String(userId);
  if (!flag || !flag.enabled) {
    return { enabled: false, reason: REASON_DISABLED, bucket: NO_BUCKET };
  }
  if (isAllowed(flag, id)) {
    return { enabled: true, reason: REASON_ALLOWED_USER, bucket: NO_BUCKET };
  }
  const t = threshold(flag.rolloutPercentage);
  if (id === "") {
    if (t >= BUCKETS) return { enabled: true, reason: REASON_IN_ROLLOUT, bucket: NO_BUCKET };
    return { enabled: false, reason: REASON_NO_USER, bucket: NO_BUCKET };
  }
  const b = bucket(String(flagKey), id);
  if (b < t) return { enabled: true, reason: REASON_IN_ROLLOUT, bucket: b };
  return { enabled: false, reason: REASON_OUT_OF_ROLLOUT, bucket: b };
}
