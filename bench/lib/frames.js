// Minimal frame builder for benchmark traces: Ethernet II + IPv4 (20 bytes,
// DF) + TCP (20 bytes), padded to the 60-byte Ethernet minimum, with full
// RFC 1071 checksums. Plain and independent of assembly/ and src/.

export const FRAME_LEN = 60;
export const REC = 64; // bytes per frame record in traces (the C reference reads the same)

export const TH_SYN = 0x02;
export const TH_ACK = 0x10;

/** "a.b.c.d" → host-order u32. */
export function ip4(s) {
  const p = s.split(".").map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}
/** "02:00:…" → 6 bytes. */
export function mac(s) { return Uint8Array.from(s.split(":"), (h) => parseInt(h, 16)); }

function sum16(b, off, len, s = 0) {
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  return s;
}
function fold(s) {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}
function w16(b, o, v) { b[o] = (v >>> 8) & 0xff; b[o + 1] = v & 0xff; }
function w32(b, o, v) { w16(b, o, v >>> 16); w16(b, o + 2, v & 0xffff); }

/**
 * Writes one IPv4/TCP frame of FRAME_LEN bytes at b[off].
 * f: { dmac, smac (Uint8Array 6), saddr, daddr (host u32), sport, dport, flags, id, seq, ack }
 */
export function writeTcp4(b, off, f) {
  b.fill(0, off, off + FRAME_LEN);
  b.set(f.dmac, off);
  b.set(f.smac, off + 6);
  w16(b, off + 12, 0x0800);
  const ip = off + 14;
  b[ip] = 0x45;
  w16(b, ip + 2, 40);
  w16(b, ip + 4, f.id & 0xffff);
  w16(b, ip + 6, 0x4000);
  b[ip + 8] = 64;
  b[ip + 9] = 6;
  w32(b, ip + 12, f.saddr);
  w32(b, ip + 16, f.daddr);
  w16(b, ip + 10, ~fold(sum16(b, ip, 20)) & 0xffff);
  const t = ip + 20;
  w16(b, t, f.sport);
  w16(b, t + 2, f.dport);
  w32(b, t + 4, f.seq >>> 0);
  w32(b, t + 8, (f.ack ?? 0) >>> 0);
  b[t + 12] = 5 << 4;
  b[t + 13] = f.flags;
  w16(b, t + 14, 65535);
  // pseudo header: src, dst, proto, TCP length
  let s = (f.saddr >>> 16) + (f.saddr & 0xffff) + (f.daddr >>> 16) + (f.daddr & 0xffff) + 6 + 20;
  s = sum16(b, t, 20, s);
  w16(b, t + 16, ~fold(s) & 0xffff);
}

/** Deterministic PRNG (mulberry32) so both sides of a benchmark see the same trace. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
