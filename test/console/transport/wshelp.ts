// Small WebSocket client helpers for the console tests.

import WebSocket from "ws";

export interface Opened {
  ws: WebSocket;
  /** Messages received so far, parsed. */
  messages: Record<string, unknown>[];
  /** Resolves with the next message that satisfies pred. */
  next(pred?: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a socket; resolves once open, or rejects with the HTTP status of a refused upgrade. */
export function open(url: string, opts: WebSocket.ClientOptions = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const messages: Record<string, unknown>[] = [];
    const waiters: { pred: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] = [];
    ws.on("message", (d) => {
      const m = JSON.parse(d.toString()) as Record<string, unknown>;
      messages.push(m);
      const i = waiters.findIndex((w) => w.pred(m));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(m);
    });
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on("close", (code, reason) => r({ code, reason: reason.toString() })));
    ws.on("unexpected-response", (_req, res) => {
      res.resume();
      ws.terminate();
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, headers: res.headers }));
    });
    ws.on("error", (e) => reject(e));
    ws.on("open", () =>
      resolve({
        ws,
        messages,
        closed,
        next(pred = () => true) {
          const seen = messages.find(pred);
          if (seen) {
            messages.splice(messages.indexOf(seen), 1);
            return Promise.resolve(seen);
          }
          return new Promise((r) => waiters.push({ pred, resolve: (m) => { messages.splice(messages.indexOf(m), 1); r(m); } }));
        },
      }),
    );
  });
}

/** HTTP status of a refused upgrade (or 101 if it was accepted). */
export async function upgradeStatus(url: string, opts: WebSocket.ClientOptions = {}): Promise<number> {
  try {
    const o = await open(url, opts);
    o.ws.terminate();
    return 101;
  } catch (e) {
    return (e as { status?: number }).status ?? -1;
  }
}

export const send = (o: Opened, msg: object) => o.ws.send(JSON.stringify(msg));
