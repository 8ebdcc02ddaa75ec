// Fragments follow their connection without reassembly: the first fragment
// (offset 0, carrying the ports) is handled like any packet and leaves a
// note here keyed by (af, proto, src, dst, IP id); later fragments find the
// connection through that note. The table is small and bounded: a note
// lives FRAG_TTL_MS, and when a probe window is full the oldest note loses.

import { mix32, foldAddr, addrEq } from "../util/bytes";

const CAP: u32 = 1024; // power of two
const PROBE: u32 = 8;
export const FRAG_TTL_MS: u32 = 2000;

const srcs = new StaticArray<v128>(CAP);
const dsts = new StaticArray<v128>(CAP);
const ids = new StaticArray<u32>(CAP);
const keyMeta = new StaticArray<u32>(CAP); // af | proto << 8, 0 = empty
const conns = new StaticArray<u32>(CAP);
const dirs = new StaticArray<u8>(CAP);
const stamps = new StaticArray<u32>(CAP);

@inline function h(meta: u32, s: v128, d: v128, id: u32): u32 {
  return mix32(foldAddr(s) ^ mix32(foldAddr(d) ^ id) ^ meta) & (CAP - 1);
}

/** Result of find(): connection index and direction (0 in, 1 out). */
export let foundConn: u32 = 0;
export let foundDir: u8 = 0;

export function find(af: u8, proto: u8, s: v128, d: v128, id: u32, now: u32): bool {
  const meta = <u32>af | (<u32>proto << 8);
  let i = h(meta, s, d, id);
  for (let k: u32 = 0; k < PROBE; k++) {
    if (unchecked(keyMeta[i]) == meta && unchecked(ids[i]) == id && addrEq(unchecked(srcs[i]), s) && addrEq(unchecked(dsts[i]), d)) {
      if (<i32>(now - unchecked(stamps[i])) > <i32>FRAG_TTL_MS) return false;
      foundConn = unchecked(conns[i]); foundDir = unchecked(dirs[i]);
      return true;
    }
    i = (i + 1) & (CAP - 1);
  }
  return false;
}

/** Notes a first fragment. Returns false when every slot in the window is fresh. */
export function note(af: u8, proto: u8, s: v128, d: v128, id: u32, conn: u32, dir: u8, now: u32): bool {
  const meta = <u32>af | (<u32>proto << 8);
  let i = h(meta, s, d, id);
  let victim: i32 = -1;
  for (let k: u32 = 0; k < PROBE; k++) {
    const m = unchecked(keyMeta[i]);
    const stale = m == 0 || <i32>(now - unchecked(stamps[i])) > <i32>FRAG_TTL_MS;
    const same = m == meta && unchecked(ids[i]) == id && addrEq(unchecked(srcs[i]), s) && addrEq(unchecked(dsts[i]), d);
    if (same || stale) { victim = <i32>i; break; }
    i = (i + 1) & (CAP - 1);
  }
  if (victim < 0) return false;
  const v = <u32>victim;
  unchecked(keyMeta[v] = meta); unchecked(ids[v] = id); unchecked(srcs[v] = s); unchecked(dsts[v] = d);
  unchecked(conns[v] = conn); unchecked(dirs[v] = dir); unchecked(stamps[v] = now);
  return true;
}
