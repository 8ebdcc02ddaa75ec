// Prefixes, networks and netmasks as the console language writes them,
// parsed strictly and printed canonically. Single addresses, ports and
// host:port are keys.ts's.

import ipaddr from "ipaddr.js";
import type { Family } from "../dataplane/addr.js";
import { fail } from "../errors.js";
import { parseIp, tryIp } from "../keys.js";

export type { Family };

export function maxLen(af: Family): number { return af === 4 ? 32 : 128; }

export interface Prefix { af: Family; addr: string; len: number; }

/** Parses A/LEN (LEN optional: a host prefix). */
export function parsePrefix(text: string, defaultLen?: number): Prefix {
  const slash = text.indexOf("/");
  const a = parseIp(slash < 0 ? text : text.slice(0, slash), text);
  let len = defaultLen ?? maxLen(a.af);
  if (slash >= 0) {
    const l = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l) || Number(l) > maxLen(a.af)) fail("BAD_PREFIX", `invalid prefix length '${l}' in '${text}'`);
    len = Number(l);
  }
  return { af: a.af, addr: a.text, len };
}

/** The network address of addr/len, as text. */
export function networkOf(af: Family, addr: string, len: number): string {
  const b = parseIp(addr).bytes.slice();
  for (let i = 0; i < b.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    b[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return fromBytes(af, b);
}

export function fromBytes(af: Family, b: number[]): string {
  return af === 4 ? b.slice(0, 4).join(".") : ipaddr.fromByteArray(b.slice(0, 16)).toString();
}

/** True when addr lies inside net/len (same family). */
export function inPrefix(af: Family, addr: string, net: string, len: number): boolean {
  return networkOf(af, addr, len) === networkOf(af, net, len);
}

/** A dotted IPv4 netmask as a prefix length; null when not contiguous or not a mask. */
export function maskToLen(text: string): number | null {
  const a = tryIp(text);
  if (!a || a.af !== 4) return null;
  const n = ((a.bytes[0] << 24) | (a.bytes[1] << 16) | (a.bytes[2] << 8) | a.bytes[3]) >>> 0;
  const len = 32 - Math.log2((~n >>> 0) + 1);
  return Number.isInteger(len) ? len : null;
}

export function lenToMask(len: number): string {
  const n = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
