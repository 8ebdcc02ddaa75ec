// One run of a configured check: picks the checker for the spec's type and
// fills in where to connect (connect-ip/connect-port or the real server).

import { checkTcp } from "./tcp.js";
import { checkHttp } from "./http.js";
import { checkUdp } from "./udp.js";
import { checkScript } from "./script.js";
import { destFields } from "./keys.js";
import type { CheckResult, CheckSpec } from "./types.js";

export function runCheck(spec: CheckSpec, signal?: AbortSignal): Promise<CheckResult> {
  const d = destFields(spec.dest);
  const host = spec.connectIp ?? d.addr;
  const port = spec.connectPort ?? d.port;
  const base = { timeoutMs: spec.timeoutMs, signal };
  const c = spec.check;
  switch (c.type) {
    case "tcp":
      return checkTcp({ ...base, host, port, bind: spec.bind });
    case "http":
      return checkHttp({ ...base, host, port, bind: spec.bind, path: c.path, status: c.status, digest: c.digest, hostHeader: c.host });
    case "udp":
      return checkUdp({
        ...base, host, port, bind: spec.bind,
        payload: Buffer.from(c.payload, "hex"),
        expect: c.expect === undefined ? undefined : Buffer.from(c.expect, "hex"),
      });
    case "script":
      return checkScript({ ...base, command: c.command, args: c.args });
  }
}
