// The appliance's links: MAC, MTU, state and the addresses it owns on each
// (it answers ARP/ND and ICMP echo for them). Ids are small integers given
// by the supervisor; the I/O layer maps them to real interfaces.

import { addrEq } from "../util/bytes";
import * as E from "../ctl/errors";

export const MAX_LINKS: i32 = 64;

@final export class LinkAddr {
  af: u8 = 4;
  addr: v128 = i32x4.splat(0);
  prefixLen: u8 = 32;
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
  return E.OK;
}

function refreshPrimary(l: Link): void {
  l.primary4 = 0; l.hasPrimary6 = false;
  for (let i = l.addrs.length - 1; i >= 0; i--) {
    const a = l.addrs[i];
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
  return E.OK;
}

export function addrDel(id: i32, af: u8, addr: v128): i32 {
  const l = link(id);
  if (l === null) return E.E_NOLINK;
  for (let i = 0; i < l.addrs.length; i++) {
    if (l.addrs[i].af == af && addrEq(l.addrs[i].addr, addr)) {
      l.addrs.splice(i, 1);
      refreshPrimary(l);
      return E.OK;
    }
  }
  return E.E_NOADDR;
}

/** True when the link owns this address. */
export function owns(l: Link, af: u8, addr: v128): bool {
  const as = l.addrs;
  for (let i = 0, n = as.length; i < n; i++) {
    const a = unchecked(as[i]);
    if (a.af == af && addrEq(a.addr, addr)) return true;
  }
  return false;
}

export function owns4(l: Link, raw: u32): bool {
  const as = l.addrs;
  for (let i = 0, n = as.length; i < n; i++) {
    const a = unchecked(as[i]);
    if (a.af == 4 && <u32>i32x4.extract_lane(a.addr, 0) == raw) return true;
  }
  return false;
}

/** True when any link owns the address (traffic to the appliance itself). */
export function ownedAnywhere(af: u8, addr: v128): bool {
  for (let i = 0; i < MAX_LINKS; i++) {
    const l = unchecked(links[i]);
    if (l !== null && owns(l, af, addr)) return true;
  }
  return false;
}
