/**
 * One short socket session as the web app has it: open a channel socket with the token in the
 * `bearer` subprotocol, ping (the runtime answers), send a message and wait for its broadcast,
 * close. Resolves with what went wrong, or null.
 */
import WebSocket from "ws";

export function socketSession(url: string, token: string, content: string): Promise<string | null> {
  return new Promise((resolve) => {
    const clientId = `soak-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    const ws = new WebSocket(url, ["bearer", token], { handshakeTimeout: 10_000 });
    let outcome: string | null = "closed before the message came back";
    const timer = setTimeout(() => {
      outcome = "no broadcast within 10 s";
      ws.terminate();
    }, 10_000);
    let ponged = false;
    ws.once("unexpected-response", (_req, res) => {
      outcome = `handshake refused with HTTP ${res.statusCode}`;
    });
    ws.on("error", (error) => {
      if (outcome === "closed before the message came back") outcome = error.message;
    });
    ws.once("open", () => ws.send('{"type":"ping"}'));
    ws.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; payload?: { client_id?: string } };
      if (frame.type === "pong" && !ponged) {
        ponged = true;
        ws.send(JSON.stringify({ type: "message", content, client_id: clientId }));
      } else if (frame.type === "error") {
        outcome = `error frame: ${data.toString()}`;
        ws.close(1000);
      } else if (frame.type === "message" && frame.payload?.client_id === clientId) {
        outcome = null;
        ws.close(1000);
      }
    });
    ws.once("close", () => {
      clearTimeout(timer);
      resolve(outcome);
    });
  });
}
