// `weir image upgrade BUNDLE --url wss://APPLIANCE:8080 [--fingerprint FP]`
// (the pin checked before the token is sent: pin.ts): uploads a bundle over
// the appliance's WebSocket console (upload.ts) and runs `image upgrade` on
// it there. Exit codes as `weir console`: 0 done, 1 refused, 2 unreachable.
// The token: --token (discouraged: visible in `ps`), else --token-file FILE,
// else $WEIR_TOKEN (token.ts's clientToken).

import fs from "node:fs";
import WebSocket from "ws";
import { consoleSocketUrl } from "../console/transport/ws-client.js";
import { clientToken } from "../console/transport/token.js";
import { PinError, pinnedWsOptions } from "../console/transport/pin.js";
import { MAX_WS_PAYLOAD } from "../console/transport/ws.js";

export interface UpgradeClientOptions {
  url: string;
  /** --token: works, but other users see it in `ps`; prefer tokenFile or $WEIR_TOKEN. */
  token?: string;
  /** --token-file: the token read from this file. */
  tokenFile?: string;
  /** The appliance certificate's SHA-256 fingerprint (image status, the serial banner), checked before the token is sent. */
  fingerprint?: string;
  bundle: string;
  force?: boolean;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

type Msg = { type?: string; ok?: boolean; ready?: boolean; path?: string; text?: string };

export async function uploadAndUpgrade(o: UpgradeClientOptions): Promise<number> {
  const out = o.out ?? process.stdout, errOut = o.err ?? process.stderr;
  let token: string | undefined;
  try {
    token = clientToken({ token: o.token, tokenFile: o.tokenFile, defaultFile: false });
  } catch (e) {
    errOut.write(`weir image upgrade: ${(e as Error).message}\n`);
    return 1;
  }
  if (!token) {
    errOut.write("weir image upgrade: no token (give --token-file FILE or set WEIR_TOKEN)\n");
    return 1;
  }
  const size = fs.statSync(o.bundle).size;
  let pin: Awaited<ReturnType<typeof pinnedWsOptions>>;
  try {
    pin = await pinnedWsOptions(consoleSocketUrl(o.url), o.fingerprint);
  } catch (e) {
    errOut.write(`weir image upgrade: ${(e as Error).message}\n`);
    return e instanceof PinError && e.unreachable ? 2 : 1;
  }
  const ws = new WebSocket(consoleSocketUrl(o.url), { headers: { Authorization: `Bearer ${token}` }, handshakeTimeout: 15_000, ...pin });
  const inbox: Msg[] = [];
  let wake: (() => void) | undefined;
  let closed: string | undefined;
  ws.on("message", (d) => { try { inbox.push(JSON.parse(d.toString()) as Msg); } catch { /* not ours */ } wake?.(); });
  ws.on("close", (code, reason) => { closed = `${code} ${reason.toString()}`; wake?.(); });
  const next = async (type: string): Promise<Msg> => {
    for (;;) {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return inbox.splice(i, 1)[0];
      if (closed) throw new Error(`connection closed (${closed})`);
      await new Promise<void>((r) => { wake = r; });
    }
  };
  const opened = await new Promise<number>((resolve) => {
    ws.once("open", () => resolve(0));
    ws.once("unexpected-response", (_q, res) => { errOut.write(`weir image upgrade: refused (HTTP ${res.statusCode})\n`); resolve(1); });
    ws.once("error", (e: NodeJS.ErrnoException) => { errOut.write(`weir image upgrade: cannot reach ${o.url}: ${e.code ?? e.message}\n`); resolve(2); });
  });
  if (opened) { ws.terminate(); return opened; }
  try {
    await next("auth");
    ws.send(JSON.stringify({ type: "upload", size }));
    const ready = await next("upload");
    if (!ready.ready) { errOut.write(`${ready.text}\n`); return 1; }
    const chunk = MAX_WS_PAYLOAD - 1024;
    const fd = fs.openSync(o.bundle, "r");
    try {
      const buf = Buffer.alloc(chunk);
      for (let pos = 0; pos < size; ) {
        const n = fs.readSync(fd, buf, 0, chunk, pos);
        if (n <= 0) throw new Error(`${o.bundle} shrank while it was sent`);
        await new Promise<void>((res, rej) => ws.send(buf.subarray(0, n), { binary: true }, (e) => (e ? rej(e) : res())));
        pos += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    const done = await next("upload");
    if (!done.ok) { errOut.write(`${done.text}\n`); return 1; }
    ws.send(JSON.stringify({ type: "line", line: `image upgrade ${done.path}${o.force ? " force" : ""}` }));
    const r = await next("reply");
    (r.ok ? out : errOut).write(`${r.text}\n`);
    return r.ok ? 0 : 1;
  } catch (e) {
    errOut.write(`weir image upgrade: ${(e as Error).message}\n`);
    return 1;
  } finally {
    ws.close();
  }
}
