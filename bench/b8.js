// B8: Maglev (mh). Table build time for 65,537 slots: a transaction that
// changes an mh service's real server (so update() rebuilds the table) minus
// the same transaction on an rr service. Remapping: the share of clients
// whose real server changes when 1 of N leaves, against the ideal 1/N.

import { loadTopology } from "./lib/topo.js";
import { prng } from "./lib/frames.js";
import { result, median, nowNs, log } from "./lib/util.js";

const MH = { proto: "tcp", addr: "198.18.100.2", port: 80 };
const RR = { proto: "tcp", addr: "198.18.100.3", port: 80 };
const rs = (i) => `198.19.${1 + (i >> 8)}.${i & 0xff}`;
const PAPER_MS = 1.8;
const TX = 15; // transactions per service per run

/** The scheduler pick for a client: dp.testPick (the DataPlane test hook) or the raw export. */
function picker(dp) {
  if (typeof dp.testPick === "function") return (key, client) => dp.testPick(key, { client });
  return (key, client) => {
    dp.writeService(key);
    dp.putAddr(128, client);
    dp.putAddr(144, key.addr);
    return dp.x.testSchedule();
  };
}

function addService(dp, key, scheduler, n) {
  dp.transaction((tx) => {
    tx.addService(key, { scheduler });
    for (let i = 0; i < n; i++) tx.addDest(key, { addr: rs(i), port: 8080, fwd: "nat", weight: 1 });
  });
}

async function buildTime(runs, n) {
  const dp = await loadTopology({ cap4: 4096 });
  addService(dp, MH, "mh", n);
  addService(dp, RR, "rr", n);
  const edit = (key, w) => dp.transaction((tx) => tx.editDest(key, { addr: rs(0), port: 8080, fwd: "nat", weight: w }));
  for (let k = 0; k < 5; k++) { edit(MH, 2 - (k & 1)); edit(RR, 2 - (k & 1)); } // warm-up
  const out = [];
  for (let r = 0; r < runs; r++) {
    const tm = [], tr = [];
    for (let k = 0; k < TX; k++) {
      const w = 2 - (k & 1);
      let t0 = nowNs(); edit(MH, w); tm.push(nowNs() - t0);
      t0 = nowNs(); edit(RR, w); tr.push(nowNs() - t0);
    }
    const ms = (median(tm) - median(tr)) / 1e6;
    log(`  B8 mh build, ${n} real servers, run ${r + 1}: ${ms.toFixed(3)} ms (mh tx ${(median(tm) / 1e6).toFixed(3)} ms, rr tx ${(median(tr) / 1e6).toFixed(3)} ms)`);
    out.push({ value: ms, baseline: PAPER_MS });
  }
  return result("B8", `mh table build, 65,537 slots, ${n} real servers, vs the paper's 1.8 ms (lower is better)`, "ms", out, 3);
}

async function remap(runs, n, clients) {
  const dp = await loadTopology({ cap4: 4096 });
  const pick = picker(dp);
  const rand = prng(0xb8 + n);
  const addrs = new Set();
  while (addrs.size < clients) {
    const v = Math.floor(rand() * 2 ** 17); // 198.18.0.0/15
    addrs.add(`198.${18 + (v >> 16)}.${(v >> 8) & 0xff}.${v & 0xff}`);
  }
  const cs = [...addrs];
  const out = [];
  for (let r = 0; r < runs; r++) {
    const gone = [0, n >> 1, n - 1, 1, n - 2][r % 5];
    dp.transaction((tx) => tx.flush());
    addService(dp, MH, "mh", n);
    const before = cs.map((c) => rs(pick(MH, c)));
    dp.transaction((tx) => tx.deleteDest(MH, { addr: rs(gone), port: 8080 }));
    const left = Array.from({ length: n }, (_, i) => i).filter((i) => i !== gone);
    let moved = 0;
    cs.forEach((c, k) => { if (rs(left[pick(MH, c)]) !== before[k]) moved++; });
    const frac = moved / cs.length;
    log(`  B8 mh remap, ${n} real servers, server ${gone} leaves: ${(100 * frac).toFixed(2)}% of ${cs.length} clients moved (ideal ${(100 / n).toFixed(2)}%)`);
    out.push({ value: frac, baseline: 1 / n });
  }
  return result("B8", `mh flows remapped when 1 of ${n} real servers leaves, vs ideal 1/${n} (lower is better)`, "fraction", out, 5);
}

export async function run({ runs = 3 } = {}) {
  const probe = await loadTopology({ cap4: 1024 });
  try {
    probe.transaction((tx) => tx.addService(MH, { scheduler: "mh" }));
  } catch (e) {
    log(`  B8: mh scheduler missing (${e.code ?? e.message})`);
    return [{ id: "B8", name: "mh: scheduler missing", unit: "ms", value: null, baseline: null, ratio: null, runs: [] }];
  }
  return [
    await buildTime(runs, 10),
    await buildTime(runs, 100),
    await remap(runs, 10, 20000),
    await remap(runs, 100, 20000),
  ];
}
