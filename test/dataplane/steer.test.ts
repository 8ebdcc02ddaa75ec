// Steering filters for data-plane workers (src/dataplane/steer.ts): every
// member's cBPF program, run by the interpreter in test/helpers/cbpf.ts with
// the kernel's semantics, must accept exactly the frames steerOwner gives it:
//   - random frames (TCP/UDP/ICMP over IPv4/IPv6, fragments, options,
//     extension headers, ARP, NDP, other ethertypes, garbage; untagged,
//     802.1Q or 802.1ad; whole or truncated) over several specs;
//   - both directions of a NAT connection land on the same worker, and in
//     address-only mode every connection of a client does;
//   - random clients spread evenly;
//   - the size limit, and long jumps in a program near it;
//   - bad specs are refused.

import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  arp, ether, icmp, ipFrame, ipv4, ipv6, ipv6Frag, tcp, udp, fmtIp, IPPROTO_HOPOPTS, type L2Opts,
} from "../helpers/frames.js";
import { checkProgram, decodeProgram, runProgram, type Insn } from "../helpers/cbpf.js";
import { steerOwner, steerProgram, type SteerSpec } from "../../src/dataplane/steer.js";

const MAC_A = "02:00:00:00:00:01", MAC_B = "02:00:00:00:00:02";
const VIP4 = "198.18.0.10", VIP6 = "2001:db8:100::10";
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
const KINDS = ["tcp4", "udp4", "icmp4", "frag4", "opts4", "gre4", "tcp6", "udp6", "icmp6", "ext6", "frag6", "arp", "other", "typed", "garbage"] as const;

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
    for (const v of reals) {
      // Each real's reply is recognised as NAT (meets the request); its neighbours' are not.
      expect(agree(progs, spec, tcp4(u32Bytes(v), 80, client, 40000))).toBe(there);
      for (const n of [(v + 1) >>> 0, (v - 1) >>> 0]) {
        if (set.has(n)) continue;
        const f = tcp4(u32Bytes(n), 80, client, 40000);
        expect(agree(progs, spec, f)).toBe(steerOwner(f, { ...spec, natReals: [] }));
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
    for (const rs of reals) expect(agree(progs, spec, udp6(rs, 53, "2001:db8::77", 5000))).toBe(there);
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
    expect((err as Error).message).toContain("3000 NAT real-server addresses");
    // The supervisor's program never carries the reals.
    expect(steerProgram({ workers: 2, member: -1, natReals, byAddressOnly: false }).length / 8).toBeLessThan(40);
  });

  it("program sizes", () => {
    const size = (natReals: string[]) => steerProgram({ workers: 2, member: 0, natReals, byAddressOnly: false }).length / 8;
    // About 1.5 instructions per IPv4 real, plus a few trampolines in a big tree.
    expect(size([])).toBeLessThan(128);
    expect(size(REALS4) - size([])).toBeLessThanOrEqual(2 * REALS4.length + 2);
    expect(size(distinct(1000, 99).map((v) => fmtIp(u32Bytes(v))))).toBeLessThan(1700);
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
