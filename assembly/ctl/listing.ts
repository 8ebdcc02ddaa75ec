// Control calls for listings: zeroing counters (ipvsadm -Z) and walking the
// live connection entries (ipvsadm -L -c, as /proc/net/ip_vs_conn). Not on
// the packet path: one call per entry is fine here.

import * as E from "./errors";
import * as G from "../svc/generation";
import { liveSvc } from "./api";
import { Service } from "../svc/service";
import { Stats } from "../stats/counters";
import { ConnTable, conns4, conns6, CF_USED, CF_TEMPLATE, CF_FWD_SHIFT, NONE } from "../conn/table";
import { v4addr } from "../util/bytes";

/**
 * One connection entry, as connRead() leaves it (little-endian, host order
 * unless noted; mirrored in src/dataplane/layout.ts CONN):
 *   0 u8 af   1 u8 proto   2 u8 state   3 u8 fwd (IPVS numbers)
 *   4 u16 entry flags (CF_*)   6 u16 cport   8 u16 vport   10 u16 dport
 *   12 i32 milliseconds until expiry   16 caddr (16 bytes, network order)
 *   32 vaddr (16, for a firewall-mark template the mark as an IPv4 address)
 *   48 daddr (16)
 */
export const CONN_OUT: usize = memory.data(64, 16);

function zero(s: Stats): void { s.conns = 0; s.inpkts = 0; s.outpkts = 0; s.inbytes = 0; s.outbytes = 0; }

function zeroService(s: Service): void {
  zero(s.stats);
  for (let i = 0; i < s.dests.length; i++) zero(s.dests[i].st.stats);
}

/** ipvsadm -Z: zeroes one service (key in scratch) and its real servers, or all of them. */
export function statsZero(all: bool): i32 {
  if (all) {
    const ss = G.live.services;
    for (let i = 0; i < ss.length; i++) zeroService(ss[i]);
    return E.OK;
  }
  const s = liveSvc();
  if (s === null) return E.E_NOSVC;
  zeroService(s!);
  return E.OK;
}

function readEntry<A>(t: ConnTable<A>, af: u8, i: u32, now: u32): void {
  const o = CONN_OUT;
  memory.fill(o, 0, 64);
  const f = t.flags(i);
  store<u8>(o, af);
  store<u8>(o, t.proto(i), 1);
  store<u8>(o, t.state(i), 2);
  store<u8>(o, <u8>((f >> CF_FWD_SHIFT) & 3), 3);
  store<u16>(o, f, 4);
  store<u16>(o, bswap<u16>(t.cport(i)), 6);
  store<u16>(o, bswap<u16>(t.vport(i)), 8);
  store<u16>(o, bswap<u16>(t.dport(i)), 10);
  store<i32>(o, <i32>(t.expires(i) - now), 12);
  if (isVector<A>()) {
    v128.store(o + 16, changetype<v128>(t.caddr(i)));
    v128.store(o + 32, changetype<v128>(t.vaddr(i)));
    v128.store(o + 48, changetype<v128>(t.daddr(i)));
  } else {
    v128.store(o + 16, v4addr(<u32>t.caddr(i)));
    v128.store(o + 32, v4addr(<u32>t.vaddr(i)));
    v128.store(o + 48, v4addr(<u32>t.daddr(i)));
  }
}

function next<A>(t: ConnTable<A>, af: u8, from: u32, now: u32): i32 {
  for (let i = from; i < t.cap; i++) {
    const f = t.flags(i);
    if ((f & CF_USED) == 0) continue;
    // Entries past their time are gone for lookups; templates that still hold
    // connections are kept (the sweep re-arms them).
    if (!t.live(i, now) && ((f & CF_TEMPLATE) == 0 || t.nControl(i) == 0)) continue;
    readEntry<A>(t, af, i, now);
    return <i32>i;
  }
  return -1;
}

/**
 * The first live entry at index from or later in the af table: its index,
 * with the entry at CONN_OUT, or -1 when there is none.
 */
export function connRead(af: u8, from: u32, now: u32): i32 {
  if (from == NONE) return -1;
  return af == 6 ? next<v128>(conns6, 6, from, now) : next<u32>(conns4, 4, from, now);
}
