// Steering filters for data-plane workers (src/dataplane/steer/): every
// member's cBPF program, run by the interpreter in test/helpers/cbpf.ts with
// the kernel's semantics, must accept exactly the frames steerOwner gives it:
//   - random frames (TCP/UDP/ICMP over IPv4/IPv6, fragments, options,
//     extension headers, ARP, NDP, other ethertypes, garbage; untagged,
//     802.1Q or 802.1ad; whole or truncated) over several specs;
//   - both directions of a NAT connection land on the same worker, and in
//     address-only mode every connection of a client does;
//   - an ICMP error quoting a packet of a connection lands on the worker of the
//     connection; other ICMP, and errors whose quote cannot be followed, go by
//     their own addresses;
//   - random clients spread evenly;
//   - dense pools of IPv4 NAT reals (whole /24s, bitmaps of 32-address blocks,
//     mixed with sparse ones; every boundary octet and its neighbours), tested
//     as source (a reply) and as destination (a quoted forwarded packet);
//   - the size limit (about 2450 isolated IPv4 NAT reals, far more in dense
//     pools), and long jumps in a program near it;
//   - bad specs are refused.

import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  arp, ether, icmp, ipFrame, ipv4, ipv6, ipv6Frag, tcp, udp, fmtIp, IPPROTO_HOPOPTS, type L2Opts,
} from "../helpers/frames.js";
import { checkProgram, decodeProgram, runProgram, type Insn } from "../helpers/cbpf.js";
import { steerProgram } from "../../src/dataplane/steer/program.js";
import { steerOwner } from "../../src/dataplane/steer/model.js";
import type { SteerSpec } from "../../src/dataplane/steer/rule.js";

const MAC_A = "02:00:00:00:00:01", MAC_B = "02:00:00:00:00:02";
const VIP4 = "198.18.0.10", VIP6 = "2001:db8:100::10";
const DR_VIP4 = "198.18.0.20", DR_VIP6 = "2001:db8:100::20"; // services whose real servers reply directly
const REALS4 = ["10.1.0.1", "10.1.0.2", "10.1.0.9", "10.2.0.1", "172.16.5.5", "192.168.1.7", "192.168.1.8", "192.168.200.1", "0.0.0.1", "255.255.255.254"];
const REALS6 = ["2001:db8:1::1", "2001:db8:1::2", "fd00::1:0:0:1"];

type Spec = Omit<SteerSpec, "member">;

// --- helpers ---

function u32Bytes(v: number): Uint8Array {
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}
function u32Of(text: string): number {
  return text.split(".").reduce((a, p) => a * 256 + Number(p), 0);
}
function ip6Bytes(text: string): Uint8Array {
  // Via a frame builder's parser: the test does not lean on the module's own.
  return ipv6({ src: text, dst: "::", nextHeader: 59, payload: new Uint8Array(0) }).subarray(8, 24);
}

/** Every member's program for a spec, checked as the kernel would check it. */
function programs(spec: Spec): Map<number, Insn[]> {
  const m = new Map<number, Insn[]>();
  for (let member = -1; member < spec.workers; member++) {
    const prog = decodeProgram(steerProgram({ ...spec, member }));
    checkProgram(prog);
    m.set(member, prog);
  }
  return m;
}

function acceptors(progs: Map<number, Insn[]>, frame: Uint8Array): number[] {
  return [...progs].filter(([, p]) => runProgram(p, frame) !== 0).map(([m]) => m);
}

function expected(owner: number | "all" | "none", workers: number): number[] {
  if (owner === "none") return [];
  if (owner === "all") return Array.from({ length: workers + 1 }, (_, i) => i - 1);
  return [owner];
}

/** The program and the model agree on a frame; returns the model's verdict. */
function agree(progs: Map<number, Insn[]>, spec: Spec, frame: Uint8Array): number | "all" | "none" {
  const owner = steerOwner(frame, spec);
  expect(acceptors(progs, frame)).toEqual(expected(owner, spec.workers));
  return owner;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** Deterministic PRNG (xorshift32) for the bulk tests. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

const L2: L2Opts = { ethSrc: MAC_A, ethDst: MAC_B };

function tcp4(src: string | Uint8Array, sport: number, dst: string | Uint8Array, dport: number, l2 = L2): Uint8Array {
  return ipFrame(l2, ipv4({ src, dst, proto: 6, payload: tcp({ sport, dport, flags: "S" }), fillL4Checksum: false }));
}
function udp6(src: string | Uint8Array, sport: number, dst: string | Uint8Array, dport: number, l2 = L2): Uint8Array {
  return ipFrame(l2, ipv6({ src, dst, nextHeader: 17, payload: udp({ sport, dport }), fillL4Checksum: false }));
}
function icmp6(type: number, src = "fe80::1", dst = "ff02::1", l2 = L2): Uint8Array {
  return ipFrame(l2, ipv6({ src, dst, nextHeader: 58, payload: icmp({ type, body: new Uint8Array(16) }), fillL4Checksum: false }));
}
function quote4(proto: number, src: string | Uint8Array, sport: number, dst: string | Uint8Array, dport: number, more: object = {}): Uint8Array {
  const payload = proto === 6 ? tcp({ sport, dport, flags: "A" }) : proto === 17 ? udp({ sport, dport }) : icmp({ type: 8, rest: sport });
  return ipv4({ src, dst, proto, payload, fillL4Checksum: false, ...more });
}
function quote6(proto: number, src: string | Uint8Array, sport: number, dst: string | Uint8Array, dport: number, more: object = {}): Uint8Array {
  const payload = proto === 6 ? tcp({ sport, dport, flags: "A" }) : proto === 17 ? udp({ sport, dport }) : icmp({ type: 128, rest: sport });
  return ipv6({ src, dst, nextHeader: proto, payload, fillL4Checksum: false, ...more });
}
/** An ICMPv4 message (an error: type 3, 4, 5, 11, 12) from src to dst quoting `quoted`. */
function icmpErr4(type: number, src: string | Uint8Array, dst: string | Uint8Array, quoted: Uint8Array, l2 = L2, more: object = {}): Uint8Array {
  return ipFrame(l2, ipv4({ src, dst, proto: 1, payload: icmp({ type, code: type === 3 ? 4 : 0, rest: 1400, body: quoted }), fillL4Checksum: false, ...more }));
}
/** An ICMPv6 message (an error: type 1..4) from src to dst quoting `quoted`. */
function icmpErr6(type: number, src: string | Uint8Array, dst: string | Uint8Array, quoted: Uint8Array, l2 = L2, more: object = {}): Uint8Array {
  return ipFrame(l2, ipv6({ src, dst, nextHeader: 58, payload: icmp({ type, rest: 1280, body: quoted }), fillL4Checksum: false, ...more }));
}
/** The frame with its IP protocol / next header replaced: what an ICMP message going by its own addresses hashes like. */
function withProto(frame: Uint8Array, proto: number, l3 = 14): Uint8Array {
  const f = frame.slice();
  f[l3 + (f[l3] >> 4 === 4 ? 9 : 6)] = proto;
  return f;
}
/** A quote cut to its IP header + `l4` bytes (IPv4 with its IHL, IPv6 fixed header). */
function cutQuote(q: Uint8Array, l4: number): Uint8Array {
  return q.subarray(0, (q[0] >> 4 === 4 ? 4 * (q[0] & 0xf) : 40) + l4);
}

/** An 802.1ad (S-tag) frame: an 802.1Q one with the TPID rewritten. */
function qinq(frame: Uint8Array): Uint8Array {
  const f = frame.slice();
  f[12] = 0x88;
  f[13] = 0xa8;
  return f;
}

// --- random frames ---

const reals4u = REALS4.map(u32Of);
const addr4 = fc.oneof(
  fc.constantFrom(...reals4u, u32Of(VIP4)),
  fc.constantFrom(...reals4u).chain((v) => fc.constantFrom((v + 1) >>> 0, (v - 1) >>> 0)),
  fc.integer({ min: 0, max: 0xffffffff }),
).map(u32Bytes);
const addr6 = fc.oneof(
  fc.constantFrom(...REALS6, VIP6).map(ip6Bytes),
  fc.tuple(fc.constantFrom(...REALS6).map(ip6Bytes), fc.integer({ min: 0, max: 15 })).map(([b, i]) => { const c = b.slice(); c[i] ^= 1; return c; }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);
const port = fc.integer({ min: 0, max: 65535 });
const KINDS = ["tcp4", "udp4", "icmp4", "frag4", "opts4", "gre4", "tcp6", "udp6", "icmp6", "ext6", "frag6", "arp", "other", "typed", "garbage",
  "icmperr4", "icmperr4", "icmperr6", "icmperr6"] as const;

/** A packet an ICMP error quotes: often odd (the other family, a fragment, a bad IHL, cut anywhere). */
const quoteArb = fc.record({
  kind: fc.constantFrom("tcp4", "udp4", "icmp4", "frag4", "opts4", "tcp6", "udp6", "icmp6", "ext6", "garbage"),
  a4: addr4, b4: addr4, a6: addr6, b6: addr6, sport: port, dport: port,
  fragOff: fc.constantFrom(0, 8, 0x8000), mf: fc.boolean(),
  ihl: fc.option(fc.integer({ min: 0, max: 15 }), { freq: 6 }),
  cut: fc.option(fc.nat(), { freq: 2 }),
  bytes: fc.uint8Array({ maxLength: 80 }),
}).map((q) => {
  let p: Uint8Array;
  switch (q.kind) {
    case "tcp4": p = quote4(6, q.a4, q.sport, q.b4, q.dport); break;
    case "udp4": p = quote4(17, q.a4, q.sport, q.b4, q.dport); break;
    case "icmp4": p = quote4(1, q.a4, q.sport, q.b4, q.dport); break;
    case "frag4": p = quote4(q.sport & 1 ? 6 : 17, q.a4, q.sport, q.b4, q.dport, { fragOffset: q.fragOff, mf: q.mf }); break;
    case "opts4": p = quote4(q.sport & 1 ? 6 : 17, q.a4, q.sport, q.b4, q.dport, { options: new Uint8Array(4 * (1 + (q.dport % 10))).fill(1) }); break;
    case "tcp6": p = quote6(6, q.a6, q.sport, q.b6, q.dport); break;
    case "udp6": p = quote6(17, q.a6, q.sport, q.b6, q.dport); break;
    case "icmp6": p = quote6(58, q.a6, q.sport, q.b6, q.dport); break;
    case "ext6": p = quote6(6, q.a6, q.sport, q.b6, q.dport, { extHeaders: [q.mf ? ipv6Frag({ offset: q.fragOff & 0xfff8 }) : { type: IPPROTO_HOPOPTS, data: new Uint8Array(4) }] }); break;
    case "garbage": p = q.bytes; break;
  }
  if (q.ihl !== null && p.length) { p = p.slice(); p[0] = (p[0] & 0xf0) | q.ihl; }
  return q.cut === null ? p : p.subarray(0, q.cut % (p.length + 1));
});

const frameArb = fc.record({
  kind: fc.constantFrom(...KINDS),
  a4: addr4, b4: addr4, a6: addr6, b6: addr6, sport: port, dport: port,
  icmp6Type: fc.oneof(fc.constantFrom(1, 2, 128, 129, 132, 133, 134, 135, 136, 137, 138), fc.integer({ min: 0, max: 255 })),
  arpOp: fc.constantFrom(1, 2, 3, 0x200),
  fragOff: fc.oneof(fc.constant(0), fc.constantFrom(8, 0x8000, 0xfff8), fc.integer({ min: 1, max: 0x1fff }).map((x) => x * 8)),
  mf: fc.boolean(),
  optWords: fc.integer({ min: 1, max: 10 }),
  tag: fc.constantFrom("none", "none", "8021q", "8021ad"),
  pad: fc.boolean(),
  cut: fc.option(fc.nat(), { freq: 3 }),
  bytes: fc.uint8Array({ maxLength: 80 }),
  ethertype: fc.constantFrom(0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x88cc, 0x0801),
  icmp4Type: fc.oneof(fc.constantFrom(3, 4, 5, 11, 12), fc.constantFrom(0, 2, 6, 8, 10, 13), fc.integer({ min: 0, max: 255 })),
  icmp6Err: fc.oneof(fc.constantFrom(1, 2, 3, 4), fc.constantFrom(0, 5, 128, 129, 136), fc.integer({ min: 0, max: 255 })),
  outer: fc.constantFrom("plain", "plain", "opts", "frag"),
  quote: quoteArb,
}).map((c) => {
  const l2: L2Opts = { ...L2, vlan: c.tag === "none" ? undefined : [c.sport & 0xfff], pad: c.pad };
  const l4 = c.kind.endsWith("4") || c.kind === "frag6" || c.kind === "ext6" ? tcp({ sport: c.sport, dport: c.dport, flags: "A" }) : udp({ sport: c.sport, dport: c.dport });
  const v4 = (proto: number, payload: Uint8Array, more: object = {}) =>
    ipFrame(l2, ipv4({ src: c.a4, dst: c.b4, proto, payload, fillL4Checksum: false, ...more }));
  const v6 = (nextHeader: number, payload: Uint8Array, more: object = {}) =>
    ipFrame(l2, ipv6({ src: c.a6, dst: c.b6, nextHeader, payload, fillL4Checksum: false, ...more }));
  let f: Uint8Array;
  switch (c.kind) {
    case "tcp4": f = v4(6, l4); break;
    case "udp4": f = v4(17, udp({ sport: c.sport, dport: c.dport })); break;
    case "icmp4": f = v4(1, icmp({ type: 8, rest: c.sport })); break;
    case "frag4": f = v4(c.sport & 1 ? 6 : 17, l4, { fragOffset: c.fragOff, mf: c.mf }); break;
    case "opts4": f = v4(6, l4, { options: new Uint8Array(4 * c.optWords).fill(1) }); break;
    case "gre4": f = v4(47, c.bytes); break;
    case "tcp6": f = v6(6, tcp({ sport: c.sport, dport: c.dport, flags: "S" })); break;
    case "udp6": f = v6(17, l4); break;
    case "icmp6": f = v6(58, icmp({ type: c.icmp6Type, body: c.bytes })); break;
    case "ext6": f = v6(6, l4, { extHeaders: [{ type: IPPROTO_HOPOPTS, data: new Uint8Array(4) }] }); break;
    case "frag6": f = v6(6, l4, { extHeaders: [ipv6Frag({ offset: c.fragOff & 0xfff8, more: c.mf })] }); break;
    case "icmperr4": f = v4(1, icmp({ type: c.icmp4Type, body: c.quote }),
      c.outer === "opts" ? { options: new Uint8Array(4 * c.optWords).fill(1) } : c.outer === "frag" ? { fragOffset: c.fragOff, mf: c.mf } : {}); break;
    case "icmperr6": f = v6(58, icmp({ type: c.icmp6Err, body: c.quote })); break;
    case "arp": {
      f = arp({ op: c.arpOp === 2 ? 2 : 1, sha: MAC_A, spa: c.a4, tpa: c.b4, vlan: l2.vlan });
      const at = f.length - 28 + 6;
      f[at] = c.arpOp >> 8;
      f[at + 1] = c.arpOp & 0xff;
      break;
    }
    case "other": f = ether({ dst: MAC_B, src: MAC_A, type: 0x88cc, vlan: l2.vlan, payload: c.bytes }); break;
    case "typed": f = ether({ dst: MAC_B, src: MAC_A, type: c.ethertype, vlan: l2.vlan, pad: c.pad, payload: c.bytes }); break;
    case "garbage": f = c.bytes; break;
  }
  if (c.tag === "8021ad" && c.kind !== "garbage") f = qinq(f);
  return c.cut === null ? f : f.subarray(0, c.cut % (f.length + 1));
});

// --- tests ---

const SPECS: Spec[] = [
  { workers: 1, natReals: [], byAddressOnly: false },
  { workers: 1, natReals: REALS4, byAddressOnly: true },
  { workers: 2, natReals: [], byAddressOnly: false },
  { workers: 2, natReals: REALS4, byAddressOnly: false },
  { workers: 3, natReals: [...REALS4, ...REALS6], byAddressOnly: false },
  { workers: 3, natReals: [...REALS6, ...REALS4], byAddressOnly: true },
  { workers: 4, natReals: REALS6, byAddressOnly: false },
  { workers: 4, natReals: [...REALS4, ...REALS6, REALS4[0]], byAddressOnly: true },
  { workers: 4, natReals: [REALS4[3]], byAddressOnly: false },
];
const label = (s: Spec) => `workers ${s.workers}, ${s.natReals.length} reals, ${s.byAddressOnly ? "address only" : "address+port"}`;

describe("steering programs match the model", () => {
  for (const spec of SPECS) {
    it(`random frames: ${label(spec)}`, () => {
      const progs = programs(spec);
      fc.assert(fc.property(frameArb, (f) => { agree(progs, spec, f); }), { numRuns: 1500 });
    });
  }

  it("named frames", () => {
    const spec: Spec = { workers: 4, natReals: REALS4, byAddressOnly: false };
    const progs = programs(spec);
    const vlan: L2Opts = { ...L2, vlan: [7] };
    const arpReq = arp({ op: 1, sha: MAC_A, spa: "10.9.0.1", tpa: "10.9.0.2" });
    const arpRep = arp({ op: 2, sha: MAC_A, spa: "10.9.0.1", tha: MAC_B, tpa: "10.9.0.2" });
    const cases: [string, Uint8Array, number | "all"][] = [
      ["ARP request", arpReq, 0],
      ["ARP reply", arpRep, "all"],
      ["ARP reply, 802.1Q", arp({ op: 2, sha: MAC_A, spa: "10.9.0.1", tha: MAC_B, tpa: "10.9.0.2", vlan: [5] }), "all"],
      ["ARP reply, 802.1ad", qinq(arp({ op: 2, sha: MAC_A, spa: "10.9.0.1", tha: MAC_B, tpa: "10.9.0.2", vlan: [5] })), "all"],
      ["ARP reply cut before the operation", arpRep.subarray(0, 14 + 7), 0],
      ["NDP NA", icmp6(136), "all"],
      ["NDP NA, 802.1Q", icmp6(136, "fe80::1", "ff02::1", vlan), "all"],
      ["NDP NS", icmp6(135), 0],
      ["NDP RS", icmp6(133), 0],
      ["NDP RA", icmp6(134), 0],
      ["NDP redirect", icmp6(137), 0],
      ["NA cut before its type", icmp6(136).subarray(0, 54), 0],
      ["LLDP", ether({ dst: MAC_B, src: MAC_A, type: 0x88cc, payload: new Uint8Array(30) }), 0],
      ["two VLAN tags (one is looked through)", ether({ dst: MAC_B, src: MAC_A, type: 0x0800, vlan: [1, 2], payload: new Uint8Array(40) }), 0],
      ["runt", new Uint8Array(13), 0],
      ["empty", new Uint8Array(0), 0],
      ["IPv4 header cut", tcp4("203.0.113.9", 1000, VIP4, 80).subarray(0, 14 + 19), 0],
      ["TCP ports cut", tcp4("203.0.113.9", 1000, VIP4, 80).subarray(0, 14 + 20 + 3), 0],
      ["802.1Q tag cut", Uint8Array.of(...new Uint8Array(12), 0x81, 0, 0), 0],
      ["IPv6 header cut", udp6("2001:db8::5", 9, VIP6, 53).subarray(0, 14 + 39), 0],
    ];
    for (const [name, frame, want] of cases) {
      expect(steerOwner(frame, spec), name).toBe(want);
      expect(acceptors(progs, frame), name).toEqual(expected(want, 4));
    }
    // Frames that are hashed: some worker owns them, the supervisor does not.
    const hashed = [
      tcp4("203.0.113.9", 1000, VIP4, 80),
      tcp4("203.0.113.9", 1000, VIP4, 80, vlan),
      qinq(tcp4("203.0.113.9", 1000, VIP4, 80, vlan)),
      udp6("2001:db8::5", 9, VIP6, 53),
      icmp6(128, "2001:db8::5", VIP6),
    ];
    for (const f of hashed) expect(typeof agree(progs, spec, f)).toBe("number");
    // The tag does not change the owner.
    expect(steerOwner(tcp4("203.0.113.9", 1000, VIP4, 80, vlan), spec)).toBe(steerOwner(tcp4("203.0.113.9", 1000, VIP4, 80), spec));
  });

  it("ports only from unfragmented TCP/UDP without IPv6 extension headers", () => {
    const spec: Spec = { workers: 64, natReals: [], byAddressOnly: false };
    const progs = programs(spec);
    const v4 = (proto: number, sport: number, more: object = {}) =>
      ipFrame(L2, ipv4({ src: "203.0.113.9", dst: VIP4, proto, payload: tcp({ sport, dport: 80, flags: "S" }), fillL4Checksum: false, ...more }));
    const v6 = (sport: number, more: object = {}) =>
      ipFrame(L2, ipv6({ src: "2001:db8::5", dst: VIP6, nextHeader: 6, payload: tcp({ sport, dport: 80, flags: "S" }), fillL4Checksum: false, ...more }));
    const ownersOf = (make: (p: number) => Uint8Array) => new Set(Array.from({ length: 40 }, (_, p) => agree(progs, spec, make(1000 + p))));
    expect(ownersOf((p) => v4(6, p)).size).toBeGreaterThan(1);
    expect(ownersOf((p) => v4(17, p)).size).toBeGreaterThan(1);
    expect(ownersOf((p) => v4(6, p, { mf: true })).size).toBe(1);
    expect(ownersOf((p) => v4(6, p, { options: new Uint8Array(8).fill(1) })).size).toBeGreaterThan(1);
    expect(ownersOf((p) => v6(p)).size).toBeGreaterThan(1);
    expect(ownersOf((p) => v4(6, p, { fragOffset: 8 })).size).toBe(1);
    expect(ownersOf((p) => v4(6, p, { fragOffset: 0x8000 })).size).toBe(1); // the offset's top bit
    expect(ownersOf((p) => v4(1, p)).size).toBe(1);
    expect(ownersOf((p) => v6(p, { extHeaders: [ipv6Frag({})] })).size).toBe(1);
    // A datagram's first fragment and its later ones meet (both by address only): that worker reassembles.
    expect(ownersOf((p) => v4(6, p, { fragOffset: 8 }))).toEqual(ownersOf((p) => v4(6, p, { mf: true })));
    expect(ownersOf((p) => v4(6, p, { fragOffset: 8 }))).toEqual(ownersOf((p) => v4(47, p)));
  });

  it("is deterministic", () => {
    const spec = { workers: 3, member: 1, natReals: [...REALS4, ...REALS6], byAddressOnly: false };
    expect(steerProgram(spec)).toEqual(steerProgram({ ...spec, natReals: [...spec.natReals].reverse() }));
  });
});

describe("NAT symmetry", () => {
  const v4Real = fc.constantFrom(...REALS4);
  const v6Real = fc.constantFrom(...REALS6);
  for (const byAddressOnly of [false, true]) {
    const spec: Spec = { workers: 4, natReals: [...REALS4, ...REALS6], byAddressOnly };
    const progs = programs(spec);
    const mode = byAddressOnly ? "address only" : "address+port";

    it(`IPv4, ${mode}: request and reply meet`, () => {
      fc.assert(fc.property(addr4, port, port, port, v4Real, (c, cp, vp, rp, rs) => {
        if (REALS4.includes(fmtIp(c))) return; // a real server as client is not a NAT client
        const there = agree(progs, spec, tcp4(c, cp, VIP4, vp));
        const back = agree(progs, spec, tcp4(rs, rp, c, cp));
        expect(back).toBe(there);
        // ICMP has no ports: it meets the connection's owner only by address.
        if (byAddressOnly) expect(agree(progs, spec, ipFrame(L2, ipv4({ src: rs, dst: c, proto: 1, payload: icmp({ type: 0 }) })))).toBe(there);
      }), { numRuns: 2000 });
    });

    it(`IPv6, ${mode}: request and reply meet`, () => {
      fc.assert(fc.property(addr6, port, port, port, v6Real, (c, cp, vp, rp, rs) => {
        if (REALS6.some((r) => ip6Bytes(r).every((b, i) => b === c[i]))) return;
        const there = agree(progs, spec, udp6(c, cp, VIP6, vp));
        const back = agree(progs, spec, udp6(rs, rp, c, cp, { ...L2, vlan: [9] }));
        expect(back).toBe(there);
      }), { numRuns: 2000 });
    });

    if (byAddressOnly) {
      it("every connection of a client lands on one worker", () => {
        fc.assert(fc.property(addr4, addr6, port, port, (c4, c6, p, q) => {
          expect(agree(progs, spec, tcp4(c4, p, VIP4, 80))).toBe(agree(progs, spec, tcp4(c4, q, VIP4, 443)));
          expect(agree(progs, spec, udp6(c6, p, VIP6, 53))).toBe(agree(progs, spec, udp6(c6, q, VIP6, 53)));
        }), { numRuns: 2000 });
      });
    }
  }
});

describe("ICMP errors", () => {
  const err4 = fc.constantFrom(3, 4, 5, 11, 12), err6 = fc.constantFrom(1, 2, 3, 4);
  const l4proto = fc.constantFrom(6, 17);
  const quoted = fc.integer({ min: 8, max: 20 }); // L4 bytes quoted: ICMPv4 quotes 8 at least
  const tagged = fc.constantFrom<L2Opts>(L2, { ...L2, vlan: [3] });
  const isReal6 = (c: Uint8Array) => REALS6.some((r) => ip6Bytes(r).every((b, i) => b === c[i]));

  for (const withReals of [true, false]) {
    for (const byAddressOnly of [false, true]) {
      const spec: Spec = { workers: 5, natReals: withReals ? [...REALS4, ...REALS6] : [], byAddressOnly };
      const progs = programs(spec);
      const name = `${byAddressOnly ? "address only" : "address+port"}, ${withReals ? "NAT reals" : "no NAT reals"}`;

      it(`IPv4, ${name}: an error about a connection meets it`, () => {
        fc.assert(fc.property(addr4, port, port, port, fc.constantFrom(...REALS4), addr4, err4, l4proto, quoted, tagged,
          (c, cp, vp, rp, rs, router, type, proto, keep, l2) => {
            if (REALS4.includes(fmtIp(c))) return;
            const there = agree(progs, spec, ipFrame(L2, quote4(proto, c, cp, VIP4, vp)));
            // The reply VIP → client the appliance sent, quoted back to the VIP by a router.
            expect(agree(progs, spec, icmpErr4(type, router, VIP4, cutQuote(quote4(proto, VIP4, vp, c, cp), keep), l2))).toBe(there);
            // A DR service: the real server's reply VIP → client, quoted back to the VIP by a router.
            const drThere = agree(progs, spec, ipFrame(L2, quote4(proto, c, cp, DR_VIP4, vp)));
            expect(agree(progs, spec, icmpErr4(type, router, DR_VIP4, cutQuote(quote4(proto, DR_VIP4, vp, c, cp), keep), l2))).toBe(drThere);
            if (withReals) {
              // The forwarded client → real server packet, quoted back to the client by the real server or a router.
              for (const from of [rs, router]) {
                expect(agree(progs, spec, icmpErr4(type, from, c, cutQuote(quote4(proto, c, cp, rs, rp), keep), l2))).toBe(there);
              }
            }
          }), { numRuns: 400 });
      });

      it(`IPv6, ${name}: an error about a connection meets it`, () => {
        fc.assert(fc.property(addr6, port, port, port, fc.constantFrom(...REALS6), addr6, err6, l4proto, fc.option(quoted), tagged,
          (c, cp, vp, rp, rs, router, type, proto, keep, l2) => {
            if (isReal6(c)) return;
            const q = (p: Uint8Array) => (keep === null ? p : cutQuote(p, keep)); // ICMPv6 quotes as much as fits in 1280 bytes
            const there = agree(progs, spec, ipFrame(L2, quote6(proto, c, cp, VIP6, vp)));
            expect(agree(progs, spec, icmpErr6(type, router, VIP6, q(quote6(proto, VIP6, vp, c, cp)), l2))).toBe(there);
            const drThere = agree(progs, spec, ipFrame(L2, quote6(proto, c, cp, DR_VIP6, vp)));
            expect(agree(progs, spec, icmpErr6(type, router, DR_VIP6, q(quote6(proto, DR_VIP6, vp, c, cp)), l2))).toBe(drThere);
            if (withReals) {
              for (const from of [rs, router]) {
                expect(agree(progs, spec, icmpErr6(type, from, c, q(quote6(proto, c, cp, rs, rp)), l2))).toBe(there);
              }
            }
          }), { numRuns: 400 });
      });
    }
  }

  for (const byAddressOnly of [false, true]) {
    it(`other ICMP, and errors whose quote cannot be followed, go by their own addresses: ${byAddressOnly ? "address only" : "address+port"}`, () => {
      const spec: Spec = { workers: 5, natReals: [...REALS4, ...REALS6], byAddressOnly };
      const progs = programs(spec);
      // Going by its own addresses, an ICMP frame hashes as the same frame of a portless protocol would (GRE, no next header).
      const byOwn4 = (f: Uint8Array) => expect(agree(progs, spec, f)).toBe(steerOwner(withProto(f, 47), spec));
      const byOwn6 = (f: Uint8Array) => expect(agree(progs, spec, f)).toBe(steerOwner(withProto(f, 59), spec));
      const other4 = fc.oneof(fc.constantFrom(0, 8, 9, 10, 13, 14), fc.integer({ min: 0, max: 255 }).filter((t) => ![3, 4, 5, 11, 12].includes(t)));
      const other6 = fc.oneof(fc.constantFrom(0, 5, 127, 128, 129, 130, 138, 255), fc.integer({ min: 0, max: 255 }).filter((t) => t > 4 && (t < 133 || t > 137)));
      fc.assert(fc.property(addr4, addr4, addr4, addr4, addr6, addr6, addr6, addr6, port, port, other4, other6, err4, err6, fc.nat(19), fc.nat(39), fc.nat(15),
        (a4, b4, c4, d4, a6, b6, c6, d6, p, q, t4, t6, e4, e6, cut4, cut6, version) => {
          const inner4 = quote4(6, c4, p, d4, q), inner6 = quote6(17, c6, p, d6, q);
          // Echo requests and replies, and any other ICMP message, with what looks like a quote.
          byOwn4(icmpErr4(t4, a4, b4, inner4));
          byOwn4(ipFrame(L2, ipv4({ src: a4, dst: b4, proto: 1, payload: icmp({ type: t4 & 1 ? 0 : 8, rest: p, body: inner4 }), fillL4Checksum: false })));
          byOwn6(icmpErr6(t6, a6, b6, inner6));
          byOwn6(ipFrame(L2, ipv6({ src: a6, dst: b6, nextHeader: 58, payload: icmp({ type: t6 & 1 ? 129 : 128, rest: p, body: inner6 }), fillL4Checksum: false })));
          // Errors in an IPv4 fragment (its ICMP header is where a first fragment has it, or not).
          byOwn4(icmpErr4(e4, a4, b4, inner4, L2, { mf: true }));
          byOwn4(icmpErr4(e4, a4, b4, inner4, L2, { fragOffset: 8 * (1 + (p & 0xff)) }));
          // Quotes of the other family, or of none.
          byOwn4(icmpErr4(e4, a4, b4, inner6));
          byOwn6(icmpErr6(e6, a6, b6, inner4));
          const odd = (inner: Uint8Array) => { const x = inner.slice(); x[0] = (version << 4) | (x[0] & 0xf); return x; };
          if (version !== 4) byOwn4(icmpErr4(e4, a4, b4, odd(inner4)));
          if (version !== 6) byOwn6(icmpErr6(e6, a6, b6, odd(inner6)));
          // Quotes cut inside their fixed IP header, and errors cut before their ICMP type.
          byOwn4(icmpErr4(e4, a4, b4, inner4.subarray(0, cut4)));
          byOwn6(icmpErr6(e6, a6, b6, inner6.subarray(0, cut6)));
          byOwn4(icmpErr4(e4, a4, b4, inner4).subarray(0, 14 + 20 + (cut4 % 8)));
        }), { numRuns: 400 });
    });
  }

  it("named quotes", () => {
    const spec: Spec = { workers: 64, natReals: [...REALS4, ...REALS6], byAddressOnly: false };
    const progs = programs(spec);
    const c4 = "203.0.113.9", c6 = "2001:db8::9", router4 = "192.0.2.1", router6 = "2001:db8:ffff::1";
    const own4 = ipFrame(L2, quote4(6, c4, 40000, VIP4, 80)), own6 = ipFrame(L2, quote6(17, c6, 40001, VIP6, 53));
    const there4 = agree(progs, spec, own4), there6 = agree(progs, spec, own6);
    // The client's address with no port (as its fragments go).
    const addr4only = agree(progs, spec, withProto(own4, 47)), addr6only = agree(progs, spec, withProto(own6, 59));
    expect(there4).not.toBe(addr4only);
    expect(there6).not.toBe(addr6only);
    const reply4 = quote4(6, VIP4, 80, c4, 40000), reply6 = quote6(17, VIP6, 53, c6, 40001);
    const cases: [string, Uint8Array, ReturnType<typeof steerOwner>][] = [
      ["v4: frag needed, 8 bytes of TCP", icmpErr4(3, router4, VIP4, cutQuote(reply4, 8)), there4],
      ["v4: the whole TCP header", icmpErr4(3, router4, VIP4, reply4), there4],
      ["v4: a quote with IP options", icmpErr4(11, router4, VIP4, cutQuote(quote4(6, VIP4, 80, c4, 40000, { options: new Uint8Array(8).fill(1) }), 8)), there4],
      ["v4: an error with IP options", icmpErr4(3, router4, VIP4, cutQuote(reply4, 8), L2, { options: new Uint8Array(12).fill(1) }), there4],
      ["v4: 802.1Q", icmpErr4(3, router4, VIP4, cutQuote(reply4, 8), { ...L2, vlan: [7] }), there4],
      ["v4: 802.1ad", qinq(icmpErr4(3, router4, VIP4, cutQuote(reply4, 8), { ...L2, vlan: [7] })), there4],
      ["v4: DF set on the error", icmpErr4(3, router4, VIP4, cutQuote(reply4, 8), L2, { df: true }), there4],
      ["v4: the quote ends inside the ports", icmpErr4(3, router4, VIP4, cutQuote(reply4, 3)), addr4only],
      ["v4: the quote ends right after the ports", icmpErr4(3, router4, VIP4, cutQuote(reply4, 4)), there4],
      ["v4: the quote ends after its header", icmpErr4(3, router4, VIP4, cutQuote(reply4, 0)), addr4only],
      ["v4: a quoted fragment (MF)", icmpErr4(3, router4, VIP4, quote4(6, VIP4, 80, c4, 40000, { mf: true })), addr4only],
      ["v4: a quoted fragment (offset)", icmpErr4(3, router4, VIP4, quote4(6, VIP4, 80, c4, 40000, { fragOffset: 8 })), addr4only],
      ["v4: a quoted echo reply", icmpErr4(3, router4, VIP4, quote4(1, VIP4, 80, c4, 40000)), addr4only],
      ["v4: a quoted forwarded packet", icmpErr4(3, REALS4[2], c4, cutQuote(quote4(6, c4, 40000, REALS4[2], 8080), 8)), there4],
      ["v6: packet too big", icmpErr6(2, router6, VIP6, reply6), there6],
      ["v6: 8 bytes of UDP", icmpErr6(1, router6, VIP6, cutQuote(reply6, 8)), there6],
      ["v6: 802.1Q", icmpErr6(3, router6, VIP6, reply6, { ...L2, vlan: [7] }), there6],
      ["v6: the quote ends inside the ports", icmpErr6(2, router6, VIP6, cutQuote(reply6, 3)), addr6only],
      ["v6: the quote ends right after the ports", icmpErr6(2, router6, VIP6, cutQuote(reply6, 4)), there6],
      ["v6: a quote with an extension header", icmpErr6(2, router6, VIP6, quote6(17, VIP6, 53, c6, 40001, { extHeaders: [{ type: IPPROTO_HOPOPTS, data: new Uint8Array(4) }] })), addr6only],
      ["v6: a quoted echo reply", icmpErr6(1, router6, VIP6, quote6(58, VIP6, 53, c6, 40001)), addr6only],
      ["v6: a quoted forwarded packet", icmpErr6(4, REALS6[1], c6, quote6(17, c6, 40001, REALS6[1], 5353)), there6],
    ];
    for (const [name, frame, want] of cases) {
      expect(steerOwner(frame, spec), name).toBe(want);
      expect(typeof want, name).toBe("number");
      expect(acceptors(progs, frame), name).toEqual(expected(want, spec.workers));
    }
    // An error about an ICMP error (a quote of a quote) goes by the first quote, like any ICMP it quotes.
    const nested = icmpErr4(3, router4, VIP4, ipv4({ src: VIP4, dst: c4, proto: 1, payload: icmp({ type: 3, body: cutQuote(quote4(6, c4, 1, router4, 2), 8) }), fillL4Checksum: false }));
    expect(agree(progs, spec, nested)).toBe(addr4only);
    // Odd quoted IHLs (the ports are looked for where the IHL puts them) and garbage: the program agrees with the model.
    for (let ihl = 0; ihl < 16; ihl++) {
      const q = quote4(6, VIP4, 80, c4, 40000, { options: new Uint8Array(40).fill(1) });
      q[0] = 0x40 | ihl;
      for (const keep of [20, 24, 4 * ihl + 3, 4 * ihl + 4, q.length]) agree(progs, spec, icmpErr4(3, router4, VIP4, q.subarray(0, keep)));
    }
  });
});

describe("spread", () => {
  const N = 10000;
  const shares = (spec: Spec, frame: (r: () => number) => Uint8Array, seed: number) => {
    const r = rng(seed);
    const n = new Array<number>(spec.workers).fill(0);
    for (let i = 0; i < N; i++) n[steerOwner(frame(r), spec) as number]++;
    return n.map((x) => x / N);
  };
  const cases: [string, Spec, (r: () => number) => Uint8Array][] = [
    ["IPv4 clients, address+port", { workers: 4, natReals: REALS4, byAddressOnly: false }, (r) => tcp4(u32Bytes(r()), r() & 0xffff, VIP4, 80)],
    ["IPv4 clients, address only", { workers: 4, natReals: REALS4, byAddressOnly: true }, (r) => tcp4(u32Bytes(r()), r() & 0xffff, VIP4, 80)],
    ["IPv4 clients in one /16, address only", { workers: 4, natReals: [], byAddressOnly: true }, (r) => tcp4(u32Bytes(0xc6336400 + (r() & 0xffff)), 1, VIP4, 80)],
    ["one IPv4 client, many ports", { workers: 4, natReals: [], byAddressOnly: false }, (r) => tcp4("203.0.113.9", r() & 0xffff, VIP4, 80)],
    ["IPv6 clients, address+port", { workers: 4, natReals: REALS6, byAddressOnly: false }, (r) => udp6(Uint8Array.from({ length: 16 }, () => r() & 0xff), r() & 0xffff, VIP6, 53)],
    ["IPv6 clients in one /64, address only", { workers: 4, natReals: [], byAddressOnly: true },
      (r) => udp6(Uint8Array.from({ length: 16 }, (_, i) => (i < 8 ? 0x20 + i : r() & 0xff)), 1, VIP6, 53)],
  ];
  for (const [name, spec, frame] of cases) {
    it(name, () => {
      for (const s of shares(spec, frame, 12345)) {
        expect(s).toBeGreaterThan(0.2);
        expect(s).toBeLessThan(0.3);
      }
      // The programs agree on a sample.
      const progs = programs(spec);
      const r = rng(777);
      for (let i = 0; i < 300; i++) agree(progs, spec, frame(r));
    });
  }
});

// --- dense pools of IPv4 NAT reals ---

/** 198.19.d.x, d < 10, x in 1..250: the B9 benchmark's 2,500 real servers. */
const B9_REALS = Array.from({ length: 2500 }, (_, i) => `198.19.${Math.floor(i / 250)}.${1 + (i % 250)}`);
/** n random last octets (of 256) in each of the /24s prefixes. */
function randomPools(prefixes: number[], n: number, seed: number): number[] {
  const r = rng(seed);
  return prefixes.flatMap((p) => {
    const xs = new Set<number>();
    while (xs.size < n) xs.add(r() & 0xff);
    return [...xs].map((x) => ((p << 8) | x) >>> 0);
  });
}
const p24 = (text: string) => u32Of(`${text}.0`) >>> 8;
/** Every address of the /24s from..to (prefixes). */
function sweep24(from: number, to: number): number[] {
  const out: number[] = [];
  for (let p = from; p <= to; p++) for (let x = 0; x < 256; x++) out.push(((p << 8) | x) >>> 0);
  return out;
}
/** Octets at the bitmaps' and /24s' edges, with their neighbours. */
const EDGE_OCTETS = [0, 1, 30, 31, 32, 33, 63, 64, 95, 96, 127, 128, 159, 160, 191, 192, 223, 224, 254, 255];

/**
 * Mixed dense and sparse groups: whole /24s, random-density /24s (bitmaps),
 * every other address, runs crossing blocks and /24s, lone addresses at the
 * boundary octets, pairs, and both ends of the address space.
 */
function mixedReals(): number[] {
  const v: number[] = [];
  const at = (p: number, xs: Iterable<number>) => { for (const x of xs) v.push(((p << 8) | x) >>> 0); };
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  at(p24("10.0.0"), range(0, 255)); // a whole /24
  at(p24("10.0.1"), [0, 31, 32, 255]); // boundary octets alone, 0 next to the full /24 before
  at(p24("10.0.2"), range(0, 127).filter((x) => x % 2 === 0)); // every other address: bitmaps with 16 runs
  at(p24("10.0.3"), [0, 2, 4, 31, 32, 34, 36, 63, 200, 201, 202, 254, 255]); // bitmaps at the edges of blocks
  at(p24("10.0.4"), [...range(20, 40), ...range(250, 255)]); // a run across a block boundary, one into the next /24
  at(p24("10.0.5"), [...range(0, 5), 7, 9, 128]);
  at(p24("10.0.7"), [31, 32]); // a pair across a block boundary
  at(p24("10.0.9"), [5]);
  v.push(...randomPools([p24("10.0.12"), p24("10.0.13"), p24("10.0.20")], 100, 3)); // half-full, random
  v.push(...randomPools([p24("10.0.14")], 250, 4));
  at(p24("10.0.40"), range(0, 31)); // one full block
  at(p24("10.0.41"), range(224, 255));
  at(0, [0, 1, 3, 5, 31]); // 0.0.0.0: a bitmap at the bottom of the address space
  at(0xffffff, [200, 202, 204, 255]); // and at the top
  at(p24("172.16.9"), [77]);
  at(p24("192.0.2"), [0, 255]);
  // A bitmap block with a real two after its end or two before its start: the
  // search knows A is at most / at least one past the block, and still has to
  // look (in several tree shapes: k more reals after).
  for (let k = 0; k < 8; k++) {
    at(p24("10.0.60") + k, [0, 2, 4, 6, 33, ...range(0, k - 1).map((i) => 40 + 2 * i)]);
    at(p24("10.0.70") + k, [...range(0, k - 1).map((i) => 2 + 32 * i), 222, 224, 226, 228, 255]);
    at(p24("10.0.80") + k, [30, 32, 34, 36, 63, ...range(0, k - 1).map((i) => 100 + 2 * i)]);
  }
  return v;
}
const MIXED_REALS = mixedReals();

/** Probes: the reals, and every address of the /24s holding any (and of the /24s either side). */
function sweepAround(reals: number[]): number[] {
  const ps = new Set(reals.map((v) => v >>> 8));
  const out = new Set<number>(reals);
  for (const p of ps) for (const q of [p - 1, p, p + 1]) if (q >= 0 && q <= 0xffffff) for (const v of sweep24(q, q)) out.add(v);
  return [...out];
}

/**
 * Every probe address is classified like the model by every member's program,
 * in both modes: as the source of a reply (the client is its destination when
 * it is a real), of a request (never a reply: the client is its source), and
 * as the destination of a packet an ICMP error quotes (forwarded to a real:
 * the client is the quote's source).
 */
function classifyAll(reals: number[], probes: number[], workers = 3): void {
  const set = new Set(reals);
  const client = "203.0.113.77";
  for (const byAddressOnly of [false, true]) {
    const spec: Spec = { workers, natReals: [...reals.map((v) => fmtIp(u32Bytes(v))), ...REALS6], byAddressOnly };
    const progs = programs(spec);
    const none: Spec = { ...spec, natReals: [] };
    const there = agree(progs, spec, tcp4(client, 40000, VIP4, 80));
    for (const v of probes) {
      const b = u32Bytes(v);
      const reply = tcp4(b, 80, client, 40000), error = icmpErr4(3, b, client, cutQuote(quote4(6, client, 40000, b, 80), 8));
      for (const f of [reply, error]) {
        const got = agree(progs, spec, f);
        if (set.has(v)) expect(got, fmtIp(b)).toBe(there);
        else expect(got, fmtIp(b)).toBe(steerOwner(f, none));
      }
      const request = tcp4(client, 40000, b, 80);
      expect(agree(progs, spec, request), fmtIp(b)).toBe(there);
    }
  }
}

/** Frames whose addresses are near a pool of reals: the reals, their neighbours, their /24s. */
function poolFrameArb(reals: number[]) {
  const near = fc.oneof(
    fc.constantFrom(...reals),
    fc.tuple(fc.constantFrom(...reals), fc.integer({ min: -33, max: 33 })).map(([v, d]) => (v + d) >>> 0),
    fc.tuple(fc.constantFrom(...reals), fc.integer({ min: 0, max: 255 })).map(([v, x]) => ((v & ~0xff) | x) >>> 0),
    fc.integer({ min: 0, max: 0xffffffff }),
  ).map(u32Bytes);
  return fc.record({ kind: fc.constantFrom("reply", "request", "error", "echo", "udp"), a: near, b: near, sport: port, dport: port, type: fc.constantFrom(3, 11, 8) })
    .map(({ kind, a, b, sport, dport, type }) => {
      switch (kind) {
        case "reply": return tcp4(a, sport, b, dport);
        case "request": return tcp4(b, sport, a, dport);
        case "error": return icmpErr4(type, a, b, cutQuote(quote4(17, b, sport, a, dport), 8));
        case "echo": return ipFrame(L2, quote4(1, a, sport, b, dport));
        default: return ipFrame(L2, quote4(17, a, sport, b, dport));
      }
    });
}

describe("dense IPv4 NAT real pools", () => {
  it("the B9 shape: 2500 reals in 10 /24s", () => {
    classifyAll(u32Reals(B9_REALS), sweep24(p24("198.19.0") - 1, p24("198.19.10")));
  });

  it("20000 reals in 100 /24s (200 random of each)", () => {
    const prefixes = Array.from({ length: 100 }, (_, i) => p24("10.64.0") + 2 * i); // every other /24
    const reals = randomPools(prefixes, 200, 11);
    const r = rng(12);
    // (The model keys its cache by the whole list: keep the probes few.)
    const probes = new Set<number>([
      ...sweep24(prefixes[0] - 1, prefixes[0] + 1),
      ...prefixes.flatMap((p) => [-2, -1, 0, 1, 31, 32, 255, 256, 257].map((d) => ((p << 8) + d) >>> 0)),
    ]);
    for (let i = 0; i < 200; i++) {
      const v = reals[r() % reals.length];
      for (const d of [-1, 0, 1]) probes.add((v + d) >>> 0);
    }
    classifyAll(reals, [...probes], 2);
  });

  it("a full /24", () => {
    const reals = sweep24(p24("100.64.7"), p24("100.64.7"));
    classifyAll(reals, sweepAround(reals));
  });

  it("mixed dense and sparse groups, boundary octets and their neighbours", () => {
    classifyAll(MIXED_REALS, sweepAround(MIXED_REALS));
  });

  it("boundary octets 0, 31, 32, 255 alone, and in dense /24s", () => {
    const alone = [0, 31, 32, 255].map((x) => ((p24("10.9.9") << 8) | x) >>> 0);
    const dense = randomPools([p24("10.9.11")], 180, 21).filter((v) => !EDGE_OCTETS.includes(v & 0xff));
    for (const x of [0, 31, 32, 255]) dense.push(((p24("10.9.11") << 8) | x) >>> 0);
    const reals = [...alone, ...dense];
    classifyAll(reals, sweepAround(reals));
    // And each edge octet missing from an otherwise full /24.
    for (const x of [0, 31, 32, 255]) {
      const holed = sweep24(p24("10.9.13"), p24("10.9.13")).filter((v) => (v & 0xff) !== x);
      classifyAll(holed, [...EDGE_OCTETS.map((o) => ((p24("10.9.13") << 8) | o) >>> 0), ((p24("10.9.13") << 8) - 1) >>> 0, ((p24("10.9.14") << 8)) >>> 0], 2);
    }
  });

  for (const [name, reals] of [["B9", u32Reals(B9_REALS)], ["mixed", MIXED_REALS]] as const) {
    it(`random frames near the pool: ${name}`, () => {
      for (const byAddressOnly of [false, true]) {
        const spec: Spec = { workers: 4, natReals: reals.map((v) => fmtIp(u32Bytes(v))), byAddressOnly };
        const progs = programs(spec);
        fc.assert(fc.property(poolFrameArb(reals), (f) => { agree(progs, spec, f); }), { numRuns: 400 });
        fc.assert(fc.property(frameArb, (f) => { agree(progs, spec, f); }), { numRuns: 150 });
      }
    });
  }
});

function u32Reals(texts: string[]): number[] {
  return texts.map(u32Of);
}

describe("size limit", () => {
  const distinct = (n: number, seed: number) => {
    const r = rng(seed);
    const s = new Set<number>();
    while (s.size < n) s.add(r());
    return [...s];
  };

  it("1000 IPv4 NAT reals fit, with long jumps, and classify", () => {
    const reals = distinct(1000, 99);
    const spec: Spec = { workers: 2, natReals: reals.map((v) => fmtIp(u32Bytes(v))), byAddressOnly: false };
    const progs = programs(spec);
    const worker0 = progs.get(0)!;
    expect(worker0.length).toBeLessThanOrEqual(4096);
    expect(worker0.some((i) => i.code === 0x05 && i.k > 255)).toBe(true);
    const client = "203.0.113.77";
    const there = agree(progs, spec, tcp4(client, 40000, VIP4, 80));
    const set = new Set(reals);
    // An error quoting the forwarded client → real server packet (the tree again, for the quote's destination).
    const error = (rs: Uint8Array) => icmpErr4(3, rs, client, cutQuote(quote4(6, client, 40000, rs, 80), 8));
    for (const v of reals) {
      // Each real's reply is recognised as NAT (meets the request); its neighbours' are not.
      expect(agree(progs, spec, tcp4(u32Bytes(v), 80, client, 40000))).toBe(there);
      expect(agree(progs, spec, error(u32Bytes(v)))).toBe(there);
      for (const n of [(v + 1) >>> 0, (v - 1) >>> 0]) {
        if (set.has(n)) continue;
        for (const f of [tcp4(u32Bytes(n), 80, client, 40000), error(u32Bytes(n))]) {
          expect(agree(progs, spec, f)).toBe(steerOwner(f, { ...spec, natReals: [] }));
        }
      }
    }
    // Random frames through the big program too.
    fc.assert(fc.property(frameArb, (f) => { agree(progs, spec, f); }), { numRuns: 500 });
  });

  it("300 IPv6 NAT reals fit and classify", () => {
    const r = rng(5);
    const reals = Array.from({ length: 300 }, () => fmtIp(Uint8Array.from({ length: 16 }, () => r() & 0xff)));
    const spec: Spec = { workers: 3, natReals: reals, byAddressOnly: false };
    const progs = programs(spec);
    const there = agree(progs, spec, udp6("2001:db8::77", 5000, VIP6, 53));
    for (const rs of reals) {
      expect(agree(progs, spec, udp6(rs, 53, "2001:db8::77", 5000))).toBe(there);
      expect(agree(progs, spec, icmpErr6(1, rs, "2001:db8::77", quote6(17, "2001:db8::77", 5000, rs, 53)))).toBe(there);
    }
  });

  it("the ceiling: about 2450 isolated IPv4 NAT reals", () => {
    // Measured: 2447 fit in address+port mode, 2465 by address only (random addresses, next to none adjacent).
    const fit = distinct(2400, 7).map((v) => fmtIp(u32Bytes(v)));
    const over = distinct(2500, 7).map((v) => fmtIp(u32Bytes(v)));
    for (const byAddressOnly of [false, true]) {
      const prog = decodeProgram(steerProgram({ workers: 2, member: 1, natReals: fit, byAddressOnly }));
      checkProgram(prog);
      expect(prog.length).toBeGreaterThan(3900);
      expect(codeOf(() => steerProgram({ workers: 2, member: 1, natReals: over, byAddressOnly }))).toBe("WEIR_ERR_STEER_TOO_LARGE");
    }
  });

  it("3000 IPv4 NAT reals are too many", () => {
    const natReals = distinct(3000, 7).map((v) => fmtIp(u32Bytes(v)));
    let err: unknown;
    try {
      steerProgram({ workers: 2, member: 0, natReals, byAddressOnly: false });
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe("WEIR_ERR_STEER_TOO_LARGE");
    expect((err as Error).message).toContain("3000 NAT real-server addresses (3000 IPv4 in ");
    // The supervisor's program never carries the reals.
    expect(steerProgram({ workers: 2, member: -1, natReals, byAddressOnly: false }).length / 8).toBeLessThan(40);
  });

  it("dense pools: 32000 IPv4 NAT reals in 160 /24s fit, 170 /24s of them are too many", () => {
    // Measured: 160 /24s of 200 random addresses each fit (about 25 instructions a /24).
    const prefixes = Array.from({ length: 170 }, (_, i) => (u32Of("10.128.0.0") >>> 8) + i);
    const pools = randomPools(prefixes, 200, 31).map((v) => fmtIp(u32Bytes(v)));
    for (const byAddressOnly of [false, true]) {
      const prog = decodeProgram(steerProgram({ workers: 2, member: 1, natReals: pools.slice(0, 160 * 200), byAddressOnly }));
      checkProgram(prog);
      expect(prog.length).toBeGreaterThan(3900);
      let err: unknown;
      try {
        steerProgram({ workers: 2, member: 1, natReals: pools, byAddressOnly });
      } catch (e) {
        err = e;
      }
      expect((err as { code?: string }).code).toBe("WEIR_ERR_STEER_TOO_LARGE");
      expect((err as Error).message).toContain("34000 NAT real-server addresses (34000 IPv4 in 170 /24 networks, 0 IPv6)");
    }
  });

  it("program sizes", () => {
    const size = (natReals: string[]) => steerProgram({ workers: 2, member: 0, natReals, byAddressOnly: false }).length / 8;
    const ips = (v: number[]) => v.map((x) => fmtIp(u32Bytes(x)));
    // About 1.5 instructions per run of consecutive IPv4 reals, plus a few
    // trampolines in a big tree (one tree: a quote's destination is looked up
    // in the same one); about 3 per 32-address block holding 3 runs or more.
    // Measured (2 workers, address+port): no reals 183, REALS4 197, 1000 random
    // 1712, 1000 one per /24 1712, B9 205, 20000 in 100 /24s (x.x.d.1..200) 388,
    // 20000 in 100 /24s (200 random octets each) 2624.
    const base = size([]);
    expect(base).toBeLessThan(200);
    expect(size(REALS4) - base).toBeLessThanOrEqual(2 * REALS4.length + 2);
    expect(size(ips(distinct(1000, 99)))).toBeLessThan(1750);
    expect(size(ips(Array.from({ length: 1000 }, (_, i) => u32Of("10.0.0.0") + 256 * i + 1 + (i % 254))))).toBeLessThan(1750);
    expect(size(B9_REALS) - base).toBeLessThan(40);
    const contiguous = Array.from({ length: 100 }, (_, d) => Array.from({ length: 200 }, (_, x) => `10.${d >> 4}.${d}.${x + 1}`)).flat();
    expect(size(contiguous) - base).toBeLessThan(300);
    expect(size(ips(randomPools(Array.from({ length: 100 }, (_, i) => (u32Of("10.20.0.0") >>> 8) + i), 200, 3))) - base).toBeLessThan(100 * 30);
  });
});

describe("bad specs", () => {
  const ok: SteerSpec = { workers: 2, member: 0, natReals: [], byAddressOnly: false };
  it("are refused", () => {
    for (const workers of [0, 65, -1, 1.5, NaN]) {
      expect(codeOf(() => steerProgram({ ...ok, workers })), `workers ${workers}`).toBe("WEIR_ERR_STEER");
      expect(codeOf(() => steerOwner(new Uint8Array(60), { ...ok, workers })), `workers ${workers}`).toBe("WEIR_ERR_STEER");
    }
    for (const member of [-2, 2, 0.5, NaN]) expect(codeOf(() => steerProgram({ ...ok, member })), `member ${member}`).toBe("WEIR_ERR_STEER");
    expect(codeOf(() => steerProgram({ ...ok, workers: 64, member: 63 }))).toBeUndefined();
    expect(codeOf(() => steerProgram({ ...ok, natReals: ["10.0.0.300"] }))).toBe("WEIR_ERR_BAD_ADDRESS");
  });
});
