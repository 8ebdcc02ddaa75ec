// The appliance's links: MAC, MTU, state and the addresses it owns on each
// (it answers ARP/ND and ICMP echo for them). Ids are small integers given
// by the supervisor; the I/O layer maps them to real interfaces.
//
// An address may be held in standby (a VRRP backup's virtual address): it
// stays configured but is not owned. The data plane then neither answers
// ARP/ND or echo for it, nor forwards its services' traffic, nor passes its
// frames to the host stack (core.ts: R_VIP_STANDBY). Owned is the default.
// The frame path tests standby through a module global per family (the
// count of standby addresses, 0 unless some address is in standby), so an
// appliance with none pays one global read per IP frame; only then does it
// scan the short list of standby addresses (standby4 / standby6).

import { addrEq } from "../util/bytes";
import * as E from "../ctl/errors";

export const MAX_LINKS: i32 = 64;

@final export class LinkAddr {
  af: u8 = 4;
  addr: v128 = i32x4.splat(0);
  prefixLen: u8 = 32;
  /** Configured but not owned (VRRP backup): see the file's opening comment. */
  standby: bool = false;
}

@final export class Link {
  id: i32 = 0;
  mac: u64 = 0;
  mtu: u32 = 1500;
  up: bool = false;
  addrs: Array<LinkAddr> = new Array<LinkAddr>();
  /** First IPv4 address (raw), the source of what the appliance itself sends; 0 if none. */
  primary4: u32 = 0;
  primary6: v128 = i32x4.splat(0);
  hasPrimary6: bool = false;
  /** How many of addrs are in standby (ARP/ND look further only when non-zero). */
  nStandby: i32 = 0;
}

export const links = new StaticArray<Link | null>(MAX_LINKS);

@inline export function link(id: i32): Link | null {
  return id >= 0 && id < MAX_LINKS ? unchecked(links[id]) : null;
}

export function linkSet(id: i32, mac: u64, mtu: u32, up: bool): i32 {
  if (id < 0 || id >= MAX_LINKS || mtu < 68 || mtu > 65535) return E.E_INVAL;
  let l = links[id];
  if (l === null) { l = new Link(); l.id = id; links[id] = l; }
  l.mac = mac; l.mtu = mtu; l.up = up;
  return E.OK;
}

export function linkDel(id: i32): i32 {
  if (link(id) === null) return E.E_NOLINK;
  links[id] = null;
  refreshStandby();
  return E.OK;
}

/** The first owned address of each family is what the link sends from (a standby address is not the box's to use). */
function refreshPrimary(l: Link): void {
  l.primary4 = 0; l.hasPrimary6 = false;
  for (let i = l.addrs.length - 1; i >= 0; i--) {
    const a = l.addrs[i];
    if (a.standby) continue;
    if (a.af == 4) l.primary4 = <u32>i32x4.extract_lane(a.addr, 0);
    else { l.primary6 = a.addr; l.hasPrimary6 = true; }
  }
}

export function addrAdd(id: i32, af: u8, addr: v128, prefixLen: u8): i32 {
  const l = link(id);
  if (l === null) return E.E_NOLINK;
  if (prefixLen > (af == 4 ? 32 : 128)) return E.E_INVAL;
  for (let i = 0; i < l.addrs.length; i++) if (l.addrs[i].af == af && addrEq(l.addrs[i].addr, addr)) return E.E_EXISTS;
  const a = new LinkAddr();
  a.af = af; a.addr = addr; a.prefixLen = prefixLen;
  l.addrs.push(a);
  refreshPrimary(l);
  refreshStandby(); // owned here: no longer standby for forwarding, if it was on another link
  return E.OK;
}

export function addrDel(id: i32, af: u8, addr: v128): i32 {
  const l = link(id);
  if (l === null) return E.E_NOLINK;
  for (let i = 0; i < l.addrs.length; i++) {
    if (l.addrs[i].af == af && addrEq(l.addrs[i].addr, addr)) {
      if (l.addrs[i].standby) l.nStandby--;
      l.addrs.splice(i, 1);
      refreshPrimary(l);
      refreshStandby();
      return E.OK;
    }
  }
  return E.E_NOADDR;
}

/**
 * Marks the link's address owned (the default) or standby. Takes effect at
 * once, between two batches, whether or not a configuration transaction is
 * open: a takeover does not wait for a configuration being applied.
 */
export function addrOwn(id: i32, af: u8, addr: v128, owned: bool): i32 {
  const l = link(id);
  if (l === null) return E.E_NOLINK;
  for (let i = 0; i < l.addrs.length; i++) {
    const a = l.addrs[i];
    if (a.af == af && addrEq(a.addr, addr)) {
      const standby = !owned;
      if (a.standby != standby) {
        a.standby = standby;
        l.nStandby += standby ? 1 : -1;
        refreshPrimary(l);
        refreshStandby();
      }
      return E.OK;
    }
  }
  return E.E_NOADDR;
}

/** True when the link owns this address (configured there and not in standby). */
export function owns(l: Link, af: u8, addr: v128): bool {
  const as = l.addrs;
  for (let i = 0, n = as.length; i < n; i++) {
    const a = unchecked(as[i]);
    if (a.af == af && addrEq(a.addr, addr)) return !a.standby;
  }
  return false;
}

export function owns4(l: Link, raw: u32): bool {
  const as = l.addrs;
  for (let i = 0, n = as.length; i < n; i++) {
    const a = unchecked(as[i]);
    if (a.af == 4 && <u32>i32x4.extract_lane(a.addr, 0) == raw) return !a.standby;
  }
  return false;
}

/** True when the link holds this address in standby (ARP/ND for it are neither answered nor passed up). */
export function standbyOn(l: Link, af: u8, addr: v128): bool {
  if (l.nStandby == 0) return false;
  const as = l.addrs;
  for (let i = 0, n = as.length; i < n; i++) {
    const a = unchecked(as[i]);
    if (a.af == af && addrEq(a.addr, addr)) return a.standby;
  }
  return false;
}

// ---- standby addresses, as the frame path tests them ----

/** Standby addresses owned on no link, per family; the counts are the frame path's gate. */
export let nStandby4: i32 = 0;
export let nStandby6: i32 = 0;
let standby4 = new StaticArray<u32>(0);
let standby6 = new StaticArray<v128>(0);

function refreshStandby(): void {
  const s4 = new Array<u32>(), s6 = new Array<v128>();
  for (let i = 0; i < MAX_LINKS; i++) {
    const l = unchecked(links[i]);
    if (l === null || l.nStandby == 0) continue;
    for (let j = 0; j < l.addrs.length; j++) {
      const a = l.addrs[j];
      if (!a.standby || ownedAnywhere(a.af, a.addr)) continue;
      if (a.af == 4) s4.push(<u32>i32x4.extract_lane(a.addr, 0)); else s6.push(a.addr);
    }
  }
  const t4 = new StaticArray<u32>(s4.length);
  for (let i = 0; i < s4.length; i++) t4[i] = s4[i];
  const t6 = new StaticArray<v128>(s6.length);
  for (let i = 0; i < s6.length; i++) t6[i] = s6[i];
  standby4 = t4; standby6 = t6;
  nStandby4 = t4.length; nStandby6 = t6.length;
}

function inStandby4(raw: u32): bool {
  const s = standby4;
  for (let i = 0, n = s.length; i < n; i++) if (unchecked(s[i]) == raw) return true;
  return false;
}

function inStandby6(addr: v128): bool {
  const s = standby6;
  for (let i = 0, n = s.length; i < n; i++) if (addrEq(unchecked(s[i]), addr)) return true;
  return false;
}

/** True when addr (raw IPv4) is held in standby here and owned nowhere: traffic for it is not this box's. */
@inline export function standby4Has(raw: u32): bool { return nStandby4 != 0 && inStandby4(raw); }
@inline export function standby6Has(addr: v128): bool { return nStandby6 != 0 && inStandby6(addr); }

/** True when any link owns the address (traffic to the appliance itself). */
export function ownedAnywhere(af: u8, addr: v128): bool {
  for (let i = 0; i < MAX_LINKS; i++) {
    const l = unchecked(links[i]);
    if (l !== null && owns(l, af, addr)) return true;
  }
  return false;
}
