// Parity of flags.js with Go's flags.Evaluate. Run with `node --test
// worker/` (Node.js 20+); `go test ./flags` runs it too.
//
// The vectors are written by the Go tests (go test ./flags -run
// TestVectors_File -update); their layout is described in the file itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { BUCKETING, NO_BUCKET, bucket, evaluate, murmur3x86_32, threshold } from "./flags.js";

const vectorsURL = new URL("../flags/testdata/flags-vectors.json", import.meta.url);

test("murmur3x86_32 matches flagd's published vectors", () => {
  const vectors = [
    ["ejOoVL", 0],
    ["bY9fO-", 1],
    ["SI7p-", 2147483647],
    ["6LvT0", 2147483648],
    ["ceQdGm", 4294967295],
  ];
  const enc = new TextEncoder();
  for (const [input, want] of vectors) {
    assert.equal(murmur3x86_32(enc.encode(input)), want, `murmur3x86_32(${JSON.stringify(input)})`);
  }
  assert.equal(bucket("", "ceQdGm"), 9999);
  assert.equal(bucket("", "6LvT0"), 5000);
});

test("threshold rounds and clamps like Go", () => {
  const cases = [[0, 0], [0.01, 1], [0.005, 1], [0.29, 29], [99.99, 9999], [99.995, 10000], [100, 10000], [150, 10000], [-1, 0], [NaN, 0], [undefined, 0]];
  for (const [p, want] of cases) assert.equal(threshold(p), want, `threshold(${p})`);
});

test("evaluate agrees with Go on every vector", (t) => {
  const v = JSON.parse(readFileSync(vectorsURL, "utf8"));
  assert.equal(v.bucketing, BUCKETING, "vectors were made for another bucketing algorithm");
  let total = 0;
  let agreed = 0;
  const failures = [];
  for (const c of v.cases) {
    const buckets = v.buckets[c.key];
    // A fresh object per case, as a Worker gets from its configuration.
    const flag = structuredClone(c.flag);
    for (let i = 0; i < v.users.length; i++) {
      const user = v.users[i];
      const reason = v.codes[c.decisions[i]];
      const bucketDigits = buckets ? buckets.slice(4 * i, 4 * i + 4) : "----";
      const want = {
        enabled: reason === "allowed-user" || reason === "in-rollout",
        reason,
        bucket:
          (reason === "in-rollout" || reason === "out-of-rollout") && bucketDigits !== "----"
            ? Number(bucketDigits)
            : NO_BUCKET,
      };
      const got = evaluate(c.key, flag, user);
      total++;
      if (got.enabled === want.enabled && got.reason === want.reason && got.bucket === want.bucket) {
        agreed++;
      } else if (failures.length < 10) {
        failures.push(`${c.name}: evaluate(${JSON.stringify(c.key)}, ${JSON.stringify(user)}) = ${JSON.stringify(got)}, Go says ${JSON.stringify(want)}`);
      }
    }
  }
  // go test ./flags reads this line.
  t.diagnostic(`agreed ${agreed}/${total} decisions`);
  assert.ok(v.users.length >= 100000, `only ${v.users.length} users in the vectors`);
  assert.deepEqual(failures, [], `${total - agreed} of ${total} decisions differ`);
});
