// What the monitoring switches of the configuration record, in the CONFIG
// KV namespace (locally, with edgeconf dev, that is the state folder):
//
//   monitoring.errorTracking  every unhandled error: request id, version id,
//                             message, stack, route — one key per error,
//                             edgeconf/v1/errors/VERSION/TIME-ID (7 days)
//   monitoring.analytics      requests per route and flag decisions per flag
//                             and outcome, counted per isolate
//   monitoring.performance    a Server-Timing header on every answer, and the
//                             latency percentiles (p50, p95, p99) per version
//
// Counters and latencies are kept in the isolate and written at most once a
// minute, one key per isolate (edgeconf/v1/telemetry/VERSION/ISOLATE, 1 day),
// so KV's one-write-per-second-per-key limit is never approached. Off means
// nothing is recorded.

const ERROR_TTL = 7 * 24 * 3600;
const TELEMETRY_TTL = 24 * 3600;
const FLUSH_MILLIS = 60 * 1000;
const MAX_SAMPLES = 1000;
const MAX_ROUTES = 100;
const MAX_STACK = 4000;

export const ERRORS_PREFIX = "edgeconf/v1/errors/";
export const TELEMETRY_PREFIX = "edgeconf/v1/telemetry/";

// Random values are not allowed at global scope: the isolate's id and start
// are set by its first request.
const state = { isolate: "", since: "", routes: {}, flags: {}, samples: [], lastFlush: 0, dirty: false };

function begin() {
  if (!state.isolate) {
    state.isolate = crypto.randomUUID();
    state.since = new Date().toISOString();
  }
}

/** The route a path counts under: its parameters folded. */
export function routeOf(path) {
  if (path.startsWith("/api/flags/")) return "/api/flags/:name";
  if (path.startsWith("/api/v1/flags/")) return "/api/v1/flags/:name";
  if (path.startsWith("/api/v1/overrides/") || path.startsWith("/api/v1/history/")) return path.split("/").slice(0, 4).join("/") + "/:path";
  if (path.startsWith("/ws/terminal/")) return "/ws/terminal/:id";
  return path.length > 64 ? path.slice(0, 64) : path;
}

function percentile(sorted, q) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Counts a flag decision (analytics). */
export function countFlag(monitoring, name, enabled) {
  if (!monitoring.analytics) return;
  begin();
  const k = `${name}:${enabled ? "on" : "off"}`;
  state.flags[k] = (state.flags[k] || 0) + 1;
  state.dirty = true;
}

/**
 * Records one answered request: the route (analytics), its latency
 * (performance, with the Server-Timing header), and writes the isolate's
 * figures when a minute has passed. Returns the response to send.
 */
export function record(monitoring, env, ctx, version, path, started, response) {
  begin();
  const ms = Date.now() - started;
  if (monitoring.analytics) {
    const r = routeOf(path);
    if (state.routes[r] !== undefined || Object.keys(state.routes).length < MAX_ROUTES) {
      state.routes[r] = (state.routes[r] || 0) + 1;
    }
    state.dirty = true;
  }
  if (monitoring.performance) {
    if (state.samples.length >= MAX_SAMPLES) state.samples.shift();
    state.samples.push(ms);
    state.dirty = true;
    if (response.status !== 101) {
      response = new Response(response.body, response);
      response.headers.set("Server-Timing", `total;dur=${ms}`);
    }
  }
  if (state.dirty && env.CONFIG && ctx && Date.now() - state.lastFlush >= FLUSH_MILLIS) {
    state.lastFlush = Date.now();
    state.dirty = false;
    const sorted = [...state.samples].sort((a, b) => a - b);
    const body = { version: version.id, tag: version.tag, isolate: state.isolate, since: state.since, at: new Date().toISOString() };
    if (monitoring.analytics) Object.assign(body, { routes: state.routes, flags: state.flags });
    if (monitoring.performance) body.latencyMs = { samples: sorted.length, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99) };
    ctx.waitUntil(env.CONFIG.put(`${TELEMETRY_PREFIX}${version.id || "unknown"}/${state.isolate}`, JSON.stringify(body), { expirationTtl: TELEMETRY_TTL }).catch(() => {}));
  }
  return response;
}

/** Records an unhandled error (error tracking). */
export function recordError(monitoring, env, ctx, version, path, requestId, error) {
  if (!monitoring.errorTracking || !env.CONFIG || !ctx) return;
  const at = new Date().toISOString();
  const body = {
    requestId, version: version.id, tag: version.tag, route: routeOf(path), at,
    message: String(error && error.message ? error.message : error),
    stack: String((error && error.stack) || "").slice(0, MAX_STACK),
  };
  ctx.waitUntil(env.CONFIG.put(`${ERRORS_PREFIX}${version.id || "unknown"}/${at}-${requestId}`, JSON.stringify(body), { expirationTtl: ERROR_TTL }).catch(() => {}));
}
