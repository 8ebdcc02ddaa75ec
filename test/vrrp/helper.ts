// Ending the JSON-lines helper scripts (pktio.mjs, vrrplink.mjs) that the
// VRRP namespace tests run: stdin closed is their signal to stop; one that
// has not gone within a second is killed, by its PID.

import type { ChildProcess } from "node:child_process";
import { alive, sleepSync } from "../../src/demo/sys.js";

export function endHelper(proc: ChildProcess): void {
  proc.stdin?.end();
  const pid = proc.pid;
  if (pid === undefined) return;
  for (let i = 0; i < 50 && alive(pid); i++) sleepSync(20);
  if (alive(pid)) process.kill(pid, "SIGKILL");
}
