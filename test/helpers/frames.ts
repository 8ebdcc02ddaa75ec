/**
 * Packet construction and parsing for data-plane tests.
 *
 * This is the independent reference the Wasm data plane is checked against, so it
 * must never import from assembly/ or src/. Everything is written the plain way
 * (full RFC 1071 sums, fresh copies, no incremental updates): speed does not matter
 * here, obviousness does.
 */

/** An address given either as text ("198.18.0.1", "2001:db8::1", "02:00:00:00:00:01") or as bytes. */
export type Addr = string | Uint8Array;

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;

const EMPTY = new Uint8Array(0);
/** TPIDs accepted as VLAN tags when parsing (802.1Q, 802.1ad, legacy QinQ). */
const VLAN_TPIDS = new Set([0x8100, 0x88a8, 0x9100]);
/** IPv6 extension headers we walk past to reach the upper-layer header (51 = AH, same walk). */
const IPV6_EXT_HEADERS = new Set([IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS, 51]);
/** Offset of the checksum field inside each L4 header we know. */
const L4_CSUM_OFFSET: Record<number, number> = { [IPPROTO_ICMP]: 2, [IPPROTO_TCP]: 16, [IPPROTO_UDP]: 6, [IPPROTO_ICMPV6]: 2 };
/** ICMP types whose body quotes the offending packet. */
const ICMP4_ERRORS = new Set([3, 4, 5, 11, 12]);
const ICMP6_ERRORS = new Set([1, 2, 3, 4]);
/** TCP flag letters in bit order (FIN = bit 0 ... CWR = bit 7); also the order flags are printed in. */
const TCP_FLAG_LETTERS = "FSRPAUEC";

// ---------------------------------------------------------------------------
// Byte helpers
// ---------------------------------------------------------------------------

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Lower-case hex, no separators ("4500..."). */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, hex2).join("");
}

/** Parses hex text; whitespace, ':' and '-' are ignored so RFC-style dumps can be pasted. */
export function fromHex(text: string): Uint8Array {
  const s = text.replace(/[\s:-]/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error(`bad hex: ${JSON.stringify(text)}`);
  return Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, "0");
}

function hex4(v: number): string {
  return "0x" + v.toString(16).padStart(4, "0");
}

function rd16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function rd32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

function wr32(b: Uint8Array, o: number, v: number): void {
  wr16(b, o, Math.floor(v / 0x10000));
  wr16(b, o + 2, v & 0xffff);
}

/** Throws on out-of-range header field values: a typo in a test should fail loudly, not wrap. */
function field(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${name} out of range 0..${max}: ${v}`);
  return v;
}

/** Zero-pads header options to a multiple of 4 bytes (0 is EOL for both IPv4 and TCP options). */
function pad4(b: Uint8Array): Uint8Array {
  return b.length % 4 === 0 ? b : concat(b, new Uint8Array(4 - (b.length % 4)));
}

function need(b: Uint8Array, n: number, what: string): void {
  if (b.length < n) throw new Error(`${what}: need ${n} bytes, have ${b.length}`);
}

// ---------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------

/** Dotted-quad IPv4 text to 4 bytes. Leading zeros are rejected (as inet_pton does). */
export function ip4(s: string): Uint8Array {
  const parts = s.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new Error(`bad IPv4 address: ${JSON.stringify(s)}`);
  }
  return Uint8Array.from(parts, Number);
}

/** Any RFC 4291 text form of an IPv6 address to 16 bytes ("::" compression, trailing dotted IPv4). */
export function ip6(s: string): Uint8Array {
  const fail = () => new Error(`bad IPv6 address: ${JSON.stringify(s)}`);
  const halves = s.split("::");
  if (halves.length > 2) throw fail();
  const words = (part: string, v4TailAllowed: boolean): number[] => {
    if (part === "") return [];
    const groups = part.split(":");
    return groups.flatMap((g, i) => {
      if (/^[0-9a-fA-F]{1,4}$/.test(g)) return [parseInt(g, 16)];
      if (!v4TailAllowed || i !== groups.length - 1) throw fail();
      let v4: Uint8Array;
      try {
        v4 = ip4(g);
      } catch {
        throw fail();
      }
      return [rd16(v4, 0), rd16(v4, 2)];
    });
  };
  let w: number[];
  if (halves.length === 1) {
    w = words(s, true);
    if (w.length !== 8) throw fail();
  } else {
    const head = words(halves[0], false);
    const tail = words(halves[1], true);
    // "::" stands for at least one zero group.
    if (head.length + tail.length > 7) throw fail();
    w = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  w.forEach((v, i) => wr16(out, 2 * i, v));
  return out;
}

/** "02:00:00:00:00:01" (or '-' separated) to 6 bytes. */
export function mac(s: string): Uint8Array {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`bad MAC address: ${JSON.stringify(s)}`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** IPv4 as dotted quad; IPv6 in RFC 5952 canonical form (IPv4-mapped as ::ffff:a.b.c.d). */
export function fmtIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  if (b.length !== 16) throw new Error(`not an IP address: ${b.length} bytes`);
  const w = Array.from({ length: 8 }, (_, i) => rd16(b, 2 * i));
  if (w.slice(0, 5).every((v) => v === 0) && w[5] === 0xffff) return `::ffff:${fmtIp(b.subarray(12))}`;
  // Longest run of two or more zero groups becomes "::"; the first one wins a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  const groups = (ws: number[]) => ws.map((v) => v.toString(16)).join(":");
  if (best < 0) return groups(w);
  return `${groups(w.slice(0, best))}::${groups(w.slice(best + bestLen))}`;
}

export function fmtMac(b: Uint8Array): string {
  if (b.length !== 6) throw new Error(`not a MAC address: ${b.length} bytes`);
  return Array.from(b, hex2).join(":");
}

function asMac(a: Addr): Uint8Array {
  const b = typeof a === "string" ? mac(a) : a;
  if (b.length !== 6) throw new Error(`MAC address must be 6 bytes, got ${b.length}`);
  return b;
}

function asIp(af: 4 | 6, a: Addr): Uint8Array {
  const b = typeof a === "string" ? (af === 4 ? ip4(a) : ip6(a)) : a;
  if (b.length !== (af === 4 ? 4 : 16)) throw new Error(`IPv${af} address must be ${af === 4 ? 4 : 16} bytes, got ${b.length}`);
  return b;
}

// ---------------------------------------------------------------------------
// Checksums (RFC 1071, computed in full every time)
// ---------------------------------------------------------------------------

/** One's complement sum of big-endian 16-bit words (odd tail padded with 0), folded to 16 bits. */
export function onesSum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += rd16(bytes, i);
  if (bytes.length % 2) sum += bytes[bytes.length - 1] << 8;
  // Division rather than >>> so sums beyond 2^32 still fold correctly.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * Internet checksum of `bytes` as they are: ~(initial + sum). Over data that already holds a
 * correct checksum the result is 0. `initial` is an unfolded or folded partial sum, e.g. a
 * pseudo-header sum.
 */
export function inetChecksum(bytes: Uint8Array, initial = 0): number {
  return ~onesSum(bytes, initial) & 0xffff;
}

/** The value the IPv4 header checksum field should hold (the field itself is ignored). */
export function ipv4HeaderChecksum(hdr: Uint8Array): number {
  const len = (hdr[0] & 0x0f) * 4;
  need(hdr, Math.max(len, 20), "IPv4 header");
  const h = hdr.slice(0, len);
  h[10] = h[11] = 0;
  return inetChecksum(h);
}

/** TCP/UDP/ICMPv6 pseudo header (RFC 793/768 for IPv4, RFC 8200 section 8.1 for IPv6). */
export function pseudoHeader(af: 4 | 6, src: Addr, dst: Addr, proto: number, length: number): Uint8Array {
  if (af === 4) {
    const p = new Uint8Array(12);
    p.set(asIp(4, src), 0);
    p.set(asIp(4, dst), 4);
    p[9] = proto;
    wr16(p, 10, field("IPv4 pseudo-header length", length, 0xffff));
    return p;
  }
  const p = new Uint8Array(40);
  p.set(asIp(6, src), 0);
  p.set(asIp(6, dst), 16);
  wr32(p, 32, length);
  p[39] = proto;
  return p;
}

/**
 * The value the checksum field of an L4 segment (TCP 6, UDP 17, ICMP 1, ICMPv6 58) should hold;
 * the field's current contents are ignored. ICMPv4 has no pseudo header. A UDP result of 0 is
 * returned as 0xffff because 0 on the wire means "no checksum" (RFC 768).
 */
export function l4Checksum(af: 4 | 6, src: Addr, dst: Addr, proto: number, segment: Uint8Array): number {
  const off = L4_CSUM_OFFSET[proto];
  if (off === undefined) throw new Error(`no known checksum field for IP protocol ${proto}`);
  need(segment, off + 2, `protocol ${proto} header`);
  const seg = segment.slice();
  seg[off] = seg[off + 1] = 0;
  const initial = proto === IPPROTO_ICMP ? 0 : onesSum(pseudoHeader(af, src, dst, proto, seg.length));
  const c = inetChecksum(seg, initial);
  return proto === IPPROTO_UDP && c === 0 ? 0xffff : c;
}

/** A copy of `segment` with its checksum field filled in (see l4Checksum). */
export function withL4Checksum(af: 4 | 6, src: Addr, dst: Addr, proto: number, segment: Uint8Array): Uint8Array {
  const seg = segment.slice();
  wr16(seg, L4_CSUM_OFFSET[proto], l4Checksum(af, src, dst, proto, seg));
  return seg;
}

/**
 * True when the IPv4 header checksum is right. Accepts an IPv4 packet or an Ethernet frame:
 * bytes are taken as a packet when they start like one (version 4, IHL >= 5) and the total
 * length field equals their length, otherwise as a frame.
 */
export function ipv4ChecksumOk(frameOrPacket: Uint8Array): boolean {
  const b = frameOrPacket;
  const looksLikePacket = b.length >= 20 && b[0] >> 4 === 4 && (b[0] & 15) >= 5 && rd16(b, 2) === b.length;
  let pkt = b;
  if (!looksLikePacket) {
    const eth = walkEth(b);
    if (eth.type !== ETH_P_IP) throw new Error(`not IPv4: ethertype ${hex4(eth.type)}`);
    pkt = b.subarray(eth.offset);
  }
  need(pkt, 20, "IPv4 header");
  return inetChecksum(pkt.subarray(0, (pkt[0] & 15) * 4)) === 0;
}

/** Checksum problems in an Ethernet frame; see verifyPacketChecksums. Empty means all good. */
export function verifyChecksums(frame: Uint8Array): string[] {
  let eth: EthLayout;
  try {
    eth = walkEth(frame);
  } catch (e) {
    return [(e as Error).message];
  }
  const body = frame.subarray(eth.offset);
  if (eth.type === ETH_P_IP || eth.type === ETH_P_IPV6) {
    const want = eth.type === ETH_P_IP ? 4 : 6;
    if (body.length > 0 && body[0] >> 4 !== want) return [`ethertype ${hex4(eth.type)} but IP version ${body[0] >> 4}`];
    return verifyPacketChecksums(body);
  }
  return [];
}

/**
 * Checksum (and length) problems in an IP packet, as readable strings prefixed with the layer
 * path, e.g. "ipv4/ipip ipv4/tcp: checksum 0x1234, expected 0xabcd". Covers the IPv4 header,
 * TCP, UDP, ICMP, ICMPv6, IP-in-IP inner packets and the IPv4 header quoted in ICMP errors.
 * A checksum is accepted when the receiver's sum works out (so 0xffff in place of a computed
 * 0 passes). L4 checksums of fragments are skipped: they cover the reassembled datagram.
 */
export function verifyPacketChecksums(pkt: Uint8Array): string[] {
  const problems: string[] = [];
  checkIp(pkt, "", problems);
  return problems;
}

function checkIp(pkt: Uint8Array, prefix: string, out: string[]): void {
  let L: IpLayout;
  try {
    L = walkIp(pkt);
  } catch (e) {
    out.push(`${prefix}${(e as Error).message}`);
    return;
  }
  const path = `${prefix}ipv${L.version}`;
  if (L.version === 4 && inetChecksum(pkt.subarray(0, L.headerLength)) !== 0) {
    out.push(`${path}: header checksum ${hex4(L.checksum)}, expected ${hex4(ipv4HeaderChecksum(pkt))}`);
  }
  if (L.truncated) {
    out.push(`${path}: length field says ${L.totalLength} bytes, only ${pkt.length} present`);
    return;
  }
  if (L.mf || L.fragOffset > 0) return;
  checkL4(L, pkt.subarray(L.headerLength, L.end), path, out);
}

/** Name and minimum length of the L4 headers whose checksum we verify. */
function l4Kind(L: IpLayout): { name: string; minLen: number } | undefined {
  if (L.proto === IPPROTO_TCP) return { name: "tcp", minLen: 20 };
  if (L.proto === IPPROTO_UDP) return { name: "udp", minLen: 8 };
  if (L.proto === IPPROTO_ICMP && L.version === 4) return { name: "icmp", minLen: 4 };
  if (L.proto === IPPROTO_ICMPV6 && L.version === 6) return { name: "icmp6", minLen: 4 };
  return undefined;
}

function checkL4(L: IpLayout, seg: Uint8Array, path: string, out: string[]): void {
  if (L.proto === IPPROTO_IPIP || L.proto === IPPROTO_IPV6) {
    checkIp(seg, `${path}/ipip `, out);
    return;
  }
  const kind = l4Kind(L);
  if (!kind) return;
  const where = `${path}/${kind.name}`;
  if (seg.length < kind.minLen) {
    out.push(`${where}: ${seg.length} bytes, shorter than its header`);
    return;
  }
  if (L.proto === IPPROTO_TCP && (seg[12] >> 4) * 4 > seg.length) {
    out.push(`${where}: data offset ${(seg[12] >> 4) * 4} beyond segment of ${seg.length}`);
  }
  if (L.proto === IPPROTO_UDP && !udpNeedsChecksum(L, seg, where, out)) return;
  const initial = L.proto === IPPROTO_ICMP ? 0 : onesSum(pseudoHeader(L.version, L.src, L.pseudoDst, L.proto, seg.length));
  if (inetChecksum(seg, initial) !== 0) {
    const stored = rd16(seg, L4_CSUM_OFFSET[L.proto]);
    const expected = l4Checksum(L.version, L.src, L.pseudoDst, L.proto, seg);
    out.push(`${where}: checksum ${hex4(stored)}, expected ${hex4(expected)}`);
  }
  const errorTypes = L.proto === IPPROTO_ICMP ? ICMP4_ERRORS : L.proto === IPPROTO_ICMPV6 ? ICMP6_ERRORS : undefined;
  if (errorTypes?.has(seg[0]) && seg.length > 8) checkQuotedHeader(seg.subarray(8), `${where}/quoted `, out);
}

/** Checks the UDP length and zero-checksum rules; false when the checksum is not to be verified. */
function udpNeedsChecksum(L: IpLayout, seg: Uint8Array, where: string, out: string[]): boolean {
  const udpLen = rd16(seg, 4);
  if (udpLen !== seg.length) {
    out.push(`${where}: length field ${udpLen}, IP payload is ${seg.length}`);
    return false;
  }
  if (rd16(seg, 6) !== 0) return true;
  // Over IPv4, 0 means the sender did not compute one; IPv6 makes the checksum mandatory.
  if (L.version === 6) out.push(`${where}: checksum 0 is not allowed over IPv6`);
  return false;
}

/** Only the quoted IPv4 header checksum can be verified: the quoted L4 data is cut short. */
function checkQuotedHeader(quoted: Uint8Array, prefix: string, out: string[]): void {
  const ihl = (quoted[0] & 15) * 4;
  if (quoted[0] >> 4 !== 4 || ihl < 20 || quoted.length < ihl) return;
  if (inetChecksum(quoted.subarray(0, ihl)) !== 0) {
    out.push(`${prefix}ipv4: header checksum ${hex4(rd16(quoted, 10))}, expected ${hex4(ipv4HeaderChecksum(quoted))}`);
  }
}

// ---------------------------------------------------------------------------
// Header walking shared by the parser, the verifier and the builders
// ---------------------------------------------------------------------------

interface EthLayout {
  dst: Uint8Array;
  src: Uint8Array;
  vlan: number[];
  type: number;
  /** Offset of the Ethernet payload. */
  offset: number;
}

function walkEth(f: Uint8Array): EthLayout {
  need(f, 14, "Ethernet header");
  const vlan: number[] = [];
  let off = 12;
  while (VLAN_TPIDS.has(rd16(f, off))) {
    need(f, off + 8, "VLAN tag");
    vlan.push(rd16(f, off + 2) & 0x0fff);
    off += 4;
  }
  return { dst: f.slice(0, 6), src: f.slice(6, 12), vlan, type: rd16(f, off), offset: off + 2 };
}

interface IpLayout {
  version: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  /** Destination for the L4 pseudo header: the routing header's final destination if any. */
  pseudoDst: Uint8Array;
  /** First Next Header (IPv6) or protocol (IPv4). */
  nextHeader: number;
  /** Upper-layer protocol after any IPv6 extension headers. */
  proto: number;
  extHeaders: number[];
  /** IPv4 header incl. options, or IPv6 header plus extension headers. */
  headerLength: number;
  /** Packet length claimed by the header. */
  totalLength: number;
  /** End of the packet within the given bytes. */
  end: number;
  truncated: boolean;
  ttl: number;
  tos: number;
  flowLabel: number;
  id: number;
  df: boolean;
  mf: boolean;
  fragOffset: number;
  checksum: number;
}

function walkIp(b: Uint8Array): IpLayout {
  need(b, 1, "IP header");
  const v = b[0] >> 4;
  if (v === 4) return walkIp4(b);
  if (v === 6) return walkIp6(b);
  throw new Error(`IP version ${v} is neither 4 nor 6`);
}

function walkIp4(b: Uint8Array): IpLayout {
  need(b, 20, "IPv4 header");
  const ihl = (b[0] & 15) * 4;
  if (ihl < 20) throw new Error(`IPv4 header length ${ihl} < 20`);
  need(b, ihl, "IPv4 header with options");
  const totalLength = rd16(b, 2);
  if (totalLength < ihl) throw new Error(`IPv4 total length ${totalLength} < header length ${ihl}`);
  const frag = rd16(b, 6);
  const dst = b.slice(16, 20);
  return {
    version: 4,
    src: b.slice(12, 16),
    dst,
    pseudoDst: dst,
    nextHeader: b[9],
    proto: b[9],
    extHeaders: [],
    headerLength: ihl,
    totalLength,
    end: Math.min(totalLength, b.length),
    truncated: totalLength > b.length,
    ttl: b[8],
    tos: b[1],
    flowLabel: 0,
    id: rd16(b, 4),
    df: (frag & 0x4000) !== 0,
    mf: (frag & 0x2000) !== 0,
    fragOffset: (frag & 0x1fff) * 8,
    checksum: rd16(b, 10),
  };
}

function walkIp6(b: Uint8Array): IpLayout {
  need(b, 40, "IPv6 header");
  const totalLength = 40 + rd16(b, 4);
  const end = Math.min(totalLength, b.length);
  const dst = b.slice(24, 40);
  const L: IpLayout = {
    version: 6,
    src: b.slice(8, 24),
    dst,
    pseudoDst: dst,
    nextHeader: b[6],
    proto: b[6],
    extHeaders: [],
    headerLength: 40,
    totalLength,
    end,
    truncated: totalLength > b.length,
    ttl: b[7],
    tos: ((b[0] & 15) << 4) | (b[1] >> 4),
    flowLabel: ((b[1] & 15) << 16) | rd16(b, 2),
    id: 0,
    df: false,
    mf: false,
    fragOffset: 0,
    checksum: 0,
  };
  // Stop after a non-first fragment's header: what follows is data, not headers.
  while (IPV6_EXT_HEADERS.has(L.proto) && L.fragOffset === 0) {
    const off = L.headerLength;
    if (end < off + 8) throw new Error(`IPv6 extension header ${L.proto} truncated`);
    const len = L.proto === IPPROTO_FRAGMENT ? 8 : L.proto === 51 ? (b[off + 1] + 2) * 4 : (b[off + 1] + 1) * 8;
    if (end < off + len) throw new Error(`IPv6 extension header ${L.proto} truncated`);
    const h = b.subarray(off, off + len);
    if (L.proto === IPPROTO_FRAGMENT) {
      L.fragOffset = rd16(h, 2) & 0xfff8;
      L.mf = (h[3] & 1) !== 0;
      L.id = rd32(h, 4);
    }
    if (L.proto === IPPROTO_ROUTING) L.pseudoDst = routingFinalDst(h) ?? L.pseudoDst;
    L.extHeaders.push(L.proto);
    L.proto = h[0];
    L.headerLength += len;
  }
  return L;
}

/** RFC 8200 8.1: with segments left, the pseudo header uses the last hop's address. */
function routingFinalDst(h: Uint8Array): Uint8Array | undefined {
  const type = h[2];
  const segmentsLeft = h[3];
  if (segmentsLeft === 0 || h.length < 24) return undefined;
  if (type === 0 || type === 2) return h.slice(h.length - 16); // last address in the list
  if (type === 4) return h.slice(8, 24); // SRH: Segment List[0] is the final segment
  return undefined;
}

/** Fills the L4 checksum of a freshly built IP packet in place (not for fragments). */
function fillL4ChecksumInPlace(pkt: Uint8Array): void {
  const L = walkIp(pkt);
  if (L.mf || L.fragOffset > 0 || L4_CSUM_OFFSET[L.proto] === undefined) return;
  if (L.proto === IPPROTO_ICMP && L.version !== 4) return;
  const seg = pkt.subarray(L.headerLength, L.end);
  if (seg.length < L4_CSUM_OFFSET[L.proto] + 2) return; // too short to carry a checksum; leave as given
  wr16(seg, L4_CSUM_OFFSET[L.proto], l4Checksum(L.version, L.src, L.pseudoDst, L.proto, seg));
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

export interface EtherOpts {
  dst: Addr;
  src: Addr;
  type: number;
  /** 802.1Q VLAN IDs, outermost first; each becomes a 0x8100 tag with PCP/DEI 0. */
  vlan?: number[];
  payload: Uint8Array;
  /** Zero-pad to the 60-byte Ethernet minimum (without FCS). */
  pad?: boolean;
}

export function ether(o: EtherOpts): Uint8Array {
  const tags = (o.vlan ?? []).map((vid) => Uint8Array.of(0x81, 0x00, field("VLAN ID", vid, 0xfff) >> 8, vid & 0xff));
  const type = new Uint8Array(2);
  wr16(type, 0, field("ethertype", o.type, 0xffff));
  const f = concat(asMac(o.dst), asMac(o.src), ...tags, type, o.payload);
  return o.pad && f.length < 60 ? concat(f, new Uint8Array(60 - f.length)) : f;
}

/** frame with one more 802.1Q tag (VLAN vid, PCP/DEI 0) right after the MAC addresses. */
export function tagged(frame: Uint8Array, vid: number): Uint8Array {
  return concat(frame.subarray(0, 12), Uint8Array.of(0x81, 0x00, field("VLAN ID", vid, 0xfff) >> 8, vid & 0xff), frame.subarray(12));
}

/** Link-layer part of the one-call builders. */
export interface L2Opts {
  ethSrc: Addr;
  ethDst: Addr;
  vlan?: number[];
  pad?: boolean;
}

/** Wraps an IP packet in Ethernet, picking the ethertype from its version nibble. */
export function ipFrame(l2: L2Opts, packet: Uint8Array): Uint8Array {
  const v = packet[0] >> 4;
  if (v !== 4 && v !== 6) throw new Error(`not an IP packet (version ${v})`);
  return ether({ dst: l2.ethDst, src: l2.ethSrc, vlan: l2.vlan, pad: l2.pad, type: v === 4 ? ETH_P_IP : ETH_P_IPV6, payload: packet });
}

export interface ArpOpts {
  op: 1 | 2;
  sha: Addr;
  spa: Addr;
  /** Defaults to 00:00:00:00:00:00. */
  tha?: Addr;
  tpa: Addr;
  /** Defaults to sha. */
  ethSrc?: Addr;
  /** Defaults to broadcast for a request, tha for a reply. */
  ethDst?: Addr;
  vlan?: number[];
}

export function arp(o: ArpOpts): Uint8Array {
  const tha = asMac(o.tha ?? "00:00:00:00:00:00");
  const body = new Uint8Array(28);
  wr16(body, 0, 1); // hardware type: Ethernet
  wr16(body, 2, ETH_P_IP);
  body[4] = 6;
  body[5] = 4;
  wr16(body, 6, o.op);
  body.set(asMac(o.sha), 8);
  body.set(asIp(4, o.spa), 14);
  body.set(tha, 18);
  body.set(asIp(4, o.tpa), 24);
  const ethDst = o.ethDst ?? (o.op === 1 ? "ff:ff:ff:ff:ff:ff" : tha);
  return ether({ dst: ethDst, src: o.ethSrc ?? o.sha, vlan: o.vlan, type: ETH_P_ARP, payload: body });
}

export interface Ipv4Opts {
  src: Addr;
  dst: Addr;
  proto: number;
  ttl?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** In bytes; must be a multiple of 8. */
  fragOffset?: number;
  tos?: number;
  /** Raw IPv4 options, zero-padded to a multiple of 4. */
  options?: Uint8Array;
  payload: Uint8Array;
  /** Store a wrong header checksum. */
  badChecksum?: boolean;
  /** Fill the TCP/UDP/ICMP checksum of an unfragmented payload (default true); false keeps payload bytes as given. */
  fillL4Checksum?: boolean;
}

/** An IPv4 packet (not a frame). */
export function ipv4(o: Ipv4Opts): Uint8Array {
  const options = pad4(o.options ?? EMPTY);
  if (options.length > 40) throw new RangeError(`IPv4 options too long: ${options.length}`);
  const fragOffset = o.fragOffset ?? 0;
  if (fragOffset % 8 !== 0) throw new RangeError(`fragment offset ${fragOffset} is not a multiple of 8`);
  const ihl = 20 + options.length;
  const h = new Uint8Array(ihl);
  h[0] = 0x40 | (ihl / 4);
  h[1] = field("tos", o.tos ?? 0, 0xff);
  wr16(h, 2, field("IPv4 total length", ihl + o.payload.length, 0xffff));
  wr16(h, 4, field("IP id", o.id ?? 0, 0xffff));
  wr16(h, 6, (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | field("fragment offset / 8", fragOffset / 8, 0x1fff));
  h[8] = field("ttl", o.ttl ?? 64, 0xff);
  h[9] = field("protocol", o.proto, 0xff);
  h.set(asIp(4, o.src), 12);
  h.set(asIp(4, o.dst), 16);
  h.set(options, 20);
  const pkt = concat(h, o.payload);
  if (o.fillL4Checksum ?? true) fillL4ChecksumInPlace(pkt);
  const c = ipv4HeaderChecksum(pkt);
  // c + 1 is never equivalent to c (only 0 and 0xffff are, and a header sum is never 0).
  wr16(pkt, 10, o.badChecksum ? (c + 1) & 0xffff : c);
  return pkt;
}

export interface ExtHeader {
  type: number;
  /**
   * Header bytes after the Next Header and length bytes. Hop-by-hop and destination options
   * are padded with Pad1/PadN to a multiple of 8; other types must already fit. For a fragment
   * header (44) this is the 6 bytes after the reserved byte; see ipv6Frag.
   */
  data: Uint8Array;
}

/** Fragment header; offset in bytes (multiple of 8). */
export function ipv6Frag(o: { offset?: number; more?: boolean; id?: number }): ExtHeader {
  const offset = o.offset ?? 0;
  if (offset % 8 !== 0) throw new RangeError(`fragment offset ${offset} is not a multiple of 8`);
  const data = new Uint8Array(6);
  wr16(data, 0, field("fragment offset", offset, 0xfff8) | (o.more ? 1 : 0));
  wr32(data, 2, field("fragment id", o.id ?? 0, 0xffffffff));
  return { type: IPPROTO_FRAGMENT, data };
}

/** Routing header with an address list (type 0/2 layout, or a minimal SRH for type 4). */
export function ipv6Routing(o: { routingType: number; segmentsLeft: number; addresses: Addr[] }): ExtHeader {
  const head = Uint8Array.of(o.routingType, field("segments left", o.segmentsLeft, 0xff), 0, 0, 0, 0);
  if (o.routingType === 4) head[2] = o.addresses.length - 1; // SRH Last Entry
  return { type: IPPROTO_ROUTING, data: concat(head, ...o.addresses.map((a) => asIp(6, a))) };
}

function encodeExtHeader(h: ExtHeader, next: number): Uint8Array {
  if (h.type === IPPROTO_FRAGMENT) {
    if (h.data.length !== 6) throw new Error(`fragment header data must be 6 bytes, got ${h.data.length}`);
    return concat(Uint8Array.of(next, 0), h.data);
  }
  if (h.type === 50 || h.type === 51) throw new Error(`extension header ${h.type} (ESP/AH) is not supported`);
  let data = h.data;
  const padLen = (8 - ((2 + data.length) % 8)) % 8;
  if (padLen > 0) {
    if (h.type !== IPPROTO_HOPOPTS && h.type !== IPPROTO_DSTOPTS) {
      throw new Error(`extension header ${h.type}: 2 + data length must be a multiple of 8`);
    }
    const pad = padLen === 1 ? Uint8Array.of(0) : concat(Uint8Array.of(1, padLen - 2), new Uint8Array(padLen - 2));
    data = concat(data, pad);
  }
  return concat(Uint8Array.of(next, field("extension header length", (2 + data.length) / 8 - 1, 0xff)), data);
}

export interface Ipv6Opts {
  src: Addr;
  dst: Addr;
  /** Upper-layer protocol (the chain of extHeaders is put in front of it). */
  nextHeader: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  extHeaders?: ExtHeader[];
  payload: Uint8Array;
  /** Fill the TCP/UDP/ICMPv6 checksum of an unfragmented payload (default true). */
  fillL4Checksum?: boolean;
}

/** An IPv6 packet (not a frame). */
export function ipv6(o: Ipv6Opts): Uint8Array {
  const exts = o.extHeaders ?? [];
  const encoded = exts.map((h, i) => encodeExtHeader(h, i + 1 < exts.length ? exts[i + 1].type : o.nextHeader));
  const rest = concat(...encoded, o.payload);
  const h = new Uint8Array(40);
  const tc = field("traffic class", o.trafficClass ?? 0, 0xff);
  const flow = field("flow label", o.flowLabel ?? 0, 0xfffff);
  h[0] = 0x60 | (tc >> 4);
  h[1] = ((tc & 15) << 4) | (flow >> 16);
  wr16(h, 2, flow & 0xffff);
  wr16(h, 4, field("IPv6 payload length", rest.length, 0xffff));
  h[6] = field("next header", exts.length ? exts[0].type : o.nextHeader, 0xff);
  h[7] = field("hop limit", o.hopLimit ?? 64, 0xff);
  h.set(asIp(6, o.src), 8);
  h.set(asIp(6, o.dst), 24);
  const pkt = concat(h, rest);
  if (o.fillL4Checksum ?? true) fillL4ChecksumInPlace(pkt);
  return pkt;
}

/** "SA" -> SYN|ACK. Letters: F S R P A U E(CE) C(WR); order does not matter. */
export function tcpFlags(flags: string | number): number {
  if (typeof flags === "number") return field("TCP flags", flags, 0xff);
  let v = 0;
  for (const ch of flags) {
    const bit = TCP_FLAG_LETTERS.indexOf(ch);
    if (bit < 0) throw new Error(`unknown TCP flag ${JSON.stringify(ch)} in ${JSON.stringify(flags)}`);
    v |= 1 << bit;
  }
  return v;
}

/** SYN|ACK -> "SA": letters in bit order, so FIN|ACK is "FA" and PSH|ACK is "PA". */
export function fmtTcpFlags(v: number): string {
  return [...TCP_FLAG_LETTERS].filter((_, bit) => v & (1 << bit)).join("");
}

export interface TcpOpts {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** e.g. "S", "SA", "A", "FA", "R", "PA", or the raw flag byte. */
  flags: string | number;
  window?: number;
  urgent?: number;
  /** Raw TCP options, zero-padded to a multiple of 4. */
  options?: Uint8Array;
  payload?: Uint8Array;
}

/** A TCP segment with checksum 0; ipv4()/ipv6() or withL4Checksum fill it in. */
export function tcp(o: TcpOpts): Uint8Array {
  const options = pad4(o.options ?? EMPTY);
  const hlen = 20 + options.length;
  if (hlen > 60) throw new RangeError(`TCP options too long: ${options.length}`);
  const h = new Uint8Array(hlen);
  wr16(h, 0, field("sport", o.sport, 0xffff));
  wr16(h, 2, field("dport", o.dport, 0xffff));
  wr32(h, 4, field("seq", o.seq ?? 0, 0xffffffff));
  wr32(h, 8, field("ack", o.ack ?? 0, 0xffffffff));
  h[12] = (hlen / 4) << 4;
  h[13] = tcpFlags(o.flags);
  wr16(h, 14, field("window", o.window ?? 65535, 0xffff));
  wr16(h, 18, field("urgent pointer", o.urgent ?? 0, 0xffff));
  h.set(options, 20);
  return concat(h, o.payload ?? EMPTY);
}

export interface UdpOpts {
  sport: number;
  dport: number;
  payload?: Uint8Array;
}

/** A UDP datagram with checksum 0; ipv4()/ipv6() or withL4Checksum fill it in. */
export function udp(o: UdpOpts): Uint8Array {
  const payload = o.payload ?? EMPTY;
  const h = new Uint8Array(8);
  wr16(h, 0, field("sport", o.sport, 0xffff));
  wr16(h, 2, field("dport", o.dport, 0xffff));
  wr16(h, 4, field("UDP length", 8 + payload.length, 0xffff));
  return concat(h, payload);
}

export interface IcmpOpts {
  type: number;
  code?: number;
  /** The 4 bytes after the checksum (id/seq, unused+MTU, pointer...) as a 32-bit number. */
  rest?: number;
  body?: Uint8Array;
}

/** An ICMP or ICMPv6 message with checksum 0; ipv4()/ipv6() fill it in. */
export function icmp(o: IcmpOpts): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = field("ICMP type", o.type, 0xff);
  h[1] = field("ICMP code", o.code ?? 0, 0xff);
  wr32(h, 4, field("ICMP rest of header", o.rest ?? 0, 0xffffffff));
  return concat(h, o.body ?? EMPTY);
}

/** IPv4 header fields of the one-call builders. */
export interface Ip4Common {
  src: Addr;
  dst: Addr;
  ttl?: number;
  id?: number;
  df?: boolean;
  tos?: number;
}

/** IPv6 header fields of the one-call builders. */
export interface Ip6Common {
  src: Addr;
  dst: Addr;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  extHeaders?: ExtHeader[];
}

function ip4Packet(o: Ip4Common, proto: number, payload: Uint8Array): Uint8Array {
  return ipv4({ src: o.src, dst: o.dst, ttl: o.ttl, id: o.id, df: o.df, tos: o.tos, proto, payload });
}

function ip6Packet(o: Ip6Common, nextHeader: number, payload: Uint8Array): Uint8Array {
  const { src, dst, hopLimit, trafficClass, flowLabel, extHeaders } = o;
  return ipv6({ src, dst, hopLimit, trafficClass, flowLabel, extHeaders, nextHeader, payload });
}

function tcpOf(o: TcpOpts): Uint8Array {
  const { sport, dport, seq, ack, flags, window, urgent, options, payload } = o;
  return tcp({ sport, dport, seq, ack, flags, window, urgent, options, payload });
}

export function tcp4Frame(o: L2Opts & Ip4Common & TcpOpts): Uint8Array {
  return ipFrame(o, ip4Packet(o, IPPROTO_TCP, tcpOf(o)));
}

export function udp4Frame(o: L2Opts & Ip4Common & UdpOpts): Uint8Array {
  return ipFrame(o, ip4Packet(o, IPPROTO_UDP, udp(o)));
}

export function tcp6Frame(o: L2Opts & Ip6Common & TcpOpts): Uint8Array {
  return ipFrame(o, ip6Packet(o, IPPROTO_TCP, tcpOf(o)));
}

export function udp6Frame(o: L2Opts & Ip6Common & UdpOpts): Uint8Array {
  return ipFrame(o, ip6Packet(o, IPPROTO_UDP, udp(o)));
}

export interface EchoOpts {
  id: number;
  seq: number;
  payload?: Uint8Array;
}

function echoRest(o: EchoOpts): number {
  return field("echo id", o.id, 0xffff) * 0x10000 + field("echo seq", o.seq, 0xffff);
}

/** ICMP echo request (type 8, default) or reply (type 0). */
export function icmp4Echo(o: L2Opts & Ip4Common & EchoOpts & { type?: number }): Uint8Array {
  return ipFrame(o, ip4Packet(o, IPPROTO_ICMP, icmp({ type: o.type ?? 8, rest: echoRest(o), body: o.payload })));
}

/** ICMPv6 echo request (type 128, default) or reply (type 129). */
export function icmp6Echo(o: L2Opts & Ip6Common & EchoOpts & { type?: number }): Uint8Array {
  return ipFrame(o, ip6Packet(o, IPPROTO_ICMPV6, icmp({ type: o.type ?? 128, rest: echoRest(o), body: o.payload })));
}

export interface IcmpErrorOpts {
  type: number;
  code: number;
  /** Next-hop MTU: for ICMPv4 3/4 (fragmentation needed) and ICMPv6 2 (packet too big). */
  mtu?: number;
  /** Parameter problem pointer (ICMPv4 12, ICMPv6 4). */
  pointer?: number;
  /** The offending IP packet, quoted as given (truncate it yourself: IP header + 8 bytes at least). */
  quoted: Uint8Array;
}

export function icmp4Error(o: L2Opts & Ip4Common & IcmpErrorOpts): Uint8Array {
  // MTU lives in the low 16 bits (RFC 1191), the pointer in the top byte (RFC 792).
  const rest = o.mtu !== undefined ? field("mtu", o.mtu, 0xffff) : field("pointer", o.pointer ?? 0, 0xff) * 0x1000000;
  return ipFrame(o, ip4Packet(o, IPPROTO_ICMP, icmp({ type: o.type, code: o.code, rest, body: o.quoted })));
}

export function icmp6Error(o: L2Opts & Ip6Common & IcmpErrorOpts): Uint8Array {
  const rest = o.mtu ?? o.pointer ?? 0;
  return ipFrame(o, ip6Packet(o, IPPROTO_ICMPV6, icmp({ type: o.type, code: o.code, rest, body: o.quoted })));
}

export interface TunnelOpts {
  outerSrc: Addr;
  outerDst: Addr;
  /** The encapsulated IP packet; protocol 4 or 41 is chosen from its version. */
  inner: Uint8Array;
}

function tunnelProto(inner: Uint8Array): number {
  const v = inner[0] >> 4;
  if (v !== 4 && v !== 6) throw new Error(`inner packet is not IP (version ${v})`);
  return v === 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
}

/** IP-in-IP over IPv4 (LVS TUN): protocol 4 for an IPv4 inner packet, 41 for IPv6. */
export function ipip4Frame(o: L2Opts & TunnelOpts & Omit<Ip4Common, "src" | "dst">): Uint8Array {
  return ipFrame(o, ip4Packet({ ...o, src: o.outerSrc, dst: o.outerDst }, tunnelProto(o.inner), o.inner));
}

/** IP-in-IPv6: next header 4 for an IPv4 inner packet, 41 for IPv6. */
export function ipip6Frame(o: L2Opts & TunnelOpts & Omit<Ip6Common, "src" | "dst">): Uint8Array {
  return ipFrame(o, ip6Packet({ ...o, src: o.outerSrc, dst: o.outerDst }, tunnelProto(o.inner), o.inner));
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

export interface ArpInfo {
  op: number;
  sha: string;
  spa: string;
  tha: string;
  tpa: string;
}

export interface IpInfo {
  version: 4 | 6;
  src: string;
  dst: string;
  /** Upper-layer protocol, after any IPv6 extension headers. */
  proto: number;
  /** IPv6 only: the fixed header's Next Header field. */
  nextHeader?: number;
  /** TTL, or hop limit for IPv6. */
  ttl: number;
  /** IPv6 only, same as ttl. */
  hopLimit?: number;
  /** TOS byte, or traffic class for IPv6. */
  tos: number;
  /** IPv6 only. */
  flowLabel?: number;
  /** Whole packet length per the header (IPv6: 40 + payload length). */
  totalLength: number;
  /** IPv4 header incl. options, or IPv6 header plus extension headers. */
  headerLength: number;
  /** IPv4 id, or the IPv6 fragment header's id (0 without one). */
  id: number;
  df: boolean;
  mf: boolean;
  /** In bytes. */
  fragOffset: number;
  /** IPv4 only. */
  checksum?: number;
  /** IPv4 only. */
  options?: Uint8Array;
  /** IPv6 only: extension header types in order. */
  extHeaders?: number[];
}

export interface TcpInfo {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: string;
  /** Header length in bytes. */
  dataOffset: number;
  window: number;
  checksum: number;
  urgent: number;
  options: Uint8Array;
  payload: Uint8Array;
}

export interface UdpInfo {
  sport: number;
  dport: number;
  length: number;
  checksum: number;
  payload: Uint8Array;
}

export interface IcmpInfo {
  type: number;
  code: number;
  checksum: number;
  /** Echo request/reply. */
  id?: number;
  seq?: number;
  /** Fragmentation needed (v4 3/4) or packet too big (v6 2). */
  mtu?: number;
  /** Parameter problem. */
  pointer?: number;
  /** Bytes after the 8-byte ICMP header. */
  body: Uint8Array;
  /** The packet quoted by an error message, parsed as far as it goes. */
  quoted?: QuotedIp;
}

/** An IP packet and what it carries. */
export interface ParsedIp {
  ip: IpInfo;
  tcp?: TcpInfo;
  udp?: UdpInfo;
  icmp?: IcmpInfo;
  /** IP-in-IP inner packet. */
  inner?: ParsedIp;
  /** Upper-layer bytes not parsed further (unknown protocol, non-first fragment). */
  payload?: Uint8Array;
}

/** A packet quoted in an ICMP error: usually cut short, so later fields may be missing. */
export interface QuotedIp {
  ip: IpInfo;
  tcp?: Partial<TcpInfo>;
  udp?: Partial<UdpInfo>;
  icmp?: Partial<IcmpInfo>;
  inner?: QuotedIp;
  payload?: Uint8Array;
}

export interface ParsedFrame extends Partial<ParsedIp> {
  ethDst: string;
  ethSrc: string;
  /** VLAN IDs, outermost first. */
  vlan: number[];
  /** The ethertype after any VLAN tags. */
  ethType: number;
  arp?: ArpInfo;
  /** Bytes after the IP packet (Ethernet padding). */
  trailer?: Uint8Array;
}

/** How much of the L4 data to expect: all of it, a first fragment's share, or a truncated quote. */
type Extent = "full" | "fragment" | "quoted";

/** Parses a frame; throws with a readable message on truncated or malformed headers. */
export function parseFrame(frame: Uint8Array): ParsedFrame {
  const eth = walkEth(frame);
  const out: ParsedFrame = { ethDst: fmtMac(eth.dst), ethSrc: fmtMac(eth.src), vlan: eth.vlan, ethType: eth.type };
  const body = frame.subarray(eth.offset);
  if (eth.type === ETH_P_ARP) {
    out.arp = parseArp(body);
  } else if (eth.type === ETH_P_IP || eth.type === ETH_P_IPV6) {
    const parsed = parseIp(body, "full");
    Object.assign(out, parsed);
    out.trailer = body.slice(parsed.ip.totalLength);
  } else {
    out.payload = body.slice();
  }
  return out;
}

/** Parses an IP packet (no Ethernet header). */
export function parsePacket(pkt: Uint8Array): ParsedIp {
  return parseIp(pkt, "full");
}

function parseArp(b: Uint8Array): ArpInfo {
  need(b, 28, "ARP");
  if (rd16(b, 0) !== 1 || rd16(b, 2) !== ETH_P_IP || b[4] !== 6 || b[5] !== 4) throw new Error("ARP is not Ethernet/IPv4");
  return {
    op: rd16(b, 6),
    sha: fmtMac(b.subarray(8, 14)),
    spa: fmtIp(b.subarray(14, 18)),
    tha: fmtMac(b.subarray(18, 24)),
    tpa: fmtIp(b.subarray(24, 28)),
  };
}

function parseIp(b: Uint8Array, extent: Extent): ParsedIp {
  const L = walkIp(b);
  if (L.truncated && extent === "full") {
    throw new Error(`IPv${L.version} length field says ${L.totalLength} bytes, only ${b.length} present`);
  }
  const ip: IpInfo = {
    version: L.version,
    src: fmtIp(L.src),
    dst: fmtIp(L.dst),
    proto: L.proto,
    ttl: L.ttl,
    tos: L.tos,
    totalLength: L.totalLength,
    headerLength: L.headerLength,
    id: L.id,
    df: L.df,
    mf: L.mf,
    fragOffset: L.fragOffset,
  };
  if (L.version === 4) Object.assign(ip, { checksum: L.checksum, options: b.slice(20, L.headerLength) });
  else Object.assign(ip, { nextHeader: L.nextHeader, hopLimit: L.ttl, flowLabel: L.flowLabel, extHeaders: L.extHeaders });
  const res: ParsedIp = { ip };
  const seg = b.subarray(L.headerLength, L.end);
  if (L.fragOffset > 0) {
    res.payload = seg.slice();
    return res;
  }
  const inner: Extent = extent === "full" && L.mf ? "fragment" : extent;
  if (L.proto === IPPROTO_TCP) res.tcp = parseTcp(seg, inner);
  else if (L.proto === IPPROTO_UDP) res.udp = parseUdp(seg, inner);
  else if (L.proto === IPPROTO_ICMP && L.version === 4) res.icmp = parseIcmp(seg, 4, inner);
  else if (L.proto === IPPROTO_ICMPV6 && L.version === 6) res.icmp = parseIcmp(seg, 6, inner);
  else if (L.proto === IPPROTO_IPIP || L.proto === IPPROTO_IPV6) res.inner = parseIp(seg, inner);
  else res.payload = seg.slice();
  return res;
}

/** Reads what is present; a quote may stop anywhere, anything else must hold the header. */
function reader(b: Uint8Array, extent: Extent, what: string, headerLen: number) {
  if (extent !== "quoted") need(b, headerLen, what);
  return {
    u8: (o: number) => (o < b.length ? b[o] : undefined) as number,
    u16: (o: number) => (o + 2 <= b.length ? rd16(b, o) : undefined) as number,
    u32: (o: number) => (o + 4 <= b.length ? rd32(b, o) : undefined) as number,
  };
}

function parseTcp(b: Uint8Array, extent: Extent): TcpInfo {
  const r = reader(b, extent, "TCP header", 20);
  const dataOffset = r.u8(12) === undefined ? undefined : (b[12] >> 4) * 4;
  if (extent !== "quoted" && (dataOffset! < 20 || dataOffset! > b.length)) throw new Error(`TCP data offset ${dataOffset} invalid for ${b.length} bytes`);
  const complete = dataOffset !== undefined && dataOffset <= b.length;
  return {
    sport: r.u16(0),
    dport: r.u16(2),
    seq: r.u32(4),
    ack: r.u32(8),
    flags: (r.u8(13) === undefined ? undefined : fmtTcpFlags(b[13])) as string,
    dataOffset: dataOffset as number,
    window: r.u16(14),
    checksum: r.u16(16),
    urgent: r.u16(18),
    options: (complete ? b.slice(20, dataOffset) : undefined) as Uint8Array,
    payload: (complete ? b.slice(dataOffset) : undefined) as Uint8Array,
  };
}

function parseUdp(b: Uint8Array, extent: Extent): UdpInfo {
  const r = reader(b, extent, "UDP header", 8);
  const length = r.u16(4);
  if (extent === "full" && (length < 8 || length > b.length)) throw new Error(`UDP length ${length} invalid for ${b.length} bytes`);
  return {
    sport: r.u16(0),
    dport: r.u16(2),
    length,
    checksum: r.u16(6),
    // Fragments and quotes hold only part of the datagram: take what is there.
    payload: (b.length >= 8 ? b.slice(8, extent === "full" ? length : undefined) : undefined) as Uint8Array,
  };
}

function parseIcmp(b: Uint8Array, af: 4 | 6, extent: Extent): IcmpInfo {
  const r = reader(b, extent, `ICMP${af === 6 ? "v6" : ""} header`, 8);
  const type = r.u8(0);
  const info: IcmpInfo = { type, code: r.u8(1), checksum: r.u16(2), body: b.slice(8) };
  const echo = af === 4 ? type === 0 || type === 8 : type === 128 || type === 129;
  if (echo) Object.assign(info, { id: r.u16(4), seq: r.u16(6) });
  if (af === 4 && type === 3 && info.code === 4) info.mtu = r.u16(6);
  if (af === 6 && type === 2) info.mtu = r.u32(4);
  if (af === 4 && type === 12) info.pointer = r.u8(4);
  if (af === 6 && type === 4) info.pointer = r.u32(4);
  if ((af === 4 ? ICMP4_ERRORS : ICMP6_ERRORS).has(type) && extent !== "quoted") {
    try {
      info.quoted = parseIp(info.body, "quoted") as QuotedIp;
    } catch {
      // Not even a whole IP header quoted: leave `quoted` out, `body` still has the bytes.
    }
  }
  return info;
}

// ---------------------------------------------------------------------------
// Test-failure helpers
// ---------------------------------------------------------------------------

/** One-line description of a frame for failure messages; never throws. */
export function summarizeFrame(frame: Uint8Array): string {
  try {
    const p = parseFrame(frame);
    const parts = [`${p.ethSrc} > ${p.ethDst}`];
    if (p.vlan.length) parts.push(`vlan ${p.vlan.join(".")}`);
    if (p.arp) parts.push(`arp op ${p.arp.op} ${p.arp.spa} (${p.arp.sha}) -> ${p.arp.tpa} (${p.arp.tha})`);
    else if (p.ip) parts.push(summarizeIp(p as ParsedIp));
    else parts.push(`ethertype ${hex4(p.ethType)}, ${p.payload?.length ?? 0} bytes`);
    return parts.join(", ");
  } catch (e) {
    return `unparseable frame (${(e as Error).message})`;
  }
}

function summarizeIp(p: ParsedIp): string {
  const ip = p.ip;
  const frag = ip.mf || ip.fragOffset ? ` frag@${ip.fragOffset}${ip.mf ? "+" : ""}` : "";
  let s = `ipv${ip.version} ${ip.src} > ${ip.dst} ttl ${ip.ttl} len ${ip.totalLength}${frag}`;
  if (p.tcp) s += ` | tcp ${p.tcp.sport} > ${p.tcp.dport} [${p.tcp.flags}] seq ${p.tcp.seq} ack ${p.tcp.ack} len ${p.tcp.payload.length}`;
  if (p.udp) s += ` | udp ${p.udp.sport} > ${p.udp.dport} len ${p.udp.length}`;
  if (p.icmp) s += ` | icmp type ${p.icmp.type} code ${p.icmp.code}`;
  if (p.inner) s += ` | ${summarizeIp(p.inner)}`;
  if (p.payload) s += ` | proto ${ip.proto}, ${p.payload.length} bytes`;
  return s;
}

/**
 * "" when the frames are equal; otherwise a summary of both and a hexdump of every 16-byte row
 * that differs, with ^^ under the differing bytes ("--" marks bytes past a frame's end).
 */
export function diffFrames(a: Uint8Array, b: Uint8Array, maxRows = 16): string {
  const n = Math.max(a.length, b.length);
  const diffs: number[] = [];
  for (let i = 0; i < n; i++) if (i >= a.length || i >= b.length || a[i] !== b[i]) diffs.push(i);
  if (diffs.length === 0) return "";
  const rows = [...new Set(diffs.map((i) => Math.floor(i / 16)))];
  const cells = (f: Uint8Array, row: number) =>
    Array.from({ length: 16 }, (_, k) => {
      const i = row * 16 + k;
      return i < f.length ? hex2(f[i]) : i < n ? "--" : "  ";
    });
  const lines = [
    `${diffs.length} byte(s) differ, first at offset ${diffs[0]} (${hex4(diffs[0])}); lengths ${a.length} vs ${b.length}`,
    `a: ${summarizeFrame(a)}`,
    `b: ${summarizeFrame(b)}`,
  ];
  for (const row of rows.slice(0, maxRows)) {
    const ca = cells(a, row);
    const cb = cells(b, row);
    const marks = ca.map((x, k) => (x !== cb[k] ? "^^" : "  "));
    lines.push(`${hex4(row * 16)}  a ${ca.join(" ")}`.trimEnd());
    lines.push(`        b ${cb.join(" ")}`.trimEnd());
    lines.push(`          ${marks.join(" ")}`.trimEnd());
  }
  if (rows.length > maxRows) lines.push(`... ${rows.length - maxRows} more differing row(s)`);
  return lines.join("\n");
}

/** A frame's ethertype and where its L3 header starts, past one 802.1Q tag; null when too short to say. */
export function l3Start(f: Uint8Array): { type: number; off: number } | null {
  if (f.length < 14) return null;
  const type = (f[12] << 8) | f[13];
  if (type !== 0x8100) return { type, off: 14 };
  if (f.length < 18) return null;
  return { type: (f[16] << 8) | f[17], off: 18 };
}
