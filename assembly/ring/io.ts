// The packet I/O loop's one call per turn: ioRun walks every attached
// link's RX ring (round robin, RR_CHUNK frames per link at a time, at most
// `max` frames in all) and hands each frame to forward.ts, then runs the
// expiry sweep. The supervisor then kicks each link with pending TX frames
// once (takePending) and drains the mirror queues to the TAP devices.

import { setSchedNow } from "../sched/clock";
import { endBatch } from "./batch";
import { ringsOf, attached, count, LinkRings, C_HOST_FRAMES } from "./rings";
import { MAX_LINKS } from "../net/link";
import { drainV2, drainV3 } from "./rx";
import { txSlot, txCap, txCommit } from "./tx";
import { begin, txCount, sendReady } from "./forward";
import { readyCount } from "../net/neighq";
import { resolicitWaiting } from "../net/probe";

/** Frames taken from one link before moving to the next. */
const RR_CHUNK: u32 = 32;

export function ioRun(max: u32, now: u32): u32 {
  setSchedNow(now);
  begin(now);
  if (readyCount != 0) sendReady(); // released outside a turn (a static neighbour set)
  let total: u32 = 0;
  let progress = true;
  while (total < max && progress) {
    progress = false;
    for (let i = 0; i < MAX_LINKS && total < max; i++) {
      const p = unchecked(attached[i]);
      if (p === null) continue;
      const quota = max - total < RR_CHUNK ? max - total : RR_CHUNK;
      const n = p.rxVersion == 3 ? drainV3(p, quota) : drainV2(p, quota);
      if (n > 0) { total += n; progress = true; }
    }
  }
  resolicitWaiting(now); // frames waiting for a neighbour: ask it again when due (one global read otherwise)
  endBatch(now, total, txCount);
  return total;
}

export function attach(
  id: i32, rxBase: usize, rxVersion: u32, rxBlockSize: u32, rxBlockCount: u32, rxFrameSize: u32, rxFrameCount: u32, rxVnet: bool,
  txBase: usize, txFrameSize: u32, txFrameCount: u32, txVnet: bool, localBase: usize, localCap: u32,
): bool {
  if (id < 0 || id >= MAX_LINKS || attached[id] !== null) return false;
  if (rxVersion != 2 && rxVersion != 3) return false;
  if (rxVersion == 2 && (rxFrameSize == 0 || rxFrameCount == 0)) return false;
  if (rxVersion == 3 && (rxBlockSize == 0 || rxBlockCount == 0)) return false;
  if (txFrameSize <= 42 || txFrameCount == 0) return false;
  const p = new LinkRings();
  p.id = id;
  p.rxBase = rxBase; p.rxVersion = rxVersion; p.rxBlockSize = rxBlockSize; p.rxBlockCount = rxBlockCount;
  p.rxFrameSize = rxFrameSize; p.rxFrameCount = rxFrameCount; p.rxVnet = rxVnet;
  p.txBase = txBase; p.txFrameSize = txFrameSize; p.txFrameCount = txFrameCount; p.txVnet = txVnet;
  p.localBase = localBase; p.localCap = localCap;
  attached[id] = p;
  return true;
}

export function detach(id: i32): bool {
  if (ringsOf(id) === null) return false;
  attached[id] = null;
  return true;
}

/** TX frames queued on link id since the last call (the supervisor kicks it when > 0). */
export function takePending(id: i32): u32 {
  const p = ringsOf(id);
  if (p === null) return 0;
  const n = p.txPending;
  p.txPending = 0;
  return n;
}

/** Where a host-stack frame for link id can be written (a TX slot), or 0 when full or not attached. */
export function hostSlot(id: i32): usize {
  const p = ringsOf(id);
  return p === null ? 0 : txSlot(p);
}
export function hostCap(id: i32): u32 {
  const p = ringsOf(id);
  return p === null ? 0 : txCap(p);
}
/** Sends the host-stack frame written at hostSlot(id), as it is (no offload state). */
export function hostCommit(id: i32, len: u32): bool {
  const p = ringsOf(id);
  if (p === null || len == 0 || len > txCap(p) || txSlot(p) == 0) return false;
  txCommit(p, len, 0);
  count(p, C_HOST_FRAMES);
  return true;
}

export function localUsed(id: i32): u32 {
  const p = ringsOf(id);
  return p === null ? 0 : p.localUsed;
}
export function localBase(id: i32): usize {
  const p = ringsOf(id);
  return p === null ? 0 : p.localBase;
}
export function localReset(id: i32): void {
  const p = ringsOf(id);
  if (p !== null) p.localUsed = 0;
}

export function counter(id: i32, i: i32): u64 {
  const p = ringsOf(id);
  return p === null || i < 0 || i >= p.counters.length ? 0 : p.counters[i];
}
