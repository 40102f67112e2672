// Minimal Worker for bench/validate.sh: a fetch handler and the
// TerminalSession Durable Object class that wrangler.toml binds.
export class TerminalSession {
  constructor(state, env) {
    this.state = state;
    this.env = env;
  }

  async fetch(request) {
    return new Response("session " + this.state.id.toString());
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/session/")) {
      const id = env.SESSIONS.idFromName(url.pathname.slice("/session/".length));
      return env.SESSIONS.get(id).fetch(request);
    }
    return new Response("quantum-dashboard (" + env.LOG_LEVEL + ")\n", {
      headers: { "content-type": "text/plain" },
    });
  },
};
