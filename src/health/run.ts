// One run of a configured check: picks the checker for the spec's type and
// fills in where to connect (connect-ip/connect-port or the real server). A
// script is vetted again before each run (policy.ts) and runs as the script
// user, in a clean environment, from /.

import { checkTcp } from "./tcp.js";
import { checkHttp } from "./http.js";
import { checkUdp } from "./udp.js";
import { checkScript } from "./script.js";
import { parseDestId } from "../keys.js";
import { ScriptPolicy, type ScriptIdentity } from "./policy.js";
import type { CheckResult, CheckSpec, ScriptCheck } from "./types.js";
import { errorText, type RunOptions } from "./deadline.js";

/** What a script sees of the environment: a PATH, nothing of weir's own. */
const SCRIPT_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };

let strict: ScriptPolicy | undefined;

/** One run of `spec`; script checks follow `scripts` (default: the default rules, never none). */
export function runCheck(spec: CheckSpec, signal?: AbortSignal, scripts: ScriptPolicy = strict ??= new ScriptPolicy()): Promise<CheckResult> {
  const d = parseDestId(spec.dest);
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
      return runScript(c, base, scripts);
  }
}

async function runScript(c: ScriptCheck, base: RunOptions, scripts: ScriptPolicy): Promise<CheckResult> {
  let command: string;
  let who: ScriptIdentity | null;
  try {
    command = await scripts.vet(c.command);
    who = await scripts.identity();
  } catch (e) {
    return { ok: false, error: `refused: ${errorText(e)}` }; // ScriptRefused, or the file system failed us
  }
  return checkScript({ ...base, command, args: c.args, uid: who?.uid, gid: who?.gid, env: { ...SCRIPT_ENV }, cwd: "/" });
}
