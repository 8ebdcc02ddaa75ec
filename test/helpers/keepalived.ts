// A real keepalived (Debian's 2.2.x, VRRP only: this kernel has no ip_vs,
// keepalived logs that and carries on) in a test's namespace, as the VRRP
// peer of a Weir: one vrrp_instance VI_1, its log lines kept (-l: stderr) to
// read its state from "(VI_1) Entering X STATE". A SIGKILLed or stopped
// keepalived may leave its virtual addresses configured: the caller removes them.

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { alive } from "../../src/demo/sys.js";

export interface KeepalivedConf {
  iface: string;
  vrid: number;
  priority: number;
  version: 2 | 3;
  /** keepalived's advert_int, as written ("0.1", "1"). */
  advertInt: string;
  /** virtual_ipaddress entries ("198.18.0.100/32"). */
  vips: string[];
  unicast?: { src: string; peers: string[] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Keepalived {
  readonly lines: string[] = [];
  constructor(readonly proc: ChildProcess) {}

  /** Starts keepalived in namespace ns; its config and pid files go in dir. (A subclass's launch gives its own instances.) */
  static launch<K extends Keepalived>(this: new (proc: ChildProcess) => K, ns: string, dir: string, c: KeepalivedConf): K {
    const file = path.join(dir, "ka.conf");
    writeFileSync(file, [
      "global_defs {", `  router_id weir_${process.pid}`, "}",
      "vrrp_instance VI_1 {",
      "  state BACKUP", `  interface ${c.iface}`,
      `  virtual_router_id ${c.vrid}`, `  priority ${c.priority}`, `  advert_int ${c.advertInt}`, `  version ${c.version}`,
      ...(c.unicast ? [`  unicast_src_ip ${c.unicast.src}`, "  unicast_peer {", ...c.unicast.peers.map((p) => `    ${p}`), "  }"] : []),
      "  virtual_ipaddress {", ...c.vips.map((v) => `    ${v}`), "  }",
      "}", "",
    ].join("\n"));
    const pid = (n: string) => path.join(dir, `ka.${n}.pid`);
    const proc = spawn("ip", ["netns", "exec", ns, "keepalived", "-n", "-l", "-P", "--dont-respawn", "-f", file, "-p", pid("main"), "-r", pid("vrrp"), "-c", pid("check")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const k = new this(proc);
    for (const s of [proc.stdout!, proc.stderr!]) createInterface({ input: s }).on("line", (l) => k.lines.push(l));
    return k;
  }

  /** A position in the log, for state(from) / waitState(…, from). */
  mark(): number { return this.lines.length; }

  /** The last state keepalived entered (after line `from`), or null. */
  state(from = 0): string | null {
    let st: string | null = null;
    for (const l of this.lines.slice(from)) {
      const m = /\(VI_1\) Entering (\w+) STATE/.exec(l);
      if (m) st = m[1];
    }
    return st;
  }

  async waitState(state: string, timeoutMs: number, from = 0): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (this.state(from) !== state) {
      if (Date.now() > end) throw new Error(`keepalived ${state}: not within ${timeoutMs} ms (log: ${this.lines.slice(-4).join(" | ")})`);
      await sleep(50);
    }
    return state;
  }

  /** SIGTERM (keepalived sends priority 0 and drops its addresses), SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    const pid = this.proc.pid;
    if (pid === undefined || !alive(pid)) return;
    this.proc.kill("SIGTERM");
    const deadline = Date.now() + graceMs;
    while (alive(pid) && Date.now() < deadline) await sleep(20);
    if (alive(pid)) this.proc.kill("SIGKILL");
  }
}
