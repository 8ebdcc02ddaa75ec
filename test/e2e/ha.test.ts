// Two `weir run` directors as a VRRP pair with connection sync (issue 12), in
// the two-director topology (src/demo/hatopology.ts, the lab of halab.ts):
// long-lived TCP connections through a NAT and a DR service, each exchanging
// small messages checked byte for byte (src/demo/hold.ts), must all carry on
// — no reset, no close, no wrong byte, no request unanswered past STALL_MS —
// when the master is killed with SIGKILL, when its data link is cut (inside
// its namespace or on the switch), on failback with preemption (the restarted
// director takes the bulk resync and preempts; connections made during the
// outage survive), and when a backup restarted mid-stream takes over later.
// One lab for the file, advert_int 0.2 s; every step waits with a bound.
// Then `weir demo --ha` end to end: exit 0 (no connection lost), nothing left.
// Root only; namespaces weir<pid><letter>-*, addresses 198.18.0.0/15.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { CAN_RUN, IO_ENGINE, ROOT, SKIP_REASON, listNetns, pidsWithArg } from "./lib/index.js";
import { requireOrFail } from "../helpers/requires.js";
import { HaLab } from "../../src/demo/halab.js";
import { HA_SERVICES } from "../../src/demo/hatopology.js";
import type { HoldStatus } from "../../src/demo/hold.js";

const ADVERT = 0.2;
/** Per service and step: long-lived connections. */
const CONNS = 40;
/** A request unanswered this long loses its connection: well above a takeover (3 × 0.2 s + skew) plus TCP's retransmission back-off. */
const STALL_MS = 6000;
const TCP = HA_SERVICES.filter((s) => s.proto === "tcp");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wall = () => performance.timeOrigin + performance.now();

interface Held {
  label: string;
  handle: number;
}

// One thread: every case. `--workers 2`: the kill -9 case, where the backup's
// workers must hold each synced connection in the worker its frames reach.
for (const workers of [1, 2]) describe.skipIf(requireOrFail(CAN_RUN && IO_ENGINE, SKIP_REASON))(`two weir directors${workers > 1 ? ` with --workers ${workers}` : ""}: failover keeps established connections`, () => {
  let lab: HaLab;

  beforeAll(async () => {
    lab = await HaLab.create({ advertInt: ADVERT, ...(workers > 1 ? { weirArgs: ["--workers", String(workers)] } : {}) });
    await lab.startDirector(0);
    await lab.startDirector(1);
    await lab.waitState(0, "MASTER", 20000);
    await lab.waitState(1, "BACKUP", 5000);
  });

  afterAll(async () => {
    await lab?.close();
  });

  /** CONNS connections on each TCP service (NAT and DR), all open and answering. */
  async function open(tag: string): Promise<Held[]> {
    const held: Held[] = [];
    for (const s of TCP) {
      const h = await lab.hold({ host: s.vip, port: s.port, count: CONNS, intervalMs: 200, stallMs: STALL_MS, bodyBytes: 64 });
      expect(h.status.connected, `${tag} ${s.method}: ${h.status.reasons.join("; ")}`).toBe(CONNS);
      held.push({ label: `${tag} ${s.method}`, handle: h.handle });
    }
    // A few exchanges on each, so the sync has carried them.
    await sleep(1000);
    for (const h of held) {
      const st = await lab.holdStatus(h.handle);
      expect(st.lost, `${h.label} before the fault: ${st.reasons.join("; ")}`).toBe(0);
      expect(st.answered).toBeGreaterThanOrEqual(CONNS);
    }
    return held;
  }

  /** Waits (bounded) until every connection answered a request sent after `since`; expects none lost. */
  async function expectAllCarryOn(held: Held[], since: number): Promise<number> {
    const end = Date.now() + STALL_MS + 3000;
    let st: HoldStatus[] = [];
    for (;;) {
      st = await Promise.all(held.map((h) => lab.holdStatus(h.handle, since)));
      if (st.every((x) => x.waiting === 0) || Date.now() > end) break;
      await sleep(100);
    }
    let worst = 0;
    st.forEach((x, i) => {
      expect(x.lost, `${held[i].label}: ${x.lost} lost (${x.reasons.slice(0, 3).join("; ")})`).toBe(0);
      expect(x.waiting, `${held[i].label}: ${x.waiting} connections unanswered since the fault`).toBe(0);
      worst = Math.max(worst, x.lastFirstAfter! - since);
    });
    expect(worst).toBeLessThan(STALL_MS);
    return worst;
  }

  async function stop(held: Held[]): Promise<void> {
    for (const h of held) {
      const st = await lab.holdStop(h.handle);
      expect(st.lost, `${h.label} at the end: ${st.reasons.slice(0, 3).join("; ")}`).toBe(0);
    }
  }

  /** Both directors running, links up, lb1 MASTER (each case starts from here even when an earlier one failed half-way). */
  async function pair(): Promise<void> {
    for (const d of [0, 1]) if (!lab.directors[d]) await lab.startDirector(d);
    for (const side of ["client", "server"] as const) for (const where of ["director", "switch"] as const) await lab.restoreLink(0, side, where);
    await lab.waitState(0, "MASTER", 10000);
    await lab.waitState(1, "BACKUP", 5000);
  }

  const report = (line: string) => process.stdout.write(`ha: ${line}\n`);

  it("kill -9 of the master: the backup takes over and every NAT and DR connection carries on", async () => {
    await pair();
    const held = await open("kill");
    const probe = await lab.probe(TCP[0].vip);
    const t = lab.killDirector(0);
    await lab.waitState(1, "MASTER", 5000);
    const takeover = await lab.waitProbe(probe, t, STALL_MS);
    await lab.probeStop(probe);
    expect(takeover, "no probe answered after the kill").not.toBeNull();
    const worst = await expectAllCarryOn(held, t);
    report(`kill -9${workers > 1 ? ` (--workers ${workers})` : ""}: takeover ${takeover!.toFixed(0)} ms, every connection answered again within ${worst.toFixed(0)} ms`);
    await stop(held);
  });

  if (workers > 1) return;

  it("failback with preemption: the restarted director comes back as backup, takes the bulk resync, preempts; connections made during the outage survive", async () => {
    if (lab.directors[0]) lab.killDirector(0);
    await lab.waitState(1, "MASTER", 5000);
    const during = await open("outage");
    await lab.startDirector(0);
    await lab.waitState(0, "MASTER", 10000);
    const t = wall();
    await lab.waitState(1, "BACKUP", 5000);
    const worst = await expectAllCarryOn(during, t);
    report(`failback: lb1 MASTER again, every connection of the outage answered through it within ${worst.toFixed(0)} ms`);
    await stop(during);
  });

  for (const [side, where] of [["client", "director"], ["server", "switch"]] as const) {
    it(`the master's ${side} link cut (${where === "director" ? "ip link set down inside its namespace, then up there too: it comes back with no console step" : "its bridge port down"}): the backup takes over, nothing is lost, and the failback when it returns loses nothing`, async () => {
      await pair();
      const held = await open(`cut ${side}`);
      const t = lab.cutLink(0, side, where);
      try {
        await lab.waitState(1, "MASTER", 5000);
        await lab.waitState(0, "FAULT", 5000);
        const worst = await expectAllCarryOn(held, t);
        report(`${side} link cut (${where}): every connection answered again within ${worst.toFixed(0)} ms`);
      } finally {
        await lab.restoreLink(0, side, where);
      }
      await lab.waitState(0, "MASTER", 10000);
      // The link never left the configuration (it stayed attached while down).
      if (where === "director") expect(await lab.directors[0]!.ctl("show running-config")).toMatch(new RegExp(`^ip link set ${side === "client" ? "eth0" : "eth1"}( .*)? up$`, "m"));
      const back = wall();
      await lab.waitState(1, "BACKUP", 5000);
      const worst = await expectAllCarryOn(held, back);
      report(`${side} link back: lb1 MASTER again, every connection answered within ${worst.toFixed(0)} ms`);
      await stop(held);
    });
  }

  it("a backup restarted mid-stream takes the bulk resync, and a later takeover loses nothing", async () => {
    await pair();
    const before = await open("before restart");
    lab.killDirector(1);
    // Connections the restarted backup can only learn from the bulk resync.
    const gone = await open("backup down");
    await lab.startDirector(1);
    await lab.waitState(1, "BACKUP", 5000);
    await sleep(1000);
    const probe = await lab.probe(TCP[0].vip);
    const t = lab.killDirector(0);
    await lab.waitState(1, "MASTER", 5000);
    const takeover = await lab.waitProbe(probe, t, STALL_MS);
    await lab.probeStop(probe);
    const worst = await expectAllCarryOn([...before, ...gone], t);
    report(`backup restarted, then kill -9 of the master: takeover ${takeover?.toFixed(0)} ms, every connection answered again within ${worst.toFixed(0)} ms`);
    await stop([...before, ...gone]);
  });
});

describe.skipIf(requireOrFail(CAN_RUN && IO_ENGINE, SKIP_REASON))("weir demo --ha", () => {
  it("kills the master half-way, loses no connection, exits 0 and leaves nothing behind", () => {
    const before = new Set(listNetns());
    const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "weir.js"), "demo", "--ha", "--duration", "8", "--connections", "40"], { encoding: "utf8", timeout: 120000 });
    expect(r.stdout).toMatch(/kill -9 lb1 \(weir run, the MASTER\)/);
    expect(r.stdout).toMatch(/takeover: the first probe sent after the kill was answered \d+ ms after it/);
    expect(r.stdout).toMatch(/NAT 198\.18\.100\.1:80 +40\/40 opened, 40 alive, 0 lost/);
    expect(r.stdout).toMatch(/DR 198\.18\.100\.2:80 +40\/40 opened, 40 alive, 0 lost/);
    expect(r.stdout).toMatch(/no established connection was lost/);
    expect(r.stdout).toMatch(/nothing left behind/);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(listNetns().filter((n) => !before.has(n))).toEqual([]);
    expect(pidsWithArg("dist/demo/")).toEqual([]);
  });
});
