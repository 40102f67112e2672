// The Quantum Terminal Dashboard Worker: the edge half of edgeconf.
//
//   GET /healthz            status, version (CF_VERSION_METADATA), config revision, KV check
//   GET /api/config[?path=] effective configuration: baked file config + CONFIG KV overrides
//   GET /api/flags/:name    flag decision for ?user=ID, as `edgeconf flags eval -o json`
//   GET /ws/terminal/:id    WebSocket into the TerminalSession Durable Object (SESSIONS)
//   GET /, /app.js, …       the dashboard (the files of edgeconf serve), with the
//   GET /api/v1/…           read-only part of its API (see edge.js)
//
// `edgeconf build` bakes the file configuration of one environment in as the
// module "edgeconf:config" (see docs/worker.md).

import baked from "edgeconf:config";
import { BUCKETING, evaluate, threshold } from "./flags.js";
import { applyOverrides, lookup, readOverrides } from "./overrides.js";
import { asset, edgeAPI } from "./edge.js";
import { countFlag, record, recordError } from "./telemetry.js";

export { TerminalSession } from "./session.js";

/** @typedef {{CONFIG?: KVNamespace, SESSIONS?: DurableObjectNamespace, CF_VERSION_METADATA?: {id: string, tag: string}}} Env */

// The isolate's cache of the effective configuration.
let cache = null; // {at, config, provenance, problems, overrides}
let kvError = null; // the message of the last failed KV read, null after a good one

function refreshMillis() {
  const r = baked.refreshSeconds;
  return (typeof r === "number" && r >= 0 ? r : 60) * 1000;
}

/** The effective configuration, re-read from KV at most every refresh seconds. */
async function effective(env) {
  const now = Date.now();
  if (cache && now - cache.at < refreshMillis()) return cache;
  if (!env.CONFIG) {
    cache = { at: now, ...applyOverrides(baked.config, []), overrides: 0 };
    return cache;
  }
  try {
    const ovs = await readOverrides(env.CONFIG, baked.env);
    cache = { at: now, ...applyOverrides(baked.config, ovs), overrides: ovs.length };
    kvError = null;
  } catch (e) {
    kvError = String(e && e.message ? e.message : e);
    if (!cache) cache = { at: now, ...applyOverrides(baked.config, []), overrides: 0 };
    else cache.at = now; // keep serving the last good snapshot
  }
  return cache;
}

function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

async function healthz(env) {
  await effective(env);
  const v = env.CF_VERSION_METADATA || { id: "", tag: "" };
  const kv = env.CONFIG ? (kvError ? "error" : "ok") : "unbound";
  const body = {
    status: kvError ? "degraded" : "ok",
    version: { id: v.id || "", tag: v.tag || "" },
    configRevision: baked.revision,
    env: baked.env || "",
    checks: { kv },
  };
  if (kvError) body.kvError = kvError;
  return json(body);
}

async function apiConfig(url, env) {
  const snap = await effective(env);
  const path = url.searchParams.get("path") || "";
  const body = { env: baked.env || "", configRevision: baked.revision, stale: kvError !== null };
  if (path) {
    const value = lookup(snap.config, path);
    if (value === undefined) return json({ error: `no such path ${JSON.stringify(path)}` }, 404);
    body.path = path;
    body.value = value;
    body.overrides = Object.fromEntries(
      Object.entries(snap.provenance).filter(([p]) => p === path || p.startsWith(path + ".") || p.startsWith(path + "[") || path.startsWith(p + ".")),
    );
  } else {
    body.config = snap.config;
    body.overrides = snap.provenance;
  }
  if (snap.problems.length) body.problems = snap.problems;
  return json(body);
}

async function apiFlag(name, url, env) {
  const snap = await effective(env);
  const features = snap.config.features || {};
  if (!Object.prototype.hasOwnProperty.call(features, name)) {
    return json({ error: `unknown flag ${JSON.stringify(name)}`, defined: Object.keys(features).sort() }, 404);
  }
  const flag = features[name];
  const user = url.searchParams.get("user") || "";
  const d = evaluate(name, flag, user);
  countFlag(monitoringOf(), name, d.enabled);
  return json({
    flag: name,
    user,
    enabled: d.enabled,
    reason: d.reason,
    bucket: d.bucket,
    rolloutPercentage: flag.rolloutPercentage || 0,
    threshold: threshold(flag.rolloutPercentage),
    bucketing: BUCKETING,
  });
}

function terminal(id, request, env) {
  if (!env.SESSIONS) return json({ error: "the SESSIONS binding is missing" }, 500);
  if (request.headers.get("upgrade") !== "websocket") return json({ error: "expected a WebSocket upgrade" }, 426);
  const stub = env.SESSIONS.get(env.SESSIONS.idFromName(id));
  return stub.fetch(request);
}

/** The monitoring switches in force: the effective configuration's. */
function monitoringOf() {
  return (cache && cache.config && cache.config.monitoring) || baked.config.monitoring || {};
}

async function handle(request, env, url) {
  const p = url.pathname;
  if (p.startsWith("/api/v1/")) {
    const snap = await effective(env);
    const v = env.CF_VERSION_METADATA || { id: "", tag: "" };
    return edgeAPI(request, url, env, snap, { env: baked.env || "", stale: kvError, version: { id: v.id || "", tag: v.tag || "" }, snapshotAgeSeconds: Math.floor((Date.now() - snap.at) / 1000) },
      (name, enabled) => countFlag(monitoringOf(), name, enabled));
  }
  if (request.method !== "GET" && request.method !== "HEAD") return json({ error: "method not allowed" }, 405);
  const file = asset(p);
  if (file) return file;
  if (p === "/healthz") return await healthz(env);
  if (p === "/api/config") return await apiConfig(url, env);
  let m = p.match(/^\/api\/flags\/([^/]+)$/);
  if (m) return await apiFlag(decodeURIComponent(m[1]), url, env);
  m = p.match(/^\/ws\/terminal\/([^/]{1,128})$/);
  if (m) return terminal(decodeURIComponent(m[1]), request, env);
  return json({ error: "not found", path: p }, 404);
}

export default {
  /** @param {Request} request @param {Env} env @param {ExecutionContext} ctx */
  async fetch(request, env, ctx) {
    const started = Date.now();
    const url = new URL(request.url);
    const meta = env.CF_VERSION_METADATA || { id: "", tag: "" };
    const version = { id: meta.id || "", tag: meta.tag || "" };
    let res;
    try {
      res = await handle(request, env, url);
    } catch (e) {
      const id = crypto.randomUUID();
      console.error(`request ${id} failed: ${e && e.message ? e.message : e}`);
      recordError(monitoringOf(), env, ctx, version, url.pathname, id, e);
      res = json({ error: "internal error", requestId: id }, 500);
    }
    return record(monitoringOf(), env, ctx, version, url.pathname, started, res);
  },
};
