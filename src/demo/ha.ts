// `weir demo --ha [--duration S] [--connections N] [--advert-int S]`: two
// directors (hatopology.ts) as a VRRP pair with connection sync, a NAT and a
// DR service, N long-lived client connections per service exchanging small
// checked messages (hold.ts) and UDP probes every 10 ms; half-way the master
// is SIGKILLed. A line per second shows who is master, the connections and
// the probes; then the takeover time (kill → first answered probe sent after
// it) and a summary. Exit 0 only when every connection opened and none was
// lost (reset, closed, wrong data, or no answer within the stall bound).
// Teardown ends every process by PID and leaves nothing behind.

import { HaLab } from "./halab.js";
import { HA_SERVICES, DIRECTOR_CLIENT_ADDR } from "./hatopology.js";
import { demoPreflight, demoSignals } from "./tools.js";
import type { HoldStatus } from "./hold.js";

export interface HaDemoOptions {
  /** Seconds of traffic (default 20); the master dies half-way. */
  duration?: number;
  /** Held connections per service (default 120: 240 in all). */
  connections?: number;
  /** VRRP advert interval, seconds (default 0.1). */
  advertInt?: number;
  out?: NodeJS.WriteStream;
}

const HOLD_INTERVAL_MS = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runHaDemo(opts: HaDemoOptions = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const say = (s: string) => out.write(`${s}\n`);
  if (!demoPreflight("weir demo --ha", say)) return 1;
  const duration = Math.min(opts.duration ?? 20, 600);
  const conns = Math.max(1, Math.min(opts.connections ?? 120, 1000));
  const adv = opts.advertInt ?? 0.1;
  if (!(adv >= 0.01 && adv <= 255)) throw new Error(`--advert-int must be 0.01..255 seconds`);
  // Unanswered this long after the kill counts as lost: well above a takeover (3 adverts + skew) and TCP's retransmission back-off.
  const stallMs = Math.max(5000, Math.round(adv * 12000));
  if (duration * 500 < 3000) throw new Error(`--duration must leave time before and after the kill (at least 6 s)`);

  let lab: HaLab | undefined;
  const signals = demoSignals(say, () => lab?.topo.destroy());

  let code = 1;
  try {
    lab = await HaLab.create({ log: (l) => say(`  ${l}`), advertInt: adv });
    say(`topology ${lab.topo.prefix}: client 198.18.0.10, directors lb1 ${DIRECTOR_CLIENT_ADDR[0]} (priority 150) and lb2 ${DIRECTOR_CLIENT_ADDR[1]} (priority 100), 3 real servers`);
    say(`VRRP v3, advert_int ${adv} s; VIPs ${[...new Set(HA_SERVICES.map((s) => s.vip))].join(" ")} and the real servers' gateway 198.19.0.1 in one sync group; connection sync on eth1`);
    for (const d of [0, 1]) {
      const a = await lab.startDirector(d);
      say(`weir run started in ${lab.topo.lbs[d]} (pid ${a.proc.pid})`);
    }
    for (const d of [0, 1]) if (lab.syncError[d]) say(`connection sync NOT running on lb${d + 1}: ${lab.syncError[d]}`);
    await lab.waitState(0, "MASTER", 20000);
    await lab.waitState(1, "BACKUP", 5000);
    say(`lb1 is MASTER, lb2 BACKUP`);
    const services = HA_SERVICES.filter((s) => s.proto === "tcp");
    const holds: { label: string; handle: number }[] = [];
    for (const s of services) {
      const h = await lab.hold({ host: s.vip, port: s.port, count: conns, intervalMs: HOLD_INTERVAL_MS, stallMs, bodyBytes: 64 });
      holds.push({ label: `${s.method} ${s.vip}:${s.port}`, handle: h.handle });
      say(`${s.method} ${s.vip}:${s.port}: ${h.status.connected}/${conns} connections open, each sends 64 random bytes every ${HOLD_INTERVAL_MS} ms and checks the echo`);
    }
    const probe = await lab.probe(HA_SERVICES.find((s) => s.proto === "udp")!.vip, 10);
    say(`UDP probes every 10 ms to ${HA_SERVICES.find((s) => s.proto === "udp")!.vip}:5300; the master dies at ${(duration / 2).toFixed(1)} s`);
    say("");

    const t0 = Date.now();
    let killedAt: number | null = null;
    let takeoverMs: number | null = null;
    let last: HoldStatus[] = [];
    let second = 0;
    const bound = () => Date.now() - t0 >= duration * 1000 && (killedAt === null || Date.now() - killedAt >= stallMs + 1000 || last.every((x) => x.waiting === 0));
    while (!signals.stopping && !bound()) {
      if (killedAt === null && Date.now() - t0 >= (duration * 1000) / 2) {
        const m = await lab.master();
        killedAt = lab.killDirector(m ?? 0);
        say(`*** kill -9 lb${(m ?? 0) + 1} (weir run, the MASTER) at ${((killedAt - t0) / 1000).toFixed(1)} s ***`);
      }
      if (Date.now() - t0 >= second * 1000) {
        second++;
        last = await Promise.all(holds.map((h) => lab!.holdStatus(h.handle, killedAt ?? undefined)));
        const p = await lab.probeStatus(probe, killedAt ?? undefined);
        if (killedAt !== null && takeoverMs === null && p.firstAfter !== null) {
          takeoverMs = p.firstAfter - killedAt;
          say(`*** takeover: the first probe sent after the kill was answered ${takeoverMs.toFixed(0)} ms after it ***`);
        }
        const states = await Promise.all([0, 1].map((d) => lab!.state(d)));
        const roles = states.map((s, d) => `lb${d + 1} ${s ?? (lab!.directors[d] ? "?" : "dead")}`).join(", ");
        const conn = holds.map((h, i) => {
          const x = last[i];
          const again = killedAt !== null ? `, ${x.open - x.waiting} answered since the kill` : "";
          return `${h.label.split(" ")[0]} ${x.open}/${conns} open${x.lost ? ` (${x.lost} LOST)` : ""}${again}`;
        }).join("  ");
        say(`t=${String(Math.round((Date.now() - t0) / 1000)).padStart(3)}s  ${roles}  ${conn}  probes ${p.answered}/${p.sent}`);
      }
      await sleep(50);
    }
    const final = await Promise.all(holds.map((h) => lab!.holdStop(h.handle, killedAt ?? undefined)));
    const p = await lab.probeStop(probe, killedAt ?? undefined);
    if (killedAt !== null && takeoverMs === null && p.firstAfter !== null) takeoverMs = p.firstAfter - killedAt;

    say("");
    say("summary");
    let good = killedAt !== null;
    final.forEach((x, i) => {
      const ok = x.connected === conns && x.lost === 0 && x.waiting === 0;
      good &&= ok;
      const back = killedAt !== null && x.lastFirstAfter !== null ? `, all answered again within ${((x.lastFirstAfter - killedAt) / 1000).toFixed(2)} s of the kill` : "";
      say(`  ${holds[i].label.padEnd(22)} ${x.connected}/${conns} opened, ${x.open} alive, ${x.lost} lost${x.waiting ? `, ${x.waiting} unanswered since the kill` : ""}${back}; ${x.answered} messages checked  ${ok ? "ok" : "FAILED"}`);
      for (const r of x.reasons.slice(0, 3)) say(`      e.g. ${r}`);
    });
    say(`  takeover (kill -9 of the master → first answered client packet): ${takeoverMs === null ? "none" : `${takeoverMs.toFixed(0)} ms`}`);
    say(good ? "no established connection was lost" : killedAt === null ? "stopped before the master was killed" : "established connections were LOST");
    code = good ? 0 : 1;
  } catch (e) {
    say(`\nweir demo --ha: ${(e as Error).message}`);
    code = 1;
  } finally {
    say("\ntearing down…");
    if (lab) {
      try {
        await lab.close();
        say(`nothing left behind (namespaces, links, nft tables, processes of ${lab.topo.prefix})`);
      } catch (e) {
        say(`${(e as Error).message}`);
        code = 1;
      }
    }
    signals.off();
  }
  return code;
}
