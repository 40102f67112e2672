// KV overrides applied over the baked file configuration, by the same rules
// as Go's overrides package: keys edgeconf/v1/overrides/<env>/<path> (env
// "_base" for the base configuration), value JSON, metadata
// {setBy, setAt, rev, ref}; overrides apply in path order, a later (longer)
// path over an earlier one; an expired key is gone (KV expires it); a null
// value (an unresolved reference) leaves the file value.

export const PREFIX = "edgeconf/v1/overrides/";

/** @param {string} env */
export function envName(env) {
  return env ? env : "_base";
}

/** Splits "a.b[2].c" or "a.b.2.c" into its elements, as Go's splitPath. */
export function splitPath(path) {
  return path.replaceAll("[", ".").replaceAll("]", "").split(".").filter((p) => p !== "");
}

/**
 * Sets value at path in a deep copy of cfg. A path that does not exist in the
 * configuration's shape is refused (returns an error string).
 * @returns {string|null}
 */
export function setPath(root, path, value) {
  const els = splitPath(path);
  if (els.length === 0) return "empty path";
  let n = root;
  for (let i = 0; i < els.length - 1; i++) {
    const el = els[i];
    if (Array.isArray(n)) {
      const idx = Number(el);
      if (!Number.isInteger(idx) || idx < 0 || idx >= n.length) return `index ${el} does not exist`;
      n = n[idx];
    } else if (n !== null && typeof n === "object") {
      if (n[el] === undefined || n[el] === null) n[el] = {};
      n = n[el];
    } else {
      return `${els.slice(0, i).join(".")} is a single value`;
    }
  }
  const last = els[els.length - 1];
  if (Array.isArray(n)) {
    const idx = Number(last);
    if (!Number.isInteger(idx) || idx < 0 || idx >= n.length) return `index ${last} does not exist`;
    n[idx] = value;
  } else if (n !== null && typeof n === "object") {
    n[last] = value;
  } else {
    return `${els.slice(0, -1).join(".")} is a single value`;
  }
  return null;
}

/**
 * Reads the overrides of env from the KV namespace, sorted by path.
 * @param {KVNamespace} kv
 * @param {string} env
 * @param {number} [maxKeys] bound on the number of overrides read
 */
export async function readOverrides(kv, env, maxKeys = 10000) {
  const base = PREFIX + envName(env) + "/";
  const out = [];
  let cursor;
  for (;;) {
    const page = await kv.list({ prefix: base, cursor });
    for (const k of page.keys) {
      if (out.length >= maxKeys) throw new Error(`more than ${maxKeys} overrides under ${base}`);
      const got = await kv.getWithMetadata(k.name, "text");
      if (got.value === null) continue; // expired or deleted since the listing
      let value;
      try {
        value = JSON.parse(got.value);
      } catch (e) {
        throw new Error(`override ${k.name} holds no JSON value`);
      }
      const md = got.metadata || {};
      out.push({
        path: k.name.slice(base.length),
        key: k.name,
        value,
        setBy: md.setBy || "",
        setAt: md.setAt || "",
        rev: md.rev || 0,
        ref: md.ref || "",
        expiresAt: k.expiration ? new Date(k.expiration * 1000).toISOString().replace(".000Z", "Z") : "",
      });
    }
    if (page.list_complete || !page.cursor) break;
    cursor = page.cursor;
  }
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

/**
 * Applies overrides over the file configuration.
 * @returns {{config: object, provenance: Record<string, object>, problems: string[]}}
 */
export function applyOverrides(fileConfig, overrides) {
  const config = structuredClone(fileConfig);
  const provenance = {};
  const problems = [];
  for (const o of overrides) {
    if (o.value === null) continue;
    const err = setPath(config, o.path, structuredClone(o.value));
    if (err) {
      problems.push(`${o.key}: ${err}`);
      continue;
    }
    for (const p of Object.keys(provenance)) {
      if (p.startsWith(o.path + ".") || p.startsWith(o.path + "[")) delete provenance[p];
    }
    const src = { layer: "kv", key: o.key, setBy: o.setBy, setAt: o.setAt };
    if (o.expiresAt) src.expiresAt = o.expiresAt;
    if (o.ref) src.ref = o.ref;
    provenance[o.path] = src;
  }
  return { config, provenance, problems };
}

/** The value at a dotted path, or undefined. */
export function lookup(cfg, path) {
  let n = cfg;
  for (const el of splitPath(path)) {
    if (n === null || typeof n !== "object") return undefined;
    n = Array.isArray(n) ? n[Number(el)] : n[el];
  }
  return n;
}
