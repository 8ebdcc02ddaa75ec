// B1: hot-path ns/packet for established IPv4 TCP flows (parse, connection
// lookup, state/timer, NAT rewrite with incremental checksums, route and
// neighbour lookup, copy to the output slot), Wasm runBatch vs the same
// algorithm in C (bench/ref/weir_ref.c), run alternately.

import path from "node:path";
import { loadTopology, setService, synRecords, ackRecords, writeTrace, MemTrace, MODE_ESTABLISHED } from "./lib/topo.js";
import { prng } from "./lib/frames.js";
import { runRef, nowNs, result, tempDir, removeDir, log } from "./lib/util.js";

const BATCH = 128;
const NOW_SETUP = 1000, NOW_RUN = 2000;

function pow2ceil(n) { let b = 1; while (b < n) b *= 2; return b; }

async function one(flows, { runs, dir }) {
  // 512 K packets in random flow order; at 1 M flows about 40% of the flows are
  // touched per pass, so the table (~100 MB) is far out of cache either way.
  const npkts = 1 << 19;
  const passes = flows >= 1 << 20 ? 1 : 2;
  const cap4 = Math.max(65536, pow2ceil(flows * 2));
  const cap6 = 1024;
  const rand = prng(0xb1 + flows);
  const syn = synRecords(flows);
  const pkts = ackRecords(flows, npkts, rand);
  const file = path.join(dir, `b1-${flows}.trace`);
  writeTrace(file, { mode: MODE_ESTABLISHED, batch: BATCH, passes, cap4, cap6, sched: "rr", nowSetup: NOW_SETUP, nowRun: NOW_RUN }, syn, pkts);

  const dp = await loadTopology({ cap4, cap6 });
  setService(dp, "rr");
  // WEIR_BENCH_SYNC=1: connection-sync logging on (issue 12), to compare the hot path with it off.
  if (process.env.WEIR_BENCH_SYNC === "1") dp.setConnSync(true);
  const setup = new MemTrace(dp, syn, BATCH);
  const trace = new MemTrace(dp, pkts, BATCH);
  const txSyn = setup.pass(NOW_SETUP);
  if (txSyn !== flows) throw new Error(`B1 setup: ${txSyn} of ${flows} SYNs forwarded (drops: ${fmtDrops(dp)})`);
  if (dp.connCount(4) !== flows) throw new Error(`B1 setup: ${dp.connCount(4)} connections, expected ${flows}`);
  const tx0 = trace.pass(NOW_RUN); // warm-up: every flow to ESTABLISHED, JIT tiers up
  if (tx0 !== npkts) throw new Error(`B1 warm-up: ${tx0} of ${npkts} forwarded (drops: ${fmtDrops(dp)})`);
  const out = [];
  let hashOk = true;
  for (let r = 0; r < runs; r++) {
    const t0 = nowNs();
    let tx = 0;
    for (let p = 0; p < passes; p++) tx += trace.pass(NOW_RUN);
    const ns = (nowNs() - t0) / (passes * npkts);
    if (tx !== passes * npkts) throw new Error(`B1: ${tx} of ${passes * npkts} forwarded`);
    const c = runRef(file);
    if (c.tx !== c.frames) throw new Error(`B1 C reference forwarded ${c.tx} of ${c.frames}`);
    if (c.hash !== trace.lastBatchHash()) hashOk = false;
    log(`  B1 ${flows} flows run ${r + 1}: wasm ${ns.toFixed(1)} ns/pkt, C ${c.ns.toFixed(1)} ns/pkt`);
    out.push({ value: ns, baseline: c.ns });
  }
  if (!hashOk) throw new Error("B1: output frames differ between the data plane and the C reference");
  const label = flows >= 1 << 20 ? `${flows / (1 << 20)} M` : `${flows / 1024} K`;
  return result("B1", `hot path, ${label} flows, batches of ${BATCH}, vs C -O2 (lower is better)`, "ns/packet", out);
}

function fmtDrops(dp) {
  return Object.entries(dp.drops()).filter(([, v]) => v > 0n).map(([k, v]) => `${k}=${v}`).join(" ") || "none";
}

export async function run({ runs = 3 } = {}) {
  const dir = tempDir();
  try {
    const res = [];
    for (const flows of [4096, 1 << 20]) res.push(await one(flows, { runs, dir }));
    return res;
  } finally {
    removeDir(dir);
  }
}
