// The reference topology of TESTING.md, built with `ip` in network namespaces
// named PREFIX-client, PREFIX-lb (the appliance), PREFIX-sw (the bridge of the
// server-side segment) and PREFIX-rs1..N:
//
//   client ──c0══eth0── lb (appliance) ──eth1══lb── sw: br0 ──rsI══eth0── rsI
//     └──c1══════════════════════════════════════cl──┘
//
// Addresses (198.18.0.0/15 only):
//   client  c0 198.18.0.10/24 (VIPs 198.18.100.0/24 via 198.18.0.1),
//           c1 198.19.0.10/24 on the shared segment (where DR/TUN replies arrive)
//   lb      eth0 faces the clients, eth1 the segment — addresses are the
//           appliance's own (198.18.0.1, the VIPs, 198.19.0.1), set through its console
//   rsI     eth0 198.19.0.(10+I)/24, default route via 198.19.0.1 (NAT replies);
//           replies from a VIP (DR/TUN) take table 100 straight to the client via
//           198.19.0.10; VIPs held on lo with arp_ignore=1, arp_announce=2, rp_filter=0.
//
// Every link lives inside a namespace of ours (veths are created across
// namespaces, never in the caller's), so deleting the namespaces removes them.
// destroy() kills the processes started here (by PID), deletes the
// namespaces, and is idempotent; an exit handler calls it too.

import { existsSync, rmSync } from "node:fs";
import { spawnReady, type NsProcess, type SpawnOptions } from "./procs.js";
import { alive, killPids, pidsWithArg, run, sleepSync, tryRun } from "./sys.js";

export const CLIENT_NET = "198.18.0.0/24";
export const CLIENT_ADDR = "198.18.0.10";
export const CLIENT_SEGMENT_ADDR = "198.19.0.10";
export const LB_CLIENT_ADDR = "198.18.0.1";
export const LB_SERVER_ADDR = "198.19.0.1";
export const SERVER_NET = "198.19.0.0/24";
export const VIP_NET = "198.18.100.0/24";
/** The appliance's links inside its namespace. */
export const LB_CLIENT_LINK = "eth0";
export const LB_SERVER_LINK = "eth1";
/** Routing table the real servers use for replies sent from a VIP (DR/TUN). */
export const DIRECT_TABLE = 100;

export const MAC = {
  client: "02:00:00:00:00:10",
  clientSegment: "02:00:00:00:01:10",
  lbClient: "02:00:00:00:00:01",
  lbServer: "02:00:00:00:01:01",
  rs: (i: number) => `02:00:00:00:01:${(0x11 + i).toString(16).padStart(2, "0")}`,
};

export function rsAddr(i: number): string {
  return `198.19.0.${11 + i}`;
}

export interface TopologyOptions {
  /** Real servers (default 3, at most 40). */
  realServers?: number;
  /** Names start with this (default "weir" + PID + a letter per topology in this process). */
  prefix?: string;
  /** false: turn checksum/segmentation offloads off on every veth (ethtool). Default: kernel defaults. */
  offloads?: boolean;
  log?: (line: string) => void;
}

export interface Namespaces {
  client: string;
  lb: string;
  sw: string;
  rs: string[];
}

let created = 0;
const live = new Set<Topology>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on("exit", () => {
    for (const t of live) {
      try { t.destroy(); } catch { /* best effort at exit */ }
    }
  });
}

export class Topology {
  readonly prefix: string;
  readonly ns: Namespaces;
  readonly rsCount: number;
  protected readonly log: (line: string) => void;
  private readonly pids = new Set<number>();
  private readonly procs = new Set<NsProcess>();
  private readonly paths = new Set<string>();
  private readonly nftBaseline: Set<string>;
  protected made: string[] = [];
  private destroyed = false;

  protected constructor(opts: TopologyOptions) {
    this.rsCount = opts.realServers ?? 3;
    if (!Number.isInteger(this.rsCount) || this.rsCount < 1 || this.rsCount > 40) throw new Error(`realServers must be 1..40, not ${opts.realServers}`);
    this.prefix = opts.prefix ?? `weir${process.pid}${String.fromCharCode(97 + (created++ % 26))}`;
    if (!/^[a-z][a-z0-9]{1,14}$/.test(this.prefix)) throw new Error(`bad prefix '${this.prefix}' (lowercase letters and digits, at most 15)`);
    this.log = opts.log ?? (() => {});
    this.ns = {
      client: `${this.prefix}-client`,
      lb: `${this.prefix}-lb`,
      sw: `${this.prefix}-sw`,
      rs: Array.from({ length: this.rsCount }, (_, i) => `${this.prefix}-rs${i + 1}`),
    };
    this.nftBaseline = new Set(weirNftTables());
  }

  /** Builds the whole topology; on any failure removes what it made and throws. */
  static create(opts: TopologyOptions = {}): Topology {
    return Topology.finish(new Topology(opts), opts);
  }

  /** Registers t for the exit handler and builds it (a subclass's create calls this with its own instance). */
  protected static finish<T extends Topology>(t: T, opts: TopologyOptions): T {
    live.add(t);
    hookExit();
    try {
      t.build();
      if (opts.offloads === false) t.setOffloads(false);
    } catch (e) {
      t.destroy();
      throw e;
    }
    return t;
  }

  rsAddr(i: number): string {
    return rsAddr(i);
  }

  /** `ip netns exec NS argv…`: stdout, or a CommandError with stderr. */
  exec(ns: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
    return run(["ip", "netns", "exec", ns, ...argv], opts);
  }

  /** `ip -n NS args…` */
  ip(ns: string, ...args: string[]): string {
    return run(["ip", "-n", ns, ...args]);
  }

  protected sysctl(ns: string, ...kv: string[]): void {
    this.exec(ns, ["sysctl", "-q", "-w", ...kv]);
  }

  protected addNs(name: string): void {
    run(["ip", "netns", "add", name]);
    this.made.push(name);
    // No IPv6 chatter (router solicitations, DAD) on any link made from here on.
    this.sysctl(name, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
      "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
    this.ip(name, "link", "set", "lo", "up");
  }

  /** A veth pair from (nsA, a) to (nsB, b). */
  protected veth(nsA: string, a: string, nsB: string, b: string, macA?: string, macB?: string): void {
    run(["ip", "-n", nsA, "link", "add", a, ...(macA ? ["address", macA] : []), "type", "veth",
      "peer", "name", b, ...(macB ? ["address", macB] : []), "netns", nsB]);
  }

  protected build(): void {
    const { client, lb, sw, rs } = this.ns;
    this.log(`building ${this.prefix}: ${[client, lb, sw, ...rs].join(" ")}`);
    for (const n of [client, lb, sw, ...rs]) this.addNs(n);

    // The server-side segment: a bridge joining the appliance, the client's second link and the real servers.
    this.bridge("br0");

    // client ── appliance
    this.veth(client, "c0", lb, LB_CLIENT_LINK, MAC.client, MAC.lbClient);
    this.ip(client, "addr", "add", `${CLIENT_ADDR}/24`, "dev", "c0");
    this.ip(client, "link", "set", "c0", "up");
    this.ip(client, "route", "add", VIP_NET, "via", LB_CLIENT_ADDR, "dev", "c0");
    // appliance ── segment (the appliance's links stay down: `ip link set DEV up` in its console attaches them)
    this.veth(lb, LB_SERVER_LINK, sw, "lb", MAC.lbServer);
    this.bridgePort("lb", "br0");
    this.addClientSegmentLink();
    rs.forEach((_, i) => this.addRealServer(i));
  }

  /** A bridge (no STP, no forwarding delay) in the switch namespace. */
  protected bridge(name: string): void {
    this.ip(this.ns.sw, "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0");
    this.ip(this.ns.sw, "link", "set", name, "up");
  }

  /** Puts the switch-side end `port` on bridge `br` and brings it up. */
  protected bridgePort(port: string, br: string): void {
    this.ip(this.ns.sw, "link", "set", port, "master", br);
    this.ip(this.ns.sw, "link", "set", port, "up");
  }

  /** client c1 ── server segment (where DR/TUN replies arrive). */
  protected addClientSegmentLink(): void {
    const { client } = this.ns;
    this.veth(client, "c1", this.ns.sw, "cl", MAC.clientSegment);
    this.ip(client, "addr", "add", `${CLIENT_SEGMENT_ADDR}/24`, "dev", "c1");
    this.ip(client, "link", "set", "c1", "up");
    this.bridgePort("cl", "br0");
  }

  /** Real server i on the server segment: default route via the balancer's server side, DR/TUN replies straight to the client. */
  protected addRealServer(i: number): void {
    const n = this.ns.rs[i];
    this.veth(n, "eth0", this.ns.sw, `rs${i + 1}`, MAC.rs(i));
    this.bridgePort(`rs${i + 1}`, "br0");
    this.sysctl(n,
      "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
      "net.ipv4.conf.eth0.arp_ignore=1", "net.ipv4.conf.eth0.arp_announce=2",
      "net.ipv4.conf.eth0.rp_filter=0", "net.ipv4.conf.lo.rp_filter=0");
    this.ip(n, "addr", "add", `${rsAddr(i)}/24`, "dev", "eth0");
    this.ip(n, "link", "set", "eth0", "up");
    this.ip(n, "route", "add", "default", "via", LB_SERVER_ADDR, "dev", "eth0");
    this.ip(n, "route", "add", CLIENT_NET, "via", CLIENT_SEGMENT_ADDR, "dev", "eth0", "table", String(DIRECT_TABLE));
    this.ip(n, "rule", "add", "from", VIP_NET, "lookup", String(DIRECT_TABLE), "priority", "100");
  }

  /** Puts VIP (a /32 in 198.18.100.0/24) on lo of the given real servers (default all): DR and TUN. */
  addRsVip(vip: string, which: number[] = [...this.ns.rs.keys()]): void {
    for (const i of which) this.ip(this.ns.rs[i], "addr", "add", `${vip}/32`, "dev", "lo");
  }

  /** Every veth end: [namespace, device]. */
  vethEnds(): [string, string][] {
    const { client, lb, sw, rs } = this.ns;
    return [
      [client, "c0"], [client, "c1"], [lb, LB_CLIENT_LINK], [lb, LB_SERVER_LINK], [sw, "lb"], [sw, "cl"],
      ...rs.flatMap((n, i): [string, string][] => [[n, "eth0"], [sw, `rs${i + 1}`]]),
    ];
  }

  /** Checksum and segmentation offloads on (the kernel's defaults) or off, on every veth. */
  setOffloads(on: boolean): void {
    const v = on ? "on" : "off";
    for (const [n, dev] of this.vethEnds()) {
      // ethtool exits non-zero when one feature cannot change (e.g. fixed ones); the rest still apply.
      tryRun(["ip", "netns", "exec", n, "ethtool", "-K", dev, "tso", v, "gso", v, "gro", v, "tx", v]);
    }
    this.log(`offloads ${v} on ${this.vethEnds().length} veth ends`);
  }

  /** Offload features of one device ("on"/"off" by feature name), for tests. */
  offloadState(ns: string, dev: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of this.exec(ns, ["ethtool", "-k", dev]).split("\n")) {
      const m = /^([a-z0-9-]+): (on|off)/.exec(line.trim());
      if (m) out[m[1]] = m[2];
    }
    return out;
  }

  /** Records a PID to end on destroy (for processes started elsewhere). */
  track(pid: number): void {
    this.pids.add(pid);
  }

  /** Records a file (e.g. a control socket) to remove on destroy. */
  trackPath(p: string): void {
    this.paths.add(p);
  }

  /** Starts argv inside ns, tracked by PID, and waits for its "ready" line. */
  async spawn(ns: string, argv: string[], opts: SpawnOptions): Promise<NsProcess> {
    if (this.destroyed) throw new Error(`topology ${this.prefix} is destroyed`);
    const p = await spawnReady(ns, argv, { ...opts, track: (pid) => { this.pids.add(pid); opts.track?.(pid); } });
    this.procs.add(p);
    return p;
  }

  /** Node running one of the demo scripts (dist/demo/NAME.js) inside ns, tagged with the prefix. */
  spawnScript(ns: string, script: string, args: string[], opts: SpawnOptions): Promise<NsProcess> {
    return this.spawn(ns, [process.execPath, script, "--tag", this.prefix, ...args], opts);
  }

  /** Ends the processes, deletes the namespaces; safe to call again. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const pids = [...this.pids, ...pidsWithArg(`--tag\0${this.prefix}\0`)];
    killPids([...new Set(pids)]);
    const names = new Set([...this.made, ...listNetns().filter((n) => n.startsWith(`${this.prefix}-`))]);
    for (const n of names) tryRun(["ip", "netns", "del", n]);
    // Deleting a namespace is asynchronous in the kernel; its name goes at once.
    for (const p of this.paths) {
      try { if (existsSync(p)) rmSync(p, { recursive: true, force: true }); } catch { /* left for assertClean to report */ }
    }
    live.delete(this);
    this.log(`removed ${this.prefix}`);
  }

  /** Throws naming whatever is left: namespaces, links, nft tables, processes, files. */
  assertClean(): void {
    const left = leftovers(this.prefix, [...this.pids], [...this.paths], this.nftBaseline);
    if (left.length) throw new Error(`topology ${this.prefix} left behind: ${left.join("; ")}`);
  }
}

export function listNetns(): string[] {
  const out = tryRun(["ip", "netns", "list"]) ?? "";
  return out.split("\n").map((l) => l.split(" ")[0]).filter(Boolean);
}

/** Names of nft tables starting with "weir" in this namespace ("family name"). */
export function weirNftTables(ns?: string): string[] {
  const argv = ns ? ["ip", "netns", "exec", ns, "nft", "list", "tables"] : ["nft", "list", "tables"];
  const out = tryRun(argv) ?? "";
  return out.split("\n").map((l) => /^table (\S+) (weir\S*)/.exec(l.trim())).filter((m) => m !== null).map((m) => `${m![1]} ${m![2]}`);
}

/** What a topology with this prefix left behind (empty when clean). */
export function leftovers(prefix: string, pids: number[] = [], paths: string[] = [], nftBaseline: Set<string> = new Set()): string[] {
  const left: string[] = [];
  // The kernel finishes a namespace's teardown asynchronously: allow it a moment.
  let ns: string[] = [];
  for (let i = 0; i < 50; i++) {
    ns = listNetns().filter((n) => n.startsWith(prefix));
    if (!ns.length) break;
    sleepSync(20);
  }
  if (ns.length) left.push(`namespaces ${ns.join(", ")}`);
  const links = (tryRun(["ip", "-o", "link", "show"]) ?? "").split("\n")
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((n): n is string => !!n && n.startsWith(prefix));
  if (links.length) left.push(`links ${links.join(", ")}`);
  const tables = weirNftTables().filter((t) => !nftBaseline.has(t));
  if (tables.length) left.push(`nft tables ${tables.join(", ")}`);
  const procs = [...new Set([...pids.filter(alive), ...pidsWithArg(`--tag\0${prefix}\0`)])];
  if (procs.length) left.push(`processes ${procs.join(", ")}`);
  const files = paths.filter((p) => existsSync(p));
  if (files.length) left.push(`files ${files.join(", ")}`);
  return left;
}
