#!/usr/bin/env node
// The data plane's side of packet I/O alone (no kernel): RX rings laid out as
// the kernel lays them out (TPACKET_V2 slots or V3 blocks) filled with
// 64-byte UDP frames of 64 NAT flows, ioRun over them, TX slots handed back.
// Times only ioRun: RX walk + processFrame + TX write, V2 vs V3.
// Usage: node scripts/measure-ring-walk.mjs   (after npm run build)

import { DataPlane } from "../dist/dataplane/dataplane.js";

const BATCH = 256, ROUNDS = 4000;
const mac = (s) => s.split(":").map((h) => parseInt(h, 16));

function udpFrame(i) {
  const f = new Uint8Array(60);
  f.set(mac("02:00:00:00:00:01"), 0); f.set(mac("02:00:00:00:00:10"), 6); f[12] = 8;
  f[14] = 0x45; f[17] = 46; f[22] = 64; f[23] = 17; f.set([198, 18, 0, 10], 26); f.set([198, 18, 100, 1], 30);
  let s = 0; for (let k = 14; k < 34; k += 2) s += (f[k] << 8) | f[k + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  s = ~s & 0xffff; f[24] = s >> 8; f[25] = s & 0xff;
  const sp = 10000 + (i % 64); f[34] = sp >> 8; f[35] = sp & 0xff; f[36] = 0x14; f[37] = 0xb4; f[39] = 26;
  return f;
}

async function run(version) {
  const dp = await DataPlane.load({ connCapacity: 65536, connCapacity6: 1024, seed: 1 });
  dp.setLink(0, { mac: "02:00:00:00:00:01" }); dp.setLink(1, { mac: "02:00:00:00:01:01" });
  dp.addAddress(0, "198.18.0.1/24"); dp.addAddress(0, "198.18.100.1/32"); dp.addAddress(1, "198.19.0.1/24");
  dp.setNeighbour(1, "198.19.0.11", "02:00:00:00:01:11");
  dp.transaction((tx) => {
    tx.addService({ proto: "udp", addr: "198.18.100.1", port: 5300 }, { scheduler: "rr" });
    tx.addDest({ proto: "udp", addr: "198.18.100.1", port: 5300 }, { addr: "198.19.0.11", port: 5300, fwd: "nat" });
  });
  const x = dp.x;
  const slot = 2048, slots = 4096, block = 1 << 18, blocks = 16, txSlot = 69632, txSlots = 256;
  const rx0 = x.allocBuffer(version === 2 ? slot * slots : block * blocks, 4096);
  const rx1 = x.allocBuffer(version === 2 ? slot * slots : block * blocks, 4096);
  const tx0 = x.allocBuffer(txSlot * txSlots, 4096), tx1 = x.allocBuffer(txSlot * txSlots, 4096);
  const l0 = x.allocBuffer(1 << 20, 4096), l1 = x.allocBuffer(1 << 20, 4096);
  const mem = new Uint8Array(x.memory.buffer), dv = new DataView(x.memory.buffer);
  mem.fill(0, rx0, rx0 + (version === 2 ? slot * slots : block * blocks));
  x.ioAttach(0, rx0, version, block, blocks, slot, slots, 1, tx0, txSlot, txSlots, 1, l0, 1 << 20);
  x.ioAttach(1, rx1, version, block, blocks, slot, slots, 1, tx1, txSlot, txSlots, 1, l1, 1 << 20);
  const frames = Array.from({ length: BATCH }, (_, i) => udpFrame(i));
  let rxNext = 0, blk = 0, ns = 0n, n = 0;
  for (let r = 0; r < ROUNDS; r++) {
    if (version === 2) {
      for (const f of frames) {
        const s = rx0 + rxNext * slot; mem.fill(0, s + 66, s + 76); mem.set(f, s + 76);
        dv.setUint32(s + 4, 60, true); dv.setUint32(s + 8, 60, true); dv.setUint16(s + 12, 76, true); dv.setUint32(s, 1, true);
        rxNext = (rxNext + 1) % slots;
      }
    } else {
      const b = rx0 + blk * block; let h = b + 48;
      dv.setUint32(b + 16, 48, true); dv.setUint32(b + 12, BATCH, true);
      frames.forEach((f, i) => { mem.fill(0, h + 82, h + 92); mem.set(f, h + 92); dv.setUint32(h + 12, 60, true); dv.setUint32(h + 16, 60, true); dv.setUint16(h + 24, 92, true); const nx = i === BATCH - 1 ? 0 : 160; dv.setUint32(h, nx, true); h += nx; });
      dv.setUint32(b + 8, 1, true); blk = (blk + 1) % blocks;
    }
    const t0 = process.hrtime.bigint();
    const got = x.ioRun(BATCH, 1000 + r);
    ns += process.hrtime.bigint() - t0;
    n += got;
    x.ioTakePending(1);
    for (let i = 0; i < txSlots; i++) dv.setUint32(tx1 + i * txSlot, 0, true); // "sent"
  }
  const names = []; for (let i = 0; i < x.ioCounterCount(); i++) names.push(dp.readString(x.ioCounterName(i)));
  const txFrames = x.ioCounter(1, names.indexOf("tx_frames"));
  return { version, frames: n, txFrames: Number(txFrames), nsPerFrame: +(Number(ns) / n).toFixed(1) };
}

for (let rep = 0; rep < 3; rep++) for (const v of [2, 3]) console.log(JSON.stringify(await run(v)));
