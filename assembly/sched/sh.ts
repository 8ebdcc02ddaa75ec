// Source hashing (ip_vs_sh.c). A 256-bucket table (IP_VS_SH_TAB_BITS = 8)
// maps a hash of the client address to a real server. The buckets are dealt
// out in list order, each server taking `weight` consecutive buckets before
// the next one (a weight-0 server still takes one bucket, as in IPVS, so
// quiescing a server does not reshuffle the table), wrapping around until
// all 256 are assigned.
//
// Hash: IPVS's (ntohs(port) + ntohl(addr)) * 2654435761, keeping the low 8
// bits (& IP_VS_SH_TAB_MASK), IPv6 addresses folded by XOR of their four
// words. port is the client port with sh-port (SVC_F_SCHED2), else 0.
//
// The bucket's server is returned if it has weight > 0 and is not
// overloaded; otherwise null, or with sh-fallback (SVC_F_SCHED1) the table
// is walked from the original bucket, rehashing with an added offset as
// ip_vs_sh_get_fallback does, until a usable server turns up.

import { Scheduler, usable, GOLDEN_PRIME } from "./scheduler";
import { Service, Dest, SVC_F_SCHED1, SVC_F_SCHED2 } from "../svc/service";
import { SchedInput } from "./input";
import { foldAddr, ntohl, ntohs } from "../util/bytes";

export const SH_TAB_BITS: i32 = 8;
export const SH_TAB_SIZE: i32 = 1 << SH_TAB_BITS;
const SH_TAB_MASK: u32 = <u32>SH_TAB_SIZE - 1;

/** Client port of a TCP/UDP/SCTP connection in host order, 0 otherwise (ip_vs_sh_get_port). */
@inline export function hashPort(inp: SchedInput): u32 {
  const p = inp.proto;
  return p == 6 || p == 17 || p == 132 ? ntohs(inp.sport) : 0;
}

/**
 * Deals the buckets out in list order, `weight` each (at least one), as
 * ip_vs_sh_reassign. perWeight false gives dh's one bucket per server.
 */
export function dealBuckets(tab: StaticArray<i32>, ds: Array<Dest>, perWeight: bool): void {
  const n = ds.length;
  if (n == 0) { for (let i = 0; i < tab.length; i++) tab[i] = -1; return; }
  let p = 0, count = 0;
  for (let i = 0; i < tab.length; i++) {
    tab[i] = p;
    if (!perWeight || ++count >= ds[p].weight) {
      p = p + 1 == n ? 0 : p + 1;
      count = 0;
    }
  }
}

export class SourceHashing extends Scheduler {
  /** Bucket → index in svc.dests, -1 when the service has no real servers. */
  tab: StaticArray<i32> = new StaticArray<i32>(SH_TAB_SIZE);

  update(svc: Service): void { dealBuckets(this.tab, svc.dests, true); }

  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    const port: u32 = (svc.flags & SVC_F_SCHED2) != 0 ? hashPort(inp) : 0;
    // The product is what IPVS masks; the offset of the fallback is added to it.
    const k = (port + ntohl(foldAddr(inp.saddr))) * GOLDEN_PRIME;
    const ihash = k & SH_TAB_MASK;
    const tab = this.tab;
    let di = unchecked(tab[ihash]);
    if (di < 0 || di >= ds.length) return null;
    let d = unchecked(ds[di]);
    if (usable(d)) return d;
    if ((svc.flags & SVC_F_SCHED1) == 0) return null;
    // sh-fallback: try the buckets at (roffset + k) for roffset = ihash, ihash+1, ...
    for (let off: u32 = 0; off < <u32>SH_TAB_SIZE; off++) {
      const roff = (off + ihash) & SH_TAB_MASK;
      di = unchecked(tab[(roff + k) & SH_TAB_MASK]);
      d = unchecked(ds[di]);
      if (usable(d)) return d;
    }
    return null;
  }
}
