// Routes: longest-prefix match over a short list kept sorted by prefix
// length. Connected routes come from `ip addr add`; the rest from `ip route`.
// An appliance has a handful of routes, so a scan beats a trie here.

import { prefixMatch, v4mask } from "../svc/fwmark";
import { addrEq, v4addr } from "../util/bytes";
import * as E from "../ctl/errors";

@final export class Route {
  af: u8 = 4;
  prefix: v128 = i32x4.splat(0);
  len: u8 = 0;
  link: i32 = 0;
  gw: v128 = i32x4.splat(0);
  hasGw: bool = false;
  /** IPv4 prefix and mask, network order, for the per-packet lookup4(). */
  prefix4: u32 = 0;
  mask4: u32 = 0;
}

let routes = new Array<Route>();

/** Result of lookup(): egress link and next-hop address (the gateway, or dst itself). */
export let nhLink: i32 = -1;
export let nhAddr: v128 = i32x4.splat(0);

export function lookup(af: u8, dst: v128): bool {
  const rs = routes;
  for (let i = 0, n = rs.length; i < n; i++) {
    const r = unchecked(rs[i]);
    if (r.af == af && prefixMatch(af, dst, r.prefix, r.len)) {
      nhLink = r.link;
      nhAddr = r.hasGw ? r.gw : dst;
      return true;
    }
  }
  return false;
}

/** IPv4 fast path of lookup(). */
@inline export function lookup4(dst: u32): bool {
  const rs = routes;
  for (let i = 0, n = rs.length; i < n; i++) {
    const r = unchecked(rs[i]);
    if (r.af == 4 && ((dst ^ r.prefix4) & r.mask4) == 0) {
      nhLink = r.link;
      nhAddr = r.hasGw ? r.gw : v4addr(dst);
      return true;
    }
  }
  return false;
}

export function routeAdd(r: Route): i32 {
  if (r.len > (r.af == 4 ? 32 : 128)) return E.E_INVAL;
  r.mask4 = v4mask(r.len);
  r.prefix4 = <u32>i32x4.extract_lane(r.prefix, 0) & r.mask4;
  for (let i = 0; i < routes.length; i++) {
    const o = routes[i];
    if (o.af == r.af && o.len == r.len && addrEq(o.prefix, r.prefix)) return E.E_EXISTS;
  }
  let at = 0;
  while (at < routes.length && routes[at].len >= r.len) at++;
  routes = insertAt(routes, at, r);
  return E.OK;
}

function insertAt(a: Array<Route>, at: i32, r: Route): Array<Route> {
  const out = new Array<Route>();
  for (let i = 0; i < at; i++) out.push(a[i]);
  out.push(r);
  for (let i = at; i < a.length; i++) out.push(a[i]);
  return out;
}

export function routeDel(af: u8, prefix: v128, len: u8): i32 {
  for (let i = 0; i < routes.length; i++) {
    const o = routes[i];
    if (o.af == af && o.len == len && addrEq(o.prefix, prefix)) { routes.splice(i, 1); return E.OK; }
  }
  return E.E_NOROUTE;
}

/** Removes every route through a link (when the link goes away). */
export function routesFlushLink(link: i32): void {
  for (let i = routes.length - 1; i >= 0; i--) if (routes[i].link == link) routes.splice(i, 1);
}

