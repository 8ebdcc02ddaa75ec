// UDP_CHECK: send a datagram on a connected UDP socket and wait for a reply.
// Up when any reply comes (or, with `expect`, a reply beginning with those
// bytes) within the timeout. An ICMP port unreachable shows up as an error
// (ECONNREFUSED) on the connected socket: down at once. The socket is closed
// on every path.

import dgram from "node:dgram";
import net from "node:net";
import { runWithDeadline, errorText, type RunOptions } from "./deadline.js";
import type { CheckResult } from "./types.js";

export interface UdpCheckOptions extends RunOptions {
  host: string;
  port: number;
  bind?: string;
  payload: Uint8Array;
  /** When given, the reply must begin with these bytes. */
  expect?: Uint8Array;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export function checkUdp(opts: UdpCheckOptions): Promise<CheckResult> {
  return runWithDeadline(opts, (finish) => {
    const sock = dgram.createSocket(net.isIPv6(opts.host) ? "udp6" : "udp4");
    let closed = false;
    sock.on("error", (e) => finish({ ok: false, error: errorText(e) }));
    sock.on("message", (msg) => {
      if (!opts.expect) { finish({ ok: true }); return; }
      const want = Buffer.from(opts.expect);
      if (msg.length >= want.length && msg.subarray(0, want.length).equals(want)) finish({ ok: true });
      else finish({ ok: false, error: `unexpected reply ${hex(msg.subarray(0, 32))}${msg.length > 32 ? "…" : ""}` });
    });
    const connect = () => sock.connect(opts.port, opts.host, () => {
      sock.send(opts.payload, (e) => { if (e) finish({ ok: false, error: errorText(e) }); });
    });
    if (opts.bind) sock.bind({ address: opts.bind, port: 0 }, connect);
    else connect();
    sock.once("close", () => { closed = true; });
    return () => {
      sock.removeAllListeners("message");
      sock.on("error", () => {});
      if (!closed) { try { sock.close(); } catch { /* already closed */ } }
    };
  });
}
