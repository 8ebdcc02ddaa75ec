// Destination hashing (ip_vs_dh.c). A 256-bucket table (IP_VS_DH_TAB_BITS =
// 8) maps a hash of the connection's destination address to a real server.
// Unlike sh, IPVS deals the buckets out one per server in list order,
// wrapping around: weights do not change the share, they only matter as
// weight 0 (quiescent) making the server's buckets return no server.
//
// Hash: IPVS's ntohl(addr) * 2654435761 & IP_VS_DH_TAB_MASK (the low 8
// bits of the product), IPv6 folded by XOR of its four 32-bit words. The
// bucket's server is returned if it has weight > 0 and is not overloaded,
// otherwise null (dh has no fallback).

import { Scheduler, usable, GOLDEN_PRIME } from "./scheduler";
import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";
import { foldAddr, ntohl } from "../util/bytes";
import { dealBuckets } from "./sh";

const DH_TAB_BITS: i32 = 8;
const DH_TAB_MASK: u32 = (1 << DH_TAB_BITS) - 1;

export class DestinationHashing extends Scheduler {
  tab: StaticArray<i32> = new StaticArray<i32>(1 << DH_TAB_BITS);

  update(svc: Service): void { dealBuckets(this.tab, svc.dests, false); }

  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    const di = unchecked(this.tab[(ntohl(foldAddr(inp.daddr)) * GOLDEN_PRIME) & DH_TAB_MASK]);
    if (di < 0 || di >= ds.length) return null;
    const d = unchecked(ds[di]);
    return usable(d) ? d : null;
  }
}
