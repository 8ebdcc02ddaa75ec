// VRRP packet I/O (src/dataplane/vrrpio.ts) without a link:
//   - the socket filter, checked and run with the kernel's semantics
//     (test/helpers/cbpf.ts): it takes VRRP adverts (v3/v2, IPv4/IPv6,
//     untagged or with one 802.1Q tag) and nothing else (UDP, TCP, ARP, ICMP,
//     ICMPv6, other ethertypes, truncated frames), and agrees with a plain
//     model of the rule on random frames;
//   - VrrpLink over a fake addon whose rings are plain buffers laid out as the
//     kernel's TPACKET_V2 rings: frames handed to onFrame (copies, tag taken
//     out, the VLAN id beside them), truncated ones counted, a socket error
//     reported, and send()'s slot handling when the kernel takes a frame, does
//     not take it (link down, EAGAIN) or skips it, with the counters.
// The real sockets are test/e2e/vrrpio.test.ts's.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as realNative from "../../native/index.js";
import { arp, icmp, ipFrame, ipv4, ipv6, tcp4Frame, udp4Frame, udp6Frame, ether, ipv6Frag, tagged as tag, l3Start } from "../helpers/frames.js";
import { checkProgram, decodeProgram, runProgram } from "../helpers/cbpf.js";
import { VrrpLink, vrrpFilter } from "../../src/dataplane/vrrpio.js";
import { buildFrame, decodeFrame, type Advert } from "../../src/vrrp/packet.js";

const MAC_A = "02:00:00:00:00:0a", MAC_B = "02:00:00:00:00:0b";
const V3_4: Advert = { version: 3, family: 4, vrid: 51, priority: 150, intervalCs: 100, addresses: ["198.18.1.1", "198.18.1.2"] };
const V2_4: Advert = { version: 2, family: 4, vrid: 7, priority: 100, intervalCs: 100, addresses: ["198.18.1.3"] };
const V3_6: Advert = { version: 3, family: 6, vrid: 9, priority: 200, intervalCs: 10, addresses: ["2001:db8::1", "fe80::1"] };

const adverts = () => [
  buildFrame(V3_4, { src: "198.18.0.1", srcMac: MAC_A }),
  buildFrame(V2_4, { src: "198.18.0.1", srcMac: MAC_A }),
  buildFrame(V3_6, { src: "fe80::a", srcMac: MAC_A }),
  buildFrame(V3_4, { src: "198.18.0.1", dst: "198.18.0.2", srcMac: MAC_A, dstMac: MAC_B }),
];

const prog = decodeProgram(vrrpFilter());
const accepts = (f: Uint8Array) => runProgram(prog, f) !== 0;

/** The rule, plainly. */
function model(f: Uint8Array): boolean {
  const l3 = l3Start(f);
  if (!l3) return false;
  const { type, off } = l3;
  if (type === 0x0800) return f.length > off + 9 && f[off + 9] === 112;
  if (type === 0x86dd) return f.length > off + 6 && f[off + 6] === 112;
  return false;
}

describe("vrrpFilter", () => {
  it("is a program the kernel takes, and small", () => {
    expect(() => checkProgram(prog)).not.toThrow();
    expect(prog.length).toBeLessThanOrEqual(16);
  });

  it("takes VRRP adverts, untagged and with one 802.1Q tag", () => {
    for (const f of adverts()) {
      expect(decodeFrame(f).ok).toBe(true);
      expect(accepts(f)).toBe(true);
      expect(accepts(tag(f, 10))).toBe(true);
      expect(accepts(tag(f, 0))).toBe(true);
    }
  });

  it("drops everything else", () => {
    const l2 = { ethSrc: MAC_A, ethDst: MAC_B };
    const others = [
      udp4Frame({ ...l2, src: "198.18.0.1", dst: "198.18.0.2", sport: 1000, dport: 53 }),
      tcp4Frame({ ...l2, src: "198.18.0.1", dst: "198.18.0.2", sport: 1000, dport: 80, flags: "S" }),
      // UDP with 112 where a VRRP frame has it in the IPv6 header / a port of 112
      udp4Frame({ ...l2, src: "198.18.0.1", dst: "198.18.0.2", sport: 112, dport: 112, ttl: 112 }),
      udp6Frame({ ...l2, src: "2001:db8::1", dst: "2001:db8::2", sport: 112, dport: 112, hopLimit: 112 }),
      ipFrame(l2, ipv4({ src: "198.18.0.1", dst: "198.18.0.2", proto: 1, payload: icmp({ type: 8 }) })),
      ipFrame(l2, ipv6({ src: "fe80::1", dst: "ff02::1", nextHeader: 58, payload: icmp({ type: 136 }) })),
      // VRRP behind an IPv6 extension header: adverts never carry one
      ipFrame(l2, ipv6({ src: "fe80::1", dst: "ff02::12", nextHeader: 112, extHeaders: [ipv6Frag({})], payload: new Uint8Array(16) })),
      arp({ op: 1, sha: MAC_A, spa: "198.18.0.1", tpa: "198.18.0.2" }),
      arp({ op: 2, sha: MAC_A, spa: "198.18.0.1", tha: MAC_B, tpa: "198.18.0.2" }),
      ether({ dst: MAC_B, src: MAC_A, type: 0x88cc, payload: new Uint8Array(46).fill(112) }),
      // 802.1ad outer tag: not one 802.1Q tag
      ether({ dst: MAC_B, src: MAC_A, type: 0x88a8, payload: adverts()[0].subarray(12) }),
      // two 802.1Q tags
      tag(tag(adverts()[0], 5), 6),
    ];
    for (const f of others) expect(accepts(f), Buffer.from(f).toString("hex")).toBe(false);
    for (const f of others.slice(0, 4)) expect(accepts(tag(f, 10))).toBe(false);
  });

  it("drops a frame cut before the protocol byte, takes one cut after it", () => {
    for (const f0 of adverts()) {
      for (const f of [f0, tag(f0, 3)]) {
        const tagged = f.length !== f0.length ? 4 : 0;
        const at = 14 + tagged + (f0[12] === 0x08 ? 9 : 6);
        for (let n = 0; n <= at; n++) expect(accepts(f.subarray(0, n)), `${n} bytes`).toBe(false);
        expect(accepts(f.subarray(0, at + 1))).toBe(true);
      }
    }
  });

  it("agrees with the rule on random frames", () => {
    const type = fc.constantFrom(0x0800, 0x86dd, 0x8100, 0x0806, 0x88a8, 0x1234);
    const proto = fc.constantFrom(112, 17, 6, 58, 0, 255);
    const frame = fc.record({
      len: fc.integer({ min: 0, max: 80 }), t1: type, t2: type, p: proto, bytes: fc.uint8Array({ minLength: 80, maxLength: 80 }),
    }).map(({ len, t1, t2, p, bytes }) => {
      const f = Uint8Array.from(bytes);
      f[12] = t1 >> 8; f[13] = t1 & 0xff; f[16] = t2 >> 8; f[17] = t2 & 0xff;
      for (const i of [20, 23, 24, 27]) f[i] = p;
      return f.subarray(0, len);
    });
    fc.assert(fc.property(frame, (f) => accepts(f) === model(f)), { numRuns: 5000 });
  });
});

// ------------------------------------------------------------- a fake addon

type N = typeof realNative;
const { TPACKET2_HDR: T, TP_STATUS: S } = realNative;

interface FakeRing { g: realNative.RingGeometry; mem?: Uint8Array }

class FakeRings {
  rx?: FakeRing;
  tx?: FakeRing;
  rxNext = 0;
  txHead = 0;
  readable?: () => void;
  watches = 0;
  closed: number[] = [];
  pendingError: string | null = null;
  drops = 0;
  /** What kickTx does with a frame marked SEND_REQUEST: send it, leave it (EAGAIN, or throw errno), or skip it (PACKET_LOSS). */
  kick: "send" | "leave" | "skip" | { throw: string } = "send";
  sent: Uint8Array[] = [];

  native(): N {
    const ring = (kind: "rx" | "tx", frameSize: number, frameCount: number): FakeRing => ({
      g: {
        kind, ifname: "fake0", version: 2, offset: 0, size: frameSize * frameCount, blockSize: frameSize, blockCount: frameCount,
        frameSize, frameCount, vnetHdr: false,
      },
    });
    return {
      ...realNative,
      openRx: (ifname: string, o: realNative.RxOptions) => {
        if (ifname !== "fake0") throw Object.assign(new Error("no"), { code: "ENODEV" });
        expect(o.version).toBe(2);
        expect(o.filter).toEqual(vrrpFilter());
        this.rx = ring("rx", o.frameSize, (o.blockSize * o.blockCount) / o.frameSize);
        return 1;
      },
      openTx: (_ifname: string, o: realNative.TxOptions) => {
        this.tx = ring("tx", o.frameSize, o.frameCount);
        return 2;
      },
      ringInfo: (h: number) => (h === 1 ? this.rx! : this.tx!).g,
      mapInto: (h: number, mem: Uint8Array, offset: number) => {
        const r = h === 1 ? this.rx! : this.tx!;
        expect(offset % 4096).toBe(0);
        expect(offset + r.g.size).toBeLessThanOrEqual(mem.length);
        r.mem = mem;
        r.g = { ...r.g, offset };
        return r.g;
      },
      watch: (_h: number, cb: () => void) => { this.readable = cb; return ++this.watches; },
      unwatch: () => { this.readable = undefined; return true; },
      close: (h: number) => {
        this.closed.push(h);
        const r = h === 1 ? this.rx : this.tx;
        if (r?.mem) r.mem.fill(0, r.g.offset, r.g.offset + r.g.size); // zero pages back
      },
      stats: () => {
        const s = { packets: 0, drops: this.drops, freezes: 0, error: this.pendingError };
        this.drops = 0;
        this.pendingError = null;
        return s;
      },
      kickTx: () => this.kickTx(),
    } as unknown as N;
  }

  private kickTx(): number {
    const { g, mem } = this.tx!, dv = new DataView(mem!.buffer);
    if (typeof this.kick === "object") throw Object.assign(new Error(this.kick.throw), { code: this.kick.throw });
    let bytes = 0;
    for (;;) {
      const base = g.offset + this.txHead * g.frameSize;
      if (dv.getUint32(base + T.STATUS, true) !== S.SEND_REQUEST) return bytes;
      if (this.kick === "leave") return 0;
      const len = dv.getUint32(base + T.LEN, true);
      if (this.kick === "send") {
        this.sent.push(mem!.slice(base + T.DATA_OFFSET, base + T.DATA_OFFSET + len));
        bytes += len;
      }
      dv.setUint32(base + T.STATUS, S.AVAILABLE, true);
      this.txHead = (this.txHead + 1) % g.frameCount;
    }
  }

  /** The kernel writes a frame into the next RX slot (as TPACKET_V2 does, mac offset 66). */
  deliver(frame: Uint8Array, o: { vlanTci?: number; len?: number } = {}): boolean {
    const { g, mem } = this.rx!, dv = new DataView(mem!.buffer);
    const base = g.offset + this.rxNext * g.frameSize;
    if (dv.getUint32(base + T.STATUS, true) !== S.KERNEL) return false;
    const mac = 66, snap = Math.min(frame.length, g.frameSize - mac);
    mem!.set(frame.subarray(0, snap), base + mac);
    dv.setUint16(base + T.MAC, mac, true);
    dv.setUint32(base + T.SNAPLEN, snap, true);
    dv.setUint32(base + T.LEN, o.len ?? frame.length, true);
    dv.setUint16(base + T.VLAN_TCI, o.vlanTci ?? 0, true);
    dv.setUint32(base + T.STATUS, S.USER | (o.vlanTci !== undefined ? S.VLAN_VALID : 0), true);
    this.rxNext = (this.rxNext + 1) % g.frameCount;
    return true;
  }
}

async function fakeLink(errors: string[] = []) {
  const k = new FakeRings();
  const got: { frame: Uint8Array; at: number; vlan: number | null }[] = [];
  let t = 1000;
  const link = await VrrpLink.open("fake0", {
    native: k.native(), now: () => t++, onFrame: (frame, at, vlan) => got.push({ frame, at, vlan }), onLinkError: (e) => errors.push(e),
  });
  return { k, link, got };
}

describe("VrrpLink (fake addon)", () => {
  it("hands every frame on as an untagged copy with its VLAN id, in order", async () => {
    const { k, link, got } = await fakeLink();
    const [a, b, c] = adverts();
    k.deliver(a);
    k.deliver(b, { vlanTci: 0x2000 | 10 }); // priority bits are not the id
    k.deliver(tag(c, 42)); // a tag left in the frame
    k.readable!();
    expect(got.map((g) => g.vlan)).toEqual([null, 10, 42]);
    expect(got.map((g) => Buffer.from(g.frame).toString("hex"))).toEqual([a, b, c].map((f) => Buffer.from(f).toString("hex")));
    expect(got.map((g) => g.at)).toEqual([1000, 1001, 1002]);
    expect(decodeFrame(got[2].frame).ok).toBe(true);
    // copies: the slots are the kernel's again and may be overwritten
    expect(got[0].frame.buffer).not.toBe(k.rx!.mem!.buffer);
    // the rings do not overlap
    expect(k.tx!.g.offset).toBeGreaterThanOrEqual(k.rx!.g.offset + k.rx!.g.size);
    expect(link.rxFrames).toBe(3);
    // the ring wraps
    for (let i = 0; i < 100; i++) {
      k.deliver(a);
      if (i % 7 === 0) k.readable!();
    }
    k.readable!();
    expect(link.rxFrames).toBe(103);
    link.close();
  });

  it("counts a frame longer than its slot and does not hand it on", async () => {
    const { k, link, got } = await fakeLink();
    k.deliver(adverts()[0], { len: 20000 });
    k.deliver(adverts()[1]);
    k.readable!();
    expect(got.length).toBe(1);
    expect(link.stats()).toMatchObject({ rxFrames: 1, rxTruncated: 1 });
    link.close();
  });

  it("a wake takes the socket error and reports it, and watches again; ring drops accumulate", async () => {
    const errors: string[] = [];
    const { k, link, got } = await fakeLink(errors);
    expect(k.watches).toBe(1);
    k.pendingError = "ENETDOWN";
    k.deliver(adverts()[0]); // a frame and the error in one wake: both taken
    k.readable!();
    expect(got.length).toBe(1);
    expect(errors).toEqual(["ENETDOWN"]);
    // libuv stops a poll handle on POLLERR: the link watches again
    expect(k.watches).toBe(2);
    expect(k.readable).toBeDefined();
    k.readable!();
    expect(errors).toEqual(["ENETDOWN"]);
    expect(k.watches).toBe(2);
    k.drops = 3;
    expect(link.stats()).toMatchObject({ linkErrors: 1, lastError: "ENETDOWN", rxRingDrops: 3 });
    k.drops = 2;
    expect(link.stats().rxRingDrops).toBe(5);
    link.close();
  });

  it("sends whole frames, one slot each, through the ring's wrap", async () => {
    const { k, link } = await fakeLink();
    const frames = Array.from({ length: 40 }, (_, i) => buildFrame({ ...V3_4, priority: i + 1 }, { src: "198.18.0.1", srcMac: MAC_A }));
    for (const f of frames) expect(link.send(f)).toBe(true);
    expect(k.sent.map((f) => Buffer.from(f).toString("hex"))).toEqual(frames.map((f) => Buffer.from(f).toString("hex")));
    expect(link.stats()).toMatchObject({ txFrames: 40, txFailures: 0 });
    link.close();
  });

  it("a frame the kernel does not take is taken back, and the ring stays in step", async () => {
    const { k, link } = await fakeLink();
    const [a, b, c] = adverts();
    expect(link.send(a)).toBe(true);
    k.kick = { throw: "ENETDOWN" };
    expect(link.send(b)).toBe(false);
    expect(link.lastError).toBe("ENETDOWN");
    k.kick = "leave"; // EAGAIN / ENOBUFS
    expect(link.send(b)).toBe(false);
    expect(link.lastError).toBe("EAGAIN");
    k.kick = "skip"; // taken, but skipped (too long for the MTU, with PACKET_LOSS)
    expect(link.send(c)).toBe(false);
    expect(link.lastError).toBe("EMSGSIZE");
    k.kick = "send";
    expect(link.send(c)).toBe(true);
    expect(link.send(a)).toBe(true);
    expect(k.sent.map((f) => f.length)).toEqual([a.length, c.length, a.length]);
    expect(link.stats()).toMatchObject({ txFrames: 3, txFailures: 3 });
    link.close();
  });

  it("refuses a frame that cannot be one, and everything after close", async () => {
    const { k, link } = await fakeLink();
    expect(() => link.send(new Uint8Array(13))).toThrow(expect.objectContaining({ code: "WEIR_ERR_VRRP_IO" }));
    expect(() => link.send(new Uint8Array(link.maxFrame + 1))).toThrow(expect.objectContaining({ code: "WEIR_ERR_VRRP_IO" }));
    expect(link.send(new Uint8Array(link.maxFrame))).toBe(true);
    link.close();
    link.close();
    expect(k.closed.sort()).toEqual([1, 2]);
    expect(k.readable).toBeUndefined();
    expect(link.isClosed).toBe(true);
    expect(() => link.send(adverts()[0])).toThrow(expect.objectContaining({ code: "WEIR_ERR_IO_STOPPED" }));
  });

  it("open: an unknown link is NO_DEVICE, another failure VRRP_IO, and nothing stays open", async () => {
    const k = new FakeRings();
    await expect(VrrpLink.open("nope0", { native: k.native(), onFrame: () => {} }))
      .rejects.toMatchObject({ code: "WEIR_ERR_NO_DEVICE" });
    const n = { ...k.native(), openTx: () => { throw Object.assign(new Error("socket(AF_PACKET): EPERM (Operation not permitted)"), { code: "EPERM" }); } } as N;
    await expect(VrrpLink.open("fake0", { native: n, onFrame: () => {} }))
      .rejects.toMatchObject({ code: "WEIR_ERR_VRRP_IO", message: expect.stringContaining("EPERM") });
    expect(k.closed).toEqual([1]);
  });
});
