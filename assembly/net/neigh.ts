// Neighbour table (ARP / ND cache): (link, address) → MAC. Open addressing
// with a fixed capacity; learnt from ARP and ND traffic, or set statically.
// A full table is compacted (compact(), below), so it never stays full.
// An unresolved next hop gets one solicitation per second at most; the
// packets that need it meanwhile wait in a small bounded queue (neighq.ts,
// as the kernel's unres_qlen), which update() releases when the MAC is learnt.

import { mix32, foldAddr, addrEq } from "../util/bytes";

export const NUD_INCOMPLETE: u8 = 1;
export const NUD_REACHABLE: u8 = 2;
export const NUD_PERMANENT: u8 = 3;

export const CAP: i32 = 4096; // power of two
const MASK: u32 = <u32>CAP - 1;
const RESOLVE_RETRY_MS: u32 = 1000;
/**
 * A full table is compacted (at most once per COMPACT_EVERY_MS, at a batch's
 * end: batch.ts) so that it cannot stay full forever, e.g. of the addresses
 * of a spoofed flood: every INCOMPLETE entry goes (it holds no MAC; a real
 * next hop is asked again at its next packet) and every learnt one not
 * confirmed for STALE_MS (the kernel's gc_staletime); static ones stay.
 */
const STALE_MS: u32 = 60000;
const COMPACT_EVERY_MS: u32 = 1000;

const keys = new StaticArray<v128>(CAP);
const linkOf = new StaticArray<i32>(CAP);
const afOf = new StaticArray<u8>(CAP);
const macs = new StaticArray<u64>(CAP);
const states = new StaticArray<u8>(CAP);   // 0 = empty
const stamps = new StaticArray<u32>(CAP);  // last update or solicitation, ms
/** Frames waiting in neighq.ts for each entry (kept here so the resolution sees them at once). */
export const waiting = new StaticArray<u8>(CAP);
let used: i32 = 0;
/** Set when a new neighbour found the table full; compact() clears it. */
export let wantCompact: bool = false;
let lastCompact: u32 = 0;
let compactedOnce: bool = false;
/** Entries compact() removed, since load. */
export let evicted: u64 = 0;

/** Set when update() resolved an entry with frames waiting; neighq.ts releases them and clears it. */
export let resolvedWaiting: bool = false;
export function clearResolvedWaiting(): void { resolvedWaiting = false; }

@inline function slot(link: i32, af: u8, a: v128): i32 {
  let h = mix32(foldAddr(a) ^ (<u32>link << 8) ^ <u32>af) & MASK;
  while (true) {
    const s = unchecked(states[h]);
    if (s == 0) return -1 - <i32>h;
    if (unchecked(linkOf[h]) == link && unchecked(afOf[h]) == af && addrEq(unchecked(keys[h]), a)) return <i32>h;
    h = (h + 1) & MASK;
  }
}

/**
 * Takes the free slot that slot() reported (as -1 - index) for a new key;
 * -1 when the table is full (kept at most 3/4 used so probes stay short).
 */
function claim(free: i32, link: i32, af: u8, a: v128): i32 {
  if (used >= CAP * 3 / 4) { wantCompact = true; return -1; }
  const i = -1 - free;
  used++;
  unchecked(keys[i] = a); unchecked(linkOf[i] = link); unchecked(afOf[i] = af);
  return i;
}

/** Result of lookup(): the MAC when it returns true. */
export let foundMac: u64 = 0;

@inline export function lookup(link: i32, af: u8, a: v128): bool {
  const i = slot(link, af, a);
  if (i < 0) return false;
  if (unchecked(states[i]) < NUD_REACHABLE) return false;
  foundMac = unchecked(macs[i]);
  return true;
}

/** Records a MAC. A learnt entry never replaces a permanent one. Returns false when full. */
export function update(link: i32, af: u8, a: v128, mac: u64, state: u8, now: u32): bool {
  let i = slot(link, af, a);
  if (i < 0) {
    i = claim(i, link, af, a);
    if (i < 0) return false;
  } else if (unchecked(states[i]) == NUD_PERMANENT && state != NUD_PERMANENT) {
    return true;
  }
  if (state >= NUD_REACHABLE && unchecked(waiting[i]) != 0) resolvedWaiting = true;
  unchecked(macs[i] = mac); unchecked(states[i] = state); unchecked(stamps[i] = now);
  return true;
}

/** Result of incomplete(): true when a solicitation should go out now (new entry, or the retry is due). */
export let solicitDue: bool = false;

/**
 * The entry of an unresolved next hop (made INCOMPLETE when new), or -1 when
 * the table is full or the entry is resolved; sets solicitDue (rate-limited
 * to one solicitation per RESOLVE_RETRY_MS) and stamps the solicitation.
 */
export function incomplete(link: i32, af: u8, a: v128, now: u32): i32 {
  solicitDue = false;
  let i = slot(link, af, a);
  if (i < 0) {
    i = claim(i, link, af, a);
    if (i < 0) return -1;
    unchecked(states[i] = NUD_INCOMPLETE); unchecked(stamps[i] = now); unchecked(waiting[i] = 0);
    solicitDue = true;
    return i;
  }
  if (unchecked(states[i]) != NUD_INCOMPLETE) return -1;
  if (<i32>(now - unchecked(stamps[i])) >= <i32>RESOLVE_RETRY_MS) {
    unchecked(stamps[i] = now);
    solicitDue = true;
  }
  return i;
}

/** True when an INCOMPLETE entry's solicitation retry is due at now (stamps it). */
export function retryDue(i: i32, now: u32): bool {
  if (unchecked(states[i]) != NUD_INCOMPLETE) return false;
  if (<i32>(now - unchecked(stamps[i])) < <i32>RESOLVE_RETRY_MS) return false;
  unchecked(stamps[i] = now);
  return true;
}

/** True when a solicitation should go out now for this next hop (rate-limited). */
export function shouldSolicit(link: i32, af: u8, a: v128, now: u32): bool {
  return incomplete(link, af, a, now) >= 0 && solicitDue;
}

/** Only consider learning from hosts we already asked about or that ask us (RFC 826). */
export function known(link: i32, af: u8, a: v128): bool { return slot(link, af, a) >= 0; }

/**
 * Empties the table, or one link's entries (rebuilds to keep probe chains
 * intact, so entry indices change: neighq.ts drops its frames first).
 */
export function flush(link: i32): void { rebuild(link, false, 0); }

/** Whether a full table should be compacted now (rate-limited). */
export function compactDue(now: u32): bool {
  return wantCompact && (!compactedOnce || <i32>(now - lastCompact) >= <i32>COMPACT_EVERY_MS);
}

/** Rebuilds the full table without its INCOMPLETE and stale learnt entries (neighq.ts drops its frames first: indices change). */
export function compact(now: u32): void {
  wantCompact = false;
  compactedOnce = true;
  lastCompact = now;
  rebuild(-1, true, now);
}

/** Re-inserts every entry but those of link (all links: -1) and, with evict, the ones compact() removes. */
function rebuild(link: i32, evict: bool, now: u32): void {
  const k = new StaticArray<v128>(CAP); const l = new StaticArray<i32>(CAP); const f = new StaticArray<u8>(CAP);
  const m = new StaticArray<u64>(CAP); const s = new StaticArray<u8>(CAP); const t = new StaticArray<u32>(CAP);
  for (let i = 0; i < CAP; i++) {
    k[i] = keys[i]; l[i] = linkOf[i]; f[i] = afOf[i]; m[i] = macs[i]; s[i] = states[i]; t[i] = stamps[i];
    states[i] = 0; waiting[i] = 0;
  }
  used = 0;
  resolvedWaiting = false;
  for (let i = 0; i < CAP; i++) {
    if (s[i] == 0 || (link >= 0 && l[i] == link)) continue;
    if (evict && (s[i] == NUD_INCOMPLETE || (s[i] == NUD_REACHABLE && <i32>(now - t[i]) >= <i32>STALE_MS))) { evicted++; continue; }
    update(l[i], f[i], k[i], m[i], s[i], t[i]);
  }
}

export function capacity(): i32 { return CAP; }
export function entryState(i: i32): u8 { return states[i]; }
export function entryLink(i: i32): i32 { return linkOf[i]; }
export function entryAf(i: i32): u8 { return afOf[i]; }
export function entryAddr(i: i32): v128 { return keys[i]; }
export function entryMac(i: i32): u64 { return macs[i]; }
@inline export function entryMacAt(i: i32): u64 { return unchecked(macs[i]); }
@inline export function entryStateAt(i: i32): u8 { return unchecked(states[i]); }
