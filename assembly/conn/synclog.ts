// The connection-sync change log (issue 12): while sync is on, the packet
// path appends the connections and templates it creates or changes to a
// bounded ring, and the supervisor takes them (connSyncTake) to send to the
// backup director. Off by default: then the packet path pays one global read.
//
// An append is a copy of the entry as it is now (one memory.copy of 48 bytes
// for IPv4, 80 for IPv6) into the next slot: the wire record
// (src/sync/entry.ts, writeRecord below) is made when the ring is taken, off
// the packet path. When the ring is full the change is counted as lost and
// dropped: the sync protocol's periodic bulk resync (an export) covers it.

import { ConnTable, CF_TEMPLATE, CF_INACTIVE, CF_NOOUTPUT, CF_ONEPACKET, CF_FWD_SHIFT, TEMPLATE_RECHECK_MS } from "./table";
import { FWD_MASQ, FWD_TUNNEL } from "../svc/dest";
import { afOf, st32 } from "../util/bytes";

/** Size of one wire record (src/sync/entry.ts ENTRY_SIZE; published as sync.entrySize). */
export const ENTRY_SIZE: u32 = 72;
// Wire values (src/sync/entry.ts).
const KIND_CONN: u8 = 1;
const KIND_TEMPLATE: u8 = 2;
const W_FWD_NAT: u8 = 0, W_FWD_TUN: u8 = 1, W_FWD_DR: u8 = 2;
export const WF_ONEPACKET: u8 = 0x01;
export const WF_NOOUTPUT: u8 = 0x02;
export const WF_INACTIVE: u8 = 0x04;
export const WF_FWMARK: u8 = 0x08;

/**
 * A slot: the family (u8) at 0, the time of the change (u32) at 4, the
 * entry's bytes from 16 (an IPv6 entry is 80 bytes). The record's time left
 * is counted from the time of the change: the take needs no clock, and a
 * backup's copy runs out no later than the master's.
 */
const SLOT: usize = 96;
const SLOT_ENTRY: usize = 16;

/** True while changes are logged; read on the packet path (core.ts) before any call. */
export let syncOn: bool = false;
let ring: usize = 0;
let mask: u32 = 0;
/** Sequence numbers: head is the next slot written, tail the next taken (wrapping u32). */
let head: u32 = 0;
let tail: u32 = 0;

// Counters since load, for metrics (connSyncStat).
export let logged: u64 = 0;
export let lost: u64 = 0;
export let installed: u64 = 0;
export let refused: u64 = 0;
@inline export function countInstall(ok: u32, bad: u32): void { installed += ok; refused += bad; }

/**
 * Starts or stops logging. The ring (capacity entries, rounded up to a power
 * of two) is allocated at the first start and kept; starting again drops what
 * an earlier period left untaken. Stopping keeps it for a last take.
 * Returns the ring's bytes, or 0 when capacity is unusable.
 */
export function setSync(on: bool, capacity: u32): usize {
  if (on) {
    if (ring == 0) {
      if (capacity == 0 || capacity > 0x100000) return 0;
      let c: u32 = 1;
      while (c < capacity) c <<= 1;
      ring = heap.alloc(<usize>c * SLOT);
      mask = c - 1;
    }
    head = 0; tail = 0;
  }
  syncOn = on;
  return ring == 0 ? 0 : <usize>(mask + 1) * SLOT;
}

/** Appends entry i of t as it is at time now (the caller checked syncOn). */
export function logEntry<A>(t: ConnTable<A>, i: u32, now: u32): void {
  if (head - tail > mask) { lost++; return; }
  const p = ring + <usize>(head & mask) * SLOT;
  store<u8>(p, afOf<A>());
  store<u32>(p + 4, now);
  memory.copy(p + SLOT_ENTRY, t.e(i), <usize>t.esz);
  head++;
  logged++;
}

/** Writes up to max wire records of the logged changes at out, oldest first; returns how many. */
export function take(out: usize, max: u32): u32 {
  let n: u32 = 0;
  while (tail != head && n < max) {
    const p = ring + <usize>(tail & mask) * SLOT;
    const q = out + <usize>n * ENTRY_SIZE;
    const at = load<u32>(p + 4);
    const ok = load<u8>(p) == 6 ? writeRecord<v128>(q, p + SLOT_ENTRY, at) : writeRecord<u32>(q, p + SLOT_ENTRY, at);
    if (ok) n++;
    tail++;
  }
  return n;
}

/** Changes waiting in the ring. */
export function pending(): u32 { return head - tail; }

@inline function wireFwd(f: u8): u8 {
  return f == FWD_MASQ ? W_FWD_NAT : f == FWD_TUNNEL ? W_FWD_TUN : W_FWD_DR;
}

/**
 * The wire record (src/sync/entry.ts, big-endian) of the entry at p (a
 * ConnTable<A> entry's bytes) at time now. False, nothing written, when a
 * connection's time is up. A template past its time that still controls
 * connections is sent with the 60 s the sweep re-arms it with.
 */
export function writeRecord<A>(out: usize, p: usize, now: u32): bool {
  const o: usize = 3 * sizeof<A>();
  const flags = load<u16>(p + o + 8);
  const tmpl = (flags & CF_TEMPLATE) != 0;
  let left = <i32>(load<u32>(p + o + 16) - now);
  if (left <= 0) {
    if (!tmpl) return false;
    left = <i32>TEMPLATE_RECHECK_MS;
  }
  memory.fill(out, 0, ENTRY_SIZE);
  const proto = load<u8>(p + o + 6);
  store<u8>(out, tmpl ? KIND_TEMPLATE : KIND_CONN);
  store<u8>(out + 1, afOf<A>());
  store<u8>(out + 2, proto);
  store<u8>(out + 3, load<u8>(p + o + 7));
  store<u8>(out + 4, wireFwd(<u8>((flags >> CF_FWD_SHIFT) & 3)));
  let wf: u8 = 0;
  if (flags & CF_ONEPACKET) wf |= WF_ONEPACKET;
  if (flags & CF_NOOUTPUT) wf |= WF_NOOUTPUT;
  if (flags & CF_INACTIVE) wf |= WF_INACTIVE;
  // A firewall-mark service's template: protocol 0, the mark where the VIP goes.
  const fwmark = tmpl && proto == 0;
  if (fwmark) wf |= WF_FWMARK;
  store<u8>(out + 5, wf);
  // Ports are kept in network order: stored as they are, they are big-endian.
  store<u16>(out + 8, load<u16>(p + o));
  store<u16>(out + 10, load<u16>(p + o + 2));
  store<u16>(out + 12, load<u16>(p + o + 4));
  st32(out + 16, <u32>left);
  if (isVector<A>()) {
    v128.store(out + 24, v128.load(p));
    if (fwmark) st32(out + 40, load<u32>(p + 16)); // the mark, host order in the entry
    else v128.store(out + 40, v128.load(p + 16));
    v128.store(out + 56, v128.load(p + 32));
  } else {
    store<u32>(out + 24, load<u32>(p));
    if (fwmark) st32(out + 40, load<u32>(p + 4));
    else store<u32>(out + 40, load<u32>(p + 4));
    store<u32>(out + 56, load<u32>(p + 8));
  }
  return true;
}
