// B2: new-connection cost per scheduler (parse, lookups that miss, service
// lookup, schedule, insert, bind, NAT rewrite, output), ns per SYN, through
// runBatch; the C reference does the same with rr and wlc.

import path from "node:path";
import { loadTopology, setService, synRecords, writeTrace, MemTrace, MODE_NEW } from "./lib/topo.js";
import { runRef, nowNs, result, tempDir, removeDir, log } from "./lib/util.js";

const N = 65536;            // SYNs from distinct clients per run
const CAP = 262144;         // connection table: 4× the SYNs, never full
const BATCH = 128;
const NOW = 2000;

export async function run({ runs = 3 } = {}) {
  const dir = tempDir();
  try {
    const syn = synRecords(N);
    const files = {};
    for (const s of ["rr", "wlc"]) {
      files[s] = path.join(dir, `b2-${s}.trace`);
      writeTrace(files[s], { mode: MODE_NEW, batch: BATCH, passes: 1, cap4: CAP, cap6: 1024, sched: s, nowSetup: NOW, nowRun: NOW }, new Uint8Array(0), syn);
    }
    const dp = await loadTopology({ cap4: CAP });
    const trace = new MemTrace(dp, syn, BATCH);
    const res = [];
    const missing = [];
    for (const s of dp.schedulers) {
      dp.x.connsClear();
      try {
        setService(dp, s);
      } catch (e) {
        missing.push(s);
        log(`  B2 ${s}: missing (${e.code ?? e.message})`);
        continue;
      }
      const ref = s === "rr" || s === "wlc" ? s : "wlc";
      trace.pass(NOW); // warm-up (JIT, scheduler state)
      const out = [];
      for (let r = 0; r < runs; r++) {
        dp.x.connsClear();
        const t0 = nowNs();
        const tx = trace.pass(NOW);
        const ns = (nowNs() - t0) / N;
        if (tx !== N) throw new Error(`B2 ${s}: ${tx} of ${N} SYNs forwarded`);
        const c = runRef(files[ref]);
        if (c.tx !== N) throw new Error(`B2 C ${ref}: ${c.tx} of ${N} SYNs forwarded`);
        log(`  B2 ${s} run ${r + 1}: wasm ${ns.toFixed(1)} ns/conn, C ${ref} ${c.ns.toFixed(1)} ns/conn`);
        out.push({ value: ns, baseline: c.ns });
      }
      res.push(result("B2", `new connection (schedule + insert), ${s}, vs C ${ref} (lower is better)`, "ns/connection", out));
    }
    dp.x.connsClear();
    for (const s of missing) {
      res.push({ id: "B2", name: `new connection, ${s}: scheduler missing`, unit: "ns/connection", value: null, baseline: null, ratio: null, runs: [] });
    }
    return res;
  } finally {
    removeDir(dir);
  }
}
