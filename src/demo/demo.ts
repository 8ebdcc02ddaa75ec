// `weir demo [--duration S]`: the reference topology in network namespaces
// (a client, the appliance, three real servers on a bridged segment), `weir
// run` in the appliance's namespace configured through its control socket
// with a NAT, a DR and a TUN service (plus a UDP one), small HTTP/UDP servers
// and user-space IP-in-IP decapsulators on the real servers, bounded traffic
// from the client, a live view of per-real-server counters, a summary, and a
// teardown that leaves nothing behind.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { Appliance, type ServiceStats } from "./appliance.js";
import { AgentClient, type NsProcess } from "./procs.js";
import { demoPreflight, demoSignals } from "./tools.js";
import { LB_CLIENT_ADDR, LB_CLIENT_LINK, LB_SERVER_ADDR, LB_SERVER_LINK, Topology, rsAddr } from "./topology.js";
import type { HttpManyResult, UdpResult } from "./agent.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const script = (name: string) => path.join(here, `${name}.js`);

export interface DemoService {
  key: string;
  label: string;
  proto: "tcp" | "udp";
  vip: string;
  port: number;
  method: "NAT" | "DR" | "TUN";
  sched: string;
  flag: "-m" | "-g" | "-i";
  weights: number[];
}

export const DEMO_SERVICES: DemoService[] = [
  { key: "nat", label: "NAT", proto: "tcp", vip: "198.18.100.1", port: 80, method: "NAT", sched: "rr", flag: "-m", weights: [1, 1, 1] },
  { key: "dr", label: "DR", proto: "tcp", vip: "198.18.100.2", port: 80, method: "DR", sched: "wrr", flag: "-g", weights: [3, 2, 1] },
  { key: "tun", label: "TUN", proto: "tcp", vip: "198.18.100.3", port: 80, method: "TUN", sched: "rr", flag: "-i", weights: [1, 1, 1] },
  { key: "udp", label: "UDP", proto: "udp", vip: "198.18.100.1", port: 5300, method: "NAT", sched: "rr", flag: "-m", weights: [1, 1, 1] },
];

/** The console lines that set the appliance up for the demo services. */
export function demoConfig(services: DemoService[] = DEMO_SERVICES, realServers = 3): string[] {
  const vips = [...new Set(services.map((s) => s.vip))];
  const lines = [
    `ip link set ${LB_CLIENT_LINK} up`,
    `ip link set ${LB_SERVER_LINK} up`,
    `ip addr add ${LB_CLIENT_ADDR}/24 dev ${LB_CLIENT_LINK}`,
    ...vips.map((v) => `ip addr add ${v}/32 dev ${LB_CLIENT_LINK}`),
    `ip addr add ${LB_SERVER_ADDR}/24 dev ${LB_SERVER_LINK}`,
  ];
  for (const s of services) {
    const o = s.proto === "tcp" ? "-t" : "-u";
    lines.push(`ipvsadm -A ${o} ${s.vip}:${s.port} -s ${s.sched}`);
    for (let i = 0; i < realServers; i++) {
      lines.push(`ipvsadm -a ${o} ${s.vip}:${s.port} -r ${rsAddr(i)}:${s.port} ${s.flag} -w ${s.weights[i % s.weights.length]}`);
    }
  }
  return lines;
}

interface Tally {
  sent: number;
  ok: number;
  failed: number;
  mismatches: number;
  byServer: Record<string, number>;
  errors: string[];
}

const newTally = (): Tally => ({ sent: 0, ok: 0, failed: 0, mismatches: 0, byServer: {}, errors: [] });

export interface DemoOptions {
  /** Seconds of traffic (default 20). */
  duration?: number;
  /** Requests per second per TCP service (default 10), datagrams per second for UDP (default 5). */
  rate?: number;
  out?: NodeJS.WriteStream;
}

const RATE_MAX = 200;
const DURATION_MAX = 3600;

export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const say = (s: string) => out.write(`${s}\n`);
  if (!demoPreflight("weir demo", say)) return 1;
  const duration = Math.min(opts.duration ?? 20, DURATION_MAX);
  const rate = Math.min(opts.rate ?? 10, RATE_MAX);
  const udpRate = Math.max(1, Math.round(rate / 2));
  if (!(duration > 0)) throw new Error(`--duration must be a positive number of seconds`);

  let topo: Topology | undefined;
  const signals = demoSignals(say, () => topo?.destroy());

  const tallies = new Map<string, Tally>(DEMO_SERVICES.map((s) => [s.key, newTally()]));
  let lastStats: ServiceStats[] = [];
  let code = 1;
  const procs: NsProcess[] = [];
  let agent: AgentClient | undefined;
  let appliance: Appliance | undefined;
  try {
    topo = Topology.create({ realServers: 3, log: (l) => say(`  ${l}`) });
    say(`topology ${topo.prefix}: client 198.18.0.10, appliance ${LB_CLIENT_ADDR} | ${LB_SERVER_ADDR}, real servers ${topo.ns.rs.map((_, i) => rsAddr(i)).join(" ")}`);
    const tunnelled = DEMO_SERVICES.filter((s) => s.method !== "NAT").map((s) => s.vip);
    for (const v of new Set(tunnelled)) topo.addRsVip(v);
    const udpSvcs = DEMO_SERVICES.filter((s) => s.proto === "udp");
    await Promise.all(topo.ns.rs.map(async (ns, i) => {
      const udpAddrs = [rsAddr(i), ...udpSvcs.filter((s) => s.method !== "NAT").map((s) => s.vip)];
      const udpPort = udpSvcs[0]?.port;
      procs.push(await topo!.spawnScript(ns, script("servers"), ["--name", `rs${i + 1}`, "--http-port", "80",
        ...(udpPort ? ["--udp-port", String(udpPort), "--udp-addr", udpAddrs.join(",")] : [])], { label: `servers rs${i + 1}` }));
      procs.push(await topo!.spawnScript(ns, script("decap"), ["--dev", "eth0", "--addr", rsAddr(i)], { label: `decap rs${i + 1}` }));
    }));
    say(`real servers: HTTP :80 and UDP :5300 on rs1..rs3, IP-in-IP decapsulators (AF_PACKET → TAP) ready`);

    appliance = await Appliance.start(topo, { log: (l) => say(`  ${l}`) });
    say(`weir run started in ${topo.ns.lb} (pid ${appliance.proc.pid}), control socket ${appliance.socketPath}`);
    await appliance.ctlAll(demoConfig());
    agent = new AgentClient(await topo.spawnScript(topo.ns.client, script("agent"), [], { label: "client agent" }));
    say(`traffic for ${duration} s: ${rate} HTTP req/s per TCP service (every 5th uploads 32 KiB, echoed and compared), ${udpRate} UDP datagrams/s`);
    say("");

    const view = new LiveView(out, duration);
    const t0 = Date.now();
    const inflight = new Set<Promise<void>>();
    let second = 0;
    let lastDraw = 0;
    const track = (p: Promise<void>) => { inflight.add(p); void p.finally(() => inflight.delete(p)); };
    while (!signals.stopping && Date.now() - t0 < duration * 1000) {
      if (Date.now() - t0 >= second * 1000 && inflight.size < 16) {
        second++;
        for (const s of DEMO_SERVICES) {
          const t = tallies.get(s.key)!;
          if (s.proto === "tcp") {
            const url = `http://${s.vip}:${s.port}/`;
            const n = rate;
            t.sent += n;
            track(agent.call<HttpManyResult>("httpMany", { url, count: n - Math.floor(n / 5), rate: n, concurrency: 2, timeoutMs: 3000, totalTimeoutMs: 4000 })
              .then((r) => add(t, r, n - Math.floor(n / 5)), (e) => fail(t, n - Math.floor(n / 5), e)));
            track(agent.call<HttpManyResult>("httpMany", { url, count: Math.floor(n / 5), bodyBytes: 32768, rate: n, concurrency: 1, timeoutMs: 3000, totalTimeoutMs: 4000 })
              .then((r) => add(t, r, Math.floor(n / 5)), (e) => fail(t, Math.floor(n / 5), e)));
          } else {
            t.sent += udpRate;
            track(agent.call<UdpResult>("udp", { host: s.vip, port: s.port, count: udpRate, timeoutMs: 500 }, 15000)
              .then((r) => addUdp(t, r), (e) => fail(t, udpRate, e)));
          }
        }
      }
      if (Date.now() - lastDraw >= 1000) {
        lastDraw = Date.now();
        lastStats = await appliance.stats(true).catch(() => lastStats);
        view.draw((Date.now() - t0) / 1000, tallies, lastStats);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => setTimeout(r, 6000))]);
    lastStats = await appliance.stats(true).catch(() => lastStats);
    view.draw((Date.now() - t0) / 1000, tallies, lastStats, true);
    code = summary(say, tallies, lastStats) ? 0 : 1;
  } catch (e) {
    say(`\nweir demo: ${(e as Error).message}`);
    code = 1;
  } finally {
    say("\ntearing down…");
    try { await agent?.close(); } catch { /* gone */ }
    if (appliance) {
      const r = await appliance.stop().catch(() => "?");
      if (r !== 0 && r !== "SIGTERM") say(`  weir run exited with ${r}`);
    }
    for (const p of procs) await p.stop().catch(() => {});
    if (topo) {
      topo.destroy();
      try {
        topo.assertClean();
        say(`nothing left behind (namespaces, links, nft tables, processes of ${topo.prefix})`);
      } catch (e) {
        say(`${(e as Error).message}`);
        code = 1;
      }
    }
    signals.off();
  }
  return code;

  function add(t: Tally, r: HttpManyResult, requested: number): void {
    t.ok += r.ok;
    t.failed += requested - r.ok;
    t.mismatches += r.echoMismatches;
    for (const [k, v] of Object.entries(r.byServer)) if (k !== "?") t.byServer[k] = (t.byServer[k] ?? 0) + v;
    for (const e of r.errors) if (t.errors.length < 3 && !t.errors.includes(e)) t.errors.push(e);
  }
  function addUdp(t: Tally, r: UdpResult): void {
    t.ok += r.echoOk;
    t.failed += r.sent - r.echoOk;
    t.mismatches += r.replies - r.echoOk;
    for (const [k, v] of Object.entries(r.byServer)) if (k !== "?") t.byServer[k] = (t.byServer[k] ?? 0) + v;
  }
  function fail(t: Tally, n: number, e: Error): void {
    t.failed += n;
    if (t.errors.length < 3) t.errors.push(e.message);
  }
}

function svcStats(stats: ServiceStats[], s: DemoService): ServiceStats | undefined {
  return stats.find((x) => x.proto === s.proto.toUpperCase() && x.addr === `${s.vip}:${s.port}`);
}

const pad = (v: string | number, n: number) => String(v).padStart(n);
const padr = (v: string | number, n: number) => String(v).padEnd(n);

function human(n: number): string {
  if (n < 10000) return String(n);
  if (n < 10_000_000) return `${Math.round(n / 1000)}K`;
  return `${Math.round(n / 1_000_000)}M`;
}

class LiveView {
  private lines = 0;
  private readonly tty: boolean;

  constructor(private readonly out: NodeJS.WriteStream, private readonly duration: number) {
    this.tty = !!out.isTTY;
  }

  draw(t: number, tallies: Map<string, Tally>, stats: ServiceStats[], final = false): void {
    if (!this.tty) {
      const parts = DEMO_SERVICES.map((s) => {
        const x = tallies.get(s.key)!;
        return `${s.label} ${x.ok}/${x.sent}`;
      });
      if (!final) this.out.write(`t=${Math.round(t)}s  ok/sent: ${parts.join("  ")}\n`);
      return;
    }
    const rows: string[] = [];
    rows.push(`Weir demo  ${t.toFixed(0)}s / ${this.duration}s   (Ctrl-C stops)`);
    rows.push(`${padr("service", 26)}${padr("sched", 6)}${pad("sent", 6)}${pad("ok", 6)}${pad("fail", 6)}${pad("Conns", 8)}${pad("InPkts", 9)}${pad("OutPkts", 9)}${pad("InBytes", 9)}${pad("OutBytes", 9)}`);
    for (const s of DEMO_SERVICES) {
      const x = tallies.get(s.key)!;
      const st = svcStats(stats, s);
      rows.push(`${padr(`${s.proto.toUpperCase()} ${s.vip}:${s.port} ${s.method}`, 26)}${padr(s.sched, 6)}${pad(x.sent, 6)}${pad(x.ok, 6)}${pad(x.failed, 6)}` +
        `${pad(st?.conns ?? "-", 8)}${pad(human(st?.inPkts ?? 0), 9)}${pad(human(st?.outPkts ?? 0), 9)}${pad(human(st?.inBytes ?? 0), 9)}${pad(human(st?.outBytes ?? 0), 9)}`);
      (st?.dests ?? []).forEach((d, i) => {
        const name = `rs${i + 1}`;
        const w = s.sched.startsWith("w") ? ` w${s.weights[i]}` : "";
        rows.push(`${padr(`  -> ${d.addr} ${name}${w}`, 32)}${pad("", 6)}${pad(x.byServer[name] ?? 0, 6)}${pad("", 6)}` +
          `${pad(d.conns, 8)}${pad(human(d.inPkts), 9)}${pad(human(d.outPkts), 9)}${pad(human(d.inBytes), 9)}${pad(human(d.outBytes), 9)}`);
      });
    }
    let s = "";
    if (this.lines) s += `\x1b[${this.lines}F`;
    s += rows.map((r) => `\x1b[2K${r}`).join("\n") + "\n";
    this.out.write(s);
    this.lines = rows.length;
  }
}

/** Prints the summary; true when the traffic got through on NAT, DR and TUN (and UDP). */
function summary(say: (s: string) => void, tallies: Map<string, Tally>, stats: ServiceStats[]): boolean {
  say("");
  say("summary (client side: requests sent / answered correctly, by the real server that answered)");
  let good = true;
  for (const s of DEMO_SERVICES) {
    const t = tallies.get(s.key)!;
    const st = svcStats(stats, s);
    const through = t.ok > 0 && t.mismatches === 0 && t.failed <= Math.max(1, Math.floor(t.sent * 0.05));
    good &&= through;
    const per = Object.keys(t.byServer).sort().map((k) => `${k} ${t.byServer[k]}`).join(", ");
    say(`  ${padr(`${s.label} ${s.proto.toUpperCase()} ${s.vip}:${s.port} (${s.method}, ${s.sched})`, 40)} sent ${pad(t.sent, 5)}  ok ${pad(t.ok, 5)}  failed ${pad(t.failed, 4)}` +
      `${t.mismatches ? `  echo mismatches ${t.mismatches}` : ""}  [${per || "no replies"}]  ${through ? "ok" : "FAILED"}`);
    if (st) say(`  ${" ".repeat(40)} appliance: ${st.conns} conns, ${st.inPkts} packets in, ${st.outPkts} out`);
    for (const e of t.errors) say(`      e.g. ${e}`);
  }
  say(good ? "traffic got through on NAT, DR and TUN" : "traffic did NOT get through on every method");
  return good;
}
