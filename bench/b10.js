// B10 — director failover (issue 12): two `weir run`s as a VRRP pair with
// connection sync in namespaces (src/demo/hatopology.ts, src/demo/halab.ts),
// the master SIGKILLed while the client holds long-lived TCP connections
// through a NAT and a DR service and sends numbered UDP probes every 10 ms
// through a NAT service on the same VIP.
//   takeover = time from the SIGKILL to the first answer to a probe sent
//              after it (the first answered client packet);
//   lost     = held connections reset, closed, answered wrongly or stalled
//              past a bound (STALL_MS), of HELD per service.
// At advert_int 0.1 s and 1 s (VRRP v3). Baseline: keepalived to keepalived
// on the same topology (VRRP only; the VIP on the director's kernel, a UDP
// echo there answers the same probes), SIGKILLed the same way (its VRRP child
// and parent; the VIPs it leaves configured are removed at once, as a dead
// machine would not answer for them).

import { HaLab } from "../dist/demo/halab.js";
import { HA_SERVICES } from "../dist/demo/hatopology.js";
import { haveCommand } from "../dist/demo/sys.js";
import { result, log } from "./lib/util.js";

const INTERVALS = [0.1, 1];
const HELD = 200;           // per service (NAT and DR)
const HOLD_INTERVAL_MS = 500;
const STALL_MS = { 0.1: 8000, 1: 15000 };
const PROBE_MS = 10;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nat = HA_SERVICES.find((s) => s.key === "nat");
const dr = HA_SERVICES.find((s) => s.key === "dr");

export async function baselineRun(lab, adv) {
  await lab.startKeepalived(0, adv);
  await lab.startKeepalived(1, adv);
  const end = Date.now() + 15000;
  while (!(lab.kernelHoldsVips(0) && !lab.kernelHoldsVips(1))) {
    if (Date.now() > end) throw new Error(`keepalived 1 did not become MASTER within 15 s (VIPs on lb1 ${lab.kernelHoldsVips(0)}, lb2 ${lab.kernelHoldsVips(1)}):\n${lab.keepalivedLog(0)}\n${lab.keepalivedLog(1)}`);
    await sleep(50);
  }
  const probe = await lab.probe(nat.vip, PROBE_MS);
  await sleep(500);
  const t = lab.killKeepalived(0);
  // The killed side's kernel answers until its VIPs are gone (a few ms later): count the backup's answers only.
  const ms = await lab.waitProbe(probe, t, 15000, "lb2");
  await lab.probeStop(probe);
  await lab.stopKeepalived(1);
  await lab.stopKeepalived(0);
  if (ms === null) throw new Error(`keepalived: no probe answered within 15 s of the kill (advert_int ${adv})`);
  return ms;
}

export async function weirRun(lab, adv) {
  await lab.startDirector(0, { advertInt: adv });
  await lab.startDirector(1, { advertInt: adv });
  await lab.waitState(0, "MASTER", 20000);
  await lab.waitState(1, "BACKUP", 5000);
  const stallMs = STALL_MS[adv];
  const holds = [];
  for (const s of [nat, dr]) {
    const h = await lab.hold({ host: s.vip, port: s.port, count: HELD, intervalMs: HOLD_INTERVAL_MS, stallMs, bodyBytes: 64 });
    if (h.status.connected < HELD) log(`  ${s.method}: only ${h.status.connected} of ${HELD} connections opened (${h.status.reasons.slice(0, 2).join("; ")})`);
    holds.push({ s, handle: h.handle });
  }
  const probe = await lab.probe(nat.vip, PROBE_MS);
  await sleep(1500); // a few exchanges on every connection, and time for the sync to carry them
  const t = lab.killDirector(0);
  const ms = await lab.waitProbe(probe, t, stallMs);
  // Every connection gets until the stall bound to answer a request sent after the kill.
  const end = Date.now() + stallMs + 2000;
  for (;;) {
    const st = await Promise.all(holds.map((h) => lab.holdStatus(h.handle, t)));
    if (st.every((x) => x.waiting === 0) || Date.now() > end) break;
    await sleep(200);
  }
  const lost = {};
  const slowest = {};
  for (const h of holds) {
    const st = await lab.holdStop(h.handle, t);
    lost[h.s.method] = HELD - st.open;
    slowest[h.s.method] = st.open && st.lastFirstAfter !== null ? (st.lastFirstAfter - t) / 1000 : null;
    const recover = st.open === 0 ? "(none open)" : st.lastFirstAfter !== null ? `${((st.lastFirstAfter - t) / 1000).toFixed(2)} s` : `${st.waiting} still waiting`;
    log(`  weir ${h.s.method}: ${st.open}/${HELD} open after the takeover, every open one answered again by ${recover}${st.reasons.length ? `; lost: ${st.reasons.slice(0, 3).join("; ")}` : ""}`);
  }
  await lab.probeStop(probe);
  await lab.stopDirector(1);
  return { ms, lost, slowest };
}

export async function run({ runs }) {
  if (process.getuid?.() !== 0) throw new Error("B10 needs root (namespaces, AF_PACKET)");
  if (!haveCommand("keepalived")) throw new Error("B10's baseline needs keepalived (apt-get install keepalived, scripts/install-test-deps.sh)");
  const lab = await HaLab.create({ log: (l) => log(`  ${l}`) });
  const out = [];
  try {
    // The baselines first: a SIGKILLed `weir run` leaves its nftables table in its namespace until the next one starts there.
    const base = {};
    for (const adv of INTERVALS) {
      base[adv] = [];
      for (let i = 0; i < runs; i++) {
        base[adv].push(await baselineRun(lab, adv));
        log(`  keepalived advert_int ${adv} s run ${i + 1}: takeover ${base[adv][i].toFixed(0)} ms`);
      }
    }
    for (const adv of INTERVALS) {
      const rr = [];
      for (let i = 0; i < runs; i++) {
        let w;
        try {
          w = await weirRun(lab, adv);
          log(`  weir advert_int ${adv} s run ${i + 1}: takeover ${w.ms === null ? "none" : `${w.ms.toFixed(0)} ms`}, lost NAT ${w.lost.NAT} DR ${w.lost.DR}`);
        } catch (e) {
          log(`  weir advert_int ${adv} s run ${i + 1} failed: ${e.message}`);
          w = { ms: null, lost: { NAT: null, DR: null }, slowest: {}, error: e.message.split("\n")[0] };
        } finally {
          // A failed run leaves directors behind: the next one starts clean.
          for (const d of [0, 1]) if (lab.directors[d]) await lab.stopDirector(d).catch(() => {});
        }
        rr.push({ w, base: base[adv][i] });
      }
      const failed = rr.find((r) => r.w.error);
      const take = result("B10", `takeover after SIGKILL of the master to the first answered client packet, advert_int ${adv} s, vs keepalived→keepalived (lower is better)`, "ms",
        rr.map((r) => ({ value: failed ? null : r.w.ms ?? STALL_MS[adv], baseline: r.base })), 0);
      if (failed) {
        take.value = null;
        take.ratio = null;
        take.note = `weir failed: ${failed.w.error}`;
      } else {
        const none = rr.filter((r) => r.w.ms === null).length;
        if (none) take.note = `${none} run(s) had no answered probe within ${STALL_MS[adv] / 1000} s (counted as that bound)`;
      }
      out.push(take);
      for (const m of ["NAT", "DR"]) {
        const r = result("B10", `established connections lost of ${HELD} (${m}) on that takeover, advert_int ${adv} s (target 0; lower is better)`, "conns",
          rr.map((x) => ({ value: x.w.lost[m] ?? 0, baseline: null })), 0);
        if (failed) r.value = null;
        r.note = failed ? `weir failed: ${failed.w.error}` : `lost = reset, closed, wrong data or no answer within ${STALL_MS[adv] / 1000} s; per run ${rr.map((x) => x.w.lost[m]).join(", ")}; the slowest open connection answered again ${rr.map((x) => (x.w.slowest[m] == null ? "—" : `${x.w.slowest[m].toFixed(2)} s`)).join(", ")} after the kill (TCP's retransmission back-off)`;
        out.push(r);
      }
    }
  } finally {
    await lab.close();
  }
  return out;
}
