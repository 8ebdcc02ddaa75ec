// The benchmark topology (the in-memory appliance of test/helpers/appliance.ts,
// IPv4 only, 10 real servers) and the traces that both the Wasm data plane
// and the C reference (bench/ref/weir_ref.c) run. Keep the constants here
// and in weir_ref.c in step.

import { writeFileSync } from "node:fs";
import { DataPlane } from "../../dist/dataplane/dataplane.js";
import { writeTcp4, ip4, mac, REC, FRAME_LEN, TH_SYN, TH_ACK } from "./frames.js";

export const LB0_MAC = "02:00:00:00:00:01";
export const LB1_MAC = "02:00:00:00:01:01";
export const CLIENT_MAC = "02:00:00:00:00:10";
export const VIP = "198.18.100.1";
export const VPORT = 80;
export const RPORT = 8080;
export const NRS = 10;
export const RS = Array.from({ length: NRS }, (_, i) => `198.19.0.${11 + i}`);
export const RS_MAC = Array.from({ length: NRS }, (_, i) => `02:00:00:00:01:${(0x11 + i).toString(16)}`);
export const SEED = 0x5eed1234;
export const SVC = { proto: "tcp", addr: VIP, port: VPORT };

/** Client of flow i: 16384 addresses in 198.18.1.0–198.18.64.255, then the next source port. */
export function client(i) {
  return { saddr: (ip4("198.18.1.0") + (i & 0x3fff)) >>> 0, sport: 1024 + (i >>> 14) };
}

/** Loads the release data plane wired as the topology, without services. */
export async function loadTopology({ cap4, cap6 = 1024 }) {
  const dp = await DataPlane.load({ connCapacity: cap4, connCapacity6: cap6, seed: SEED, debug: false });
  dp.setLink(0, { mac: LB0_MAC, mtu: 1500 });
  dp.setLink(1, { mac: LB1_MAC, mtu: 1500 });
  dp.addAddress(0, "198.18.0.1/24");
  dp.addAddress(0, `${VIP}/32`);
  dp.addAddress(1, "198.19.0.1/24");
  RS.forEach((a, i) => dp.setNeighbour(1, a, RS_MAC[i]));
  return dp;
}

/** Replaces all services by VIP:80 with the given scheduler and the 10 NAT real servers. */
export function setService(dp, scheduler, n = NRS) {
  dp.transaction((tx) => {
    tx.flush();
    tx.addService(SVC, { scheduler });
    for (let i = 0; i < n; i++) tx.addDest(SVC, { addr: RS[i], port: RPORT, fwd: "nat", weight: 1 });
  });
}

const dmac = mac(LB0_MAC), smac = mac(CLIENT_MAC), vip = ip4(VIP);

/** Writes the frame of flow i (SYN or ACK) as record k of buf. */
export function flowFrame(buf, k, i, flags) {
  const c = client(i);
  writeTcp4(buf, k * REC, {
    dmac, smac, saddr: c.saddr, daddr: vip, sport: c.sport, dport: VPORT, flags,
    id: i, seq: 1000 + i + (flags === TH_ACK ? 1 : 0), ack: flags === TH_ACK ? 5000 : 0,
  });
}

/** Records for SYNs of flows 0..n-1 (in order). */
export function synRecords(n) {
  const b = new Uint8Array(n * REC);
  for (let i = 0; i < n; i++) flowFrame(b, i, i, TH_SYN);
  return b;
}

/** Records for npkts established-flow ACKs in random flow order (rand: () => [0,1)). */
export function ackRecords(nflows, npkts, rand) {
  const per = new Uint8Array(nflows * REC);
  for (let i = 0; i < nflows; i++) flowFrame(per, i, i, TH_ACK);
  const b = new Uint8Array(npkts * REC);
  for (let k = 0; k < npkts; k++) {
    const f = Math.floor(rand() * nflows);
    b.set(per.subarray(f * REC, f * REC + REC), k * REC);
  }
  return b;
}

export const MODE_ESTABLISHED = 1, MODE_NEW = 2;
export const SCHED_ID = { rr: 0, wlc: 3 };

/** Writes a trace for bench/ref/bin/weir_ref (header layout in weir_ref.c). */
export function writeTrace(file, h, syn, pkts) {
  const hdr = Buffer.alloc(64);
  const f = [0x43525457, h.mode, syn.length / REC, pkts.length / REC, h.batch, h.passes, SEED, h.cap4, h.cap6,
    SCHED_ID[h.sched], NRS, FRAME_LEN, REC, h.budget ?? 64, h.nowSetup, h.nowRun];
  f.forEach((v, i) => hdr.writeUInt32LE(v >>> 0, i * 4));
  writeFileSync(file, Buffer.concat([hdr, Buffer.from(syn.buffer, syn.byteOffset, syn.length), Buffer.from(pkts.buffer, pkts.byteOffset, pkts.length)]));
}

/**
 * A trace laid out in the data plane's memory with one descriptor per frame
 * (all pointing at a ring of `batch` output slots), so timing covers only
 * runBatch calls.
 */
export class MemTrace {
  constructor(dp, records, batch, slot = 2048) {
    const x = dp.x;
    const D = dp.layout.desc; // the descriptor's offsets, as the data plane declares them
    this.x = x;
    this.D = D;
    this.n = records.length / REC;
    this.batch = batch;
    this.slot = slot;
    this.frames = x.allocBuffer(records.length, 64);
    this.desc = x.allocBuffer(this.n * D.size, 64);
    this.out = x.allocBuffer(batch * slot, 4096);
    new Uint8Array(x.memory.buffer).set(records, this.frames);
    const dv = new DataView(x.memory.buffer);
    for (let k = 0; k < this.n; k++) {
      const d = this.desc + k * D.size;
      dv.setUint32(d + D.inOff, this.frames + k * REC, true);
      dv.setUint32(d + D.inLen, FRAME_LEN, true);
      dv.setUint32(d + D.outOff, this.out + (k % batch) * slot, true);
      dv.setUint32(d + D.outCap, slot, true);
      dv.setUint32(d + D.outLen, 0, true);
      dv.setUint16(d + D.inLink, 0, true);
      dv.setUint32(d + D.flags, 0, true);
    }
  }

  /** One pass over the trace; returns frames transmitted. */
  pass(now) {
    const { x, n, batch, desc } = this;
    const size = this.D.size;
    let tx = 0;
    for (let k = 0; k < n; k += batch) tx += x.runBatch(desc + k * size, Math.min(batch, n - k), now);
    return tx;
  }

  /** FNV-1a over the output frames of the last batch of the trace (checked against the C reference). */
  lastBatchHash() {
    const mem = new Uint8Array(this.x.memory.buffer);
    const dv = new DataView(this.x.memory.buffer);
    const first = Math.floor((this.n - 1) / this.batch) * this.batch;
    let h = 0x811c9dc5;
    for (let k = first; k < this.n; k++) {
      const d = this.desc + k * this.D.size;
      const off = dv.getUint32(d + this.D.outOff, true), len = dv.getUint32(d + this.D.outLen, true);
      for (let i = 0; i < len; i++) h = Math.imul(h ^ mem[off + i], 0x01000193) >>> 0;
    }
    return h >>> 0;
  }
}
