// Frames waiting for neighbour resolution (the kernel's unres_qlen). When an
// output's next hop has no MAC yet, send.ts solicits it and parks a copy of
// the frame here instead of losing it; when the MAC is learnt (ARP reply,
// neighbour advertisement: neigh.update) the neighbour's frames move, in
// arrival order, to a ready list, and the ring path sends them at once
// (ring/forward.ts) with the learnt MAC. A neighbour that does not answer
// within TIMEOUT_MS loses its frames, as the kernel's does after its
// solicitations run out.
//
// Bounded: a fixed pool of POOL slots of SLOT_BYTES (a full-MTU Ethernet
// frame; bigger ones, GSO, are counted and dropped), at most PER_NEIGH
// frames per neighbour, allocated at the first use. A flood towards
// unresolvable addresses fills the pool and is then counted, nothing grows.
// PER_NEIGH is well above the kernel's old 3 frames because after a VRRP
// takeover every reply towards the clients goes to one next hop (the
// client-side router) at once; the kernel now bounds it by bytes
// (unres_qlen_bytes, about a hundred such frames).
//
// Each Wasm instance (worker) has its own pool; ARP replies and neighbour
// advertisements reach every worker (src/dataplane/steer/rule.ts).

import * as neigh from "./neigh";
import { link } from "./link";
import { writeEther, ETH_P_IP, ETH_P_IPV6 } from "../packet/ether";
import * as D from "../stats/drops";

export const POOL: i32 = 256;
export const PER_NEIGH: u8 = 64;
export const SLOT_BYTES: u32 = 1536;
export const TIMEOUT_MS: u32 = 3000;

// Counters (neighQueueStat(i)).
export const Q_QUEUED: i32 = 0;          // frames parked
export const Q_SENT: i32 = 1;            // sent after their neighbour resolved
export const Q_TIMEOUT: i32 = 2;         // dropped: the neighbour did not answer in time (or the frame was not taken)
export const Q_OVERFLOW: i32 = 3;        // not parked: neighbour's share or pool full, or neighbour table full
export const Q_TOO_BIG: i32 = 4;         // not parked: larger than a slot (GSO)
export const Q_FLUSHED: i32 = 5;         // dropped: neighbours flushed (link deleted, neighbour flush)
export const Q_UNSENT: i32 = 6;          // released but not sent: no TX ring on the link, ring full (counted there too)
export const Q_COUNT: i32 = 7;
export const Q_NAMES: StaticArray<string> = ["queued", "sent", "dropped_timeout", "dropped_overflow", "dropped_too_big", "dropped_flushed", "dropped_unsent"];
export const stats = new StaticArray<u64>(Q_COUNT);

const FREE: u8 = 0, WAITING: u8 = 1, READY: u8 = 2;

let pool: usize = 0; // POOL × SLOT_BYTES, allocated at the first hold
const state = new StaticArray<u8>(POOL);
const entryOf = new StaticArray<i32>(POOL);  // neighbour entry (neigh.ts index)
const linkOf = new StaticArray<i32>(POOL);
const afOf = new StaticArray<u8>(POOL);
const lenOf = new StaticArray<u32>(POOL);
const flagsOf = new StaticArray<u32>(POOL);  // offload flags of the output (xmit/offload.ts)
const stampOf = new StaticArray<u32>(POOL);  // parked (WAITING) or released (READY), ms
const nextOf = new StaticArray<i32>(POOL);   // next in its neighbour's list or in the ready list; -1 ends
const freeList = new StaticArray<i32>(POOL);
let freeTop: i32 = 0;
let freeReady = false;
// Per neighbour entry: its list's head and tail (slot + 1; 0 = none).
const heads = new StaticArray<i32>(neigh.CAP);
const tails = new StaticArray<i32>(neigh.CAP);
let readyHead: i32 = -1;
let readyTail: i32 = -1;

/** Slots in use (waiting or ready); the hot path reads only readyCount. */
export let used: i32 = 0;
export let readyCount: i32 = 0;

function initFree(): void {
  pool = (heap.alloc(<usize>POOL * <usize>SLOT_BYTES + 64) + 63) & ~<usize>63;
  for (let i = 0; i < POOL; i++) unchecked(freeList[i] = POOL - 1 - i);
  freeTop = POOL;
  freeReady = true;
}

@inline function frameAddr(s: i32): usize { return pool + <usize>s * <usize>SLOT_BYTES; }

function release(s: i32): void {
  unchecked(state[s] = FREE);
  unchecked(freeList[freeTop++] = s);
  used--;
}

/** A held frame lost (why: a Q_* other than Q_SENT): only now is it a neigh_unresolved drop. */
function lost(why: i32): void {
  unchecked(stats[why]++);
  D.countDrop(D.R_NEIGH_UNRESOLVED);
}

/**
 * Parks a copy of the frame (len bytes at p, Ethernet header to be written
 * on release) for neighbour entry e. False when it was not kept (counted).
 */
export function hold(e: i32, linkId: i32, af: u8, p: usize, len: u32, flags: u32, now: u32): bool {
  if (e < 0) { unchecked(stats[Q_OVERFLOW]++); return false; }
  if (len > SLOT_BYTES) { unchecked(stats[Q_TOO_BIG]++); return false; }
  if (!freeReady) initFree();
  if (unchecked(neigh.waiting[e]) >= PER_NEIGH || freeTop == 0) { unchecked(stats[Q_OVERFLOW]++); return false; }
  const s = unchecked(freeList[--freeTop]);
  used++;
  memory.copy(frameAddr(s), p, len);
  unchecked(state[s] = WAITING); unchecked(entryOf[s] = e); unchecked(linkOf[s] = linkId); unchecked(afOf[s] = af);
  unchecked(lenOf[s] = len); unchecked(flagsOf[s] = flags); unchecked(stampOf[s] = now); unchecked(nextOf[s] = -1);
  const t = unchecked(tails[e]);
  if (t == 0) unchecked(heads[e] = s + 1); else unchecked(nextOf[t - 1] = s);
  unchecked(tails[e] = s + 1);
  unchecked(neigh.waiting[e]++);
  unchecked(stats[Q_QUEUED]++);
  return true;
}

/** Detaches neighbour e's list; returns its first slot or -1. */
function detach(e: i32): i32 {
  const h = unchecked(heads[e]) - 1;
  unchecked(heads[e] = 0); unchecked(tails[e] = 0); unchecked(neigh.waiting[e] = 0);
  return h;
}

/**
 * After neigh.update() resolved entries with frames waiting: their frames,
 * with the learnt MAC written in, go to the ready list in arrival order.
 * Called after each frame whose processing may have learnt a MAC.
 */
export function releaseResolved(now: u32): void {
  neigh.clearResolvedWaiting();
  for (let s = 0; s < POOL; s++) {
    if (unchecked(state[s]) != WAITING) continue;
    const e = unchecked(entryOf[s]);
    if (neigh.entryStateAt(e) < neigh.NUD_REACHABLE) continue;
    const mac = neigh.entryMacAt(e);
    for (let k = detach(e); k >= 0;) {
      const nx = unchecked(nextOf[k]);
      const lk = link(unchecked(linkOf[k]));
      if (lk === null) { release(k); lost(Q_FLUSHED); k = nx; continue; }
      writeEther(frameAddr(k), mac, lk.mac, unchecked(afOf[k]) == 4 ? ETH_P_IP : ETH_P_IPV6);
      unchecked(state[k] = READY); unchecked(stampOf[k] = now); unchecked(nextOf[k] = -1);
      if (readyTail < 0) readyHead = k; else unchecked(nextOf[readyTail] = k);
      readyTail = k;
      readyCount++;
      k = nx;
    }
  }
}

/** The oldest ready frame's slot, or -1. Its bytes: readyFrame/readyLen/readyLink/readyFlags; then readyDone. */
export function nextReady(): i32 { return readyHead; }
export function readyFrame(s: i32): usize { return frameAddr(s); }
export function readyLen(s: i32): u32 { return unchecked(lenOf[s]); }
export function readyLink(s: i32): i32 { return unchecked(linkOf[s]); }
export function readyFlags(s: i32): u32 { return unchecked(flagsOf[s]); }

/** Takes the ready head off the list, counting it under outcome (Q_SENT, or the reason it was lost). */
export function readyDone(outcome: i32): void {
  const s = readyHead;
  if (s < 0) return;
  readyHead = unchecked(nextOf[s]);
  if (readyHead < 0) readyTail = -1;
  readyCount--;
  release(s);
  if (outcome == Q_SENT) unchecked(stats[outcome]++); else lost(outcome);
}

let lastExpire: u32 = 0;
const EXPIRE_EVERY_MS: u32 = 50;

/**
 * Drops what waited too long: a neighbour whose oldest frame is older than
 * TIMEOUT_MS loses them all (its resolution failed), and a ready frame
 * nobody took in that time goes too. At most every EXPIRE_EVERY_MS.
 */
export function expire(now: u32): void {
  if (used == 0 || <i32>(now - lastExpire) < <i32>EXPIRE_EVERY_MS) return;
  lastExpire = now;
  for (let s = 0; s < POOL; s++) {
    if (unchecked(state[s]) != WAITING || <i32>(now - unchecked(stampOf[s])) < <i32>TIMEOUT_MS) continue;
    dropList(detach(unchecked(entryOf[s])), Q_TIMEOUT);
  }
  while (readyHead >= 0 && <i32>(now - unchecked(stampOf[readyHead])) >= <i32>TIMEOUT_MS) {
    readyDone(Q_TIMEOUT);
  }
}

function dropList(k: i32, why: i32): void {
  while (k >= 0) {
    const nx = unchecked(nextOf[k]);
    release(k);
    lost(why);
    k = nx;
  }
}

/** Drops every frame (waiting or ready): the neighbour table is being flushed and its entry numbers change. */
export function dropAll(): void {
  if (used == 0) return;
  for (let s = 0; s < POOL; s++) {
    if (unchecked(state[s]) == FREE) continue;
    if (unchecked(state[s]) == WAITING) { const e = unchecked(entryOf[s]); unchecked(heads[e] = 0); unchecked(tails[e] = 0); unchecked(neigh.waiting[e] = 0); }
    release(s);
    lost(Q_FLUSHED);
  }
  readyHead = -1; readyTail = -1; readyCount = 0;
}

/** Neighbour entries with frames waiting whose solicitation retry is due (for the ring path's re-solicitation). */
export function waitingEntry(s: i32): i32 { return unchecked(state[s]) == WAITING ? unchecked(entryOf[s]) : -1; }
