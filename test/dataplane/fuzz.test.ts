// Property tests over the debug build (assertions on): random bytes, and
// valid frames from frames.ts mutated by byte flips and truncations, run in
// batches through a data plane with NAT, DR, TUN, UDP, one-packet, fwmark and
// IPv6 services. For every batch:
//   - runBatch never throws or traps;
//   - nothing outside each output slot changes: guard bytes around the
//     slots, the input frames and the descriptors' input fields stay as they were;
//   - a TX output is no longer than its slot and goes to a real link;
//   - every frame has one verdict; each drop reason counter rises by exactly
//     the number of frames reporting that reason, and every DROP has one;
//   - a TX output passes verifyChecksums whenever the input frame did.

import { describe, it, expect, beforeAll } from "vitest";
import fc from "fast-check";
import { makeAppliance, type Appliance, CLIENT, CLIENT6, CLIENT_MAC, LB0_MAC, LB1_MAC, VIP, VIP6, RS, RS6, RS_MAC } from "../helpers/appliance.js";
import {
  arp, concat, icmp4Echo, icmp4Error, icmp6Echo, ipFrame, ipv4, ipv6, ipv6Frag, ipv6Routing, tcp, tcp4Frame, tcp6Frame, udp,
  udp4Frame, udp6Frame, verifyChecksums, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, type ExtHeader,
} from "../helpers/frames.js";
import type { DescLayout } from "../../src/dataplane/layout.js";

const MAIL_VIP = "198.18.100.2";
const MAX_BATCH = 8;
const IN_SIZE = 2048;
const OUT_MAX = 2048;
const GUARD = 64;
const SLOT = IN_SIZE + GUARD + OUT_MAX + GUARD;
const GUARD_BYTE = (k: number, j: number) => (0xa5 ^ (k * 31 + j * 7)) & 0xff;

let a: Appliance;
/** The batch descriptor's offsets, as the data plane declares them. */
let DESC: DescLayout;
let descBase = 0;
let slotBase = 0;
let reasonNames: string[] = [];
let now = 1000;
/** What the runs reached: "tx", "local", and drop reason names. */
const seen = new Map<string, number>();

beforeAll(async () => {
  a = await makeAppliance({ debug: true, connCapacity: 512, connCapacity6: 128 });
  const dp = a.dp;
  dp.transaction((tx) => {
    const web = { proto: "tcp", addr: VIP, port: 80 } as const;
    tx.addService(web, { scheduler: "rr" });
    tx.addDest(web, { addr: RS[0], port: 8080, fwd: "nat" });
    tx.addDest(web, { addr: RS[1], port: 8080, fwd: "nat" });
    const tls = { proto: "tcp", addr: VIP, port: 443 } as const;
    tx.addService(tls, { scheduler: "rr", persistent: 30, netmask: 24 });
    tx.addDest(tls, { addr: RS[2], fwd: "dr" });
    tx.addDest(tls, { addr: RS[0], fwd: "dr" });
    const tun = { proto: "tcp", addr: VIP, port: 8443 } as const;
    tx.addService(tun, { scheduler: "rr" });
    tx.addDest(tun, { addr: RS[1], fwd: "tun" });
    const dns = { proto: "udp", addr: VIP, port: 53 } as const;
    tx.addService(dns, { scheduler: "rr", persistent: 60 });
    tx.addDest(dns, { addr: RS[0], port: 53, fwd: "nat" });
    const syslog = { proto: "udp", addr: VIP, port: 514 } as const;
    tx.addService(syslog, { scheduler: "rr", onePacket: true });
    tx.addDest(syslog, { addr: RS[1], port: 514, fwd: "nat" });
    tx.addDest(syslog, { addr: RS[2], port: 514, fwd: "dr" });
    for (const port of [25, 110, 143]) tx.addMarkRule({ proto: "tcp", prefix: `${MAIL_VIP}/32`, ports: [port, port], mark: 7 });
    tx.addService({ fwmark: 7 }, { scheduler: "rr", persistent: 300 });
    tx.addDest({ fwmark: 7 }, { addr: RS[2], port: 0, fwd: "nat" });
    const web6 = { proto: "tcp", addr: VIP6, port: 80 } as const;
    tx.addService(web6, { scheduler: "rr" });
    tx.addDest(web6, { addr: RS6[0], port: 8080, fwd: "nat" });
    tx.addDest(web6, { addr: RS6[1], fwd: "dr" });
  });
  DESC = dp.layout.desc;
  descBase = dp.x.allocBuffer(MAX_BATCH * DESC.size, 64);
  slotBase = dp.x.allocBuffer(MAX_BATCH * SLOT, 64);
  reasonNames = Object.keys(dp.drops());
});

interface Input { frame: Uint8Array; link: number; outCap: number }

const inOff = (k: number) => slotBase + k * SLOT;
const outOff = (k: number) => inOff(k) + IN_SIZE + GUARD;

/** Runs frames as one batch with guarded output slots and checks every invariant. */
function runChecked(inputs: Input[], dt: number): void {
  now = (now + dt) >>> 0;
  const dp = a.dp;
  let mem = new Uint8Array(dp.memory.buffer);
  let view = new DataView(dp.memory.buffer);
  inputs.forEach((inp, k) => {
    mem.set(inp.frame, inOff(k));
    mem.fill(0xee, inOff(k) + inp.frame.length, inOff(k) + IN_SIZE); // rest of the input slot
    for (let j = 0; j < GUARD; j++) {
      mem[outOff(k) - GUARD + j] = GUARD_BYTE(k, j);
      mem[outOff(k) + inp.outCap + j] = GUARD_BYTE(k, j + GUARD);
    }
    mem.fill(0x5a, outOff(k), outOff(k) + inp.outCap);
    const d = descBase + k * DESC.size;
    view.setUint32(d + DESC.inOff, inOff(k), true);
    view.setUint32(d + DESC.inLen, inp.frame.length, true);
    view.setUint32(d + DESC.outOff, outOff(k), true);
    view.setUint32(d + DESC.outCap, inp.outCap, true);
    view.setUint32(d + DESC.outLen, 0xdeadbeef, true);
    view.setUint16(d + DESC.inLink, inp.link, true);
    view.setUint32(d + DESC.flags, 0, true);
  });
  const before = dp.drops();

  dp.x.runBatch(descBase, inputs.length, now);

  mem = new Uint8Array(dp.memory.buffer);
  view = new DataView(dp.memory.buffer);
  const after = dp.drops();
  const perReason = new Map<string, bigint>();
  inputs.forEach((inp, k) => {
    const d = descBase + k * DESC.size;
    const ctx = `frame ${k} (link ${inp.link}, ${inp.frame.length} bytes, cap ${inp.outCap}): ${Buffer.from(inp.frame).toString("hex")}`;
    // Inputs and descriptor inputs untouched.
    expect(Buffer.compare(mem.subarray(inOff(k), inOff(k) + inp.frame.length), inp.frame), `input changed, ${ctx}`).toBe(0);
    for (let j = inOff(k) + inp.frame.length; j < inOff(k) + IN_SIZE; j++) if (mem[j] !== 0xee) expect.fail(`input slot tail changed at +${j - inOff(k)}, ${ctx}`);
    expect([view.getUint32(d + DESC.inOff, true), view.getUint32(d + DESC.inLen, true), view.getUint32(d + DESC.outOff, true),
      view.getUint32(d + DESC.outCap, true), view.getUint16(d + DESC.inLink, true)]).toEqual([inOff(k), inp.frame.length, outOff(k), inp.outCap, inp.link]);
    for (let j = 0; j < GUARD; j++) {
      if (mem[outOff(k) - GUARD + j] !== GUARD_BYTE(k, j)) expect.fail(`guard before output slot changed at -${GUARD - j}, ${ctx}`);
      if (mem[outOff(k) + inp.outCap + j] !== GUARD_BYTE(k, j + GUARD)) expect.fail(`guard after output slot changed at +${j}, ${ctx}`);
    }
    const verdict = view.getUint16(d + DESC.verdict, true);
    const reason = view.getUint16(d + DESC.reason, true);
    const outLen = view.getUint32(d + DESC.outLen, true);
    expect([0, 1, 2], ctx).toContain(verdict);
    if (reason !== 0) {
      const name = reasonNames[reason - 1];
      expect(name, `unknown reason ${reason}, ${ctx}`).toBeDefined();
      perReason.set(name, (perReason.get(name) ?? 0n) + 1n);
    }
    const tag = verdict === 1 ? (reason ? `tx+${reasonNames[reason - 1]}` : "tx") : verdict === 2 ? "local" : reasonNames[reason - 1] ?? "?";
    seen.set(tag, (seen.get(tag) ?? 0) + 1);
    if (verdict === 0) expect(reason, `drop without a reason, ${ctx}`).not.toBe(0);
    if (verdict === 2) expect(reason, `local with a drop reason, ${ctx}`).toBe(0);
    if (verdict === 1) {
      expect(outLen, ctx).toBeGreaterThanOrEqual(14);
      expect(outLen, ctx).toBeLessThanOrEqual(inp.outCap);
      expect([0, 1], ctx).toContain(view.getUint16(d + DESC.outLink, true));
      const out = mem.slice(outOff(k), outOff(k) + outLen);
      if (verifyChecksums(inp.frame).length === 0) expect(verifyChecksums(out), `output checksums, ${ctx}\nout ${Buffer.from(out).toString("hex")}`).toEqual([]);
    } else {
      expect(outLen, ctx).toBe(0);
    }
  });
  for (const name of reasonNames) {
    const delta = after[name] - before[name];
    expect(delta, `counter ${name} moved by ${delta}, frames reporting it: ${perReason.get(name) ?? 0n}`).toBe(perReason.get(name) ?? 0n);
  }
}

// ---- arbitraries ----

const clientV4 = fc.constantFrom(CLIENT, "198.18.0.11", "198.18.0.200", "198.18.1.7", "10.9.8.7");
const cport = fc.integer({ min: 40000, max: 40003 });
const tcpFlagsArb = fc.oneof(
  { arbitrary: fc.constant("S"), weight: 3 },
  { arbitrary: fc.constantFrom("SA", "A", "PA", "FA", "R", "RA", ""), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 1 },
);
const vlanArb: fc.Arbitrary<number[] | undefined> = fc.integer({ min: 0, max: 2 }).map((n) => (n === 0 ? undefined : n === 1 ? [10] : [10, 20]));
const payloadArb = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1300, max: 1480 }).map((n) => new Uint8Array(n)));

const toLb0 = { ethSrc: CLIENT_MAC, ethDst: LB0_MAC };

const validFrame: fc.Arbitrary<{ frame: Uint8Array; link: number }> = fc.oneof(
  // Client → VIP (TCP: NAT 80, DR 443, TUN 8443, and a port without a service).
  fc.record({ src: clientV4, sport: cport, dport: fc.constantFrom(80, 443, 8443, 81), flags: tcpFlagsArb, vlan: vlanArb, df: fc.boolean(), payload: payloadArb })
    .map((o) => ({ frame: tcp4Frame({ ...toLb0, ...o, dst: VIP }), link: 0 })),
  // Real server → client (NAT replies).
  fc.record({ i: fc.integer({ min: 0, max: 2 }), dport: cport, flags: tcpFlagsArb, payload: payloadArb })
    .map((o) => ({ frame: tcp4Frame({ ethSrc: RS_MAC[o.i], ethDst: LB1_MAC, src: RS[o.i], dst: CLIENT, sport: 8080, dport: o.dport, flags: o.flags, payload: o.payload }), link: 1 })),
  // UDP: persistent NAT 53, one-packet 514, and replies.
  fc.record({ src: clientV4, sport: cport, dport: fc.constantFrom(53, 514, 99), vlan: vlanArb, payload: fc.uint8Array({ maxLength: 40 }) })
    .map((o) => ({ frame: udp4Frame({ ...toLb0, ...o, dst: VIP }), link: 0 })),
  fc.record({ dport: cport, sport: fc.constantFrom(53, 514) })
    .map((o) => ({ frame: udp4Frame({ ethSrc: RS_MAC[0], ethDst: LB1_MAC, src: RS[0], dst: CLIENT, ...o }), link: 1 })),
  // Firewall-mark mail cluster.
  fc.record({ src: clientV4, sport: cport, dport: fc.constantFrom(25, 110, 143, 80), flags: tcpFlagsArb })
    .map((o) => ({ frame: tcp4Frame({ ...toLb0, ...o, dst: MAIL_VIP }), link: 0 })),
  // ICMP: echo to the VIP, and errors quoting a NAT connection's packet (both directions).
  fc.record({ id: fc.integer({ min: 0, max: 0xffff }), vlan: vlanArb }).map((o) => ({ frame: icmp4Echo({ ...toLb0, src: CLIENT, dst: VIP, id: o.id, seq: 1, vlan: o.vlan }), link: 0 })),
  fc.record({ sport: cport, type: fc.constantFrom(3, 11, 12), code: fc.integer({ min: 0, max: 4 }), cut: fc.integer({ min: 20, max: 60 }) }).map((o) => {
    const quoted = ipv4({ src: RS[0], dst: CLIENT, proto: IPPROTO_TCP, payload: tcp({ sport: 8080, dport: o.sport, flags: "SA" }) }).slice(0, o.cut);
    return { frame: icmp4Error({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: RS[0], type: o.type, code: o.code, mtu: o.code === 4 ? 1400 : undefined, quoted }), link: 0 };
  }),
  fc.record({ sport: cport, cut: fc.integer({ min: 20, max: 48 }) }).map((o) => {
    const quoted = ipv4({ src: CLIENT, dst: RS[0], proto: IPPROTO_TCP, payload: tcp({ sport: o.sport, dport: 8080, flags: "S" }) }).slice(0, o.cut);
    return { frame: icmp4Error({ ethSrc: RS_MAC[0], ethDst: LB1_MAC, src: RS[0], dst: CLIENT, type: 3, code: 3, quoted }), link: 1 };
  }),
  // IPv4 fragments (first and later) of a client datagram.
  fc.record({ sport: cport, id: fc.integer({ min: 0, max: 3 }), off: fc.constantFrom(0, 8, 64), mf: fc.boolean() }).map((o) => {
    const seg = tcp({ sport: o.sport, dport: 80, flags: "PA", payload: new Uint8Array(40) });
    const pkt = ipv4({ src: CLIENT, dst: VIP, proto: IPPROTO_TCP, id: o.id, mf: o.mf, fragOffset: o.off, payload: o.off === 0 ? seg : seg.slice(0, 16), fillL4Checksum: o.off === 0 && !o.mf });
    return { frame: ipFrame(toLb0, pkt), link: 0 };
  }),
  // ARP for the VIP or a real server's address.
  fc.record({ tpa: fc.constantFrom(VIP, "198.18.0.1", "198.19.0.1", "198.18.0.99"), op: fc.constantFrom<1 | 2>(1, 2), vlan: vlanArb })
    .map((o) => ({ frame: arp({ op: o.op, sha: CLIENT_MAC, spa: CLIENT, tpa: o.tpa, tha: o.op === 2 ? LB0_MAC : undefined, vlan: o.vlan }), link: 0 })),
  // IPv6 with extension headers, and replies.
  fc.record({
    sport: cport, dport: fc.constantFrom(80, 81), flags: tcpFlagsArb, vlan: vlanArb,
    exts: fc.array(fc.constantFrom("hop", "dst", "frag", "rt"), { maxLength: 3 }), payload: fc.uint8Array({ maxLength: 32 }),
  }).map((o) => {
    const exts: ExtHeader[] = o.exts.map((e) =>
      e === "hop" ? { type: IPPROTO_HOPOPTS, data: new Uint8Array(4) }
        : e === "dst" ? { type: IPPROTO_DSTOPTS, data: new Uint8Array(6) }
          : e === "frag" ? ipv6Frag({ offset: 0, more: false, id: 5 })
            : ipv6Routing({ routingType: 0, segmentsLeft: 0, addresses: [VIP6] }));
    return { frame: tcp6Frame({ ...toLb0, vlan: o.vlan, src: CLIENT6, dst: VIP6, sport: o.sport, dport: o.dport, flags: o.flags, payload: o.payload, extHeaders: exts }), link: 0 };
  }),
  fc.record({ dport: cport, flags: tcpFlagsArb }).map((o) => ({ frame: tcp6Frame({ ethSrc: RS_MAC[0], ethDst: LB1_MAC, src: RS6[0], dst: CLIENT6, sport: 8080, ...o }), link: 1 })),
  fc.record({ sport: cport }).map((o) => ({ frame: udp6Frame({ ...toLb0, src: CLIENT6, dst: VIP6, sport: o.sport, dport: 53 }), link: 0 })),
  fc.constant(0).map(() => ({ frame: icmp6Echo({ ...toLb0, src: CLIENT6, dst: VIP6, id: 1, seq: 1 }), link: 0 })),
  // An IPv6 packet with an unknown upper layer, and a UDP datagram over IPv6 fragments.
  fc.constant(0).map(() => ({ frame: ipFrame(toLb0, ipv6({ src: CLIENT6, dst: VIP6, nextHeader: 59, payload: new Uint8Array(8) })), link: 0 })),
  fc.boolean().map((more) => ({ frame: ipFrame(toLb0, ipv6({ src: CLIENT6, dst: VIP6, nextHeader: IPPROTO_UDP, extHeaders: [ipv6Frag({ offset: more ? 0 : 16, more, id: 9 })], payload: udp({ sport: 40000, dport: 53, payload: new Uint8Array(24) }), fillL4Checksum: false })), link: 0 })),
);

type Mutation = { kind: "flip"; at: number; x: number } | { kind: "cut"; at: number } | { kind: "grow"; bytes: Uint8Array };
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), x: fc.integer({ min: 1, max: 255 }) }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("grow" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }), weight: 1 },
);

function mutate(f: Uint8Array, ms: Mutation[]): Uint8Array {
  let b: Uint8Array = f.slice();
  for (const m of ms) {
    if (b.length === 0) break;
    if (m.kind === "flip") b[m.at % b.length] ^= m.x;
    else if (m.kind === "cut") b = b.slice(0, m.at % b.length);
    else b = concat(b, m.bytes);
  }
  return b.length > IN_SIZE ? b.slice(0, IN_SIZE) : b;
}

const outCapArb = fc.oneof({ arbitrary: fc.constant(OUT_MAX), weight: 4 }, { arbitrary: fc.integer({ min: 0, max: 200 }), weight: 1 }, { arbitrary: fc.integer({ min: 1000, max: OUT_MAX }), weight: 1 });
const linkArb = fc.oneof({ arbitrary: fc.constantFrom(0, 1), weight: 9 }, { arbitrary: fc.constantFrom(2, 7, 65535), weight: 1 });
const dtArb = fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1000, max: 400_000 }));

describe("fuzzing the batch path (debug build)", () => {
  it("valid frames survive the invariants unmutated (and they do reach the forwarding paths)", () => {
    let tx = 0, total = 0;
    seen.clear();
    fc.assert(
      fc.property(fc.array(validFrame, { minLength: 1, maxLength: MAX_BATCH }), (frames) => {
        runChecked(frames.map((f) => ({ ...f, outCap: OUT_MAX })), 1);
        const view = new DataView(a.dp.memory.buffer);
        for (let k = 0; k < frames.length; k++) if (view.getUint16(descBase + k * DESC.size + DESC.verdict, true) === 1) tx++;
        total += frames.length;
      }),
      { numRuns: 300 },
    );
    // Not a tautology: the generators reach the forwarding paths and the main verdicts.
    expect(tx / total).toBeGreaterThan(0.1);
    for (const must of ["tx", "local", "no_conn", "no_service", "icmp_unmatched"]) expect([...seen.keys()], JSON.stringify(Object.fromEntries(seen))).toContain(must);
  });

  it("random bytes (sometimes with our MAC and an IP/ARP/VLAN ethertype in front)", () => {
    const randomFrame = fc.record({
      body: fc.uint8Array({ maxLength: 300 }),
      head: fc.option(fc.record({ dst: fc.constantFrom(LB0_MAC, LB1_MAC, "ff:ff:ff:ff:ff:ff"), type: fc.constantFrom(0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8) })),
      link: linkArb, outCap: outCapArb,
    }).map((o) => {
      let frame: Uint8Array = o.body;
      if (o.head) {
        const h = new Uint8Array(14);
        h.set(o.head.dst.split(":").map((x) => parseInt(x, 16)), 0);
        h.set([2, 0, 0, 0, 0, 0x10], 6);
        h[12] = o.head.type >> 8; h[13] = o.head.type & 0xff;
        frame = concat(h, o.body);
      }
      return { frame, link: o.link, outCap: o.outCap };
    });
    fc.assert(fc.property(fc.array(randomFrame, { minLength: 1, maxLength: MAX_BATCH }), dtArb, (inputs, dt) => runChecked(inputs, dt)), { numRuns: 500 });
  });

  it("valid frames mutated by byte flips, truncations and extensions", () => {
    const mutated = fc.record({ f: validFrame, ms: fc.array(mutationArb, { minLength: 0, maxLength: 4 }), link: fc.option(linkArb, { freq: 5 }), outCap: outCapArb })
      .map((o) => ({ frame: mutate(o.f.frame, o.ms), link: o.link ?? o.f.link, outCap: o.outCap }));
    seen.clear();
    fc.assert(fc.property(fc.array(mutated, { minLength: 1, maxLength: MAX_BATCH }), dtArb, (inputs, dt) => runChecked(inputs, dt)), { numRuns: 1000 });
    // The mutations reach many outcomes, not just one early drop.
    const outcomes = [...seen.keys()];
    for (const must of ["tx", "local", "ip_bad_checksum", "ip_malformed", "l4_malformed", "no_conn", "eth_truncated", "not_our_mac"]) {
      expect(outcomes, JSON.stringify(Object.fromEntries(seen))).toContain(must);
    }
    expect(outcomes.length).toBeGreaterThanOrEqual(14);
  });
});
