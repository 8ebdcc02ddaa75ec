// Address, prefix and port text as the console language writes them, parsed
// strictly (no host names, no inet_aton short forms) and printed canonically.

import ipaddr from "ipaddr.js";
import type { Family } from "../dataplane/addr.js";
import { fail } from "../errors.js";

export type { Family };

export interface Ip { af: Family; text: string; bytes: number[]; }

/** Strict dotted quad (1-3 digits per part, each ≤ 255); null otherwise. */
function v4(text: string): number[] | null {
  const b = [0, 0, 0, 0];
  let part = 0, digits = 0, n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      if (++digits > 3 || n > 255) return null;
    } else if (c === 46 && digits > 0 && part < 3) {
      b[part++] = n; n = 0; digits = 0;
    } else return null;
  }
  if (part !== 3 || digits === 0) return null;
  b[3] = n;
  return b;
}

/** Parses an IPv4 or IPv6 address; null when it is not one. */
export function tryIp(text: string): Ip | null {
  const bytes = v4(text);
  if (bytes) return { af: 4, text: `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`, bytes };
  if (text.includes(":") && ipaddr.IPv6.isValid(text) && !text.includes("%")) {
    const a = ipaddr.IPv6.parse(text);
    return { af: 6, text: a.toString(), bytes: a.toByteArray() };
  }
  return null;
}

/** Parses an address; `where` is the token it came from, for the error. */
export function parseIp(text: string, where = text): Ip {
  const a = tryIp(text);
  if (!a) fail("BAD_ADDRESS", where === text ? `invalid address '${text}'` : `invalid address '${text}' in '${where}'`);
  return a;
}

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

/** Orders addresses numerically (IPv4 before IPv6), as ipvsadm sorts them. */
export function compareIp(a: string, b: string): number {
  const x = parseIp(a), y = parseIp(b);
  if (x.af !== y.af) return x.af - y.af;
  for (let i = 0; i < x.bytes.length; i++) if (x.bytes[i] !== y.bytes[i]) return x.bytes[i] - y.bytes[i];
  return 0;
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

/** addr:port, with IPv6 in brackets (ipvsadm's numeric form). */
export function addrPort(af: Family, addr: string, port: number): string {
  return af === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** A decimal integer in [min, max]; null otherwise (strtol-strict: digits only). */
export function intIn(text: string | undefined, min: number, max: number): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}
