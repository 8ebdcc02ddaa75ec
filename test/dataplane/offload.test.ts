// Offloaded frames (PACKET_VNET_HDR): partial checksums through NAT and DR,
// GSO frames passed through with their header so the kernel segments them,
// and GSO inside IP-in-IP (TUN) segmented by the data plane. The first part
// drives the descriptor interface (flags in and out, assembly/xmit/offload.ts);
// the second drives the ring walker (assembly/ring/) over rings laid out in
// Wasm memory as the kernel lays them out, without a kernel.
//
// Expected frames come from test/helpers/frames.ts: the full-checksum frame,
// then its L4 checksum field replaced by the pseudo-header sum for a
// partial-checksum one (what a sender with checksum offload leaves there).

import { describe, it, expect, beforeEach } from "vitest";
import {
  arp, concat, diffFrames, icmp4Echo, ipip4Frame, ipv4, onesSum, inetChecksum, parseFrame, pseudoHeader, summarizeFrame, tcp, tcp4Frame, tcp6Frame,
  udp4Frame, verifyChecksums, IPPROTO_TCP, IPPROTO_UDP,
} from "../helpers/frames.js";
import { makeAppliance, type Appliance, CLIENT, CLIENT6, CLIENT_MAC, LB0_MAC, LB1_MAC, RS, RS6, RS_MAC, VIP, VIP6 } from "../helpers/appliance.js";
import { encodeOffload, decodeOffload, GSO } from "../../src/dataplane/offload.js";

const TX = 1, LOCAL = 2, DROP = 0;
const VIP_DR = "198.18.100.2";
const VIP_TUN = "198.18.100.3";
const LB1_IP = "198.19.0.1";

const fromClient = { ethSrc: CLIENT_MAC, ethDst: LB0_MAC };
const toClient = { ethSrc: LB0_MAC, ethDst: CLIENT_MAC };
const fromRs = (i: number) => ({ ethSrc: RS_MAC[i], ethDst: LB1_MAC });
const toRs = (i: number) => ({ ethSrc: LB1_MAC, ethDst: RS_MAC[i] });

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed * 13) & 0xff;
  return b;
}

/** Where the L4 header starts and the checksum sits in a frame (via the independent parser). */
function l4Of(frame: Uint8Array): { start: number; off: 16 | 6; af: 4 | 6; src: string; dst: string; proto: number; len: number } {
  const p = parseFrame(frame);
  if (!p.ip) throw new Error(`no IP in ${summarizeFrame(frame)}`);
  const start = 14 + 4 * p.vlan.length + p.ip.headerLength;
  const proto = p.ip.proto;
  return { start, off: proto === IPPROTO_UDP ? 6 : 16, af: p.ip.version, src: p.ip.src, dst: p.ip.dst, proto, len: frame.length - start };
}

/** The frame with its L4 checksum replaced by the folded pseudo-header sum (checksum offload). */
function partial(frame: Uint8Array): Uint8Array {
  const l = l4Of(frame);
  const f = frame.slice();
  const seed = onesSum(pseudoHeader(l.af, l.src, l.dst, l.proto, l.len));
  f[l.start + l.off] = seed >> 8;
  f[l.start + l.off + 1] = seed & 0xff;
  return f;
}

/** Completes a partial checksum as the sending device would. */
function complete(frame: Uint8Array, start: number, off: number): Uint8Array {
  const f = frame.slice();
  const c = inetChecksum(f.subarray(start));
  f[start + off] = c >> 8;
  f[start + off + 1] = c & 0xff;
  return f;
}

function expectFrame(got: Uint8Array, want: Uint8Array): void {
  if (got.length !== want.length || got.some((b, i) => b !== want[i])) {
    throw new Error(`frame differs:\n got  ${summarizeFrame(got)}\n want ${summarizeFrame(want)}\n${diffFrames(got, want)}`);
  }
}

async function appliance(): Promise<Appliance> {
  const a = await makeAppliance();
  a.dp.transaction((tx) => {
    tx.addService({ proto: "tcp", addr: VIP, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP, port: 80 }, { addr: RS[0], port: 8080, fwd: "nat" });
    tx.addService({ proto: "udp", addr: VIP, port: 53 }, { scheduler: "rr" });
    tx.addDest({ proto: "udp", addr: VIP, port: 53 }, { addr: RS[1], port: 5353, fwd: "nat" });
    tx.addService({ proto: "tcp", addr: VIP6, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP6, port: 80 }, { addr: RS6[0], port: 8080, fwd: "nat" });
    tx.addService({ proto: "tcp", addr: VIP_DR, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP_DR, port: 80 }, { addr: RS[2], port: 80, fwd: "dr" });
    tx.addService({ proto: "tcp", addr: VIP_TUN, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP_TUN, port: 80 }, { addr: RS[1], port: 80, fwd: "tun" });
  });
  return a;
}

const bigBatches = new WeakMap<Appliance, ReturnType<Appliance["dp"]["createBatch"]>>();

/** One frame through the descriptor interface, in slots big enough for GSO frames. */
function send(a: Appliance, frame: Uint8Array, link: number, flags: number) {
  let b = bigBatches.get(a);
  if (!b) bigBatches.set(a, (b = a.dp.createBatch(1, 1 << 17)));
  b.clear();
  b.set(0, frame, link, flags);
  b.run(1000);
  return b.result(0);
}

const csum = (start: number, off: 16 | 6 = 16) => ({ needsCsum: true, csumStart: start, csumOffset: off });

// ---------------------------------------------------------------------------
// Descriptor interface
// ---------------------------------------------------------------------------

describe("partial checksums (VIRTIO_NET_HDR_F_NEEDS_CSUM) through the frame path", () => {
  let a: Appliance;
  beforeEach(async () => { a = await appliance(); });

  const table: { name: string; link: number; frame: Uint8Array; inFlags: Parameters<typeof encodeOffload>[0]; expected: Uint8Array; outLink: number; outStart: number; outOff?: 16 | 6 }[] = [];
  const syn = { sport: 40001, dport: 80, flags: "S", seq: 1000 } as const;
  table.push({
    name: "NAT client → real server, TCP SYN: the seed moves with the destination address only",
    link: 0, inFlags: csum(34),
    frame: partial(tcp4Frame({ ...fromClient, id: 1, df: true, src: CLIENT, dst: VIP, ...syn })),
    expected: partial(tcp4Frame({ ...toRs(0), id: 1, df: true, src: CLIENT, dst: RS[0], ...syn, dport: 8080 })),
    outLink: 1, outStart: 34,
  });
  table.push({
    name: "NAT with a VLAN-tagged input: the tag goes, csum_start moves back 4 bytes",
    link: 0, inFlags: csum(38),
    frame: partial(tcp4Frame({ ...fromClient, vlan: [7], id: 2, src: CLIENT, dst: VIP, ...syn, sport: 40002, payload: bytes(100) })),
    expected: partial(tcp4Frame({ ...toRs(0), id: 2, src: CLIENT, dst: RS[0], ...syn, sport: 40002, dport: 8080, payload: bytes(100) })),
    outLink: 1, outStart: 34,
  });
  table.push({
    name: "NAT UDP client → real server, csum_offset 6",
    link: 0, inFlags: csum(34, 6),
    frame: partial(udp4Frame({ ...fromClient, id: 3, src: CLIENT, dst: VIP, sport: 5000, dport: 53, payload: bytes(33) })),
    expected: partial(udp4Frame({ ...toRs(1), id: 3, src: CLIENT, dst: RS[1], sport: 5000, dport: 5353, payload: bytes(33) })),
    outLink: 1, outStart: 34, outOff: 6,
  });
  table.push({
    name: "NAT IPv6 TCP: 128-bit address change in the seed",
    link: 0, inFlags: csum(54),
    frame: partial(tcp6Frame({ ...fromClient, src: CLIENT6, dst: VIP6, ...syn, sport: 40003 })),
    expected: partial(tcp6Frame({ ...toRs(0), src: CLIENT6, dst: RS6[0], ...syn, sport: 40003, dport: 8080 })),
    outLink: 1, outStart: 54,
  });
  table.push({
    name: "DR: datagram unchanged, the seed too; the VLAN tag goes and csum_start follows",
    link: 0, inFlags: csum(38),
    frame: partial(tcp4Frame({ ...fromClient, vlan: [9], id: 4, src: CLIENT, dst: VIP_DR, ...syn, sport: 40004, payload: bytes(10) })),
    expected: partial(tcp4Frame({ ...toRs(2), id: 4, src: CLIENT, dst: VIP_DR, ...syn, sport: 40004, payload: bytes(10) })),
    outLink: 1, outStart: 34,
  });

  for (const t of table) {
    it(t.name, () => {
      const r = send(a, t.frame, t.link, encodeOffload(t.inFlags));
      expect(r.verdict, a.reasonName(r.reason)).toBe(TX);
      expect(r.outLink).toBe(t.outLink);
      expectFrame(r.out, t.expected);
      expect(decodeOffload(r.flags)).toMatchObject({ needsCsum: true, csumStart: t.outStart, csumOffset: t.outOff ?? 16, gsoType: 0 });
      // Completed as the kernel or the device would, it is the full-checksum frame.
      const done = complete(r.out, t.outStart, t.outOff ?? 16);
      expect(verifyChecksums(done)).toEqual([]);
    });
  }

  it("NAT reply real server → client with a partial checksum: the seed follows the source address", () => {
    send(a, partial(tcp4Frame({ ...fromClient, id: 1, src: CLIENT, dst: VIP, ...syn })), 0, encodeOffload(csum(34)));
    const reply = { sport: 8080, dport: 40001, flags: "SA", seq: 5000, ack: 1001, payload: bytes(500) } as const;
    const r = send(a, partial(tcp4Frame({ ...fromRs(0), id: 7, src: RS[0], dst: CLIENT, ...reply })), 1, encodeOffload(csum(34)));
    expect(r.verdict, a.reasonName(r.reason)).toBe(TX);
    expectFrame(r.out, partial(tcp4Frame({ ...toClient, id: 7, src: VIP, dst: CLIENT, ...reply, sport: 80 })));
    expect(decodeOffload(r.flags)).toMatchObject({ needsCsum: true, csumStart: 34 });
  });

  it("a frame without offload state keeps complete checksums and gets no flags", () => {
    const r = send(a, tcp4Frame({ ...fromClient, id: 1, src: CLIENT, dst: VIP, ...syn, sport: 40009 }), 0, 0);
    expect(r.verdict).toBe(TX);
    expect(r.flags).toBe(0);
    expect(verifyChecksums(r.out)).toEqual([]);
  });

  it("TUN completes a partial checksum (the tunnel cannot carry it) and sends no flags", () => {
    const inner = { id: 0x4000, df: true, src: CLIENT, dst: VIP_TUN, sport: 42000, dport: 80, flags: "S", seq: 8 } as const;
    const r = send(a, partial(tcp4Frame({ ...fromClient, ...inner })), 0, encodeOffload(csum(34)));
    expect(r.verdict, a.reasonName(r.reason)).toBe(TX);
    expect(r.flags).toBe(0);
    const outerId = (r.out[18] << 8) | r.out[19];
    const innerPkt = ipv4({ ttl: 64, id: 0x4000, df: true, src: CLIENT, dst: VIP_TUN, proto: IPPROTO_TCP, payload: tcp({ sport: 42000, dport: 80, flags: "S", seq: 8 }) });
    expectFrame(r.out, ipip4Frame({ ...toRs(1), outerSrc: LB1_IP, outerDst: RS[1], ttl: 64, id: outerId, df: true, inner: innerPkt }));
    expect(verifyChecksums(r.out)).toEqual([]);
  });

  it("a frame for the appliance itself is LOCAL and keeps its input untouched", () => {
    const frame = partial(tcp4Frame({ ...fromClient, id: 1, src: CLIENT, dst: "198.18.0.1", sport: 40020, dport: 22, flags: "S", seq: 1 }));
    const r = send(a, frame, 0, encodeOffload(csum(34)));
    expect(r.verdict).toBe(LOCAL);
    expect(r.flags).toBe(0);
  });
});

describe("GSO frames", () => {
  let a: Appliance;
  beforeEach(async () => { a = await appliance(); });
  const MSS = 1448;

  it("NAT passes a TSO frame through whole, with its GSO fields, for the kernel to segment", () => {
    const syn = tcp4Frame({ ...fromClient, id: 1, df: true, src: CLIENT, dst: VIP, sport: 41000, dport: 80, flags: "S", seq: 99 });
    expect(send(a, syn, 0, 0).verdict).toBe(TX);
    const seg = { sport: 41000, dport: 80, flags: "PA", seq: 100, ack: 1, payload: bytes(4000, 3) } as const;
    const frame = partial(tcp4Frame({ ...fromClient, id: 2, df: true, src: CLIENT, dst: VIP, ...seg }));
    expect(frame.length).toBeGreaterThan(1514);
    const r = send(a, frame, 0, encodeOffload({ ...csum(34), gsoType: GSO.TCPV4, gsoSize: MSS }));
    expect(r.verdict, a.reasonName(r.reason)).toBe(TX);
    expectFrame(r.out, partial(tcp4Frame({ ...toRs(0), id: 2, df: true, src: CLIENT, dst: RS[0], ...seg, dport: 8080 })));
    expect(decodeOffload(r.flags)).toMatchObject({ needsCsum: true, csumStart: 34, csumOffset: 16, gsoType: GSO.TCPV4, gsoSize: MSS });
  });

  it("NAT passes a GRO frame of a reply through (IPv6, VLAN removed: csum_start − 4)", () => {
    const syn = tcp6Frame({ ...fromClient, src: CLIENT6, dst: VIP6, sport: 41001, dport: 80, flags: "S", seq: 1 });
    expect(send(a, syn, 0, 0).verdict).toBe(TX);
    const seg = { sport: 8080, dport: 41001, flags: "A", seq: 7, ack: 2, payload: bytes(3 * 1428, 4) } as const;
    const frame = partial(tcp6Frame({ ...fromRs(0), vlan: [3], src: RS6[0], dst: CLIENT6, ...seg }));
    const r = send(a, frame, 1, encodeOffload({ ...csum(58), gsoType: GSO.TCPV6, gsoSize: 1428 }));
    expect(r.verdict, a.reasonName(r.reason)).toBe(TX);
    expectFrame(r.out, partial(tcp6Frame({ ...toClient, src: VIP6, dst: CLIENT6, ...seg, sport: 80 })));
    expect(decodeOffload(r.flags)).toMatchObject({ needsCsum: true, csumStart: 54, gsoType: GSO.TCPV6, gsoSize: 1428 });
  });

  const open = (dst: string, sport: number) => expect(send(a, tcp4Frame({ ...fromClient, id: 1, df: true, src: CLIENT, dst, sport, dport: 80, flags: "S", seq: 1 }), 0, 0).verdict).toBe(TX);

  it("DR passes a TSO frame through unchanged with its GSO fields", () => {
    open(VIP_DR, 41002);
    const seg = { sport: 41002, dport: 80, flags: "A", seq: 5, ack: 1, payload: bytes(3000, 5) } as const;
    const frame = partial(tcp4Frame({ ...fromClient, id: 9, df: true, src: CLIENT, dst: VIP_DR, ...seg }));
    const r = send(a, frame, 0, encodeOffload({ ...csum(34), gsoType: GSO.TCPV4, gsoSize: MSS }));
    expect(r.verdict, a.reasonName(r.reason)).toBe(TX);
    expectFrame(r.out, partial(tcp4Frame({ ...toRs(2), id: 9, df: true, src: CLIENT, dst: VIP_DR, ...seg })));
    expect(decodeOffload(r.flags)).toMatchObject({ gsoType: GSO.TCPV4, gsoSize: MSS, csumStart: 34 });
  });

  it("the MTU check applies to the segments a GSO frame becomes, not to the frame", () => {
    open(VIP_DR, 41003);
    const seg = { sport: 41003, dport: 80, flags: "A", seq: 5, ack: 1, payload: bytes(3000, 5) } as const;
    const frame = partial(tcp4Frame({ ...fromClient, id: 9, df: true, src: CLIENT, dst: VIP_DR, ...seg }));
    // Segments of 40 + 1461 bytes exceed link 1's 1500: "fragmentation needed", counted as too_big.
    const r = send(a, frame, 0, encodeOffload({ ...csum(34), gsoType: GSO.TCPV4, gsoSize: 1461 }));
    expect(a.reasonName(r.reason)).toBe("too_big");
    expect(parseFrame(r.out).icmp).toMatchObject({ type: 3, code: 4 });
  });

  it("TUN keeps the GSO fields for the TX path, which segments it with full checksums", () => {
    open(VIP_TUN, 42001);
    const seg = { sport: 42001, dport: 80, flags: "PA", seq: 1000, ack: 1, payload: bytes(3000, 6) } as const;
    const MSS_T = 1400;
    const frame = partial(tcp4Frame({ ...fromClient, id: 0x5000, df: true, tos: 0x10, src: CLIENT, dst: VIP_TUN, ...seg }));
    const r = send(a, frame, 0, encodeOffload({ ...csum(34), gsoType: GSO.TCPV4, gsoSize: MSS_T }));
    expect(r.verdict, a.reasonName(r.reason)).toBe(TX);
    expect(decodeOffload(r.flags)).toMatchObject({ needsCsum: true, csumStart: 54, gsoType: GSO.TCPV4, gsoSize: MSS_T });

    const x = a.dp.x;
    const src = x.allocBuffer(r.out.length, 64);
    const dst = x.allocBuffer(2048, 64);
    new Uint8Array(x.memory.buffer).set(r.out, src);
    const n = x.gsoCount(src, r.out.length, r.flags);
    expect(n).toBe(3);
    const outerId = (r.out[18] << 8) | r.out[19];
    for (let k = 0; k < n; k++) {
      const len = x.gsoSegment(src, r.out.length, r.flags, k, dst, 2048);
      const got = new Uint8Array(x.memory.buffer.slice(dst, dst + len));
      const chunk = seg.payload.subarray(k * MSS_T, Math.min((k + 1) * MSS_T, seg.payload.length));
      const inner = ipv4({
        ttl: 64, id: 0x5000 + k, df: true, tos: 0x10, src: CLIENT, dst: VIP_TUN, proto: IPPROTO_TCP,
        payload: tcp({ sport: 42001, dport: 80, seq: 1000 + k * MSS_T, ack: 1, flags: k === n - 1 ? "PA" : "A", payload: chunk }),
      });
      expectFrame(got, ipip4Frame({ ...toRs(1), outerSrc: LB1_IP, outerDst: RS[1], ttl: 64, id: (outerId + k) & 0xffff, df: true, tos: 0x10, inner }));
      expect(verifyChecksums(got)).toEqual([]);
      expect(got.length).toBeLessThanOrEqual(1514);
    }
    expect(x.gsoSegment(src, r.out.length, r.flags, n, dst, 2048)).toBe(0);
  });

  it("NAT passes a UFO frame whose fragments just fit the MTU (gso_size is a fragment's whole IP payload) for the kernel to fragment", () => {
    const payload = bytes(3000, 9);
    const frame = partial(udp4Frame({ ...fromClient, id: 0x6100, src: CLIENT, dst: VIP, sport: 5556, dport: 53, payload }));
    const r = send(a, frame, 0, encodeOffload({ ...csum(34, 6), gsoType: GSO.UDP, gsoSize: 1480 })); // 20 + 1480 = 1500
    expect(r.verdict, a.reasonName(r.reason)).toBe(TX);
    expect(decodeOffload(r.flags)).toMatchObject({ gsoType: GSO.UDP, gsoSize: 1480, csumStart: 34, csumOffset: 6 });
  });

  it("TUN cuts a UFO datagram (gso_type UDP) into IP fragments, each in its own outer header, that reassemble to it", () => {
    const svc = { proto: "udp" as const, addr: VIP_TUN, port: 5300 };
    a.dp.transaction((tx) => {
      tx.addService(svc, { scheduler: "rr" });
      tx.addDest(svc, { addr: RS[1], port: 5300, fwd: "tun" });
    });
    const payload = bytes(4000, 8);
    const FS = 1456; // a fragment's IP payload (a multiple of 8): 1456 + 20 inner + 20 outer fits the 1500 MTU
    const frame = partial(udp4Frame({ ...fromClient, id: 0x6000, src: CLIENT, dst: VIP_TUN, sport: 5555, dport: 5300, payload }));
    const r = send(a, frame, 0, encodeOffload({ ...csum(34, 6), gsoType: GSO.UDP, gsoSize: FS }));
    expect(r.verdict, a.reasonName(r.reason)).toBe(TX);
    const x = a.dp.x;
    const src = x.allocBuffer(r.out.length, 64);
    const dst = x.allocBuffer(2048, 64);
    new Uint8Array(x.memory.buffer).set(r.out, src);
    const n = x.gsoCount(src, r.out.length, r.flags);
    expect(n).toBe(Math.ceil((8 + payload.length) / FS)); // 3
    const outerId = (r.out[18] << 8) | r.out[19];
    const parts: Uint8Array[] = [];
    for (let k = 0; k < n; k++) {
      const len = x.gsoSegment(src, r.out.length, r.flags, k, dst, 2048);
      const got = new Uint8Array(x.memory.buffer.slice(dst, dst + len));
      expect(got.length).toBeLessThanOrEqual(14 + 20 + 1500);
      const outer = parseFrame(got).ip!;
      expect(outer).toMatchObject({ src: LB1_IP, dst: RS[1], proto: 4 });
      expect(((got[18] << 8) | got[19])).toBe((outerId + k) & 0xffff);
      const innerPkt = got.subarray(34);
      const frag = (innerPkt[6] << 8) | innerPkt[7];
      expect(((innerPkt[4] << 8) | innerPkt[5]), "inner id: the same in every fragment").toBe(0x6000);
      expect(frag & 0x1fff, "offset").toBe((k * FS) / 8);
      expect((frag & 0x2000) !== 0, "MF").toBe(k < n - 1);
      expect(((innerPkt[2] << 8) | innerPkt[3])).toBe(innerPkt.length);
      expect(verifyChecksums(got)).toEqual([]); // outer and inner IP header checksums (fragments: no L4 check)
      parts.push(innerPkt.subarray(20));
    }
    expect(x.gsoSegment(src, r.out.length, r.flags, n, dst, 2048)).toBe(0);
    // Reassembled: the original UDP datagram with a complete, correct checksum.
    const datagram = concat(...parts);
    const want = udp4Frame({ ...fromClient, id: 0x6000, src: CLIENT, dst: VIP_TUN, sport: 5555, dport: 5300, payload }).subarray(34);
    expect(hexOf(datagram)).toBe(hexOf(want));
  });
});

const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");

// ---------------------------------------------------------------------------
// Ring walker over rings laid out as the kernel lays them out
// ---------------------------------------------------------------------------

const VNET = 10;

/** TPACKET_V2 RX and TX rings and a mirror queue in Wasm memory for link id, attached with ioAttach. */
class FakeLink {
  readonly rx: number;
  readonly tx: number;
  readonly local: number;
  private rxNext = 0;
  private txSeen = 0;
  constructor(private a: Appliance, readonly id: number, readonly o = { rxSlots: 8, rxSlot: 1 << 17, txSlots: 16, txSlot: 1 << 17, version: 2 as 2 | 3, blockSize: 1 << 17 }) {
    const x = a.dp.x;
    const rxBytes = o.version === 2 ? o.rxSlots * o.rxSlot : o.rxSlots * o.blockSize;
    this.rx = x.allocBuffer(rxBytes, 4096);
    this.tx = x.allocBuffer(o.txSlots * o.txSlot, 4096);
    this.local = x.allocBuffer(1 << 20, 4096);
    this.mem.fill(0, this.rx, this.rx + rxBytes);
    this.mem.fill(0, this.tx, this.tx + o.txSlots * o.txSlot);
    const rc = x.ioAttach(id, this.rx, o.version, o.blockSize, o.rxSlots, o.rxSlot, o.rxSlots, 1, this.tx, o.txSlot, o.txSlots, 1, this.local, 1 << 20);
    if (rc !== 0) throw new Error("ioAttach failed");
  }
  get mem(): Uint8Array { return new Uint8Array(this.a.dp.x.memory.buffer); }
  get dv(): DataView { return new DataView(this.a.dp.x.memory.buffer); }

  private vnet(at: number, flags: number): void {
    const d = decodeOffload(flags);
    const dv = this.dv;
    dv.setUint8(at, d.needsCsum ? 1 : 0);
    dv.setUint8(at + 1, d.gsoType | (d.ecn ? 0x80 : 0));
    dv.setUint16(at + 2, 0, true);
    dv.setUint16(at + 4, d.gsoSize, true);
    dv.setUint16(at + 6, d.needsCsum ? d.csumStart : 0, true);
    dv.setUint16(at + 8, d.needsCsum ? d.csumOffset : 0, true);
  }

  /** Puts a frame in the next V2 RX slot as the kernel would (tp_mac 76 with the virtio header); snap < len to truncate. */
  receive(frame: Uint8Array, flags = 0, snap = frame.length, rawVnet?: Uint8Array): void {
    const s = this.rx + this.rxNext * this.o.rxSlot;
    const mac = 76;
    this.vnet(s + mac - VNET, flags);
    if (rawVnet) this.mem.set(rawVnet, s + mac - VNET);
    this.mem.set(frame.subarray(0, snap), s + mac);
    const dv = this.dv;
    dv.setUint32(s + 4, frame.length, true);
    dv.setUint32(s + 8, snap, true);
    dv.setUint16(s + 12, mac, true);
    dv.setUint32(s, 1, true); // TP_STATUS_USER last
    this.rxNext = (this.rxNext + 1) % this.o.rxSlots;
  }

  /** Puts frames in V3 block b (block_status USER, num_pkts, chained tpacket3_hdr). */
  receiveBlock(b: number, frames: Uint8Array[]): void {
    const blk = this.rx + b * this.o.blockSize;
    const dv = this.dv;
    let h = blk + 48;
    dv.setUint32(blk + 16, 48, true);
    dv.setUint32(blk + 12, frames.length, true);
    frames.forEach((f, i) => {
      const mac = 92;
      this.vnet(h + mac - VNET, 0);
      this.mem.set(f, h + mac);
      dv.setUint32(h + 12, f.length, true);
      dv.setUint32(h + 16, f.length, true);
      dv.setUint16(h + 24, mac, true);
      const next = i === frames.length - 1 ? 0 : (mac + f.length + 15) & ~15;
      dv.setUint32(h, next, true);
      h += next;
    });
    dv.setUint32(blk + 8, 1, true);
  }

  rxStatus(i: number): number { return this.dv.getUint32(this.rx + i * this.o.rxSlot, true); }
  blockStatus(b: number): number { return this.dv.getUint32(this.rx + b * this.o.blockSize + 8, true); }

  /** Frames the data plane marked SEND_REQUEST since the last call, with their virtio headers; slots handed back. */
  sent(): { frame: Uint8Array; vnet: { flags: number; gsoType: number; hdrLen: number; gsoSize: number; csumStart: number; csumOffset: number } }[] {
    const out = [];
    const dv = this.dv;
    for (;;) {
      const s = this.tx + this.txSeen * this.o.txSlot;
      if (dv.getUint32(s, true) !== 1) break;
      const len = dv.getUint32(s + 4, true);
      const v = s + 32;
      out.push({
        frame: this.mem.slice(v + VNET, v + len),
        vnet: {
          flags: dv.getUint8(v), gsoType: dv.getUint8(v + 1), hdrLen: dv.getUint16(v + 2, true), gsoSize: dv.getUint16(v + 4, true),
          csumStart: dv.getUint16(v + 6, true), csumOffset: dv.getUint16(v + 8, true),
        },
      });
      dv.setUint32(s, 0, true); // the kernel sent it
      this.txSeen = (this.txSeen + 1) % this.o.txSlots;
    }
    return out;
  }

  /** Frames queued for the host stack; the queue is emptied. */
  localFrames(): Uint8Array[] {
    const x = this.a.dp.x;
    const used = x.ioLocalUsed(this.id);
    const base = x.ioLocalBase(this.id);
    const out = [];
    for (let off = 0; off < used;) {
      const len = this.dv.getUint32(base + off, true);
      out.push(this.mem.slice(base + off + 4, base + off + 4 + len));
      off += (4 + len + 3) & ~3;
    }
    x.ioLocalReset(this.id);
    return out;
  }
}

function names(a: Appliance): string[] {
  const x = a.dp.x;
  const mem = () => x.memory.buffer;
  const out = [];
  for (let i = 0; i < x.ioCounterCount(); i++) {
    const p = x.ioCounterName(i);
    const len = new Uint32Array(mem(), p - 4, 1)[0];
    out.push(Buffer.from(mem(), p, len).toString("utf16le"));
  }
  return out;
}

describe("ring walker (ioRun) over kernel-layout rings", () => {
  let a: Appliance;
  let l0: FakeLink, l1: FakeLink;
  beforeEach(async () => {
    a = await appliance();
    l0 = new FakeLink(a, 0);
    l1 = new FakeLink(a, 1);
  });

  it("forwards NAT traffic both ways, releases RX slots, and reports pending TX per link", () => {
    const syn = tcp4Frame({ ...fromClient, id: 1, df: true, src: CLIENT, dst: VIP, sport: 43000, dport: 80, flags: "S", seq: 1 });
    l0.receive(syn);
    l0.receive(tcp4Frame({ ...fromClient, id: 2, df: true, src: CLIENT, dst: VIP, sport: 43000, dport: 80, flags: "A", seq: 2, ack: 1 }));
    expect(a.dp.x.ioRun(64, 1000)).toBe(2);
    expect(l0.rxStatus(0)).toBe(0);
    expect(l0.rxStatus(1)).toBe(0);
    expect(a.dp.x.ioTakePending(1)).toBe(2);
    expect(a.dp.x.ioTakePending(1)).toBe(0);
    expect(a.dp.x.ioTakePending(0)).toBe(0);
    const out = l1.sent();
    expect(out).toHaveLength(2);
    expectFrame(out[0].frame, tcp4Frame({ ...toRs(0), id: 1, df: true, src: CLIENT, dst: RS[0], sport: 43000, dport: 8080, flags: "S", seq: 1 }));
    expect(out[0].vnet).toEqual({ flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });
    // And back.
    l1.receive(tcp4Frame({ ...fromRs(0), id: 3, src: RS[0], dst: CLIENT, sport: 8080, dport: 43000, flags: "SA", seq: 9, ack: 2 }));
    expect(a.dp.x.ioRun(64, 1001)).toBe(1);
    expect(a.dp.x.ioTakePending(0)).toBe(1);
    expectFrame(l0.sent()[0].frame, tcp4Frame({ ...toClient, id: 3, src: VIP, dst: CLIENT, sport: 80, dport: 43000, flags: "SA", seq: 9, ack: 2 }));
  });

  it("writes the virtio header of a GSO frame passed through NAT (hdr_len, gso, csum_start/offset)", () => {
    l0.receive(tcp4Frame({ ...fromClient, id: 1, df: true, src: CLIENT, dst: VIP, sport: 43001, dport: 80, flags: "S", seq: 1 }));
    const seg = { sport: 43001, dport: 80, flags: "A", seq: 2, ack: 1, payload: bytes(20000, 2) } as const;
    l0.receive(partial(tcp4Frame({ ...fromClient, id: 2, df: true, src: CLIENT, dst: VIP, ...seg })), encodeOffload({ ...csum(34), gsoType: GSO.TCPV4, gsoSize: 1448 }));
    a.dp.x.ioRun(64, 1000);
    const out = l1.sent();
    expect(out).toHaveLength(2);
    expectFrame(out[1].frame, partial(tcp4Frame({ ...toRs(0), id: 2, df: true, src: CLIENT, dst: RS[0], ...seg, dport: 8080 })));
    expect(out[1].vnet).toEqual({ flags: 1, gsoType: GSO.TCPV4, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16 });
  });

  it("segments GSO inside IP-in-IP into TX slots with complete frames", () => {
    l0.receive(tcp4Frame({ ...fromClient, id: 0xff, df: true, src: CLIENT, dst: VIP_TUN, sport: 43002, dport: 80, flags: "S", seq: 49 }));
    a.dp.x.ioRun(64, 1000);
    expect(l1.sent()).toHaveLength(1);
    a.dp.x.ioTakePending(1);
    const seg = { sport: 43002, dport: 80, flags: "A", seq: 50, ack: 1, payload: bytes(5000, 7) } as const;
    l0.receive(partial(tcp4Frame({ ...fromClient, id: 0x100, df: true, src: CLIENT, dst: VIP_TUN, ...seg })), encodeOffload({ ...csum(34), gsoType: GSO.TCPV4, gsoSize: 1400 }));
    a.dp.x.ioRun(64, 1000);
    const out = l1.sent();
    expect(out).toHaveLength(4);
    expect(a.dp.x.ioTakePending(1)).toBe(4);
    let payload = new Uint8Array(0);
    out.forEach((o, k) => {
      expect(verifyChecksums(o.frame)).toEqual([]);
      expect(o.vnet.flags).toBe(0);
      expect(o.frame.length).toBeLessThanOrEqual(1514);
      const p = parseFrame(o.frame);
      expect(p.inner?.tcp?.seq).toBe(50 + k * 1400);
      expect(p.inner?.ip.id).toBe(0x100 + k);
      payload = concat(payload, o.frame.subarray(14 + 20 + 20 + 20));
    });
    expect(payload).toEqual(seg.payload);
  });

  it("queues frames for the host stack with their checksum completed, and sends host frames out as they are", () => {
    const mine = partial(tcp4Frame({ ...fromClient, id: 5, src: CLIENT, dst: "198.18.0.1", sport: 43003, dport: 22, flags: "S", seq: 1 }));
    l0.receive(mine, encodeOffload(csum(34)));
    a.dp.x.ioRun(64, 1000);
    const q = l0.localFrames();
    expect(q).toHaveLength(1);
    expectFrame(q[0], tcp4Frame({ ...fromClient, id: 5, src: CLIENT, dst: "198.18.0.1", sport: 43003, dport: 22, flags: "S", seq: 1 }));
    // The host stack answers through the TAP: the frame goes out of link 0 unchanged.
    const x = a.dp.x;
    const answer = tcp4Frame({ ...toClient, id: 6, src: "198.18.0.1", dst: CLIENT, sport: 22, dport: 43003, flags: "RA", seq: 0, ack: 2 });
    const slot = x.ioHostSlot(0);
    expect(slot).toBeGreaterThan(0);
    expect(x.ioHostCap(0)).toBeGreaterThanOrEqual(65536);
    new Uint8Array(x.memory.buffer).set(answer, slot);
    expect(x.ioHostCommit(0, answer.length)).toBe(0);
    expect(x.ioTakePending(0)).toBe(1);
    expectFrame(l0.sent()[0].frame, answer);
  });

  it("completes on input a partial checksum the flags cannot carry (ICMP, csum_offset 2)", () => {
    const echo = icmp4Echo({ ...fromClient, id: 1, src: CLIENT, dst: VIP, seq: 1, payload: bytes(40) });
    const f = echo.slice();
    f[34 + 2] = f[34 + 3] = 0; // ICMP has no pseudo-header: the seed is 0
    l0.receive(f, 0, f.length, Uint8Array.of(1, 0, 0, 0, 0, 0, 34, 0, 2, 0));
    a.dp.x.ioRun(64, 1000);
    const out = l0.sent();
    expect(out).toHaveLength(1);
    expect(parseFrame(out[0].frame).icmp?.type).toBe(0);
    expect(verifyChecksums(out[0].frame)).toEqual([]);
  });

  it("drops a truncated frame (counted) and goes on", () => {
    const big = udp4Frame({ ...fromClient, id: 1, src: CLIENT, dst: VIP, sport: 5000, dport: 53, payload: bytes(1000) });
    l0.receive(big, 0, 200);
    l0.receive(udp4Frame({ ...fromClient, id: 2, src: CLIENT, dst: VIP, sport: 5001, dport: 53, payload: bytes(10) }));
    expect(a.dp.x.ioRun(64, 1000)).toBe(2);
    expect(l1.sent()).toHaveLength(1);
    const n = names(a);
    expect(a.dp.x.ioCounter(0, n.indexOf("rx_truncated"))).toBe(1n);
    expect(a.dp.x.ioCounter(0, n.indexOf("rx_frames"))).toBe(2n);
    expect(a.dp.x.ioCounter(1, n.indexOf("tx_frames"))).toBe(1n);
  });

  it("stops at max frames and resumes where it left off", () => {
    for (let i = 0; i < 6; i++) l0.receive(udp4Frame({ ...fromClient, id: i, src: CLIENT, dst: VIP, sport: 6000 + i, dport: 53, payload: bytes(10) }));
    expect(a.dp.x.ioRun(4, 1000)).toBe(4);
    expect(a.dp.x.ioRun(4, 1000)).toBe(2);
    expect(a.dp.x.ioRun(4, 1000)).toBe(0);
    expect(l1.sent().map((o) => parseFrame(o.frame).udp?.sport)).toEqual([6000, 6001, 6002, 6003, 6004, 6005]);
  });

  it("drops when the egress TX ring is full, counted", () => {
    for (let i = 0; i < 8; i++) l0.receive(udp4Frame({ ...fromClient, id: i, src: CLIENT, dst: VIP, sport: 7000 + i, dport: 53, payload: bytes(10) }));
    a.dp.x.ioRun(64, 1000);
    for (let i = 0; i < 8; i++) l0.receive(udp4Frame({ ...fromClient, id: i, src: CLIENT, dst: VIP, sport: 7100 + i, dport: 53, payload: bytes(10) }));
    a.dp.x.ioRun(64, 1000); // 16 slots: all taken, none sent by "the kernel" yet
    l0.receive(udp4Frame({ ...fromClient, id: 99, src: CLIENT, dst: VIP, sport: 7200, dport: 53, payload: bytes(10) }));
    a.dp.x.ioRun(64, 1000);
    const n = names(a);
    expect(a.dp.x.ioCounter(1, n.indexOf("tx_ring_full"))).toBe(1n);
    expect(l1.sent()).toHaveLength(16);
  });
});

describe("ring walker over a TPACKET_V3 ring", () => {
  it("walks blocks, hands them back, and resumes inside a block", async () => {
    const a = await appliance();
    const l0 = new FakeLink(a, 0, { rxSlots: 4, rxSlot: 2048, txSlots: 16, txSlot: 1 << 17, version: 3, blockSize: 1 << 16 });
    const l1 = new FakeLink(a, 1);
    const f = (i: number) => udp4Frame({ ...fromClient, id: i, src: CLIENT, dst: VIP, sport: 8000 + i, dport: 53, payload: bytes(30 + i) });
    l0.receiveBlock(0, [f(0), f(1), f(2)]);
    l0.receiveBlock(1, [f(3), f(4)]);
    expect(a.dp.x.ioRun(2, 1000)).toBe(2);
    expect(l0.blockStatus(0)).toBe(1); // still ours: one frame left in it
    expect(a.dp.x.ioRun(64, 1000)).toBe(3);
    expect(l0.blockStatus(0)).toBe(0);
    expect(l0.blockStatus(1)).toBe(0);
    expect(l1.sent().map((o) => parseFrame(o.frame).udp?.sport)).toEqual([8000, 8001, 8002, 8003, 8004]);
    expect(DROP).toBe(0);
  });
});

describe("neighbour probes (assembly/net/probe.ts)", () => {
  it("solicits an unresolved real server's MAC on its link's TX ring, once per second, and not when known", async () => {
    const a = await makeAppliance({ neighbours: false });
    const l1 = new FakeLink(a, 1);
    expect(a.dp.probeNeighbour(RS[0], 5000)).toBe(1);
    const sent = l1.sent();
    expect(sent).toHaveLength(1);
    const want = arp({ op: 1, sha: LB1_MAC, spa: "198.19.0.1", tpa: RS[0], ethSrc: LB1_MAC, ethDst: "ff:ff:ff:ff:ff:ff" });
    expect(diffFrames(sent[0].frame, want)).toBe("");
    // Rate-limited like every solicitation; known neighbours are not probed.
    expect(a.dp.probeNeighbour(RS[0], 5500)).toBe(-1);
    expect(a.dp.probeNeighbour(RS[0], 6001)).toBe(1);
    a.dp.setNeighbour(1, RS[1], RS_MAC[1]);
    expect(a.dp.probeNeighbour(RS[1], 7000)).toBe(-1);
    // No route, or a link without rings: nothing to send.
    expect(a.dp.probeNeighbour("198.18.200.9", 7000)).toBe(-1);
    expect(a.dp.probeNeighbour(CLIENT, 7000)).toBe(-1);
  });
});
