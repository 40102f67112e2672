// The Quantum Terminal Dashboard: a client of edgeconf serve's /api/v1.
// Every string from the server goes into the page as text (never HTML).
"use strict";

const state = { token: sessionStorage.getItem("edgeconf-token") || "", session: null, page: "overview", timers: [] };

// h builds an element: h("td", {class: "x"}, "text", child, …).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(value) {
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

class APIError extends Error {
  constructor(status, body) {
    super((body && body.error) || "HTTP " + status);
    this.status = status;
    this.body = body;
  }
}

async function api(path, opts = {}) {
  const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const res = await fetch("/api/v1" + path, Object.assign({}, opts, { headers }));
  let body = null;
  const text = await res.text();
  if (text) {
    try { body = JSON.parse(text); } catch { body = { error: text }; }
  }
  if (res.status === 401) {
    askToken("");
    throw new APIError(401, body);
  }
  if (!res.ok) throw new APIError(res.status, body);
  return body;
}

function askToken(message) {
  document.getElementById("login").hidden = false;
  document.getElementById("page").replaceChildren();
  document.getElementById("login-error").textContent = message;
  document.getElementById("login-token").focus();
}

function clearTimers() {
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
}

function ago(seconds) {
  if (seconds < 60) return seconds + "s";
  if (seconds < 3600) return Math.floor(seconds / 60) + "m " + (seconds % 60) + "s";
  return Math.floor(seconds / 3600) + "h " + Math.floor((seconds % 3600) / 60) + "m";
}

function sparkline(samples) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 120 24");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "latency of the last " + samples.length + " probes");
  if (samples.length > 1) {
    const maxv = Math.max(...samples, 1);
    const pts = samples.map((v, i) => (i * 120 / (samples.length - 1)).toFixed(1) + "," + (23 - v / maxv * 22).toFixed(1)).join(" ");
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", pts);
    svg.append(line);
  }
  return svg;
}

const pages = {
  async overview(root) {
    const [rep, mon, alerts, tel] = await Promise.all([api("/report"), api("/monitor"), api("/alerts"), api("/telemetry").catch(() => ({ versions: [], errors: [] }))]);
    const s = rep.metrics || {};
    root.append(h("h2", {}, "Overview"),
      h("div", { class: "cards" },
        h("div", { class: "card" }, h("div", { class: "dim" }, "report"), h("div", { class: "big " + (s.invalid ? "Invalid" : "ok") }, s.invalid ? "INVALID" : "VALID")),
        h("div", { class: "card" }, h("div", { class: "dim" }, "sections"), h("div", { class: "big" }, s.total ?? "?"), h("div", {}, (s.valid ?? 0) + " valid, " + (s.warnings ?? 0) + " warning(s), " + (s.invalid ?? 0) + " invalid")),
        h("div", { class: "card" }, h("div", { class: "dim" }, "dependencies"), h("div", { class: "big" }, mon.enabled ? mon.dependencies.length : "off"))));
    root.append(h("h3", {}, "Dependencies"));
    if (!mon.enabled) {
      root.append(h("p", { class: "dim" }, "The monitor is not running (dependencies.enabled is false, or serve --no-monitor)."));
    } else {
      root.append(h("div", { class: "scroll" }, h("table", { id: "deps-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "dependency"), h("th", {}, "state"), h("th", {}, "latency"), h("th", {}, "trend"), h("th", {}, "last error"))),
        h("tbody", {}, mon.dependencies.map((d) => h("tr", {},
          h("td", {}, d.name), h("td", { class: d.state }, d.state), h("td", {}, d.latencyMs.toFixed(1) + " ms"),
          h("td", {}, sparkline(d.samples || [])), h("td", { class: "value" }, d.lastError || "")))))));
    }
    root.append(h("h3", {}, "Worker telemetry"));
    root.append(tel.versions.length === 0 ? h("p", { class: "dim" }, "Nothing recorded yet (monitoring.analytics, performance and errorTracking decide what the Worker records).") :
      h("div", { class: "scroll" }, h("table", { id: "telemetry-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "version"), h("th", {}, "requests"), h("th", {}, "errors"), h("th", {}, "p50"), h("th", {}, "p95"), h("th", {}, "p99"))),
        h("tbody", {}, tel.versions.map((v) => h("tr", {}, h("td", {}, (v.tag || "") + " " + v.version), h("td", {}, v.requests), h("td", { class: v.errors ? "critical" : "" }, v.errors),
          h("td", {}, v.p50Ms + " ms"), h("td", {}, v.p95Ms + " ms"), h("td", {}, v.p99Ms + " ms")))))));
    if (tel.errors.length) {
      root.append(h("ul", { id: "worker-errors" }, tel.errors.slice(0, 10).map((e) => h("li", { class: "critical" }, e.at + " " + e.route + ": " + e.message + " (request " + e.requestId + ")"))));
    }
    root.append(h("h3", {}, "Recent alerts"));
    root.append(alerts.length === 0 ? h("p", { class: "dim" }, "No alerts.") :
      h("ul", { id: "alerts" }, alerts.slice(0, 20).map((a) => h("li", { class: a.to }, a.at + " " + a.message))));
    const sections = (rep.config || []).filter((e) => e.status !== "Valid");
    if (sections.length) {
      root.append(h("h3", {}, "Findings"), h("ul", {}, sections.map((e) => h("li", { class: e.status }, e.status + " " + e.section + ": " + (e.details || "")))));
    }
  },

  async config(root) {
    const [cfg, ovs] = await Promise.all([api("/config"), api("/overrides")]);
    root.append(h("h2", {}, "Configuration", h("span", { class: "dim" }, " (" + (cfg.env || "base") + ", " + cfg.target + ")")));
    if (cfg.source === "lkg") {
      root.append(h("p", { class: "warning", role: "status" }, "The store cannot be read (" + cfg.storeError + "): showing the last-known-good configuration saved " + ago(cfg.lkgAgeSeconds) + " ago."));
    }
    const canWrite = state.session && state.session.mutations;
    root.append(h("h3", {}, "Overrides"));
    const tbody = h("tbody", {}, ovs.map((o) => {
      const ttl = h("td", { "data-expires": o.expiresInSeconds || "" }, o.expiresInSeconds ? ago(o.expiresInSeconds) : "never");
      return h("tr", {},
        h("td", {}, o.path), h("td", { class: "value" }, o.ref ? o.ref + " → " + show(o.resolved) : show(o.value)),
        h("td", {}, "rev " + o.rev + " by " + o.setBy), ttl,
        h("td", {}, canWrite ? h("button", { class: "danger", type: "button", "aria-label": "delete override " + o.path, onclick: () => removeOverride(o.path) }, "delete") : ""));
    }));
    root.append(ovs.length === 0 ? h("p", { class: "dim", id: "overrides-empty" }, "No overrides: the file values apply.") :
      h("div", { class: "scroll" }, h("table", { id: "overrides-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "path"), h("th", {}, "value"), h("th", {}, "revision"), h("th", {}, "expires in"), h("th", {}, ""))), tbody)));
    state.timers.push(setInterval(() => {
      for (const td of tbody.querySelectorAll("td[data-expires]")) {
        const left = Number(td.getAttribute("data-expires"));
        if (!left) continue;
        td.setAttribute("data-expires", String(Math.max(left - 1, 0)));
        td.textContent = left - 1 > 0 ? ago(left - 1) : "expired";
      }
    }, 1000));
    if (canWrite) {
      const paths = cfg.values.map((v) => v.path);
      const list = h("datalist", { id: "paths" }, paths.map((p) => h("option", { value: p })));
      const err = h("p", { id: "override-error", class: "error", role: "alert" });
      const form = h("form", { class: "inline", id: "override-form" },
        h("div", { class: "field" }, h("label", { for: "override-path" }, "path"), h("input", { id: "override-path", type: "text", list: "paths", required: true, autocomplete: "off" })),
        h("div", { class: "field" }, h("label", { for: "override-value" }, "value (JSON or text)"), h("input", { id: "override-value", type: "text", required: true, autocomplete: "off", "aria-describedby": "override-error" })),
        h("div", { class: "field" }, h("label", { for: "override-ttl" }, "ttl (e.g. 2h; empty: never)"), h("input", { id: "override-ttl", type: "text", autocomplete: "off" })),
        h("button", { id: "override-submit", type: "submit" }, "set override"), list);
      form.addEventListener("submit", (ev) => { ev.preventDefault(); setOverride(err); });
      root.append(h("h3", {}, "Set an override"), form, err);
    } else {
      const why = state.session && state.session.edge ? "This is the dashboard at the edge: read-only. Change overrides with edgeconf serve or edgeconf override set."
        : state.session && state.session.mutationsEnabled ? "Sign in with the admin token to change overrides." : "Changes are off: edgeconf serve runs without DASHBOARD_TOKEN.";
      root.append(h("p", { class: "dim" }, why));
    }
    root.append(h("h3", {}, "Every value"), h("div", { class: "scroll" }, h("table", { id: "config-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "path"), h("th", {}, "value"), h("th", {}, "from"))),
      h("tbody", {}, cfg.values.map((v) => h("tr", {},
        h("td", {}, v.path), h("td", { class: "value" + (v.override ? " warning" : "") }, show(v.value)),
        h("td", { class: "dim" }, v.override ? "kv override (" + (v.source.setBy || "?") + ")" : (v.source.layer + " " + (v.source.position && v.source.position.line ? v.source.position.file + ":" + v.source.position.line : "")))))))));
  },

  async flags(root) {
    const rows = await api("/flags");
    root.append(h("h2", {}, "Feature flags"));
    root.append(h("div", { class: "scroll" }, h("table", { id: "flags-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "flag"), h("th", {}, "enabled"), h("th", {}, "rollout"), h("th", {}, "allowed users"), h("th", {}, "simulated"))),
      h("tbody", {}, rows.map((f) => {
        const sim = h("td", {}, h("button", { type: "button", onclick: async (ev) => {
          const r = await api("/flags/" + encodeURIComponent(f.name) + "/simulate?users=10000");
          const share = r.users ? (r.enabled / r.users * 100) : 0;
          ev.target.replaceWith(h("span", {}, h("span", { class: "bar", "aria-hidden": "true", "data-w": share.toFixed(0) }), " " + share.toFixed(1) + "% of 10,000"));
          for (const b of sim.querySelectorAll(".bar")) b.style.width = Math.max(2, Number(b.getAttribute("data-w"))) + "px";
        } }, "simulate"));
        return h("tr", {}, h("td", {}, f.name), h("td", { class: f.enabled ? "ok" : "dim" }, f.enabled ? "on" : "off"),
          h("td", {}, f.rolloutPercentage + "%"), h("td", {}, f.allowedUsers), sim);
      })))));
    const out = h("pre", { id: "eval-result", "aria-live": "polite" });
    const form = h("form", { class: "inline" },
      h("div", { class: "field" }, h("label", { for: "eval-flag" }, "flag"), h("select", { id: "eval-flag" }, rows.map((f) => h("option", { value: f.name }, f.name)))),
      h("div", { class: "field" }, h("label", { for: "eval-user" }, "user id"), h("input", { id: "eval-user", type: "text", required: true })),
      h("button", { type: "submit" }, "evaluate"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const flag = document.getElementById("eval-flag").value, user = document.getElementById("eval-user").value;
      try {
        const r = await api("/flags/" + encodeURIComponent(flag) + "/eval?user=" + encodeURIComponent(user));
        out.textContent = JSON.stringify(r, null, 2);
      } catch (e) { out.textContent = e.message; }
    });
    root.append(h("h3", {}, "Evaluate for a user"), form, out);
  },

  async databases(root) {
    const dbs = await api("/databases");
    root.append(h("h2", {}, "D1 databases"));
    if (dbs.length === 0) root.append(h("p", { class: "dim" }, "The configuration binds no D1 database."));
    for (const db of dbs) {
      root.append(h("h3", {}, db.binding + " → " + db.name));
      if (db.error) root.append(h("p", { class: "error" }, db.error));
      root.append(h("div", { class: "scroll" }, h("table", { class: "db-tables" },
        h("thead", {}, h("tr", {}, h("th", {}, "table"), h("th", {}, "rows"))),
        h("tbody", {}, db.tables.map((t) => h("tr", {}, h("td", {}, t.name), h("td", {}, t.rows)))))));
      root.append(db.migrations.length === 0 ? h("p", { class: "dim" }, "No migrations in its folder.") :
        h("ul", { class: "migrations" }, db.migrations.map((m) => h("li", { class: m.applied ? "ok" : "warning" }, (m.applied ? "applied " + m.appliedAt + " " : "pending ") + m.name))));
    }
  },

  async deployments(root) {
    const d = await api("/deployments");
    root.append(h("h2", {}, "Deployments"));
    if (!d.available) {
      root.append(h("p", { class: "dim" }, "Not available: " + d.reason));
      return;
    }
    const st = d.status;
    root.append(h("p", {}, "Worker " + st.worker + ", deployment " + st.deploymentId + " (" + st.created + ")" + (st.message ? ": " + st.message : "")));
    root.append(h("div", { class: "scroll" }, h("table", { id: "deployments-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "share"), h("th", {}, "version"), h("th", {}, "tag"), h("th", {}, "message"))),
      h("tbody", {}, (st.versions || []).map((v) => h("tr", {}, h("td", {}, v.percentage + "%"), h("td", {}, v.version_id), h("td", {}, v.tag || "-"), h("td", {}, v.message || "")))))));
  },

  async audit(root) {
    const rows = await api("/audit");
    root.append(h("h2", {}, "Audit log"));
    root.append(rows.length === 0 ? h("p", { class: "dim" }, "No changes yet.") : h("div", { class: "scroll" }, h("table", { id: "audit-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "when"), h("th", {}, "who"), h("th", {}, "action"), h("th", {}, "path"), h("th", {}, "revision"), h("th", {}, "value"))),
      h("tbody", {}, rows.map((a) => h("tr", {}, h("td", {}, a.when), h("td", {}, a.who), h("td", {}, a.action), h("td", {}, a.path), h("td", {}, a.rev),
        h("td", { class: "value" }, a.new ? show(a.new) : "")))))));
  },
};

async function setOverride(err) {
  const path = document.getElementById("override-path").value.trim();
  const raw = document.getElementById("override-value").value;
  const ttl = document.getElementById("override-ttl").value.trim();
  let value;
  try { value = JSON.parse(raw); } catch { value = raw; }
  err.textContent = "";
  try {
    await api("/overrides/" + encodeURIComponent(path), { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ value, ttl }) });
    await render();
  } catch (e) {
    const problems = e.body && e.body.problems ? e.body.problems.map((p) => p.message).join("; ") : "";
    err.textContent = e.message + (problems ? ": " + problems : "");
    document.getElementById("override-value").setAttribute("aria-invalid", "true");
  }
}

async function removeOverride(path) {
  try {
    await api("/overrides/" + encodeURIComponent(path), { method: "DELETE" });
    await render();
  } catch (e) {
    const root = document.getElementById("page");
    root.prepend(h("p", { class: "error", role: "alert" }, e.message));
  }
}

let rendering = null;
async function render() {
  if (rendering) return rendering;
  rendering = (async () => {
    clearTimers();
    const page = (location.hash || "#overview").slice(1);
    state.page = pages[page] ? page : "overview";
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.page === state.page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    const root = h("div", {});
    try {
      await pages[state.page](root);
      document.getElementById("login").hidden = true;
      document.getElementById("page").replaceChildren(root);
    } catch (e) {
      if (e.status !== 401) document.getElementById("page").replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
    }
  })();
  try { await rendering; } finally { rendering = null; }
}

let events = null;
function connect() {
  if (events) events.close();
  const url = "/api/v1/events" + (state.token ? "?access_token=" + encodeURIComponent(state.token) : "");
  events = new EventSource(url);
  const live = document.getElementById("live-status");
  events.addEventListener("hello", () => { live.className = "dot on"; live.textContent = "live"; });
  events.addEventListener("change", () => {
    // Keep what is being typed: only pages without a form in use rerender.
    const active = document.activeElement;
    if (active && active.form && active.value) return;
    render();
  });
  events.onerror = () => { live.className = "dot off"; live.textContent = "reconnecting"; };
}

async function start() {
  try {
    state.session = await api("/session");
  } catch (e) {
    if (e.status !== 401) document.getElementById("page").replaceChildren(h("p", { class: "error" }, e.message));
    return;
  }
  document.getElementById("session-info").textContent = "env " + (state.session.env || "base") + " · " + state.session.role + (state.session.mutations ? " · changes on" : " · read-only");
  document.getElementById("login").hidden = true;
  connect();
  await render();
}

document.getElementById("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.token = document.getElementById("login-token").value;
  sessionStorage.setItem("edgeconf-token", state.token);
  start();
});
window.addEventListener("hashchange", render);
start();
