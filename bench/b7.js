// B7: memory per IPv4 connection (table bytes / entries) and how many
// entries fit in 1 GiB. Tables of 1 M, 4 M and 16 M entries are created and
// filled to capacity, so the figures are of memory really allocated.

import { loadTopology, VIP, RS } from "./lib/topo.js";
import { result, log } from "./lib/util.js";

const IPVS_CONN = 288; // sizeof(struct ip_vs_conn), x86-64
const GiB = 2 ** 30;

/** Raw (network-order) IPv4 address as the u32 Wasm loads it. */
function raw(a) { const p = a.split(".").map(Number); return (p[0] | (p[1] << 8) | (p[2] << 16) | (p[3] << 24)) >>> 0; }

/** Largest capacity whose table (48-byte entries + power-of-two bucket heads, 8 bytes each) fits in `bytes`. */
function maxEntries(esz, bytes) {
  let best = 0;
  for (let b = 1; b <= 2 ** 32; b *= 2) {
    const cap = Math.min(b, Math.floor((bytes - b * 8) / esz)); // caps in (b/2, b] use b buckets
    if (cap > b / 2 && cap > best) best = cap;
  }
  return best;
}

export async function run({ runs = 3 } = {}) {
  const caps = [2 ** 20, 2 ** 22, 2 ** 24, 2 ** 24, 2 ** 24].slice(0, Math.max(3, runs));
  const per = [], fit = [];
  for (const cap of caps) {
    const dp = await loadTopology({ cap4: cap, cap6: 1 });
    const x = dp.x;
    const bytes = Number(x.connTableBytes(4)), n = x.connTableCapacity(4);
    const t0 = Date.now();
    const filled = x.benchFillConns4(cap, raw(VIP), raw(RS[0]), 1000);
    const mem = x.memory.buffer.byteLength;
    if (filled !== cap || dp.connCount(4) !== cap) throw new Error(`B7: filled ${filled}/${cap}, count ${dp.connCount(4)}`);
    if (mem < bytes) throw new Error(`B7: Wasm memory ${mem} smaller than the table's ${bytes} bytes`);
    const esz = (bytes - 8 * 2 ** Math.ceil(Math.log2(n))) / n;
    log(`  B7 ${n} entries: ${bytes} table bytes (${(bytes / n).toFixed(2)}/entry, ${esz}-byte entries), Wasm memory ${(mem / 2 ** 20).toFixed(0)} MiB, filled in ${Date.now() - t0} ms`);
    per.push({ value: bytes / n, baseline: IPVS_CONN });
    fit.push({ value: maxEntries(esz, GiB), baseline: Math.floor(GiB / IPVS_CONN) });
  }
  return [
    result("B7", "memory per IPv4 connection, table bytes / entries (lower is better)", "bytes", per),
    result("B7", "max IPv4 connections in 1 GiB (higher is better; 2^24 allocated and filled)", "entries", fit, 0),
  ];
}
