// The batch interface: one call processes `count` frames described by an
// array of 32-byte descriptors, so a single crossing from JavaScript covers
// a whole ring batch (Snabb's `for i = 1, nreadable(link)`). The I/O layer
// points the descriptors at RX ring frames and TX ring slots mapped into
// this memory; tests and benchmarks point them at plain buffers.
//
// Descriptor (little-endian; the D_* offsets below, which ctl/layout.ts
// publishes to the supervisor):
//   0  u32 in:  frame offset        4  u32 in:  frame length
//   8  u32 in:  output slot offset  12 u32 in:  output slot capacity
//   16 u32 out: output length       20 u16 in:  ingress link
//   22 u16 out: egress link         24 u16 out: verdict (xmit/verdict.ts V_*)
//   26 u16 out: drop reason         28 u32 in/out: offload flags (virtio_net_hdr
//                                      folded into 32 bits: see xmit/offload.ts)
// Input and output may be the same slot (in-place rewrite).

import { processFrame } from "../core";
import { outLen, outLink, reason, V_TX, V_LOCAL, V_HELD } from "../xmit/verdict";
import { conns4, conns6 } from "../conn/table";
import { setSchedNow } from "../sched/clock";
import { setInFlags, outFlags } from "../xmit/offload";
import * as neigh from "../net/neigh";
import * as neighq from "../net/neighq";

export const DESC_SIZE: u32 = 32;
export const D_IN_OFF: usize = 0;    // u32 in
export const D_IN_LEN: usize = 4;    // u32 in
export const D_OUT_OFF: usize = 8;   // u32 in
export const D_OUT_CAP: usize = 12;  // u32 in
export const D_OUT_LEN: usize = 16;  // u32 out
export const D_IN_LINK: usize = 20;  // u16 in
export const D_OUT_LINK: usize = 22; // u16 out
export const D_VERDICT: usize = 24;  // u16 out
export const D_REASON: usize = 26;   // u16 out
export const D_FLAGS: usize = 28;    // u32 in/out
/**
 * Expiry pacing. Each batch sweeps at least expireBudget entries per table,
 * and more when time has passed, so that a whole table is swept every
 * SWEEP_PERIOD_MS of clock time however light the traffic (an expired entry
 * is then gone within about a second of its time, as IPVS's timers would
 * have it). A call with no frames is a timer tick: the I/O loop makes one
 * when poll times out. The work per call stays bounded by MAX_SWEEP.
 */
export let expireBudget: u32 = 64;
export function setExpireBudget(n: u32): void { expireBudget = n; }
const SWEEP_PERIOD_MS: u32 = 1000;
const MAX_SWEEP: u32 = 65536;
let lastSweep: u32 = 0;
let sweepStarted = false;

@inline function sweepBudget(cap: u32, elapsed: u32): u32 {
  const due = <u64>cap * <u64>elapsed / <u64>SWEEP_PERIOD_MS;
  const n = due > <u64>MAX_SWEEP ? MAX_SWEEP : <u32>due;
  return n > expireBudget ? n : expireBudget;
}

/** Batch statistics for the supervisor's metrics. */
export let batches: u64 = 0;
export let framesIn: u64 = 0;
export let framesTx: u64 = 0;
export let framesLocal: u64 = 0;
/** Frames held for their next hop's MAC (V_HELD): sent or dropped later, counted by net/neighq.ts. */
export let framesHeld: u64 = 0;

export function runBatch(desc: usize, count: u32, now: u32): u32 {
  let tx: u32 = 0;
  setSchedNow(now); // lblc/lblcr age their cache entries on this clock
  for (let k: u32 = 0; k < count; k++) {
    const d = desc + <usize>k * DESC_SIZE;
    const inLink = <i32>load<u16>(d, D_IN_LINK);
    setInFlags(load<u32>(d, D_FLAGS));
    const v = processFrame(<usize>load<u32>(d, D_IN_OFF), load<u32>(d, D_IN_LEN), inLink, <usize>load<u32>(d, D_OUT_OFF), load<u32>(d, D_OUT_CAP), now);
    store<u32>(d, v == V_TX ? outLen : 0, D_OUT_LEN);
    store<u16>(d, <u16>(v == V_TX ? outLink : 0), D_OUT_LINK);
    store<u16>(d, <u16>v, D_VERDICT);
    store<u16>(d, <u16>reason, D_REASON);
    store<u32>(d, v == V_TX ? outFlags : 0, D_FLAGS);
    if (v == V_TX) tx++; else if (v == V_LOCAL) framesLocal++; else if (v == V_HELD) framesHeld++;
  }
  // Frames released by a MAC learnt in this batch wait on the ready list for
  // the caller (neighQueueTake); the ring path sends them itself, in order.
  if (neigh.resolvedWaiting) neighq.releaseResolved(now);
  endBatch(now, count, tx);
  return tx;
}

/** After a batch of count frames (tx forwarded): the bounded expiry sweep and the batch counters. */
export function endBatch(now: u32, count: u32, tx: u32): void {
  // Elapsed clock time since the last sweep; a clock that went backwards counts as none.
  const elapsed = sweepStarted && <i32>(now - lastSweep) > 0 ? now - lastSweep : 0;
  lastSweep = now;
  sweepStarted = true;
  conns4.expireStep(now, sweepBudget(conns4.cap, elapsed));
  conns6.expireStep(now, sweepBudget(conns6.cap, elapsed));
  if (neighq.used != 0) neighq.expire(now);
  if (neigh.compactDue(now)) {
    neighq.dropAll(); // entry indices change
    neigh.compact(now);
  }
  batches++;
  framesIn += count;
  framesTx += tx;
}

/** Counts a frame passed to the host stack (the ring path keeps its own loop). */
export function countLocal(): void { framesLocal++; }
/** Counts a frame held for its next hop (the ring path). */
export function countHeld(): void { framesHeld++; }
