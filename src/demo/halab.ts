// The HA lab shared by `weir demo --ha`, benchmark B10 and test/e2e/ha.test.ts:
// the two-director topology (hatopology.ts) with its real servers, a client
// agent, and either two `weir run`s configured as a VRRP pair with connection
// sync, or two keepalived (VRRP only, the kernel holding the VIP) as the
// baseline. Directors are killed with SIGKILL (a dead machine: nothing runs
// on the way out) and restarted in the same namespace, whose next `weir run`
// cleans up after the killed one (journal.ts). close() ends every process
// by PID and deletes the namespaces.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Appliance, ROOT_DIR } from "./appliance.js";
import { AgentClient, type NsProcess } from "./procs.js";
import { alive, sleepSync, tryRun } from "./sys.js";
import {
  DIRECTOR_CLIENT_ADDR, DIRECTOR_SERVER_ADDR, HA_INSTANCE, HA_PRIORITY, HA_RS_VIPS, HA_VIPS, HA_VRID, HaTopology,
  directorConfig, type HaConfigOptions,
} from "./hatopology.js";
import { LB_CLIENT_LINK, LB_SERVER_LINK, rsAddr } from "./topology.js";
import type { HoldOptions, HoldStatus, ProbeStatus } from "./hold.js";

// Built helper programs, also when this module runs from src/ under the test runner.
const script = (name: string) => path.join(ROOT_DIR, "dist", "demo", `${name}.js`);
export const UDP_PORT = 5300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface VrrpShowLine {
  name: string;
  dev: string;
  vrid: number;
  state: string;
  priority: number;
  rest: string;
}

/** Parses `vrrp show` (CONTRACTS.md: `NAME DEV vrid N STATE prio P …`). */
export function parseVrrpShow(text: string): VrrpShowLine[] {
  const out: VrrpShowLine[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\S+)\s+(\S+)\s+vrid\s+(\d+)\s+(INIT|BACKUP|MASTER|FAULT)\s+prio\s+(\d+)\s*(.*)$/.exec(line.trim());
    if (m) out.push({ name: m[1], dev: m[2], vrid: +m[3], state: m[4], priority: +m[5], rest: m[6] });
  }
  return out;
}

export interface HaLabOptions extends HaConfigOptions {
  prefix?: string;
  log?: (line: string) => void;
  /** Extra `weir run` arguments. */
  weirArgs?: string[];
}

/** One keepalived (VRRP only) in a director namespace. */
interface Keepalived {
  proc: NsProcess;
  pidFiles: string[];
}

export class HaLab {
  readonly directors: (Appliance | null)[] = [null, null];
  /** Why director d's `lvs_sync_daemon` line was refused (null: accepted). */
  readonly syncError: (string | null)[] = [null, null];
  private readonly keepaliveds: (Keepalived | null)[] = [null, null];
  private readonly servers: NsProcess[] = [];
  private readonly echoes: (NsProcess | null)[] = [null, null];
  private readonly dir = mkdtempSync(path.join(tmpdir(), "weir-ha-"));
  private readonly log: (l: string) => void;

  private constructor(readonly topo: HaTopology, readonly agent: AgentClient, readonly opts: HaLabOptions) {
    this.log = opts.log ?? (() => {});
    topo.trackPath(this.dir);
  }

  /** The topology, the real servers (HTTP :80 and UDP :5300, DR VIPs on lo) and the client agent. */
  static async create(opts: HaLabOptions = {}): Promise<HaLab> {
    const topo = HaTopology.create({ realServers: opts.realServers ?? 3, prefix: opts.prefix, log: opts.log });
    try {
      for (const v of HA_RS_VIPS) topo.addRsVip(v);
      const servers = await Promise.all(topo.ns.rs.map((ns, i) => topo.spawnScript(ns, script("servers"),
        ["--name", `rs${i + 1}`, "--http-port", "80", "--udp-port", String(UDP_PORT), "--udp-addr", [rsAddr(i), ...HA_RS_VIPS].join(",")],
        { label: `servers rs${i + 1}` })));
      // Many long-lived connections from one address, and quick retransmissions after a takeover.
      topo.exec(topo.ns.client, ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535"]);
      const agent = new AgentClient(await topo.spawnScript(topo.ns.client, script("agent"), [], { label: "client agent" }));
      const lab = new HaLab(topo, agent, opts);
      lab.servers.push(...servers);
      return lab;
    } catch (e) {
      topo.destroy();
      throw e;
    }
  }

  // ------------------------------------------------------------ weir directors

  /** Starts `weir run` as director d and configures it (directorConfig); resolves once it answers. */
  async startDirector(d: number, extra: HaConfigOptions = {}): Promise<Appliance> {
    if (this.directors[d]) throw new Error(`director ${d + 1} is running`);
    const a = await Appliance.start(this.topo, { ns: this.topo.lbs[d], args: this.opts.weirArgs, log: (l) => this.log(`lb${d + 1}: ${l}`) });
    this.directors[d] = a;
    for (const line of directorConfig(d, { ...this.opts, ...extra })) {
      if (!line.startsWith("lvs_sync_daemon ")) {
        await a.ctl(line);
        continue;
      }
      // Without sync the pair still fails over (and loses the connections): say so rather than refuse to run.
      const r = await a.tryCtl(line);
      this.syncError[d] = r.ok ? null : r.text;
      if (!r.ok) this.log(`lb${d + 1}: connection sync refused: ${r.text}`);
    }
    return a;
  }

  /** SIGKILL of director d; the wall-clock ms of the signal. Its namespace and links stay. */
  killDirector(d: number): number {
    const a = this.directors[d];
    if (!a) throw new Error(`director ${d + 1} is not running`);
    const t = a.kill();
    this.directors[d] = null;
    return t;
  }

  /** SIGTERM (a clean stop: priority 0) of director d. */
  async stopDirector(d: number): Promise<void> {
    const a = this.directors[d];
    this.directors[d] = null;
    await a?.stop();
  }

  /** `vrrp show` of director d, parsed (empty when it does not answer). */
  async vrrp(d: number): Promise<VrrpShowLine[]> {
    const a = this.directors[d];
    if (!a) return [];
    const r = await a.tryCtl("vrrp show").catch(() => null);
    return r?.ok ? parseVrrpShow(r.text) : [];
  }

  /** The state of director d's client-side instance (null: not running or not answering). */
  async state(d: number): Promise<string | null> {
    return (await this.vrrp(d)).find((l) => l.name === HA_INSTANCE.client)?.state ?? null;
  }

  /** Waits (bounded) until director d's whole sync group reports state. */
  async waitState(d: number, state: string, timeoutMs = 15000): Promise<void> {
    const end = Date.now() + timeoutMs;
    let last: VrrpShowLine[] = [];
    while (Date.now() < end) {
      last = await this.vrrp(d);
      const mine = last.filter((l) => l.name === HA_INSTANCE.client || l.name === HA_INSTANCE.server);
      if (mine.length === 2 && mine.every((l) => l.state === state)) return;
      await sleep(50);
    }
    throw new Error(`director ${d + 1} not ${state} within ${timeoutMs} ms (vrrp show: ${last.map((l) => `${l.name} ${l.state}`).join(", ") || "no answer"})`);
  }

  /** Which director is MASTER now (by `vrrp show`), or null. */
  async master(): Promise<number | null> {
    for (const d of [0, 1]) if ((await this.state(d)) === "MASTER") return d;
    return null;
  }

  /** Cuts director d's link on one side (HaTopology.setLink). */
  cutLink(d: number, side: "client" | "server", where: "director" | "switch"): number {
    const t = performance.timeOrigin + performance.now();
    this.topo.setLink(d, side, where, false);
    return t;
  }

  /**
   * Puts the link back. A link set down inside the director's namespace
   * stays attached to `weir run` (only the kernel's link goes down): frames
   * flow again, and VRRP resumes, with no console step.
   */
  async restoreLink(d: number, side: "client" | "server", where: "director" | "switch"): Promise<void> {
    this.topo.setLink(d, side, where, true);
  }

  // ------------------------------------------------------- keepalived baseline

  /** keepalived (VRRP only, v3) as director d: its kernel holds the director's addresses and, as MASTER, the VIPs; a UDP echo answers probes. */
  async startKeepalived(d: number, advertInt: number): Promise<void> {
    const lb = this.topo.lbs[d];
    for (const [dev, addr] of [[LB_CLIENT_LINK, DIRECTOR_CLIENT_ADDR[d]], [LB_SERVER_LINK, DIRECTOR_SERVER_ADDR[d]]]) {
      tryRun(["ip", "-n", lb, "addr", "add", `${addr}/24`, "dev", dev]);
      this.topo.ip(lb, "link", "set", dev, "up");
    }
    if (!this.echoes[d]) {
      this.echoes[d] = await this.topo.spawnScript(lb, script("servers"), ["--name", `lb${d + 1}`, "--http-port", "0", "--udp-port", String(UDP_PORT)], { label: `echo lb${d + 1}` });
    }
    const name = `ka${d + 1}`;
    const file = path.join(this.dir, `${name}.conf`);
    writeFileSync(file, [
      "global_defs {", `  router_id ${this.topo.prefix}_${name}`, "  vrrp_version 3", "}",
      `vrrp_instance ${HA_INSTANCE.client} {`, "  state BACKUP", `  interface ${LB_CLIENT_LINK}`,
      `  virtual_router_id ${HA_VRID.client}`, `  priority ${HA_PRIORITY[d]}`, `  advert_int ${advertInt}`,
      "  virtual_ipaddress {", ...HA_VIPS.map((v) => `    ${v}/32 dev ${LB_CLIENT_LINK}`), "  }", "}", "",
    ].join("\n"));
    const pid = (n: string) => path.join(this.dir, `${name}.${n}.pid`);
    const pidFiles = [pid("vrrp"), pid("main")];
    // A killed keepalived's pid files make the next one think it "is already running".
    for (const f of [...pidFiles, pid("check")]) rmSync(f, { force: true });
    const proc = await this.topo.spawn(lb, ["keepalived", "-n", "-l", "-P", "--dont-respawn", "-f", file, "-p", pid("main"), "-r", pid("vrrp"), "-c", pid("check")],
      { label: `keepalived lb${d + 1}`, waitReady: false });
    this.keepaliveds[d] = { proc, pidFiles };
  }

  /** The last lines keepalived d logged (-l: on its stderr). */
  keepalivedLog(d: number, lines = 8): string {
    return (this.keepaliveds[d]?.proc.stderr() ?? "").trim().split("\n").slice(-lines).join("\n");
  }

  /** Whether keepalived d's kernel holds the VIPs (it does as MASTER). */
  kernelHoldsVips(d: number): boolean {
    const out = tryRun(["ip", "-n", this.topo.lbs[d], "-4", "-o", "addr", "show", "dev", LB_CLIENT_LINK]) ?? "";
    return HA_VIPS.every((v) => out.includes(` ${v}/32 `));
  }

  /**
   * SIGKILL of keepalived d (its VRRP child and its parent); the wall-clock ms
   * of the signal. A killed keepalived leaves the VIPs configured, which a
   * dead machine would not answer for: they are removed right after.
   */
  killKeepalived(d: number): number {
    const k = this.keepaliveds[d];
    if (!k) throw new Error(`keepalived ${d + 1} is not running`);
    const pids = k.pidFiles.map((f) => { try { return Number(readFileSync(f, "utf8").trim()); } catch { return 0; } }).filter((p) => p > 0);
    const t = performance.timeOrigin + performance.now();
    for (const p of [...pids, k.proc.pid]) { try { process.kill(p, "SIGKILL"); } catch { /* gone */ } }
    for (const v of HA_VIPS) tryRun(["ip", "-n", this.topo.lbs[d], "addr", "del", `${v}/32`, "dev", LB_CLIENT_LINK]);
    const end = Date.now() + 2000;
    while ([...pids, k.proc.pid].some(alive) && Date.now() < end) sleepSync(10);
    this.keepaliveds[d] = null;
    return t;
  }

  /** Stops keepalived d (if running) and removes its VIPs and the director's kernel addresses. */
  async stopKeepalived(d: number): Promise<void> {
    const k = this.keepaliveds[d];
    this.keepaliveds[d] = null;
    if (k) {
      await k.proc.stop(3000);
      for (const f of k.pidFiles) { try { const p = Number(readFileSync(f, "utf8").trim()); if (p > 0 && alive(p)) process.kill(p, "SIGKILL"); } catch { /* gone */ } }
    }
    const lb = this.topo.lbs[d];
    for (const v of HA_VIPS) tryRun(["ip", "-n", lb, "addr", "del", `${v}/32`, "dev", LB_CLIENT_LINK]);
    for (const dev of [LB_CLIENT_LINK, LB_SERVER_LINK]) {
      tryRun(["ip", "-n", lb, "addr", "flush", "dev", dev]);
      tryRun(["ip", "-n", lb, "link", "set", dev, "down"]);
    }
    await this.echoes[d]?.stop();
    this.echoes[d] = null;
    // The client's neighbour cache still names the keepalived side's MAC for the VIPs: forget it.
    tryRun(["ip", "-n", this.topo.ns.client, "neigh", "flush", "dev", "c0"]);
  }

  // ------------------------------------------------------------ client side

  /** Opens count held connections to vip:port from the client (hold.ts). */
  async hold(o: HoldOptions): Promise<{ handle: number; status: HoldStatus }> {
    return this.agent.call("holdStart", { ...o }, 120000);
  }

  holdStatus(handle: number, since?: number, detail = false): Promise<HoldStatus> {
    return this.agent.call("holdStatus", { handle, since, detail }, 10000);
  }

  holdStop(handle: number, since?: number, detail = false): Promise<HoldStatus> {
    return this.agent.call("holdStop", { handle, since, detail }, 10000);
  }

  async probe(host: string, everyMs = 10): Promise<number> {
    return (await this.agent.call<{ handle: number }>("probeStart", { host, port: UDP_PORT, everyMs }, 10000)).handle;
  }

  /** from: count only answers by that name (keepalived's directors answer probes themselves as lb1 / lb2). */
  probeStatus(handle: number, since?: number, from?: string): Promise<ProbeStatus> {
    return this.agent.call("probeStatus", { handle, since, from }, 10000);
  }

  probeStop(handle: number, since?: number): Promise<ProbeStatus> {
    return this.agent.call("probeStop", { handle, since }, 10000);
  }

  /** Waits (bounded) until a probe sent at or after `since` is answered; ms from since to that answer. */
  async waitProbe(handle: number, since: number, timeoutMs: number, from?: string): Promise<number | null> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const st = await this.probeStatus(handle, since, from);
      if (st.firstAfter !== null) return st.firstAfter - since;
      await sleep(25);
    }
    return null;
  }

  /** Ends everything by PID, deletes the namespaces; throws naming what was left behind. */
  async close(): Promise<void> {
    try {
      await this.agent.close().catch(() => {});
      for (const d of [0, 1]) {
        await this.directors[d]?.stop().catch(() => {});
        this.directors[d] = null;
        if (this.keepaliveds[d]) await this.stopKeepalived(d).catch(() => {});
      }
      for (const p of [...this.servers, ...this.echoes]) await p?.stop().catch(() => {});
    } finally {
      this.topo.destroy();
      rmSync(this.dir, { recursive: true, force: true });
    }
    this.topo.assertClean();
  }
}
