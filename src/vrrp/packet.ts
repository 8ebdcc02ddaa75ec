// VRRP on the wire: encodes and decodes the ADVERTISEMENT of RFC 5798
// (version 3, IPv4 and IPv6) and RFC 3768 (version 2, IPv4, auth type 0),
// builds whole frames the way keepalived sends them (Ethernet to the group
// MAC, IPv4 TOS 0xc0 / IPv6 traffic class 0xc0, TTL / hop limit 255, IPv4 id
// from the caller, no DF), and the gratuitous ARPs / unsolicited neighbour
// advertisements a new master sends for its addresses (keepalived's layout:
// an ARP request with the address as sender and target and an all-ones
// target MAC; an NA from the address itself to ff02::1 with Override set).
//
// Decoding never throws: every rejection is one of REJECT_REASONS (a closed
// set, usable as a metric label) with a detail for the log. The checks are
// those RFC 5798 §7.1 / RFC 3768 §7.1 ask of a receiver that can be made on
// the packet alone; the ones that need the instance (VRID known, addresses
// and v2 interval as configured, we are not the owner) are in machine.ts,
// whose reasons are in the same set. Encoding validates its input and throws
// WeirError BAD_VRRP: it is fed configuration, not packets.
//
// Layouts (network byte order):
//   v3:  ver|type  vrid  priority  count | rsvd(4) max_adver_int(12, cs)  checksum | addresses
//   v2:  ver|type  vrid  priority  count | auth_type  adver_int(s)  checksum | addresses | auth data (8, zero)
// v3 checksum: one's complement over the IPv4/IPv6 pseudo-header and the
// message (RFC 5798 §5.2.8); v2: over the message only (RFC 3768 §5.3.8).

import ipaddr from "ipaddr.js";
import { tryIp } from "../keys.js";
import { WeirError } from "../errors.js";

export const IPPROTO_VRRP = 112;
/** TTL / hop limit on send, and the only one accepted on receipt (RFC 5798 §5.1.1.3, §7.1). */
export const VRRP_TTL = 255;
/** IPv4 TOS / IPv6 traffic class: precedence 6, "internetwork control" (CS6), as keepalived sends. */
export const VRRP_TOS = 0xc0;
export const GROUP4 = "224.0.0.18";
export const GROUP6 = "ff02::12";
/** The groups' Ethernet addresses (RFC 1112 §6.4 for IPv4, RFC 2464 §7 for IPv6). */
export const GROUP_MAC4 = Uint8Array.of(0x01, 0x00, 0x5e, 0x00, 0x00, 0x12);
export const GROUP_MAC6 = Uint8Array.of(0x33, 0x33, 0x00, 0x00, 0x00, 0x12);
const GROUP4_BYTES = Uint8Array.of(224, 0, 0, 18);
export const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
/** ff02::1's Ethernet address: where unsolicited NAs go. */
export const ALL_NODES_MAC = Uint8Array.of(0x33, 0x33, 0x00, 0x00, 0x00, 0x01);
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
/** v3's interval field is 12 bits of centiseconds; v2's is 8 bits of seconds. */
export const MAX_INTERVAL_CS_V3 = 0x0fff;
export const MAX_INTERVAL_S_V2 = 0xff;
const HEADER = 8;
const V2_AUTH = 8;

export type Version = 2 | 3;
export type Family = 4 | 6;

/** One advert, as sent or as received. */
export interface Advert {
  version: Version;
  family: Family;
  /** Virtual router id, 1–255. */
  vrid: number;
  /** 0 (the master stops), 1–254, or 255 (the address owner). */
  priority: number;
  /** The advert interval in centiseconds: v3's Max Adver Int; v2's seconds × 100. */
  intervalCs: number;
  /** The virtual addresses, canonical text (keys.ts), all of `family`. */
  addresses: string[];
}

/**
 * Why a frame, packet or advert was not taken. The first group is decided
 * here from the bytes; the second by the receiving instance (machine.ts) or
 * the receive path that finds it (unknown_vrid).
 */
export const REJECT_REASONS = [
  "not_ip", // not an IPv4/IPv6 frame
  "not_vrrp", // an IP protocol / next header other than 112
  "truncated", // shorter than its headers, its IP length or its address count says
  "bad_ip_header", // IP version, header length or IPv4 header checksum wrong
  "fragment", // a fragment (VRRP adverts are never fragmented)
  "bad_ttl", // TTL / hop limit not 255: it crossed a router (RFC 5798 §7.1)
  "bad_source", // a multicast, broadcast, unspecified or loopback source
  "bad_destination", // neither the VRRP group nor a unicast address of ours
  "bad_version", // VRRP version neither 2 nor 3 (or 2 over IPv6)
  "bad_type", // not type 1, ADVERTISEMENT
  "bad_length", // longer than its address count says
  "bad_checksum",
  "bad_vrid", // virtual router id 0
  "bad_auth", // v2 auth type other than 0 (none)
  "bad_interval", // an advert interval of 0
  "unknown_vrid", // no instance with this VRID and family on the link
  "version_mismatch", // the instance speaks the other version
  "addr_mismatch", // addresses other than the instance's, from a non-owner
  "interval_mismatch", // v2: an interval other than ours (RFC 3768 §7.1)
  "local_owner", // we own the addresses (priority 255): adverts are ignored (RFC 5798 §7.1)
  "unknown_peer", // unicast instance: a source not among its peers
  "loop", // our own primary address as source
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type Rejection = { ok: false; reason: RejectReason; detail: string };
/** legacyChecksum: it verified only with the group in the pseudo-header (DecodeOptions.legacyUnicastChecksum). */
export type Decoded = { ok: true; advert: Advert; legacyChecksum?: true } | Rejection;
/** A decoded packet: the advert and what the IP header said. */
export type DecodedPacket =
  | { ok: true; advert: Advert; src: string; dst: string; ttl: number; multicast: boolean; legacyChecksum?: true }
  | Rejection;
export type DecodedFrame = (DecodedPacket & { ok: true; srcMac: string }) | Rejection;

export interface DecodeOptions {
  /** Require TTL / hop limit 255 (default true; RFC 5798 §7.1). */
  checkTtl?: boolean;
  /**
   * Also take an IPv4 v3 unicast advert whose checksum was made with the group
   * 224.0.0.18 in the pseudo-header instead of its real destination: what
   * keepalived 1.3.6 and older sent. keepalived 2.2.7 accepts it by default
   * and, having seen one, checks every later unicast advert that way (so it
   * then refuses the RFC's) while still sending the RFC's itself
   * (test/e2e/vrrp-keepalived.test.ts). Default false: the RFC's checksum only.
   */
  legacyUnicastChecksum?: boolean;
  /** A unicast destination must be ours; without it any unicast destination passes. */
  isLocal?: (addr: string) => boolean;
}

function reject(reason: RejectReason, detail: string): Rejection {
  return { ok: false, reason, detail };
}

function bad(message: string): never {
  throw new WeirError("WEIR_ERR_BAD_VRRP", message);
}

// ------------------------------------------------------------------ bytes

function be16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/** The 16-bit one's-complement sum of b[start, end) added to acc (unfolded; an odd last byte is padded with zero). */
export function sum16(b: Uint8Array, start = 0, end = b.length, acc = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (i < end) acc += b[i] << 8;
  return acc;
}

/** The Internet checksum (RFC 1071) of an unfolded sum. */
export function checksumOf(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}

/** Pseudo-header sum: IPv4 (RFC 5798 §5.2.8 → RFC 768's layout) or IPv6 (RFC 8200 §8.1). */
function pseudoSum(family: Family, src: Uint8Array, dst: Uint8Array, length: number): number {
  let acc = sum16(src) + sum16(dst) + IPPROTO_VRRP;
  acc += family === 4 ? length : Math.floor(length / 0x10000) + (length & 0xffff);
  return acc;
}

// -------------------------------------------------------------- addresses

/** An address's bytes; throws BAD_VRRP when it is not one of `family`. */
export function addrBytes(text: string, family: Family, what = "address"): Uint8Array {
  const ip = tryIp(text);
  if (!ip || ip.af !== family) bad(`${what} '${text}' is not an IPv${family} address`);
  return Uint8Array.from(ip.bytes);
}

/** Canonical text of 4 or 16 address bytes (keys.ts's normal form). */
export function addrText(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  return ipaddr.fromByteArray(Array.from(b)).toString();
}

/** The family of an address text, or null. */
export function familyOf(text: string): Family | null {
  return tryIp(text)?.af ?? null;
}

/** "aa:bb:cc:dd:ee:ff" (or its bytes) → 6 bytes; throws BAD_MAC. */
export function macBytes(mac: string | Uint8Array): Uint8Array {
  if (typeof mac !== "string") {
    if (mac.length !== 6) throw new WeirError("WEIR_ERR_BAD_MAC", `a MAC address is 6 bytes, not ${mac.length}`);
    return mac;
  }
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new WeirError("WEIR_ERR_BAD_MAC", `not a MAC address: ${mac}`);
  return Uint8Array.from(mac.split(":"), (h) => parseInt(h, 16));
}

export function macText(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** The EUI-64 link-local address of a MAC (RFC 4291 App. A): the source of IPv6 adverts on a default Linux link. */
export function linkLocalFromMac(mac: string | Uint8Array): string {
  const m = macBytes(mac);
  const b = new Uint8Array(16);
  b[0] = 0xfe;
  b[1] = 0x80;
  b.set([m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]], 8);
  return addrText(b);
}

function isGroup(family: Family, b: Uint8Array): boolean {
  return family === 4
    ? b[0] === 224 && b[1] === 0 && b[2] === 0 && b[3] === 18
    : b[0] === 0xff && b[1] === 0x02 && b.subarray(2, 15).every((x) => x === 0) && b[15] === 0x12;
}

/** Multicast, broadcast, unspecified, loopback or reserved (class E): never a router's own source. */
function notUnicast(family: Family, b: Uint8Array): string | null {
  if (family === 4) {
    if (b[0] >= 224 && b[0] <= 239) return "multicast";
    if (b[0] >= 240) return b.every((x) => x === 255) ? "broadcast" : "reserved";
    if (b[0] === 0) return "unspecified";
    if (b[0] === 127) return "loopback";
    return null;
  }
  if (b[0] === 0xff) return "multicast";
  if (b.subarray(0, 15).every((x) => x === 0)) return b[15] === 0 ? "unspecified" : b[15] === 1 ? "loopback" : null;
  return null;
}

// ---------------------------------------------------------------- adverts

function checkAdvert(a: Advert): void {
  if (a.version !== 2 && a.version !== 3) bad(`VRRP version ${a.version} (2 or 3)`);
  if (a.family !== 4 && a.family !== 6) bad(`address family ${a.family} (4 or 6)`);
  if (a.version === 2 && a.family !== 4) bad("VRRP version 2 is IPv4 only (RFC 3768)");
  if (!Number.isInteger(a.vrid) || a.vrid < 1 || a.vrid > 255) bad(`virtual router id ${a.vrid} (1-255)`);
  if (!Number.isInteger(a.priority) || a.priority < 0 || a.priority > 255) bad(`priority ${a.priority} (0-255)`);
  if (a.version === 3) {
    if (!Number.isInteger(a.intervalCs) || a.intervalCs < 1 || a.intervalCs > MAX_INTERVAL_CS_V3) {
      bad(`advert interval ${a.intervalCs} cs (1-${MAX_INTERVAL_CS_V3} cs in version 3)`);
    }
  } else if (!Number.isInteger(a.intervalCs) || a.intervalCs % 100 !== 0 || a.intervalCs < 100 || a.intervalCs > MAX_INTERVAL_S_V2 * 100) {
    bad(`advert interval ${a.intervalCs / 100} s (whole seconds, 1-${MAX_INTERVAL_S_V2}, in version 2)`);
  }
  if (a.addresses.length > 255) bad(`${a.addresses.length} addresses (at most 255 in one advert)`);
}

/** The VRRP message length of an advert with n addresses. */
export function advertLength(version: Version, family: Family, n: number): number {
  return HEADER + n * (family === 4 ? 4 : 16) + (version === 2 ? V2_AUTH : 0);
}

/**
 * The VRRP message with its checksum. v3 needs the IP source and destination
 * the packet will carry (they are in the checksum, RFC 5798 §5.2.8); keepalived
 * puts the unicast peer's address there when it unicasts, and so does this.
 */
export function encodeAdvert(a: Advert, src: string, dst: string): Uint8Array {
  checkAdvert(a);
  const alen = a.family === 4 ? 4 : 16;
  const len = advertLength(a.version, a.family, a.addresses.length);
  const b = new Uint8Array(len);
  b[0] = (a.version << 4) | 1;
  b[1] = a.vrid;
  b[2] = a.priority;
  b[3] = a.addresses.length;
  if (a.version === 3) put16(b, 4, a.intervalCs & 0x0fff);
  else {
    b[4] = 0; // auth type none; the 8 auth bytes at the end stay zero (RFC 3768 §5.3.6, §5.3.10)
    b[5] = a.intervalCs / 100;
  }
  a.addresses.forEach((t, i) => b.set(addrBytes(t, a.family, "virtual address"), HEADER + i * alen));
  let acc = sum16(b);
  if (a.version === 3) acc += pseudoSum(a.family, addrBytes(src, a.family, "source"), addrBytes(dst, a.family, "destination"), len);
  put16(b, 6, checksumOf(acc));
  return b;
}

/**
 * Decodes a VRRP message (the IP payload, exactly its length). src and dst are
 * the IP header's addresses (4 or 16 bytes each), for v3's pseudo-header.
 */
export function decodeAdvert(b: Uint8Array, family: Family, src: Uint8Array, dst: Uint8Array, opts: DecodeOptions = {}): Decoded {
  if (b.length < HEADER) return reject("truncated", `${b.length} bytes, a VRRP header is ${HEADER}`);
  const version = b[0] >> 4;
  if (version !== 2 && version !== 3) return reject("bad_version", `version ${version}`);
  if (version === 2 && family === 6) return reject("bad_version", "version 2 over IPv6");
  const type = b[0] & 0x0f;
  if (type !== 1) return reject("bad_type", `type ${type}, not 1 (ADVERTISEMENT)`);
  const count = b[3];
  const need = advertLength(version, family, count);
  if (b.length < need) return reject("truncated", `${b.length} bytes for ${count} address(es), need ${need}`);
  if (b.length > need) return reject("bad_length", `${b.length} bytes for ${count} address(es), expected ${need}`);
  const acc = sum16(b);
  let legacy = false;
  if (checksumOf(version === 3 ? acc + pseudoSum(family, src, dst, b.length) : acc) !== 0) {
    legacy = version === 3 && family === 4 && opts.legacyUnicastChecksum === true && !isGroup(4, dst) &&
      checksumOf(acc + pseudoSum(4, src, GROUP4_BYTES, b.length)) === 0;
    if (!legacy) return reject("bad_checksum", `checksum 0x${be16(b, 6).toString(16).padStart(4, "0")} does not verify`);
  }
  const vrid = b[1];
  if (vrid === 0) return reject("bad_vrid", "virtual router id 0");
  let intervalCs: number;
  if (version === 2) {
    if (b[4] !== 0) return reject("bad_auth", `auth type ${b[4]}, only 0 (none) is supported`);
    intervalCs = b[5] * 100;
  } else intervalCs = be16(b, 4) & 0x0fff; // the 4 reserved bits are ignored on receipt (RFC 5798 §5.2.5)
  if (intervalCs === 0) return reject("bad_interval", "advert interval 0");
  const alen = family === 4 ? 4 : 16;
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) addresses.push(addrText(b.subarray(HEADER + i * alen, HEADER + (i + 1) * alen)));
  const advert: Advert = { version, family, vrid, priority: b[2], intervalCs, addresses };
  return legacy ? { ok: true, advert, legacyChecksum: true } : { ok: true, advert };
}

// ------------------------------------------------------------ IP packets

function checkEnds(family: Family, src: Uint8Array, dst: Uint8Array, opts: DecodeOptions): Rejection | null {
  const s = notUnicast(family, src);
  if (s) return reject("bad_source", `${s} source ${addrText(src)}`);
  if (isGroup(family, dst)) return null;
  const d = notUnicast(family, dst);
  if (d) return reject("bad_destination", `${d} destination ${addrText(dst)}, not ${family === 4 ? GROUP4 : GROUP6}`);
  if (opts.isLocal && !opts.isLocal(addrText(dst))) return reject("bad_destination", `unicast destination ${addrText(dst)} is not ours`);
  return null;
}

function withIp(d: Decoded, src: Uint8Array, dst: Uint8Array, ttl: number): DecodedPacket {
  if (!d.ok) return d;
  const p: DecodedPacket = { ok: true, advert: d.advert, src: addrText(src), dst: addrText(dst), ttl, multicast: isGroup(d.advert.family, dst) };
  if (d.legacyChecksum) p.legacyChecksum = true;
  return p;
}

function decodeIpv4(p: Uint8Array, opts: DecodeOptions): DecodedPacket {
  if (p.length < 20) return reject("truncated", `${p.length} bytes, an IPv4 header is 20`);
  const ihl = (p[0] & 0x0f) * 4;
  if (ihl < 20) return reject("bad_ip_header", `IPv4 header length ${ihl}`);
  if (p.length < ihl) return reject("truncated", `${p.length} bytes, the IPv4 header is ${ihl}`);
  if (checksumOf(sum16(p, 0, ihl)) !== 0) return reject("bad_ip_header", "IPv4 header checksum does not verify");
  const total = be16(p, 2);
  if (total < ihl) return reject("bad_ip_header", `IPv4 total length ${total} < header length ${ihl}`);
  if (total > p.length) return reject("truncated", `IPv4 total length ${total}, ${p.length} bytes received`);
  if ((be16(p, 6) & 0x3fff) !== 0) return reject("fragment", "an IPv4 fragment");
  if (p[9] !== IPPROTO_VRRP) return reject("not_vrrp", `IP protocol ${p[9]}`);
  if (opts.checkTtl !== false && p[8] !== VRRP_TTL) return reject("bad_ttl", `TTL ${p[8]}, must be ${VRRP_TTL}`);
  const src = p.subarray(12, 16);
  const dst = p.subarray(16, 20);
  const e = checkEnds(4, src, dst, opts);
  if (e) return e;
  return withIp(decodeAdvert(p.subarray(ihl, total), 4, src, dst, opts), src, dst, p[8]);
}

// IPv6 extension headers that may stand before the VRRP message (hop-by-hop,
// routing, destination options); a fragment header makes it a fragment.
const EXT_SKIP = new Set([0, 43, 60]);
const EXT_FRAGMENT = 44;
const MAX_EXT = 8;

function decodeIpv6(p: Uint8Array, opts: DecodeOptions): DecodedPacket {
  if (p.length < 40) return reject("truncated", `${p.length} bytes, an IPv6 header is 40`);
  const plen = be16(p, 4);
  if (plen === 0) return reject("bad_ip_header", "IPv6 payload length 0 (jumbogram)");
  const end = 40 + plen;
  if (end > p.length) return reject("truncated", `IPv6 payload length ${plen}, ${p.length - 40} bytes received`);
  let nh = p[6];
  let off = 40;
  for (let n = 0; EXT_SKIP.has(nh); n++) {
    if (n === MAX_EXT) return reject("bad_ip_header", `more than ${MAX_EXT} IPv6 extension headers`);
    if (off + 2 > end) return reject("truncated", "an IPv6 extension header past the payload");
    const next = p[off];
    off += (p[off + 1] + 1) * 8;
    if (off > end) return reject("truncated", "an IPv6 extension header past the payload");
    nh = next;
  }
  if (nh === EXT_FRAGMENT) return reject("fragment", "an IPv6 fragment");
  if (nh !== IPPROTO_VRRP) return reject("not_vrrp", `IPv6 next header ${nh}`);
  if (opts.checkTtl !== false && p[7] !== VRRP_TTL) return reject("bad_ttl", `hop limit ${p[7]}, must be ${VRRP_TTL}`);
  const src = p.subarray(8, 24);
  const dst = p.subarray(24, 40);
  const e = checkEnds(6, src, dst, opts);
  if (e) return e;
  return withIp(decodeAdvert(p.subarray(off, end), 6, src, dst, opts), src, dst, p[7]);
}

/** Decodes a whole IPv4 or IPv6 packet (trailing bytes past the IP length, e.g. Ethernet padding, are ignored). */
export function decodePacket(p: Uint8Array, opts: DecodeOptions = {}): DecodedPacket {
  if (p.length < 1) return reject("truncated", "an empty packet");
  const v = p[0] >> 4;
  if (v === 4) return decodeIpv4(p, opts);
  if (v === 6) return decodeIpv6(p, opts);
  return reject("bad_ip_header", `IP version ${v}`);
}

/** Decodes an Ethernet frame carrying a VRRP advert (no VLAN tag: the data links are untagged). */
export function decodeFrame(f: Uint8Array, opts: DecodeOptions = {}): DecodedFrame {
  if (f.length < 14) return reject("truncated", `${f.length} bytes, an Ethernet header is 14`);
  const type = be16(f, 12);
  let d: DecodedPacket;
  if (type === ETH_P_IP) {
    if (f.length > 14 && f[14] >> 4 !== 4) return reject("bad_ip_header", "IPv4 ethertype, another IP version");
    d = decodePacket(f.subarray(14), opts);
  } else if (type === ETH_P_IPV6) {
    if (f.length > 14 && f[14] >> 4 !== 6) return reject("bad_ip_header", "IPv6 ethertype, another IP version");
    d = decodePacket(f.subarray(14), opts);
  } else return reject("not_ip", `ethertype 0x${type.toString(16).padStart(4, "0")}`);
  if (!d.ok) return d;
  return { ...d, srcMac: macText(f.subarray(6, 12)) };
}

// ------------------------------------------------------- building packets

export interface PacketOptions {
  /** Our primary address on the link (IPv6: its link-local address). */
  src: string;
  /** The VRRP group (default) or a unicast peer. */
  dst?: string;
  ttl?: number;
  /** IPv4 TOS / IPv6 traffic class. */
  tos?: number;
  /** IPv4 identification (keepalived counts from 1; the kernel fills 0 in, so it skips it). */
  id?: number;
  /** IPv6 flow label. */
  flowLabel?: number;
}

function groupOf(family: Family): string {
  return family === 4 ? GROUP4 : GROUP6;
}

/** An IP header (IPv4 with its checksum) in front of payload. */
export function ipPacket(family: Family, proto: number, src: Uint8Array, dst: Uint8Array, payload: Uint8Array, o: { ttl: number; tos: number; id?: number; flowLabel?: number }): Uint8Array {
  if (family === 4) {
    const p = new Uint8Array(20 + payload.length);
    p[0] = 0x45;
    p[1] = o.tos;
    put16(p, 2, p.length);
    put16(p, 4, (o.id ?? 0) & 0xffff);
    p[8] = o.ttl;
    p[9] = proto;
    p.set(src, 12);
    p.set(dst, 16);
    put16(p, 10, checksumOf(sum16(p, 0, 20)));
    p.set(payload, 20);
    return p;
  }
  const p = new Uint8Array(40 + payload.length);
  const flow = (o.flowLabel ?? 0) & 0xfffff;
  p[0] = 0x60 | (o.tos >> 4);
  p[1] = ((o.tos & 0x0f) << 4) | (flow >> 16);
  put16(p, 2, flow & 0xffff);
  put16(p, 4, payload.length);
  p[6] = proto;
  p[7] = o.ttl;
  p.set(src, 8);
  p.set(dst, 24);
  p.set(payload, 40);
  return p;
}

/** The advert as a whole IPv4/IPv6 packet. */
export function buildPacket(a: Advert, o: PacketOptions): Uint8Array {
  const dst = o.dst ?? groupOf(a.family);
  const vrrp = encodeAdvert(a, o.src, dst);
  return ipPacket(a.family, IPPROTO_VRRP, addrBytes(o.src, a.family, "source"), addrBytes(dst, a.family, "destination"), vrrp, {
    ttl: o.ttl ?? VRRP_TTL, tos: o.tos ?? VRRP_TOS, id: o.id, flowLabel: o.flowLabel,
  });
}

export function ethernet(dstMac: Uint8Array, srcMac: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  put16(f, 12, type);
  f.set(payload, 14);
  return f;
}

export interface FrameOptions extends PacketOptions {
  srcMac: string | Uint8Array;
  /** Required for a unicast destination (the peer's MAC, from ARP/ND); the group MAC otherwise. */
  dstMac?: string | Uint8Array;
}

/** The advert as an Ethernet frame, ready for a TX ring. */
export function buildFrame(a: Advert, o: FrameOptions): Uint8Array {
  const dst = o.dst ?? groupOf(a.family);
  let dstMac: Uint8Array;
  if (o.dstMac !== undefined) dstMac = macBytes(o.dstMac);
  else if (tryIp(dst)?.text === groupOf(a.family)) dstMac = a.family === 4 ? GROUP_MAC4 : GROUP_MAC6;
  else bad(`a unicast advert to ${dst} needs the peer's MAC address`);
  return ethernet(dstMac, macBytes(o.srcMac), a.family === 4 ? ETH_P_IP : ETH_P_IPV6, buildPacket(a, { ...o, dst }));
}

/**
 * A gratuitous ARP for addr, as keepalived sends it: a broadcast ARP request
 * whose sender and target protocol addresses are both addr, sender hardware
 * address our MAC and target hardware address all ones (42 bytes, unpadded).
 */
export function buildGarp(mac: string | Uint8Array, addr: string): Uint8Array {
  const m = macBytes(mac);
  const ip = addrBytes(addr, 4, "gratuitous ARP address");
  const arp = new Uint8Array(28);
  put16(arp, 0, 1); // hardware: Ethernet
  put16(arp, 2, ETH_P_IP);
  arp[4] = 6;
  arp[5] = 4;
  put16(arp, 6, 1); // request
  arp.set(m, 8);
  arp.set(ip, 14);
  arp.set(BROADCAST_MAC, 18);
  arp.set(ip, 24);
  return ethernet(BROADCAST_MAC, m, ETH_P_ARP, arp);
}

/**
 * An unsolicited neighbour advertisement for addr (RFC 4861 §7.2.6), as
 * keepalived sends it: from addr itself to ff02::1, hop limit 255, Override
 * set, Router set when the node forwards, with a target link-layer address
 * option carrying our MAC (86 bytes).
 */
export function buildUnsolicitedNa(mac: string | Uint8Array, addr: string, o: { router?: boolean } = {}): Uint8Array {
  const m = macBytes(mac);
  const target = addrBytes(addr, 6, "neighbour advertisement address");
  const all = addrBytes("ff02::1", 6);
  const icmp = new Uint8Array(32);
  icmp[0] = 136; // neighbour advertisement
  icmp[4] = (o.router ? 0x80 : 0) | 0x20; // R, O (S stays clear: unsolicited)
  icmp.set(target, 8);
  icmp[24] = 2; // target link-layer address option, 1 × 8 bytes
  icmp[25] = 1;
  icmp.set(m, 26);
  const acc = sum16(target) + sum16(all) + icmp.length + 58 + sum16(icmp);
  put16(icmp, 2, checksumOf(acc));
  return ethernet(ALL_NODES_MAC, m, ETH_P_IPV6, ipPacket(6, 58, target, all, icmp, { ttl: 255, tos: 0 }));
}

/** The frames that announce addr on the link: a gratuitous ARP (IPv4) or an unsolicited NA (IPv6). */
export function buildAnnouncement(mac: string | Uint8Array, addr: string, o: { router?: boolean } = {}): Uint8Array {
  return familyOf(addr) === 6 ? buildUnsolicitedNa(mac, addr, o) : buildGarp(mac, addr);
}
