// MISC_CHECK: run a command (no shell); up when it exits with status 0. At
// the timeout the command's process group is killed (SIGKILL) and the run
// ends once it has exited, so no process outlives the run. The last line of
// its stderr (if any) becomes the error text. Which commands may run, and as
// whom, is policy.ts's business (run.ts applies it); this only runs one.

import { spawn } from "node:child_process";
import { runWithDeadline, errorText, type RunOptions } from "./deadline.js";
import type { CheckResult } from "./types.js";

export interface ScriptCheckOptions extends RunOptions {
  command: string;
  args: string[];
  /** Run as this user and group (Node then drops the supplementary groups too); default: weir's own. */
  uid?: number;
  gid?: number;
  /** The environment (default: weir's) and working directory (default: weir's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const STDERR_KEEP = 512;

export function checkScript(opts: ScriptCheckOptions): Promise<CheckResult> {
  return runWithDeadline(opts, (finish) => {
    // detached: the command leads its own process group, so a timeout kills
    // whatever it started too (kill(-pid)).
    const child = spawn(opts.command, opts.args, {
      stdio: ["ignore", "ignore", "pipe"], detached: true, uid: opts.uid, gid: opts.gid, env: opts.env, cwd: opts.cwd,
    });
    let exited = false;
    let stderr = "";
    const exitedP = new Promise<void>((res) => child.once("exit", () => { exited = true; res(); }));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s: string) => { stderr = (stderr + s).slice(-STDERR_KEEP); });
    child.on("error", (e) => finish({ ok: false, error: errorText(e) })); // e.g. spawn ENOENT (no pid, no exit)
    child.once("exit", (code, signal) => {
      if (code === 0) { finish({ ok: true }); return; }
      const last = stderr.trim().split("\n").pop();
      const why = signal ? `killed by ${signal}` : `exit status ${code}`;
      finish({ ok: false, error: last ? `${why}: ${last}` : why });
    });
    return () => {
      child.stderr.destroy();
      if (exited || child.pid === undefined) return;
      try { process.kill(-child.pid, "SIGKILL"); } catch {
        try { child.kill("SIGKILL"); } catch { /* gone */ }
      }
      return exitedP;
    };
  });
}
