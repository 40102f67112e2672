// TerminalSession: one Durable Object per terminal id. Every message a
// socket sends is broadcast to the other sockets of the session. It uses the
// WebSocket hibernation API, so an idle session costs nothing.

/** Maximum message size relayed, in bytes (bigger messages close the socket). */
export const MAX_MESSAGE = 64 * 1024;

export class TerminalSession {
  /** @param {DurableObjectState} state */
  constructor(state) {
    this.state = state;
  }

  async fetch(request) {
    if (request.headers.get("upgrade") !== "websocket") {
      return new Response(JSON.stringify({ error: "expected a WebSocket upgrade" }), { status: 426 });
    }
    const pair = new WebSocketPair();
    this.state.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** @param {WebSocket} ws @param {string|ArrayBuffer} message */
  async webSocketMessage(ws, message) {
    const size = typeof message === "string" ? message.length : message.byteLength;
    if (size > MAX_MESSAGE) {
      ws.close(1009, `message over ${MAX_MESSAGE} bytes`);
      return;
    }
    for (const other of this.state.getWebSockets()) {
      if (other === ws) continue;
      try {
        other.send(message);
      } catch {
        // a socket closing under us; the close handler tidies up
      }
    }
  }

  async webSocketClose(ws, code, reason) {
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  async webSocketError(ws) {
    try {
      ws.close(1011, "error");
    } catch {
      // already closed
    }
  }
}
