// B1S: the cost of connection sync (issue 12) on B1's hot path — the same
// data plane and topology as B1, sync on against sync off, run alternately in
// this script so noise hits both sides:
//   - established flows (B1's steady state: a sync check per packet, nothing
//     logged but the rare half-timeout refresh);
//   - new connections (a SYN then an ACK per flow: every flow logs its
//     creation and its move to ESTABLISHED), the log drained into records as
//     the sync daemon does (takeConnChanges, here every 16 batches: ~2 K
//     changes, as a 25 ms flush at ~80 K new connections a second), the drain
//     counted in the cost. The log keeps its default size (8192 entries), so
//     it is warm as in a running director.

import { loadTopology, setService, synRecords, ackRecords, MemTrace } from "./lib/topo.js";
import { prng } from "./lib/frames.js";
import { nowNs, result, log } from "./lib/util.js";

const BATCH = 128;
const NOW_SETUP = 1000, NOW_RUN = 2000;

async function established(runs) {
  const flows = 4096, npkts = 1 << 19;
  const dp = await loadTopology({ cap4: 65536 });
  setService(dp, "rr");
  const setup = new MemTrace(dp, synRecords(flows), BATCH);
  const trace = new MemTrace(dp, ackRecords(flows, npkts, prng(0xb1)), BATCH);
  if (setup.pass(NOW_SETUP) !== flows) throw new Error("B1S setup: SYNs not forwarded");
  trace.pass(NOW_RUN); // warm-up: every flow ESTABLISHED, JIT tiers up
  const timed = (on) => {
    dp.setConnSync(on);
    const t0 = nowNs();
    const tx = trace.pass(NOW_RUN) + trace.pass(NOW_RUN);
    if (on) dp.takeConnChangesNow();
    const ns = (nowNs() - t0) / (2 * npkts);
    if (tx !== 2 * npkts) throw new Error(`B1S: ${tx} of ${2 * npkts} forwarded`);
    return ns;
  };
  const out = [];
  for (let r = 0; r < runs; r++) {
    const off = timed(false), on = timed(true);
    log(`  B1S established run ${r + 1}: sync on ${on.toFixed(1)} ns/pkt, off ${off.toFixed(1)} ns/pkt`);
    out.push({ value: on, baseline: off });
  }
  return result("B1S", "hot path, 4 K established flows, connection sync on vs off (lower is better)", "ns/packet", out);
}

async function fresh(runs) {
  const flows = 1 << 16;
  const syn = synRecords(flows), ack = ackRecords(flows, flows, prng(0xb15));
  // One fresh table per side and run (creation is what is measured).
  const timed = async (on) => {
    const dp = await loadTopology({ cap4: 1 << 17 });
    setService(dp, "rr");
    if (on) dp.setConnSync(true);
    const a = new MemTrace(dp, syn, BATCH), b = new MemTrace(dp, ack, BATCH);
    let records = 0, lost = 0;
    const t0 = nowNs();
    const tx = passDraining(a, NOW_SETUP, () => {
      if (!on) return;
      const t = dp.takeConnChangesNow();
      records += t.records.length;
      lost += t.lost;
    }) + passDraining(b, NOW_RUN, () => {
      if (!on) return;
      const t = dp.takeConnChangesNow();
      records += t.records.length;
      lost += t.lost;
    });
    const ns = (nowNs() - t0) / (2 * flows);
    if (tx !== 2 * flows) throw new Error(`B1S: ${tx} of ${2 * flows} forwarded`);
    if (on && (lost > 0 || records === 0)) throw new Error(`B1S: the log took ${records} bytes and lost ${lost}`);
    return ns;
  };
  await timed(false); await timed(true); // warm-up: the drain's JIT tiers, as in a running director
  const out = [];
  for (let r = 0; r < runs; r++) {
    const off = await timed(false), on = await timed(true);
    log(`  B1S new connections run ${r + 1}: sync on ${on.toFixed(1)} ns/pkt, off ${off.toFixed(1)} ns/pkt`);
    out.push({ value: on, baseline: off });
  }
  return result("B1S", "new connections (SYN + ACK per flow, 64 K flows), connection sync on (log drained) vs off (lower is better)", "ns/packet", out);
}

/** MemTrace.pass() with drain() after every 16 batches and at the end. */
function passDraining(t, now, drain) {
  let tx = 0;
  for (let k = 0, i = 0; k < t.n; k += t.batch, i++) {
    tx += t.x.runBatch(t.desc + k * t.D.size, Math.min(t.batch, t.n - k), now);
    if (i % 16 === 15) drain();
  }
  drain();
  return tx;
}

export async function run({ runs = 3 } = {}) {
  return [await established(runs), await fresh(runs)];
}
