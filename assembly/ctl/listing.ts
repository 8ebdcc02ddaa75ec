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
 * unless noted; the CO_* offsets, which ctl/layout.ts publishes):
 *   0 u8 af   1 u8 proto   2 u8 state (conn/state.ts S_*)   3 u8 fwd (IPVS numbers)
 *   4 u16 entry flags (CF_*)   6 u16 cport   8 u16 vport   10 u16 dport
 *   12 i32 milliseconds until expiry   16 caddr (16 bytes, network order)
 *   32 vaddr (16, for a firewall-mark template the mark as an IPv4 address)
 *   48 daddr (16)
 */
export const CONN_OUT_SIZE: i32 = 64;
export const CO_AF: usize = 0;
export const CO_PROTO: usize = 1;
export const CO_STATE: usize = 2;
export const CO_FWD: usize = 3;
export const CO_FLAGS: usize = 4;
export const CO_CPORT: usize = 6;
export const CO_VPORT: usize = 8;
export const CO_DPORT: usize = 10;
export const CO_EXPIRES: usize = 12;
export const CO_CADDR: usize = 16;
export const CO_VADDR: usize = 32;
export const CO_DADDR: usize = 48;
export const CONN_OUT: usize = memory.data(CONN_OUT_SIZE, 16);

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
  memory.fill(o, 0, CONN_OUT_SIZE);
  const f = t.flags(i);
  store<u8>(o, af, CO_AF);
  store<u8>(o, t.proto(i), CO_PROTO);
  store<u8>(o, t.state(i), CO_STATE);
  store<u8>(o, <u8>((f >> CF_FWD_SHIFT) & 3), CO_FWD);
  store<u16>(o, f, CO_FLAGS);
  store<u16>(o, bswap<u16>(t.cport(i)), CO_CPORT);
  store<u16>(o, bswap<u16>(t.vport(i)), CO_VPORT);
  store<u16>(o, bswap<u16>(t.dport(i)), CO_DPORT);
  store<i32>(o, <i32>(t.expires(i) - now), CO_EXPIRES);
  if (isVector<A>()) {
    v128.store(o + CO_CADDR, changetype<v128>(t.caddr(i)));
    v128.store(o + CO_VADDR, changetype<v128>(t.vaddr(i)));
    v128.store(o + CO_DADDR, changetype<v128>(t.daddr(i)));
  } else {
    v128.store(o + CO_CADDR, v4addr(<u32>t.caddr(i)));
    v128.store(o + CO_VADDR, v4addr(<u32>t.vaddr(i)));
    v128.store(o + CO_DADDR, v4addr(<u32>t.daddr(i)));
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
