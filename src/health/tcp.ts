// TCP_CHECK: the real server is up when a TCP connection to it completes
// within the timeout. The socket is destroyed on every path.

import net from "node:net";
import { runWithDeadline, errorText, type RunOptions } from "./deadline.js";
import type { CheckResult } from "./types.js";

export interface TcpCheckOptions extends RunOptions {
  host: string;
  port: number;
  /** Source address (keepalived bindto). */
  bind?: string;
}

export function checkTcp(opts: TcpCheckOptions): Promise<CheckResult> {
  return runWithDeadline(opts, (finish) => {
    const sock = net.connect({ host: opts.host, port: opts.port, localAddress: opts.bind });
    sock.once("connect", () => finish({ ok: true }));
    sock.once("error", (e) => finish({ ok: false, error: errorText(e) }));
    // A close without connect or error (should not happen) still ends the run.
    sock.once("close", () => finish({ ok: false, error: "connection closed" }));
    return () => { sock.removeAllListeners(); sock.on("error", () => {}); sock.destroy(); };
  });
}
