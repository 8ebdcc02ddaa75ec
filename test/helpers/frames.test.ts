import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import {
  arp,
  concat,
  diffFrames,
  ether,
  fmtIp,
  fmtMac,
  fmtTcpFlags,
  fromHex,
  hex,
  icmp,
  icmp4Echo,
  icmp4Error,
  icmp6Echo,
  icmp6Error,
  inetChecksum,
  ip4,
  ip6,
  ipip4Frame,
  ipip6Frame,
  ipFrame,
  ipv4,
  ipv4ChecksumOk,
  ipv4HeaderChecksum,
  ipv6,
  ipv6Frag,
  ipv6Routing,
  l4Checksum,
  mac,
  onesSum,
  parseFrame,
  parsePacket,
  pseudoHeader,
  summarizeFrame,
  tcp,
  tcp4Frame,
  tcp6Frame,
  tcpFlags,
  udp,
  udp4Frame,
  udp6Frame,
  verifyChecksums,
  verifyPacketChecksums,
  withL4Checksum,
} from "./frames.js";

const L2 = { ethSrc: "02:00:00:00:00:01", ethDst: "02:00:00:00:00:02" };
const CLIENT = "198.51.100.7";
const VIP = "198.18.0.10";

/** Returns a copy with byte i xor-ed with x. */
function flip(b: Uint8Array, i: number, x = 0xff): Uint8Array {
  const c = b.slice();
  c[i] ^= x;
  return c;
}

describe("addresses", () => {
  it("parses and formats IPv4", () => {
    expect(Array.from(ip4("198.18.0.1"))).toEqual([198, 18, 0, 1]);
    expect(Array.from(ip4("255.255.255.255"))).toEqual([255, 255, 255, 255]);
    expect(fmtIp(Uint8Array.of(10, 0, 0, 254))).toBe("10.0.0.254");
  });

  it.each(["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1.2.3.4 ", "a.b.c.d", "1..2.3"])(
    "rejects IPv4 %j",
    (s) => expect(() => ip4(s)).toThrow(/bad IPv4/),
  );

  it.each([
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["1::", "00010000000000000000000000000000"],
    ["2001:DB8:0:0:8:800:200C:417A", "20010db8000000000008080020 0c417a"],
    ["2001:db8::8:800:200c:417a", "20010db8000000000008080020 0c417a"],
    ["FF01::101", "ff010000000000000000000000000101"],
    ["::13.1.68.3", "0000000000000000000000000d014403"],
    ["::ffff:129.144.52.38", "00000000000000000000ffff81903426"],
    ["64:ff9b::192.0.2.33", "0064ff9b0000000000000000c0000221"],
    ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["::2:3:4:5:6:7:8", "00000002000300040005000600070008"],
    ["1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304"],
    ["0:0:0:0:0:0:0:1", "00000000000000000000000000000001"],
  ])("parses IPv6 %s (RFC 4291 forms)", (text, bytes) => {
    expect(hex(ip6(text))).toBe(bytes.replace(/ /g, ""));
  });

  it.each([
    "",
    ":",
    ":::",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    ":1::",
    "1:::2",
    "1::2:",
    "12345::",
    "g::",
    "::1.2.3",
    "1.2.3.4::",
    "::1.2.3.4:5",
    "::01.2.3.4",
    "1:2:3:4:5:6:7:8::",
    "1::2:3:4:5:6:7:8",
    "fe80::1%eth0",
  ])("rejects IPv6 %j", (s) => expect(() => ip6(s)).toThrow(/bad IPv6/));

  it.each([
    ["2001:0db8::0001", "2001:db8::1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single 0 group is not compressed
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run wins
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of equal runs wins
    ["2001:DB8::AbCd", "2001:db8::abcd"],
    ["::ffff:c000:280", "::ffff:192.0.2.128"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["::13.1.68.3", "::d01:4403"],
  ])("formats %s as %s (RFC 5952)", (text, canonical) => {
    expect(fmtIp(ip6(text))).toBe(canonical);
  });

  it("agrees with node:net on which IPv6 strings are valid", () => {
    const alphabet = [..."0123456789abcdefABCDEF:.", ":", ":"];
    const mutated = fc
      .tuple(fc.ipV6(), fc.nat(), fc.constantFrom(...alphabet), fc.boolean())
      .map(([s, i, ch, del]) => {
        const at = i % (s.length + 1);
        return del ? s.slice(0, at) + s.slice(at + 1) : s.slice(0, at) + ch + s.slice(at);
      });
    const random = fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 24 });
    fc.assert(
      fc.property(fc.oneof(fc.ipV6(), mutated, random), (s) => {
        let ok = true;
        try {
          ip6(s);
        } catch {
          ok = false;
        }
        expect(ok, s).toBe(isIPv6(s));
      }),
      { seed: 1071, numRuns: 3000 },
    );
  });

  it("formats IPv6 like the WHATWG URL serializer (outside ::ffff:0:0/96)", () => {
    fc.assert(
      fc.property(fc.ipV6(), (s) => {
        const b = ip6(s);
        fc.pre(!fmtIp(b).startsWith("::ffff:") || !fmtIp(b).includes("."));
        expect(`[${fmtIp(b)}]`).toBe(new URL(`http://[${s}]/`).hostname);
        expect(ip6(fmtIp(b))).toEqual(b);
      }),
      { seed: 5952, numRuns: 1000 },
    );
  });

  it("agrees with node:net on IPv4 validity and round-trips", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.string({ unit: fc.constantFrom(..."0123456789."), maxLength: 16 })), (s) => {
        let ok = true;
        try {
          expect(fmtIp(ip4(s))).toBe(s);
        } catch {
          ok = false;
        }
        expect(ok, s).toBe(isIPv4(s));
      }),
      { seed: 791, numRuns: 2000 },
    );
  });

  it("parses and formats MACs", () => {
    expect(Array.from(mac("02:00:00:00:00:01"))).toEqual([2, 0, 0, 0, 0, 1]);
    expect(Array.from(mac("AA-bb-CC-dd-EE-ff"))).toEqual([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    expect(fmtMac(Uint8Array.of(0xaa, 0xbb, 0xcc, 0x0d, 0xe, 0xff))).toBe("aa:bb:cc:0d:0e:ff");
    for (const bad of ["02:00:00:00:00", "02:00:00:00:00:001", "2:0:0:0:0:1", "02:00:00:00:00:0g"]) {
      expect(() => mac(bad), bad).toThrow(/bad MAC/);
    }
  });
});

describe("checksums", () => {
  it("matches the RFC 1071 section 3 example", () => {
    // 0001 + f203 + f4f5 + f6f7 = 2ddf0, folded ddf2, complemented 220d.
    const data = fromHex("00 01 f2 03 f4 f5 f6 f7");
    expect(onesSum(data)).toBe(0xddf2);
    expect(inetChecksum(data)).toBe(0x220d);
  });

  it("pads an odd trailing byte with zero and adds the initial sum", () => {
    expect(onesSum(Uint8Array.of(0xab))).toBe(0xab00);
    expect(onesSum(Uint8Array.of(0x12, 0x34, 0x56))).toBe(0x1234 + 0x5600);
    expect(onesSum(Uint8Array.of(0x00, 0x01), 0xffff)).toBe(0x0001); // end-around carry
    expect(onesSum(new Uint8Array(0), 0x3ffff)).toBe(0x0003); // ffff + 3 = 10002 -> 0002 + 1
    expect(inetChecksum(new Uint8Array(4))).toBe(0xffff);
  });

  it("folds sums too large for 32-bit arithmetic", () => {
    const big = new Uint8Array(200_000).fill(0xff); // 100000 * 0xffff > 2^32
    expect(onesSum(big)).toBe(0xffff);
  });

  const classicHeader = fromHex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");

  it("computes the classic IPv4 header checksum 0xb861", () => {
    expect(ipv4HeaderChecksum(classicHeader)).toBe(0xb861);
    expect(ipv4HeaderChecksum(flip(classicHeader, 10))).toBe(0xb861); // the field itself is ignored
    expect(inetChecksum(classicHeader)).toBe(0);
    expect(ipv4ChecksumOk(concat(classicHeader, new Uint8Array(0x73 - 20)))).toBe(true);
  });

  it("builds the classic IPv4 header byte for byte", () => {
    const pkt = ipv4({
      src: "192.168.0.1",
      dst: "192.168.0.199",
      proto: 17,
      df: true,
      payload: new Uint8Array(0x73 - 20),
      fillL4Checksum: false,
    });
    expect(hex(pkt.subarray(0, 20))).toBe(hex(classicHeader));
  });

  it("builds scapy's IP()/TCP() byte for byte", () => {
    // Checked by hand: IP sum 4500+0028+0001+4006+7f00+0001+7f00+0001 = 18331 -> 8332 -> ~ 7ccd;
    // TCP pseudo 7f00+1+7f00+1+6+14 plus header 14+50+5002+2000 = 16e82 -> 6e83 -> ~ 917c.
    const pkt = ipv4({ src: "127.0.0.1", dst: "127.0.0.1", proto: 6, id: 1, payload: tcp({ sport: 20, dport: 80, flags: "S", window: 8192 }) });
    expect(hex(pkt)).toBe("450000280001000040067ccd7f0000017f000001" + "00140050000000000000000050022000917c0000");
  });

  it("builds scapy's IP()/UDP() byte for byte", () => {
    const pkt = ipv4({ src: "127.0.0.1", dst: "127.0.0.1", proto: 17, id: 1, payload: udp({ sport: 53, dport: 53 }) });
    expect(hex(pkt)).toBe("4500001c00010000" + "40117cce7f0000017f000001" + "0035003500080172");
  });

  it("computes IPv6 UDP and ICMPv6 checksums with the RFC 8200 pseudo header", () => {
    // ::1 -> ::1 UDP 53 -> 53: 1 + 1 + 8 + 0x11 + 35 + 35 + 8 = 0x8d -> ~ 0xff72.
    expect(l4Checksum(6, "::1", "::1", 17, udp({ sport: 53, dport: 53 }))).toBe(0xff72);
    // fe80::1 -> fe80::2 echo id 0x1234 seq 1: 1fd45 + 9235 = 28f7a -> 8f7c -> ~ 7083.
    const echo = icmp({ type: 128, rest: 0x12340001 });
    expect(l4Checksum(6, "fe80::1", "fe80::2", 58, echo)).toBe(0x7083);
    expect(hex(pseudoHeader(6, "::1", "::2", 58, 8))).toBe("0".repeat(31) + "1" + "0".repeat(31) + "2" + "00000008" + "0000003a");
  });

  it("ICMPv4 has no pseudo header", () => {
    const echo = icmp({ type: 8 });
    expect(l4Checksum(4, "1.2.3.4", "5.6.7.8", 1, echo)).toBe(0xf7ff);
    expect(l4Checksum(4, "9.9.9.9", "8.8.8.8", 1, echo)).toBe(0xf7ff);
  });

  it("sends a computed UDP checksum of 0 as 0xffff and accepts it", () => {
    const seg = udp({ sport: 1000, dport: 2000, payload: new Uint8Array(2) });
    const zeroWord = l4Checksum(4, CLIENT, VIP, 17, seg);
    // Putting ~sum in the payload makes the total sum 0xffff, so the checksum computes to 0.
    const payload = Uint8Array.of(zeroWord >> 8, zeroWord & 0xff);
    const frame = udp4Frame({ ...L2, src: CLIENT, dst: VIP, sport: 1000, dport: 2000, payload });
    expect(parseFrame(frame).udp!.checksum).toBe(0xffff);
    expect(verifyChecksums(frame)).toEqual([]);
    const zeroed = frame.slice();
    zeroed[14 + 20 + 6] = zeroed[14 + 20 + 7] = 0;
    expect(verifyChecksums(zeroed)).toEqual([]); // 0 = "no checksum" over IPv4
  });

  it("withL4Checksum fills only the checksum field", () => {
    const seg = tcp({ sport: 1, dport: 2, flags: "S" });
    const filled = withL4Checksum(4, CLIENT, VIP, 6, seg);
    expect(hex(filled.subarray(0, 16))).toBe(hex(seg.subarray(0, 16)));
    expect(filled[16] * 256 + filled[17]).toBe(l4Checksum(4, CLIENT, VIP, 6, seg));
    expect(inetChecksum(filled, onesSum(pseudoHeader(4, CLIENT, VIP, 6, filled.length)))).toBe(0);
    expect(() => l4Checksum(4, CLIENT, VIP, 47, seg)).toThrow(/no known checksum/);
  });
});

describe("verifyChecksums", () => {
  const syn = tcp4Frame({ ...L2, src: CLIENT, dst: VIP, sport: 40000, dport: 80, flags: "S", seq: 1000, payload: fromHex("0102030405") });

  it("is empty for good frames of every kind", () => {
    const frames = [
      syn,
      udp4Frame({ ...L2, src: CLIENT, dst: VIP, sport: 5353, dport: 53, payload: fromHex("abcdef") }),
      icmp4Echo({ ...L2, src: CLIENT, dst: VIP, id: 7, seq: 9, payload: fromHex("00112233") }),
      tcp6Frame({ ...L2, src: "2001:db8::7", dst: "2001:db8::10", sport: 1, dport: 443, flags: "PA", payload: fromHex("aa") }),
      udp6Frame({ ...L2, src: "2001:db8::7", dst: "2001:db8::10", sport: 1, dport: 53 }),
      icmp6Echo({ ...L2, src: "2001:db8::7", dst: "2001:db8::10", id: 1, seq: 2, payload: fromHex("99") }),
      arp({ op: 1, sha: L2.ethSrc, spa: CLIENT, tpa: VIP }),
    ];
    for (const f of frames) expect(verifyChecksums(f), summarizeFrame(f)).toEqual([]);
  });

  it("reports a bad IPv4 header checksum with both values", () => {
    // Same header as the classic example (0xb861), carrying a valid 95-byte UDP datagram.
    const payload = udp({ sport: 1, dport: 2, payload: new Uint8Array(87) });
    const good = ipv4({ src: "192.168.0.1", dst: "192.168.0.199", proto: 17, df: true, payload });
    const pkt = ipv4({ src: "192.168.0.1", dst: "192.168.0.199", proto: 17, df: true, payload, badChecksum: true });
    expect(ipv4ChecksumOk(good)).toBe(true);
    expect(ipv4ChecksumOk(ipFrame(L2, good))).toBe(true);
    expect(ipv4ChecksumOk(pkt)).toBe(false);
    expect(ipv4ChecksumOk(ipFrame(L2, pkt))).toBe(false);
    expect(verifyPacketChecksums(good)).toEqual([]);
    expect(verifyPacketChecksums(pkt)).toEqual(["ipv4: header checksum 0xb862, expected 0xb861"]);
  });

  it("reports each broken L4 checksum under its layer path", () => {
    const badTcp = flip(syn, syn.length - 1, 0x01);
    expect(verifyChecksums(badTcp)).toEqual([expect.stringMatching(/^ipv4\/tcp: checksum 0x[0-9a-f]{4}, expected 0x[0-9a-f]{4}$/)]);
    const udp6 = udp6Frame({ ...L2, src: "2001:db8::7", dst: "2001:db8::10", sport: 1, dport: 53, payload: fromHex("01") });
    expect(verifyChecksums(flip(udp6, 14 + 8))).toEqual([expect.stringMatching(/^ipv6\/udp: checksum/)]);
    const echo = icmp4Echo({ ...L2, src: CLIENT, dst: VIP, id: 7, seq: 9 });
    expect(verifyChecksums(flip(echo, echo.length - 1))).toEqual([expect.stringMatching(/^ipv4\/icmp: checksum/)]);
    const echo6 = icmp6Echo({ ...L2, src: "::1", dst: "::2", id: 7, seq: 9 });
    expect(verifyChecksums(flip(echo6, 14 + 39))).toEqual([expect.stringMatching(/^ipv6\/icmp6: checksum/)]);
  });

  it("rejects UDP checksum 0 over IPv6", () => {
    const f = udp6Frame({ ...L2, src: "2001:db8::7", dst: "2001:db8::10", sport: 1, dport: 53 });
    f[14 + 40 + 6] = f[14 + 40 + 7] = 0;
    expect(verifyChecksums(f)).toEqual(["ipv6/udp: checksum 0 is not allowed over IPv6"]);
  });

  it("reports length problems instead of checksumming garbage", () => {
    expect(verifyChecksums(syn.subarray(0, syn.length - 2))).toEqual([`ipv4: length field says 45 bytes, only 43 present`]);
    const u = udp4Frame({ ...L2, src: CLIENT, dst: VIP, sport: 1, dport: 2, payload: fromHex("0102") });
    const badLen = u.slice();
    badLen[14 + 20 + 5] += 1;
    expect(verifyChecksums(badLen)).toEqual(["ipv4/udp: length field 11, IP payload is 10"]);
    const wrongVersion = syn.slice();
    wrongVersion[14] = 0x65;
    expect(verifyChecksums(wrongVersion)).toEqual(["ethertype 0x0800 but IP version 6"]);
  });

  it("detects every single-byte corruption of an IPv4 TCP packet", () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const at = 14 + (i % (syn.length - 14));
        expect(verifyChecksums(flip(syn, at, x)).length, `byte ${at} ^ ${x}`).toBeGreaterThan(0);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it("detects corruption of IPv6 addresses and TCP bytes", () => {
    const f = tcp6Frame({ ...L2, src: "2001:db8::7", dst: "2001:db8::10", sport: 1234, dport: 80, flags: "A", seq: 5, ack: 6, payload: fromHex("cafe") });
    // Bytes 0-7 of the IPv6 header (flow label, hop limit...) are not covered by any checksum.
    for (let at = 14 + 8; at < f.length; at++) {
      expect(verifyChecksums(flip(f, at, 0x10)).length, `byte ${at}`).toBeGreaterThan(0);
    }
  });

  it("accepts 0xffff where a TCP checksum computes to 0 (one's complement -0)", () => {
    const seg = tcp({ sport: 1, dport: 2, flags: "A", payload: new Uint8Array(2) });
    const c = l4Checksum(4, CLIENT, VIP, 6, seg);
    seg.set([c >> 8, c & 0xff], 20);
    const pkt = ipv4({ src: CLIENT, dst: VIP, proto: 6, payload: seg });
    expect(pkt[20 + 16] * 256 + pkt[20 + 17]).toBe(0);
    expect(verifyPacketChecksums(pkt)).toEqual([]);
    pkt[36] = pkt[37] = 0xff;
    expect(verifyPacketChecksums(pkt)).toEqual([]);
    pkt[37] = 0xfe;
    expect(verifyPacketChecksums(pkt)).toEqual(["ipv4/tcp: checksum 0xfffe, expected 0x0000"]);
  });

  it("skips L4 checksums of fragments but still checks the IPv4 header", () => {
    const garbage = tcp({ sport: 1, dport: 2, flags: "S" }); // checksum left at 0: wrong
    const first = ipv4({ src: CLIENT, dst: VIP, proto: 6, mf: true, payload: garbage });
    const later = ipv4({ src: CLIENT, dst: VIP, proto: 6, fragOffset: 1480, payload: garbage });
    const whole = ipv4({ src: CLIENT, dst: VIP, proto: 6, payload: garbage, fillL4Checksum: false });
    expect(verifyPacketChecksums(first)).toEqual([]);
    expect(verifyPacketChecksums(later)).toEqual([]);
    expect(verifyPacketChecksums(whole)).toEqual([expect.stringMatching(/^ipv4\/tcp: checksum 0x0000/)]);
    expect(verifyPacketChecksums(flip(later, 8))).toEqual([expect.stringMatching(/^ipv4: header checksum/)]);
  });
});

describe("builders", () => {
  it("builds an Ethernet frame with stacked 802.1Q tags, outer first", () => {
    const f = ether({ dst: "ff:ff:ff:ff:ff:ff", src: "02:00:00:00:00:01", type: 0x0800, vlan: [100, 4095], payload: fromHex("45") });
    expect(hex(f)).toBe("ffffffffffff" + "020000000001" + "81000064" + "81000fff" + "0800" + "45");
    expect(() => ether({ dst: L2.ethDst, src: L2.ethSrc, type: 0x0800, vlan: [4096], payload: fromHex("") })).toThrow(/VLAN ID/);
  });

  it("pads to the 60-byte minimum on request", () => {
    const f = udp4Frame({ ...L2, src: CLIENT, dst: VIP, sport: 1, dport: 2, payload: fromHex("aa"), pad: true });
    expect(f.length).toBe(60);
    const p = parseFrame(f);
    expect(p.ip!.totalLength).toBe(29);
    expect(Array.from(p.udp!.payload)).toEqual([0xaa]);
    expect(p.trailer).toEqual(new Uint8Array(60 - 14 - 29));
    expect(verifyChecksums(f)).toEqual([]);
  });

  it("builds ARP requests and replies", () => {
    const req = arp({ op: 1, sha: "02:00:00:00:00:01", spa: "198.18.0.1", tpa: "198.18.0.2" });
    expect(hex(req)).toBe(
      "ffffffffffff020000000001" + "0806" + "0001080006040001" + "020000000001c6120001" + "000000000000c6120002",
    );
    const rep = arp({ op: 2, sha: "02:00:00:00:00:02", spa: "198.18.0.2", tha: "02:00:00:00:00:01", tpa: "198.18.0.1", vlan: [7] });
    expect(parseFrame(rep)).toEqual({
      ethDst: "02:00:00:00:00:01",
      ethSrc: "02:00:00:00:00:02",
      vlan: [7],
      ethType: 0x0806,
      arp: { op: 2, sha: "02:00:00:00:00:02", spa: "198.18.0.2", tha: "02:00:00:00:00:01", tpa: "198.18.0.1" },
    });
  });

  it("encodes IPv4 flags, fragment offset, TOS and options", () => {
    const pkt = ipv4({ src: "10.0.0.1", dst: "10.0.0.2", proto: 253, ttl: 3, id: 0xbeef, df: true, mf: true, fragOffset: 2960, tos: 0xb8, options: Uint8Array.of(0x94, 4, 0), payload: fromHex("01") });
    expect(hex(pkt.subarray(0, 10))).toBe("46b80019beef" + "6172" + "03fd"); // 0x4000|0x2000|370
    expect(hex(pkt.subarray(20, 24))).toBe("94040000");
    expect(ipv4ChecksumOk(pkt)).toBe(true);
    const ip = parsePacket(pkt).ip;
    expect(ip).toMatchObject({ headerLength: 24, df: true, mf: true, fragOffset: 2960, tos: 0xb8, id: 0xbeef, ttl: 3, proto: 253 });
    expect(() => ipv4({ src: "1.1.1.1", dst: "1.1.1.1", proto: 6, fragOffset: 4, payload: fromHex("") })).toThrow(/multiple of 8/);
    expect(() => ipv4({ src: "1.1.1.1", dst: "1.1.1.1", proto: 6, ttl: 256, payload: fromHex("") })).toThrow(/ttl/);
  });

  it("encodes TCP flags in both directions", () => {
    expect(tcpFlags("S")).toBe(0x02);
    expect(tcpFlags("SA")).toBe(0x12);
    expect(tcpFlags("AS")).toBe(0x12);
    expect(tcpFlags("FA")).toBe(0x11);
    expect(tcpFlags("PA")).toBe(0x18);
    expect(tcpFlags("R")).toBe(0x04);
    expect(tcpFlags("EC")).toBe(0xc0);
    expect(tcpFlags("")).toBe(0);
    expect(fmtTcpFlags(0x12)).toBe("SA");
    expect(fmtTcpFlags(0x11)).toBe("FA");
    expect(fmtTcpFlags(0x18)).toBe("PA");
    expect(fmtTcpFlags(0xff)).toBe("FSRPAUEC");
    expect(() => tcpFlags("SX")).toThrow(/unknown TCP flag/);
  });

  it("lays out a TCP header with options", () => {
    const seg = tcp({ sport: 0x1234, dport: 80, seq: 0xfffffffe, ack: 1, flags: "SA", window: 1024, options: Uint8Array.of(2, 4, 0x05, 0xb4, 3, 3, 7) });
    expect(hex(seg)).toBe("12340050fffffffe00000001" + "7012" + "0400" + "0000" + "0000" + "020405b4" + "03030700");
    expect(() => tcp({ sport: 65536, dport: 1, flags: "S" })).toThrow(/sport/);
  });

  it("lays out IPv6 extension headers with padding", () => {
    const pkt = ipv6({
      src: "2001:db8::1",
      dst: "2001:db8::2",
      nextHeader: 6,
      hopLimit: 9,
      trafficClass: 0xa5,
      flowLabel: 0xbcdef,
      extHeaders: [{ type: 0, data: new Uint8Array(6) }, { type: 60, data: Uint8Array.of(1, 2, 0, 0) }, ipv6Frag({ id: 0x01020304 })],
      payload: tcp({ sport: 1, dport: 2, flags: "S" }),
    });
    expect(hex(pkt.subarray(0, 8))).toBe("6a5bcdef" + "002c" + "00" + "09");
    expect(hex(pkt.subarray(40, 64))).toBe("3c00000000000000" + "2c00010200000100" + "0600000001020304");
    const p = parsePacket(pkt);
    expect(p.ip).toMatchObject({ version: 6, nextHeader: 0, proto: 6, extHeaders: [0, 60, 44], headerLength: 64, totalLength: 84, hopLimit: 9, ttl: 9, tos: 0xa5, flowLabel: 0xbcdef, id: 0x01020304, mf: false, fragOffset: 0 });
    expect(p.tcp).toMatchObject({ sport: 1, dport: 2, flags: "S" });
    expect(verifyPacketChecksums(pkt)).toEqual([]);
    expect(() => ipv6({ src: "::1", dst: "::1", nextHeader: 59, extHeaders: [{ type: 43, data: new Uint8Array(3) }], payload: fromHex("") })).toThrow(/multiple of 8/);
  });

  it("uses the routing header's final destination in the pseudo header", () => {
    const final = "2001:db8::99";
    const build = (segmentsLeft: number) =>
      ipv6({ src: "2001:db8::1", dst: "2001:db8::2", nextHeader: 17, extHeaders: [ipv6Routing({ routingType: 0, segmentsLeft, addresses: ["2001:db8::5", final] })], payload: udp({ sport: 7, dport: 9 }) });
    const viaFinal = build(2);
    const seg = viaFinal.subarray(40 + 40);
    expect(seg[6] * 256 + seg[7]).toBe(l4Checksum(6, "2001:db8::1", final, 17, seg));
    expect(seg[6] * 256 + seg[7]).not.toBe(l4Checksum(6, "2001:db8::1", "2001:db8::2", 17, seg));
    expect(verifyPacketChecksums(viaFinal)).toEqual([]);
    const arrived = build(0); // no segments left: the header's dst is final
    const seg0 = arrived.subarray(80);
    expect(seg0[6] * 256 + seg0[7]).toBe(l4Checksum(6, "2001:db8::1", "2001:db8::2", 17, seg0));
  });

  it("does not parse or check L4 in non-first IPv6 fragments", () => {
    const pkt = ipv6({ src: "::1", dst: "::2", nextHeader: 6, extHeaders: [ipv6Frag({ offset: 1232, more: true, id: 5 })], payload: fromHex("deadbeef") });
    const p = parsePacket(pkt);
    expect(p.ip).toMatchObject({ fragOffset: 1232, mf: true, id: 5, proto: 6 });
    expect(p.tcp).toBeUndefined();
    expect(hex(p.payload!)).toBe("deadbeef");
    expect(verifyPacketChecksums(pkt)).toEqual([]);
  });
});

describe("parseFrame", () => {
  it("round-trips random IPv4 TCP frames", () => {
    fc.assert(
      fc.property(
        fc.record({
          src: fc.ipV4(),
          dst: fc.ipV4(),
          sport: fc.integer({ min: 0, max: 65535 }),
          dport: fc.integer({ min: 0, max: 65535 }),
          seq: fc.nat({ max: 0xffffffff }),
          ack: fc.nat({ max: 0xffffffff }),
          flags: fc.subarray([..."FSRPAUEC"]).map((a) => a.join("")),
          payload: fc.uint8Array({ maxLength: 64 }),
          ttl: fc.integer({ min: 1, max: 255 }),
          id: fc.integer({ min: 0, max: 65535 }),
          df: fc.boolean(),
          vlan: fc.array(fc.integer({ min: 0, max: 4095 }), { maxLength: 2 }),
        }),
        (o) => {
          const f = tcp4Frame({ ...L2, ...o });
          const p = parseFrame(f);
          expect(p.vlan).toEqual(o.vlan);
          expect(p.ethType).toBe(0x0800);
          expect(p.ip).toMatchObject({ version: 4, src: o.src, dst: o.dst, proto: 6, ttl: o.ttl, id: o.id, df: o.df, mf: false, totalLength: 40 + o.payload.length, headerLength: 20 });
          expect(p.tcp).toMatchObject({ sport: o.sport, dport: o.dport, seq: o.seq, ack: o.ack, flags: o.flags, dataOffset: 20, window: 65535 });
          expect(p.tcp!.payload).toEqual(o.payload);
          expect(verifyChecksums(f)).toEqual([]);
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it("round-trips random IPv6 UDP frames", () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.ipV6(), fc.integer({ min: 0, max: 65535 }), fc.uint8Array({ maxLength: 64 }), (src, dst, port, payload) => {
        const f = udp6Frame({ ...L2, src, dst, sport: port, dport: 65535 - port, payload });
        const p = parseFrame(f);
        expect(p.ip).toMatchObject({ version: 6, src: fmtIp(ip6(src)), dst: fmtIp(ip6(dst)), proto: 17, ttl: 64, totalLength: 48 + payload.length });
        expect(p.udp).toMatchObject({ sport: port, dport: 65535 - port, length: 8 + payload.length });
        expect(p.udp!.payload).toEqual(payload);
        expect(verifyChecksums(f)).toEqual([]);
      }),
      { seed: 8, numRuns: 300 },
    );
  });

  it("gives the documented shape for a TCP frame", () => {
    const f = tcp4Frame({ ...L2, src: CLIENT, dst: VIP, sport: 40000, dport: 80, flags: "PA", seq: 1, ack: 2, payload: fromHex("4745540a"), df: true, id: 9, vlan: [10] });
    expect(parseFrame(f)).toEqual({
      ethDst: "02:00:00:00:00:02",
      ethSrc: "02:00:00:00:00:01",
      vlan: [10],
      ethType: 0x0800,
      ip: { version: 4, src: CLIENT, dst: VIP, proto: 6, ttl: 64, tos: 0, totalLength: 44, headerLength: 20, id: 9, df: true, mf: false, fragOffset: 0, checksum: expect.any(Number), options: new Uint8Array(0) },
      tcp: { sport: 40000, dport: 80, seq: 1, ack: 2, flags: "PA", dataOffset: 20, window: 65535, checksum: expect.any(Number), urgent: 0, options: new Uint8Array(0), payload: fromHex("4745540a") },
      trailer: new Uint8Array(0),
    });
  });

  it("reads 802.1ad + 802.1Q double tags", () => {
    const inner = udp4Frame({ ...L2, src: CLIENT, dst: VIP, sport: 1, dport: 2 });
    const f = concat(inner.subarray(0, 12), fromHex("88a8 a00a 8100 0014"), inner.subarray(12));
    const p = parseFrame(f);
    expect(p.vlan).toEqual([10, 20]); // PCP bits masked off
    expect(p.udp!.dport).toBe(2);
    expect(verifyChecksums(f)).toEqual([]);
  });

  it("parses ICMP echo", () => {
    const p = parseFrame(icmp4Echo({ ...L2, src: CLIENT, dst: VIP, id: 0x1234, seq: 7, type: 0, payload: fromHex("abcd") }));
    expect(p.icmp).toMatchObject({ type: 0, code: 0, id: 0x1234, seq: 7, body: fromHex("abcd") });
    const p6 = parseFrame(icmp6Echo({ ...L2, src: "fe80::1", dst: "fe80::2", id: 0x1234, seq: 1 }));
    expect(p6.icmp).toMatchObject({ type: 128, code: 0, id: 0x1234, seq: 1, checksum: 0x7083 });
  });

  it("throws readable errors on truncated frames", () => {
    const f = tcp4Frame({ ...L2, src: CLIENT, dst: VIP, sport: 1, dport: 2, flags: "S" });
    expect(() => parseFrame(f.subarray(0, 10))).toThrow(/Ethernet header/);
    expect(() => parseFrame(f.subarray(0, 30))).toThrow(/IPv4 header/);
    expect(() => parseFrame(f.subarray(0, 50))).toThrow(/length field says 40 bytes, only 36 present/);
  });

  it("parses the ports of a first fragment", () => {
    const seg = withL4Checksum(4, CLIENT, VIP, 17, udp({ sport: 5000, dport: 53, payload: new Uint8Array(100) }));
    const first = ipv4({ src: CLIENT, dst: VIP, proto: 17, mf: true, id: 3, payload: seg.subarray(0, 48) });
    const p = parsePacket(first);
    expect(p.udp).toMatchObject({ sport: 5000, dport: 53, length: 108 });
    expect(p.udp!.payload.length).toBe(40);
  });
});

describe("ICMP errors", () => {
  const original = ipv4({ src: CLIENT, dst: VIP, proto: 6, id: 77, df: true, payload: tcp({ sport: 40000, dport: 80, seq: 0xabcdef01, flags: "PA", payload: new Uint8Array(1400) }) });

  it("quotes the offending packet and exposes the MTU", () => {
    const f = icmp4Error({ ...L2, src: "192.0.2.1", dst: CLIENT, type: 3, code: 4, mtu: 1400, quoted: original.subarray(0, 28) });
    expect(hex(f.subarray(14 + 20, 14 + 28)).replace(/^(....)..../, "$1xxxx")).toBe("0304xxxx00000578");
    const p = parseFrame(f);
    expect(p.icmp).toMatchObject({ type: 3, code: 4, mtu: 1400 });
    const q = p.icmp!.quoted!;
    expect(q.ip).toMatchObject({ src: CLIENT, dst: VIP, proto: 6, totalLength: original.length, id: 77, df: true });
    expect(q.tcp).toMatchObject({ sport: 40000, dport: 80, seq: 0xabcdef01 });
    expect(q.tcp!.flags).toBeUndefined(); // beyond the 8 quoted bytes
    expect(verifyChecksums(f)).toEqual([]);
  });

  it("checks the quoted IPv4 header checksum", () => {
    const tampered = flip(original.subarray(0, 28), 8, 0x01); // TTL changed, checksum not fixed
    const f = icmp4Error({ ...L2, src: "192.0.2.1", dst: CLIENT, type: 11, code: 0, quoted: tampered });
    expect(verifyChecksums(f)).toEqual([expect.stringMatching(/^ipv4\/icmp\/quoted ipv4: header checksum/)]);
  });

  it("encodes the parameter-problem pointer in the top byte", () => {
    const f = icmp4Error({ ...L2, src: "192.0.2.1", dst: CLIENT, type: 12, code: 0, pointer: 9, quoted: original.subarray(0, 28) });
    expect(hex(f.subarray(14 + 24, 14 + 28))).toBe("09000000");
    expect(parseFrame(f).icmp!.pointer).toBe(9);
  });

  it("quotes IPv6 packets in Packet Too Big", () => {
    const orig6 = ipv6({ src: "2001:db8::7", dst: "2001:db8::10", nextHeader: 17, payload: udp({ sport: 999, dport: 53, payload: new Uint8Array(1400) }) });
    const f = icmp6Error({ ...L2, src: "2001:db8::1", dst: "2001:db8::7", type: 2, code: 0, mtu: 1280, quoted: orig6.subarray(0, 1232) });
    expect(hex(f.subarray(14 + 44, 14 + 48))).toBe("00000500");
    const p = parseFrame(f);
    expect(p.icmp).toMatchObject({ type: 2, mtu: 1280 });
    expect(p.icmp!.quoted!.ip).toMatchObject({ src: "2001:db8::7", dst: "2001:db8::10", totalLength: orig6.length });
    expect(p.icmp!.quoted!.udp).toMatchObject({ sport: 999, dport: 53, length: 1408 });
    expect(verifyChecksums(f)).toEqual([]);
  });

  it("leaves quoted out when not even an IP header is quoted", () => {
    const f = icmp4Error({ ...L2, src: "192.0.2.1", dst: CLIENT, type: 3, code: 1, quoted: original.subarray(0, 12) });
    const icmpInfo = parseFrame(f).icmp!;
    expect(icmpInfo.quoted).toBeUndefined();
    expect(icmpInfo.body.length).toBe(12);
  });
});

describe("IP-in-IP", () => {
  const inner = ipv4({ src: CLIENT, dst: VIP, proto: 6, id: 5, payload: tcp({ sport: 40000, dport: 80, flags: "S", seq: 1 }) });

  it("encapsulates an IPv4 packet unchanged with protocol 4", () => {
    const f = ipip4Frame({ ...L2, outerSrc: "10.1.0.1", outerDst: "10.1.0.2", inner, df: true, ttl: 32 });
    expect(hex(f.subarray(14 + 20))).toBe(hex(inner));
    const p = parseFrame(f);
    expect(p.ip).toMatchObject({ src: "10.1.0.1", dst: "10.1.0.2", proto: 4, totalLength: 20 + inner.length, df: true, ttl: 32 });
    expect(p.inner!.ip).toMatchObject({ src: CLIENT, dst: VIP, proto: 6, id: 5 });
    expect(p.inner!.tcp).toMatchObject({ sport: 40000, dport: 80, flags: "S", seq: 1 });
    expect(p.tcp).toBeUndefined();
    expect(verifyChecksums(f)).toEqual([]);
  });

  it("checks the inner packet's checksums too", () => {
    const f = ipip4Frame({ ...L2, outerSrc: "10.1.0.1", outerDst: "10.1.0.2", inner });
    expect(verifyChecksums(flip(f, f.length - 1))).toEqual([expect.stringMatching(/^ipv4\/ipip ipv4\/tcp: checksum/)]);
    expect(verifyChecksums(flip(f, 14 + 20 + 8))).toEqual([expect.stringMatching(/^ipv4\/ipip ipv4: header checksum/)]);
    expect(verifyChecksums(flip(f, 14 + 8))).toEqual([expect.stringMatching(/^ipv4: header checksum/)]);
  });

  it("uses protocol 41 for IPv6 inner packets and next header 4 over IPv6", () => {
    const inner6 = ipv6({ src: "2001:db8::7", dst: "2001:db8::10", nextHeader: 6, payload: tcp({ sport: 1, dport: 2, flags: "S" }) });
    const over4 = parseFrame(ipip4Frame({ ...L2, outerSrc: "10.1.0.1", outerDst: "10.1.0.2", inner: inner6 }));
    expect(over4.ip!.proto).toBe(41);
    expect(over4.inner!.ip.dst).toBe("2001:db8::10");
    const f6 = ipip6Frame({ ...L2, outerSrc: "fd00::1", outerDst: "fd00::2", inner });
    const over6 = parseFrame(f6);
    expect(over6.ip).toMatchObject({ version: 6, nextHeader: 4, proto: 4 });
    expect(over6.inner!.tcp!.dport).toBe(80);
    expect(verifyChecksums(f6)).toEqual([]);
  });
});

describe("diffFrames", () => {
  const a = tcp4Frame({ ...L2, src: CLIENT, dst: VIP, sport: 1, dport: 2, flags: "S" });

  it("is empty for equal frames", () => {
    expect(diffFrames(a, a.slice())).toBe("");
  });

  it("points at the differing bytes", () => {
    const b = flip(a, 22, 0x01); // TTL 64 -> 65
    const lines = diffFrames(a, b).split("\n");
    expect(lines[0]).toBe("1 byte(s) differ, first at offset 22 (0x0016); lengths 54 vs 54");
    expect(lines[1]).toMatch(/^a: .*198\.51\.100\.7 > 198\.18\.0\.10 ttl 64/);
    expect(lines[2]).toMatch(/^b: .*ttl 65/);
    expect(lines[3]).toBe(`0x0010  a ${hex(a.subarray(16, 32)).replace(/(..)(?!$)/g, "$1 ")}`);
    expect(lines[4]).toContain(" 41 06 ");
    expect(lines[5]).toBe(" ".repeat(10) + "   ".repeat(6) + "^^");
    expect(lines).toHaveLength(6);
  });

  it("marks bytes past the end of the shorter frame", () => {
    const out = diffFrames(a, a.subarray(0, 50));
    expect(out).toContain("4 byte(s) differ, first at offset 50");
    expect(out).toMatch(/b .* -- -- -- --$/m);
  });
});

describe("independence", () => {
  it("imports nothing from the data plane", () => {
    const src = readFileSync(new URL("./frames.ts", import.meta.url), "utf8");
    expect(src).not.toMatch(/\bfrom\s+["'](?!node:)/);
    expect(src).not.toMatch(/\bimport\s*\(/);
  });
});
