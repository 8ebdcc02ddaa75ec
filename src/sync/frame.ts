// Sync messages as Ethernet frames: UDP/IPv4 to IPVS's group 224.0.0.81,
// port 8848, TTL 1, built here because a data link's kernel addresses live on
// the TAP mirror (a kernel UDP socket on the link would see nothing), and the
// raw link's socket filter (syncFilter) that takes only such frames.

import { Asm, encode, layout, ABS, B, H, IND, JEQ, JSET, K, LD, LDX, RET } from "../dataplane/steer/cbpf.js";
import { ETH_IP as ETH_P_IP, ETH_8021Q as ETH_P_8021Q } from "../dataplane/steer/rule.js";
import { addrBytes, checksumOf, ethernet, ipPacket, macBytes, sum16 } from "../vrrp/packet.js";
import { SYNC_GROUP4, SYNC_GROUP_MAC4, SYNC_PORT } from "./wire.js";

const IPPROTO_UDP = 17;
/** BPF_MSH: ldxb 4*([k]&0xf), an IPv4 header's length (cbpf.ts has no name for it). */
const MSH = 0xa0;
const UDP_HEADER = 8;
const GROUP = addrBytes(SYNC_GROUP4, 4);

/**
 * The socket filter: an Ethernet frame, untagged or behind one 802.1Q tag,
 * carrying an unfragmented IPv4 UDP datagram to port SYNC_PORT. Anything else,
 * or a frame too short for the byte it tests, is dropped.
 */
export function syncFilter(port = SYNC_PORT): Uint8Array {
  const a = new Asm();
  const TAGGED = a.label(), ACCEPT = a.label(), DROP = a.label();
  /** IPv4 at off: unfragmented UDP to port (X is taken by the IPv4 header's length, so each offset has its own copy). */
  const udpAt = (off: number) => {
    a.op(LD | B | ABS, off + 9);
    a.jmp(JEQ, IPPROTO_UDP, undefined, DROP);
    a.op(LD | H | ABS, off + 6);
    a.jmp(JSET, 0x3fff, DROP); // MF or an offset: a fragment
    a.op(LDX | B | MSH, off); // X = the IPv4 header's length
    a.op(LD | H | IND, off + 2); // UDP destination port
    a.jmp(JEQ, port, ACCEPT, DROP);
  };
  a.op(LD | H | ABS, 12);
  a.jmp(JEQ, ETH_P_8021Q, TAGGED);
  a.jmp(JEQ, ETH_P_IP, undefined, DROP);
  udpAt(14); // untagged
  a.bind(TAGGED);
  a.op(LD | H | ABS, 16);
  a.jmp(JEQ, ETH_P_IP, undefined, DROP);
  udpAt(18); // one tag
  a.bind(ACCEPT);
  a.op(RET | K, 0xffffffff);
  a.bind(DROP);
  a.op(RET | K, 0);
  return encode(layout(a.code));
}

export interface SyncSource {
  /** Our MAC on the link. */
  mac: string | Uint8Array;
  /** The link's first IPv4 address. */
  addr: string;
}

/** The frame carrying payload (an encoded message) from src to the group. */
export function buildSyncFrame(payload: Uint8Array, src: SyncSource, ipId = 0, port = SYNC_PORT): Uint8Array {
  const s = addrBytes(src.addr, 4, "sync source");
  const udp = new Uint8Array(UDP_HEADER + payload.length);
  const dv = new DataView(udp.buffer);
  dv.setUint16(0, port); // source port: IPVS sends from 8848 too
  dv.setUint16(2, port);
  dv.setUint16(4, udp.length);
  udp.set(payload, UDP_HEADER);
  const sum = checksumOf(sum16(udp, 0, udp.length, pseudoSum(s, GROUP, udp.length)));
  dv.setUint16(6, sum === 0 ? 0xffff : sum);
  return ethernet(SYNC_GROUP_MAC4, macBytes(src.mac), ETH_P_IP, ipPacket(4, IPPROTO_UDP, s, GROUP, udp, { ttl: 1, tos: 0, id: ipId }));
}

function pseudoSum(src: Uint8Array, dst: Uint8Array, length: number): number {
  const p = new Uint8Array(12);
  p.set(src, 0);
  p.set(dst, 4);
  p[9] = IPPROTO_UDP;
  p[10] = length >> 8;
  p[11] = length & 0xff;
  return sum16(p);
}

export type ParsedFrame = { ok: true; payload: Uint8Array; src: string } | { ok: false; reason: "frame" };

/**
 * The UDP payload of an untagged frame the filter took, checked as far as
 * IP and UDP go (lengths, header checksum, UDP checksum when set, the port).
 * Never throws.
 */
export function parseSyncFrame(f: Uint8Array, port = SYNC_PORT): ParsedFrame {
  const bad = { ok: false, reason: "frame" } as const;
  if (f.length < 14 + 20 + UDP_HEADER) return bad;
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  if (dv.getUint16(12) !== ETH_P_IP || f[14] >> 4 !== 4) return bad;
  const ihl = (f[14] & 0xf) * 4;
  const total = dv.getUint16(16);
  if (ihl < 20 || total < ihl + UDP_HEADER || 14 + total > f.length) return bad;
  if (f[14 + 9] !== IPPROTO_UDP || (dv.getUint16(14 + 6) & 0x3fff) !== 0) return bad;
  if (checksumOf(sum16(f, 14, 14 + ihl)) !== 0) return bad;
  const u = 14 + ihl;
  const ulen = dv.getUint16(u + 4);
  if (dv.getUint16(u + 2) !== port || ulen < UDP_HEADER || ulen > total - ihl) return bad;
  if (dv.getUint16(u + 6) !== 0) {
    const src = f.subarray(14 + 12, 14 + 16), dst = f.subarray(14 + 16, 14 + 20);
    if (checksumOf(sum16(f, u, u + ulen, pseudoSum(src, dst, ulen))) !== 0) return bad;
  }
  const src = `${f[26]}.${f[27]}.${f[28]}.${f[29]}`;
  return { ok: true, payload: f.slice(u + UDP_HEADER, u + ulen), src };
}

/** The largest sync frame (Ethernet header included) for a link of this MTU. */
export function maxFrameFor(mtu: number): number {
  return 14 + mtu;
}
