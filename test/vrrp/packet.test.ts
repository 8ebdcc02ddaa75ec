// The VRRP codec (src/vrrp/packet.ts): known vectors captured from keepalived
// 2.2.7 (the IPv6 checksum there was filled by the kernel, IPV6_CHECKSUM),
// round trips, the checksum against an independent implementation written
// here, every rejection reason from a crafted packet (IP headers built by
// test/helpers/frames.ts, not by the code under test), and property tests:
// random bytes never throw and are either rejected with a named reason or
// are a valid advert that re-encodes to the same bytes.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  REJECT_REASONS, GROUP4, GROUP6, VRRP_TOS, advertLength, buildFrame, buildGarp, buildPacket, buildUnsolicitedNa,
  decodeAdvert, decodeFrame, decodePacket, encodeAdvert, linkLocalFromMac, type Advert, type RejectReason,
} from "../../src/vrrp/packet.js";
import { WeirError } from "../../src/errors.js";
import { ether, fromHex, hex, ip4, ip6, ipv4, ipv6, ipv6Frag, ETH_P_IP, ETH_P_IPV6 } from "../helpers/frames.js";

// ------------------------------------------------ an independent reference

/** RFC 1071 by 32-bit words through a DataView, folded with a modulo: written apart from packet.ts's. */
function refChecksum(...parts: Uint8Array[]): number {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length + (p.length & 1), 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length + (p.length & 1); // each part is padded to 16 bits (as the pseudo-header is)
  }
  const dv = new DataView(all.buffer);
  let s = 0n;
  for (let i = 0; i + 1 < all.length; i += 2) s += BigInt(dv.getUint16(i));
  // The one's-complement sum is the sum modulo 0xffff, where a non-zero multiple is 0xffff ("negative zero").
  let folded = Number(s % 65535n);
  if (folded === 0 && s !== 0n) folded = 0xffff;
  return ~folded & 0xffff;
}

function pseudo4(src: string, dst: string, len: number): Uint8Array {
  const p = new Uint8Array(12);
  p.set(ip4(src), 0);
  p.set(ip4(dst), 4);
  p[9] = 112;
  p[10] = len >> 8;
  p[11] = len & 0xff;
  return p;
}

function pseudo6(src: string, dst: string, len: number): Uint8Array {
  const p = new Uint8Array(40);
  p.set(ip6(src), 0);
  p.set(ip6(dst), 16);
  new DataView(p.buffer).setUint32(32, len);
  p[39] = 112;
  return p;
}

/** A VRRP message built field by field, checksum by refChecksum. */
function refAdvert(a: Advert, src: string, dst: string, o: { checksum?: number } = {}): Uint8Array {
  const alen = a.family === 4 ? 4 : 16;
  const b = new Uint8Array(8 + a.addresses.length * alen + (a.version === 2 ? 8 : 0));
  b[0] = (a.version << 4) | 1;
  b[1] = a.vrid;
  b[2] = a.priority;
  b[3] = a.addresses.length;
  if (a.version === 3) {
    b[4] = (a.intervalCs >> 8) & 0x0f;
    b[5] = a.intervalCs & 0xff;
  } else {
    b[5] = a.intervalCs / 100;
  }
  a.addresses.forEach((t, i) => b.set(a.family === 4 ? ip4(t) : ip6(t), 8 + i * alen));
  const c = o.checksum ?? (a.version === 2 ? refChecksum(b) : refChecksum(a.family === 4 ? pseudo4(src, dst, b.length) : pseudo6(src, dst, b.length), b));
  b[6] = c >> 8;
  b[7] = c & 0xff;
  return b;
}

const MAC = "0e:4e:3a:16:10:e0";
const SRC4 = "198.18.0.1";
const V3: Advert = { version: 3, family: 4, vrid: 51, priority: 150, intervalCs: 10, addresses: ["198.18.100.1", "198.18.100.2"] };
const V2: Advert = { version: 2, family: 4, vrid: 52, priority: 120, intervalCs: 100, addresses: ["198.18.100.3"] };
const LL = "fe80::c4e:3aff:fe16:10e0";
const V6: Advert = { version: 3, family: 6, vrid: 53, priority: 130, intervalCs: 50, addresses: ["fe80::5:1"] };

// Captured on a veth from keepalived 2.2.7 (Debian), `tcpdump -x`.
const KA_V3 = "45c0 0024 0001 0000 ff70 1483 c612 0001 e000 0012 3133 9602 000a 3df0 c612 6401 c612 6402";
const KA_V2 = "45c0 0028 0001 0000 ff70 147f c612 0001 e000 0012 2134 7801 0001 3cb3 c612 6403 0000 0000 0000 0000";
const KA_V6 =
  "6c04 c66a 0018 70ff fe80 0000 0000 0000 0c4e 3aff fe16 10e0 ff02 0000 0000 0000 0000 0000 0000 0012" +
  " 3135 8201 0032 f9ad fe80 0000 0000 0000 0000 0000 0005 0001";
const KA_GARP = "ffff ffff ffff 0e4e 3a16 10e0 0806 0001 0800 0604 0001 0e4e 3a16 10e0 c612 6401 ffff ffff ffff c612 6401";
const KA_NA =
  "3333 0000 0001 0e4e 3a16 10e0 86dd" +
  " 6000 0000 0020 3aff fe80 0000 0000 0000 0000 0000 0005 0001 ff02 0000 0000 0000 0000 0000 0000 0001" +
  " 8800 004e 2000 0000 fe80 0000 0000 0000 0000 0000 0005 0001 0201 0e4e 3a16 10e0";

const bytes = (h: string) => fromHex(h.replace(/\s+/g, ""));

function rejected(r: { ok: boolean; reason?: RejectReason }): RejectReason | "accepted" {
  return r.ok ? "accepted" : r.reason!;
}

describe("known vectors (keepalived 2.2.7 on the wire)", () => {
  it("decodes keepalived's v3 IPv4 advert field by field", () => {
    const d = decodePacket(bytes(KA_V3));
    expect(d).toEqual({ ok: true, advert: V3, src: SRC4, dst: GROUP4, ttl: 255, multicast: true });
  });

  it("decodes keepalived's v2 advert (auth none, whole seconds, 8 zero auth bytes)", () => {
    expect(decodePacket(bytes(KA_V2))).toEqual({ ok: true, advert: V2, src: SRC4, dst: GROUP4, ttl: 255, multicast: true });
  });

  it("decodes keepalived's v3 IPv6 advert, whose checksum the kernel filled", () => {
    expect(decodePacket(bytes(KA_V6))).toEqual({ ok: true, advert: V6, src: LL, dst: GROUP6, ttl: 255, multicast: true });
  });

  it("builds the same bytes keepalived sent (IPv4 id as given, TOS 0xc0, no DF)", () => {
    expect(hex(buildPacket(V3, { src: SRC4, id: 1 }))).toBe(hex(bytes(KA_V3)));
    expect(hex(buildPacket(V2, { src: SRC4, id: 1 }))).toBe(hex(bytes(KA_V2)));
    expect(hex(buildPacket(V6, { src: LL, flowLabel: 0x4c66a }))).toBe(hex(bytes(KA_V6)));
  });

  it("builds keepalived's gratuitous ARP and unsolicited NA byte for byte", () => {
    expect(hex(buildGarp(MAC, "198.18.100.1"))).toBe(hex(bytes(KA_GARP)));
    expect(hex(buildUnsolicitedNa(MAC, "fe80::5:1"))).toBe(hex(bytes(KA_NA)));
    const router = buildUnsolicitedNa(MAC, "fe80::5:1", { router: true });
    expect(router[14 + 40 + 4]).toBe(0xa0); // R and O
    expect(refChecksum(pseudo6("fe80::5:1", "ff02::1", 32).map((x, i) => (i === 39 ? 58 : x)), router.subarray(54))).toBe(0);
  });

  it("the link-local address of a MAC is the kernel's EUI-64 one", () => {
    expect(linkLocalFromMac(MAC)).toBe(LL);
  });
});

describe("encoding", () => {
  const cases: [string, Advert, string, string][] = [
    ["v3 IPv4 multicast", V3, SRC4, GROUP4],
    ["v3 IPv4 unicast (the peer is in the pseudo-header)", V3, SRC4, "198.18.0.2"],
    ["v2 IPv4", V2, SRC4, GROUP4],
    ["v3 IPv6", V6, LL, GROUP6],
    ["v3 IPv6 unicast, two addresses", { ...V6, addresses: ["fe80::5:1", "2001:db8::1"] }, LL, "fe80::2"],
    ["no addresses", { ...V3, addresses: [] }, SRC4, GROUP4],
    ["priority 0, largest interval", { ...V3, priority: 0, intervalCs: 4095 }, SRC4, GROUP4],
  ];
  for (const [name, a, src, dst] of cases) {
    it(`${name}: equals the reference builder and round-trips`, () => {
      const enc = encodeAdvert(a, src, dst);
      expect(hex(enc)).toBe(hex(refAdvert(a, src, dst)));
      expect(enc.length).toBe(advertLength(a.version, a.family, a.addresses.length));
      const d = decodeAdvert(enc, a.family, a.family === 4 ? ip4(src) : ip6(src), a.family === 4 ? ip4(dst) : ip6(dst));
      expect(d).toEqual({ ok: true, advert: a });
    });
  }

  it("v3 checksums differ between multicast and unicast destinations", () => {
    expect(hex(encodeAdvert(V3, SRC4, GROUP4))).not.toBe(hex(encodeAdvert(V3, SRC4, "198.18.0.2")));
  });

  it("v2's checksum covers the message only (same for any source and destination)", () => {
    expect(hex(encodeAdvert(V2, SRC4, GROUP4))).toBe(hex(encodeAdvert(V2, "198.18.0.9", "198.18.0.2")));
  });

  it("frames: group MACs, ethertypes, TTL/hop limit 255, TOS/traffic class 0xc0", () => {
    const f4 = buildFrame(V3, { srcMac: MAC, src: SRC4 });
    expect(hex(f4.subarray(0, 14))).toBe("01005e000012" + "0e4e3a1610e0" + "0800");
    expect(f4[14 + 1]).toBe(VRRP_TOS);
    expect(f4[14 + 8]).toBe(255);
    const f6 = buildFrame(V6, { srcMac: MAC, src: LL });
    expect(hex(f6.subarray(0, 14))).toBe("333300000012" + "0e4e3a1610e0" + "86dd");
    expect(f6[14 + 7]).toBe(255);
    expect(((f6[14] & 0x0f) << 4) | (f6[15] >> 4)).toBe(VRRP_TOS);
    expect(decodeFrame(f4)).toMatchObject({ ok: true, advert: V3, srcMac: MAC });
    expect(decodeFrame(f6)).toMatchObject({ ok: true, advert: V6, srcMac: MAC });
  });

  it("a unicast frame needs the peer's MAC and carries it", () => {
    expect(() => buildFrame(V3, { srcMac: MAC, src: SRC4, dst: "198.18.0.2" })).toThrow(WeirError);
    const f = buildFrame(V3, { srcMac: MAC, src: SRC4, dst: "198.18.0.2", dstMac: "02:00:00:00:00:02" });
    expect(hex(f.subarray(0, 6))).toBe("020000000002");
    expect(decodeFrame(f)).toMatchObject({ ok: true, dst: "198.18.0.2", multicast: false });
  });

  it("refuses what cannot be encoded, with BAD_VRRP", () => {
    const bad: [Partial<Advert>, RegExp][] = [
      [{ vrid: 0 }, /virtual router id/],
      [{ vrid: 256 }, /virtual router id/],
      [{ priority: 256 }, /priority/],
      [{ intervalCs: 0 }, /interval/],
      [{ intervalCs: 4096 }, /interval/],
      [{ version: 2, intervalCs: 150, addresses: ["198.18.100.1"] }, /whole seconds/],
      [{ version: 2, intervalCs: 25600, addresses: ["198.18.100.1"] }, /whole seconds/],
      [{ addresses: ["2001:db8::1"] }, /not an IPv4 address/],
      [{ addresses: ["nope"] }, /not an IPv4 address/],
      [{ addresses: Array.from({ length: 256 }, () => "198.18.100.1") }, /256 addresses/],
    ];
    for (const [patch, msg] of bad) {
      expect(() => encodeAdvert({ ...V3, ...patch }, SRC4, GROUP4)).toThrow(msg);
      try {
        encodeAdvert({ ...V3, ...patch }, SRC4, GROUP4);
      } catch (e) {
        expect((e as WeirError).code).toBe("WEIR_ERR_BAD_VRRP");
      }
    }
    expect(() => encodeAdvert({ ...V6, version: 2, intervalCs: 100 }, LL, GROUP6)).toThrow(/IPv4 only/);
    expect(() => buildGarp("zz", "198.18.100.1")).toThrow(/MAC/);
  });
});

// ---------------------------------------------------- rejections, one by one

const vrrp3 = () => refAdvert(V3, SRC4, GROUP4);
const pkt4 = (o: Partial<Parameters<typeof ipv4>[0]> = {}) =>
  ipv4({ src: SRC4, dst: GROUP4, proto: 112, ttl: 255, tos: 0xc0, payload: vrrp3(), fillL4Checksum: false, ...o });
const frame4 = (p: Uint8Array, type = ETH_P_IP) => ether({ dst: "01:00:5e:00:00:12", src: MAC, type, payload: p });
const vrrp6 = () => refAdvert(V6, LL, GROUP6);
const pkt6 = (o: Partial<Parameters<typeof ipv6>[0]> = {}) =>
  ipv6({ src: LL, dst: GROUP6, nextHeader: 112, hopLimit: 255, payload: vrrp6(), fillL4Checksum: false, ...o });

function withField(b: Uint8Array, i: number, v: number, refix: "v2" | "v3" | "none" = "v3"): Uint8Array {
  const c = Uint8Array.from(b);
  c[i] = v;
  if (refix !== "none") {
    c[6] = c[7] = 0;
    const s = refix === "v2" ? refChecksum(c) : refChecksum(pseudo4(SRC4, GROUP4, c.length), c);
    c[6] = s >> 8;
    c[7] = s & 0xff;
  }
  return c;
}

describe("every rejection has its reason", () => {
  const table: [string, Uint8Array, RejectReason, "frame" | "packet"][] = [
    ["ARP frame", buildGarp(MAC, "198.18.100.1"), "not_ip", "frame"],
    ["short frame", new Uint8Array(10), "truncated", "frame"],
    ["IPv4 ethertype carrying IPv6", frame4(pkt6()), "bad_ip_header", "frame"],
    ["UDP, not VRRP", pkt4({ proto: 17 }), "not_vrrp", "packet"],
    ["TTL 254", pkt4({ ttl: 254 }), "bad_ttl", "packet"],
    ["TTL 1", pkt4({ ttl: 1 }), "bad_ttl", "packet"],
    ["hop limit 254", pkt6({ hopLimit: 254 }), "bad_ttl", "packet"],
    ["IPv4 header checksum wrong", pkt4({ badChecksum: true }), "bad_ip_header", "packet"],
    ["IP version 5", Uint8Array.of(0x55, ...new Uint8Array(30)), "bad_ip_header", "packet"],
    ["IHL 4", Uint8Array.from(pkt4(), (x, i) => (i === 0 ? 0x44 : x)), "bad_ip_header", "packet"],
    ["IPv4 total length past the bytes", pkt4().subarray(0, 30), "truncated", "packet"],
    ["IPv4 fragment (MF)", pkt4({ mf: true }), "fragment", "packet"],
    ["IPv4 fragment (offset)", pkt4({ fragOffset: 8 }), "fragment", "packet"],
    ["IPv6 fragment header", pkt6({ extHeaders: [ipv6Frag({ more: true })] }), "fragment", "packet"],
    ["IPv6 truncated", pkt6().subarray(0, 50), "truncated", "packet"],
    ["multicast source", pkt4({ src: "224.0.0.5" }), "bad_source", "packet"],
    ["unspecified source", pkt4({ src: "0.0.0.0" }), "bad_source", "packet"],
    ["IPv6 multicast source", pkt6({ src: "ff02::1" }), "bad_source", "packet"],
    ["another multicast group", pkt4({ dst: "224.0.0.5" }), "bad_destination", "packet"],
    ["broadcast destination", pkt4({ dst: "255.255.255.255" }), "bad_destination", "packet"],
    ["IPv6 all-nodes destination", pkt6({ dst: "ff02::1" }), "bad_destination", "packet"],
    ["VRRP version 1", pkt4({ payload: withField(vrrp3(), 0, 0x11) }), "bad_version", "packet"],
    ["VRRP version 4", pkt4({ payload: withField(vrrp3(), 0, 0x41) }), "bad_version", "packet"],
    ["VRRP version 2 over IPv6", pkt6({ payload: Uint8Array.from(vrrp6(), (x, i) => (i === 0 ? 0x21 : x)) }), "bad_version", "packet"],
    ["type 2", pkt4({ payload: withField(vrrp3(), 0, 0x32) }), "bad_type", "packet"],
    ["VRRP header cut", pkt4({ payload: vrrp3().subarray(0, 6) }), "truncated", "packet"],
    ["count says 3 addresses, 2 present", pkt4({ payload: withField(vrrp3(), 3, 3) }), "truncated", "packet"],
    ["count says 1 address, 2 present", pkt4({ payload: withField(vrrp3(), 3, 1) }), "bad_length", "packet"],
    ["checksum off by one", pkt4({ payload: withField(vrrp3(), 7, vrrp3()[7] ^ 1, "none") }), "bad_checksum", "packet"],
    ["priority changed, checksum not", pkt4({ payload: withField(vrrp3(), 2, 200, "none") }), "bad_checksum", "packet"],
    ["v3 checksum for another destination", pkt4({ payload: refAdvert(V3, SRC4, "198.18.0.2") }), "bad_checksum", "packet"],
    ["IPv6 checksum wrong", pkt6({ payload: Uint8Array.from(vrrp6(), (x, i) => (i === 7 ? x ^ 0x80 : x)) }), "bad_checksum", "packet"],
    ["VRID 0", pkt4({ payload: withField(vrrp3(), 1, 0) }), "bad_vrid", "packet"],
    ["interval 0", pkt4({ payload: withField(withField(vrrp3(), 4, 0), 5, 0) }), "bad_interval", "packet"],
    ["v2 auth type 1", pkt4({ payload: withField(refAdvert(V2, SRC4, GROUP4), 4, 1, "v2") }), "bad_auth", "packet"],
    ["v2 interval 0", pkt4({ payload: withField(refAdvert(V2, SRC4, GROUP4), 5, 0, "v2") }), "bad_interval", "packet"],
  ];
  for (const [name, input, reason, kind] of table) {
    it(`${name} → ${reason}`, () => {
      const d = kind === "frame" ? decodeFrame(input) : decodePacket(input);
      expect(rejected(d)).toBe(reason);
      if (!d.ok) expect(d.detail.length).toBeGreaterThan(0);
    });
  }

  it("the baseline packets of the table are accepted", () => {
    expect(decodePacket(pkt4()).ok).toBe(true);
    expect(decodePacket(pkt6()).ok).toBe(true);
    expect(decodeFrame(frame4(pkt4())).ok).toBe(true);
  });

  it("Ethernet padding after the IP length is ignored", () => {
    const f = ether({ dst: "01:00:5e:00:00:12", src: MAC, type: ETH_P_IP, payload: pkt4({ payload: refAdvert({ ...V3, addresses: ["198.18.100.1"] }, SRC4, GROUP4) }), pad: true });
    expect(f.length).toBe(60);
    expect(decodeFrame(f).ok).toBe(true);
  });

  it("IPv6 hop-by-hop and destination options before VRRP are walked", () => {
    const p = pkt6({ extHeaders: [{ type: 0, data: new Uint8Array(4) }, { type: 60, data: new Uint8Array(4) }] });
    expect(decodePacket(p)).toMatchObject({ ok: true, advert: V6 });
  });

  it("TTL check can be relaxed (keepalived's unicast peers) and a unicast destination can be required to be ours", () => {
    expect(decodePacket(pkt4({ ttl: 254 }), { checkTtl: false }).ok).toBe(true);
    const uni = pkt4({ dst: "198.18.0.2", payload: refAdvert(V3, SRC4, "198.18.0.2") });
    expect(decodePacket(uni).ok).toBe(true);
    expect(decodePacket(uni, { isLocal: (a) => a === "198.18.0.2" }).ok).toBe(true);
    expect(rejected(decodePacket(uni, { isLocal: () => false }))).toBe("bad_destination");
  });

  it("keepalived's legacy unicast checksum (the group in the pseudo-header) is taken only when asked for", () => {
    const uni = pkt4({ dst: "198.18.0.2", payload: refAdvert(V3, SRC4, GROUP4) });
    expect(rejected(decodePacket(uni))).toBe("bad_checksum");
    expect(decodePacket(uni, { legacyUnicastChecksum: true })).toMatchObject({ ok: true, advert: V3, dst: "198.18.0.2", legacyChecksum: true });
    // The RFC's checksum passes as it is, without the mark; a wrong one stays wrong.
    const rfc = decodePacket(pkt4({ dst: "198.18.0.2", payload: refAdvert(V3, SRC4, "198.18.0.2") }), { legacyUnicastChecksum: true });
    expect(rfc.ok && "legacyChecksum" in rfc).toBe(false);
    expect(rejected(decodePacket(pkt4({ dst: "198.18.0.2", payload: refAdvert(V3, SRC4, "198.18.0.3") }), { legacyUnicastChecksum: true }))).toBe("bad_checksum");
    // Multicast and IPv6 have nothing to fall back on.
    expect(rejected(decodePacket(pkt4({ payload: refAdvert(V3, SRC4, "198.18.0.2") }), { legacyUnicastChecksum: true }))).toBe("bad_checksum");
    expect(rejected(decodePacket(pkt6({ dst: "fe80::2", payload: vrrp6() }), { legacyUnicastChecksum: true }))).toBe("bad_checksum");
  });

  it("IPv6 over the IPv6 ethertype; a frame of another ethertype", () => {
    expect(decodeFrame(ether({ dst: "33:33:00:00:00:12", src: MAC, type: ETH_P_IPV6, payload: pkt6() })).ok).toBe(true);
    expect(rejected(decodeFrame(frame4(pkt4(), 0x88cc)))).toBe("not_ip");
  });
});

// ------------------------------------------------------------ properties

const reasons = new Set<string>(REJECT_REASONS);
const advertArb: fc.Arbitrary<Advert> = fc.oneof(
  fc.record({
    version: fc.constant(3 as const), family: fc.constant(4 as const), vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }), intervalCs: fc.integer({ min: 1, max: 4095 }),
    addresses: fc.array(fc.ipV4().map((a) => a), { maxLength: 20 }),
  }),
  fc.record({
    version: fc.constant(2 as const), family: fc.constant(4 as const), vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }), intervalCs: fc.integer({ min: 1, max: 255 }).map((s) => s * 100),
    addresses: fc.array(fc.ipV4(), { maxLength: 20 }),
  }),
  fc.record({
    version: fc.constant(3 as const), family: fc.constant(6 as const), vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }), intervalCs: fc.integer({ min: 1, max: 4095 }),
    addresses: fc.array(fc.ipV6().map((a) => linkLocalOrCanon(a)), { maxLength: 8 }),
  }),
);

function linkLocalOrCanon(a: string): string {
  // fast-check writes IPv6 in many spellings; the decoder answers in keys.ts's canonical one.
  const d = decodeAdvert(encodeAdvert({ ...V6, addresses: [a] }, LL, GROUP6), 6, ip6(LL), ip6(GROUP6));
  return d.ok ? d.advert.addresses[0] : a;
}

describe("properties", () => {
  it("encode → decode is the identity, through whole frames too", () => {
    fc.assert(
      fc.property(advertArb, (a) => {
        const src = a.family === 4 ? SRC4 : LL;
        const f = buildFrame(a, { srcMac: MAC, src });
        const d = decodeFrame(f);
        expect(d.ok && d.advert).toEqual(a);
        expect(hex(encodeAdvert(a, src, a.family === 4 ? GROUP4 : GROUP6))).toBe(hex(refAdvert(a, src, a.family === 4 ? GROUP4 : GROUP6)));
      }),
      { numRuns: 300 },
    );
  });

  it("any single flipped bit in the VRRP message is rejected (the checksum catches what the fields do not)", () => {
    fc.assert(
      fc.property(advertArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (a, at, bit) => {
        const src = a.family === 4 ? SRC4 : LL;
        const p = buildPacket(a, { src });
        const ipLen = a.family === 4 ? 20 : 40;
        const i = ipLen + (at % (p.length - ipLen));
        const c = Uint8Array.from(p);
        c[i] ^= 1 << bit;
        const d = decodePacket(c);
        if (d.ok) throw new Error(`flip of bit ${bit} at ${i} accepted`);
        expect(reasons.has(d.reason)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("random bytes never throw: rejected with a reason, or a valid advert that re-encodes to the same bytes", () => {
    const check = (d: ReturnType<typeof decodeAdvert>, again: (a: Advert) => Uint8Array, input: Uint8Array) => {
      if (!d.ok) {
        expect(reasons.has(d.reason)).toBe(true);
        expect(typeof d.detail).toBe("string");
      } else expect(hex(again(d.advert))).toBe(hex(input));
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (b, six) => {
        const fam = six ? 6 : 4;
        const src = six ? ip6(LL) : ip4(SRC4);
        const dst = six ? ip6(GROUP6) : ip4(GROUP4);
        check(decodeAdvert(b, fam, src, dst), (a) => encodeAdvert(a, six ? LL : SRC4, six ? GROUP6 : GROUP4), b);
        const p = decodePacket(b);
        if (!p.ok) expect(reasons.has(p.reason)).toBe(true);
        const f = decodeFrame(b);
        if (!f.ok) expect(reasons.has(f.reason)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("random bytes behind a valid IPv4 / IPv6 header never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 0, max: 255 }), (payload, ttl) => {
        for (const p of [pkt4({ payload, ttl }), pkt6({ payload, hopLimit: ttl })]) {
          const d = decodePacket(p);
          if (!d.ok) expect(reasons.has(d.reason)).toBe(true);
          else expect(ttl).toBe(255);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("truncating a valid frame anywhere is rejected, never thrown", () => {
    fc.assert(
      fc.property(advertArb, fc.nat(), (a, cut) => {
        const f = buildFrame(a, { srcMac: MAC, src: a.family === 4 ? SRC4 : LL });
        const n = cut % f.length;
        const d = decodeFrame(f.subarray(0, n));
        expect(d.ok).toBe(false);
        if (!d.ok) expect(["truncated", "bad_ip_header"]).toContain(d.reason);
      }),
      { numRuns: 500 },
    );
  });
});
