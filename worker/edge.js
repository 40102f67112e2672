// The dashboard at the edge: the same files edgeconf serve serves (baked in
// by edgeconf build as "edgeconf:assets"), and the read-only part of its
// /api/v1 — session, configuration with provenance, overrides, flags
// (evaluate, simulate) — from the baked configuration and the CONFIG KV
// overrides. Changes stay with edgeconf serve and edgeconf override.
//
// When the Worker has the DASHBOARD_TOKEN secret, /api/v1 asks for it as a
// bearer token (compared in constant time); without it the API is open, as
// the deployed configuration is public anyway.

import assets from "edgeconf:assets";
import { evaluate, threshold, BUCKETING } from "./flags.js";

const securityHeaders = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
};

const MAX_SIMULATED_USERS = 100000;

/** The dashboard's file at path, or null. */
export function asset(path) {
  const a = assets[path];
  if (!a) return null;
  return new Response(a.body, { headers: { "Content-Type": a.type, "Cache-Control": "no-cache", ...securityHeaders } });
}

function json(body, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store", ...securityHeaders },
  });
}

function timingSafeEqual(a, b) {
  const ea = new TextEncoder().encode(a), eb = new TextEncoder().encode(b);
  if (ea.length !== eb.length) return false;
  if (crypto.subtle && crypto.subtle.timingSafeEqual) return crypto.subtle.timingSafeEqual(ea, eb);
  let diff = 0;
  for (let i = 0; i < ea.length; i++) diff |= ea[i] ^ eb[i];
  return diff === 0;
}

function authorized(request, url, env) {
  if (!env.DASHBOARD_TOKEN) return true;
  const h = request.headers.get("Authorization") || "";
  const tok = h.startsWith("Bearer ") ? h.slice(7) : url.searchParams.get("access_token") || "";
  return tok !== "" && timingSafeEqual(tok, env.DASHBOARD_TOKEN);
}

/** Every leaf of a configuration object, as [path, value]. */
function leaves(obj, prefix, out) {
  if (obj !== null && typeof obj === "object" && Object.keys(obj).length > 0) {
    for (const [k, v] of Object.entries(obj)) {
      const p = Array.isArray(obj) ? `${prefix}[${k}]` : prefix ? `${prefix}.${k}` : k;
      leaves(v, p, out);
    }
  } else {
    out.push([prefix, obj]);
  }
  return out;
}

/** The provenance entry that covers path (itself or a parent), or null. */
function covering(provenance, path) {
  for (const [p, src] of Object.entries(provenance)) {
    if (path === p || path.startsWith(p + ".") || path.startsWith(p + "[")) return src;
  }
  return null;
}

function redact(v) {
  if (typeof v === "string") return v.replace(/(:\/\/[^:/@\s]+:)[^@/\s]+@/g, "$1xxxxx@");
  if (Array.isArray(v)) return v.map(redact);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redact(x)]));
  return v;
}

/**
 * Answers /api/v1/* at the edge. snap is the effective configuration
 * ({config, provenance, problems}); stale says KV could not be read.
 */
export function edgeAPI(request, url, env, snap, meta, onDecision = () => {}) {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return json({ error: "the dashboard at the edge is read-only: change overrides with edgeconf serve or edgeconf override set" }, 405);
  }
  if (!authorized(request, url, env)) {
    return new Response(JSON.stringify({ error: "a bearer token is required (DASHBOARD_TOKEN)" }), {
      status: 401,
      headers: { "Content-Type": "application/json", "WWW-Authenticate": 'Bearer realm="edgeconf"', ...securityHeaders },
    });
  }
  const p = url.pathname.slice("/api/v1".length);
  const features = snap.config.features || {};
  let m;
  switch (true) {
    case p === "/session":
      return json({ role: "read", mutations: false, mutationsEnabled: false, edge: true, env: meta.env, monitor: false, version: meta.version });
    case p === "/config":
      return json({
        env: meta.env, target: "Workers KV (CONFIG) at the edge", source: meta.stale ? "lkg" : "store",
        storeError: meta.stale || undefined, lkgAgeSeconds: meta.stale ? meta.snapshotAgeSeconds : undefined,
        problems: snap.problems.length,
        values: leaves(snap.config, "", []).map(([path, value]) => {
          const src = covering(snap.provenance, path);
          return { path, value: redact(value), source: src || { layer: "file" }, override: src !== null };
        }),
      });
    case p === "/overrides":
      return json(Object.entries(snap.provenance).map(([path, src]) => {
        const o = { path, value: redact(lookupLeaf(snap.config, path)), setBy: src.setBy, setAt: src.setAt, key: src.key, rev: src.rev || 0 };
        if (src.ref) o.ref = src.ref;
        if (src.expiresAt) o.expiresInSeconds = Math.max(0, Math.floor((Date.parse(src.expiresAt) - Date.now()) / 1000));
        return o;
      }));
    case p === "/flags":
      return json(Object.keys(features).sort().map((name) => ({
        name, enabled: !!features[name].enabled, rolloutPercentage: features[name].rolloutPercentage || 0,
        allowedUsers: (features[name].allowedUsers || []).length,
        source: covering(snap.provenance, "features." + name) ? "kv override" : "file",
      })));
    case (m = p.match(/^\/flags\/([^/]+)\/(eval|simulate)$/)) !== null: {
      const name = decodeURIComponent(m[1]);
      if (!Object.prototype.hasOwnProperty.call(features, name)) return json({ error: `unknown flag ${JSON.stringify(name)}` }, 404);
      const flag = features[name];
      if (m[2] === "eval") {
        const user = url.searchParams.get("user") || "";
        if (user === "" || user.length > 256) return json({ error: "give ?user=ID (1 to 256 characters)" }, 400);
        const d = evaluate(name, flag, user);
        onDecision(name, d.enabled);
        return json({ flag: name, user, enabled: d.enabled, reason: d.reason, bucket: d.bucket, rolloutPercentage: flag.rolloutPercentage || 0, threshold: threshold(flag.rolloutPercentage), bucketing: BUCKETING });
      }
      const users = Number(url.searchParams.get("users") || "10000");
      if (!Number.isInteger(users) || users < 1 || users > MAX_SIMULATED_USERS) return json({ error: `users is 1 to ${MAX_SIMULATED_USERS}` }, 400);
      let enabled = 0;
      for (let i = 0; i < users; i++) if (evaluate(name, flag, "user-" + i).enabled) enabled++;
      return json({ flag: name, flagEnabled: !!flag.enabled, rolloutPercentage: flag.rolloutPercentage || 0, users, enabled, enabledPercent: 100 * enabled / users });
    }
    case p === "/report":
      return json({ version: "edgeconf.report/v1", edge: true, metrics: { total: 0, valid: 0, warnings: snap.problems.length, invalid: 0 },
        config: snap.problems.map((msg) => ({ section: "overrides", status: "Warning", details: msg })) });
    case p === "/monitor":
      return json({ enabled: false, dependencies: [], critical: [] });
    case p === "/alerts" || p === "/audit" || p === "/databases" || p.startsWith("/history/"):
      return json([]);
    case p === "/deployments":
      return json({ available: false, reason: `this is the deployed Worker itself, version ${meta.version.id || "?"} ${meta.version.tag || ""}; edgeconf deployments status shows the split` });
    case p === "/events":
      // No live stream at the edge: the page reloads data when you navigate.
      return new Response(`retry: 300000\nevent: hello\ndata: {}\n\n`, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-store" } });
  }
  return json({ error: `no such API route: ${url.pathname}` }, 404);
}

function lookupLeaf(cfg, path) {
  let n = cfg;
  for (const part of path.replace(/\[(\d+)\]/g, ".$1").split(".")) {
    if (n === null || typeof n !== "object") return undefined;
    n = n[part];
  }
  return n;
}
