// Frames towards an unresolved next hop wait for its resolution
// (assembly/net/neighq.ts) instead of being lost: a NAT reply to a client the
// data plane has never resolved (a VRRP backup that just took over) is held
// while the solicitation goes out, and the ARP reply / neighbour advertisement
// releases it unchanged but for the learnt MAC. Bounded per neighbour and in
// all, dropped after the timeout, every outcome counted. Expected frames are
// built from first principles (test/helpers/frames.ts).

import { describe, it, expect, beforeEach } from "vitest";
import { arp, concat, diffFrames, icmp, ip6, ipFrame, ipv6, mac, tcp4Frame, tcp6Frame, verifyChecksums, IPPROTO_ICMPV6 } from "../helpers/frames.js";
import { makeAppliance, type Appliance, LB0_MAC, LB1_MAC, RS, RS6, RS_MAC, VIP, VIP6 } from "../helpers/appliance.js";

const TX = 1;
const LOCAL = 2;
const HELD = 3;
const LB0_IP = "198.18.0.1";
const LB0_IP6 = "2001:db8::1";

/** Clients with no neighbour entry (198.18.0.0/24 and 2001:db8::/64 are on link 0). */
const client = (k: number) => `198.18.0.${20 + k}`;
const clientMac = (k: number) => `02:00:00:00:00:${(0x20 + k).toString(16).padStart(2, "0")}`;
const CLIENT6 = "2001:db8::20";
const CLIENT6_MAC = "02:00:00:00:00:60";

const fromRs0 = { ethSrc: RS_MAC[0], ethDst: LB1_MAC };

const ndOpt = (type: number, m: string) => concat(Uint8Array.of(type, 1), mac(m));
const na = (src: string, target: string, tllaMac: string) =>
  ipFrame({ ethSrc: tllaMac, ethDst: LB0_MAC }, ipv6({ src, dst: LB0_IP6, hopLimit: 255, nextHeader: IPPROTO_ICMPV6, payload: icmp({ type: 136, rest: 0x60000000, body: concat(ip6(target), ndOpt(2, tllaMac)) }) }));

function queue(a: Appliance): Record<string, bigint> { return a.dp.neighQueueStats(); }
function unresolvedDrops(a: Appliance): bigint { return a.dp.drops().neigh_unresolved; }

/** Opens client k's connection to VIP:80 (NAT to RS0:8080): the SYN goes to RS0, whose MAC is static. */
function open(a: Appliance, k: number, sport: number, now = 1000): void {
  const r = a.send(tcp4Frame({ ethSrc: clientMac(k), ethDst: LB0_MAC, src: client(k), dst: VIP, sport, dport: 80, flags: "S", seq: 1 }), 0, now);
  expect(r.verdict).toBe(TX);
  expect(r.outLink).toBe(1);
}

/** RS0's reply on client k's connection (seq distinguishes frames). */
const reply = (k: number, sport: number, seq: number, flags = "A") =>
  tcp4Frame({ ...fromRs0, src: RS[0], dst: client(k), sport: 8080, dport: sport, flags, seq, ack: 2, payload: Uint8Array.of(seq & 0xff, 1, 2, 3) });
/** The same reply as it must leave towards client k (NAT undone, client's MAC). */
const replyOut = (k: number, sport: number, seq: number, flags = "A") =>
  tcp4Frame({ ethSrc: LB0_MAC, ethDst: clientMac(k), src: VIP, dst: client(k), sport: 80, dport: sport, flags, seq, ack: 2, payload: Uint8Array.of(seq & 0xff, 1, 2, 3) });

async function natAppliance(opts: Parameters<typeof makeAppliance>[0] = {}): Promise<Appliance> {
  const a = await makeAppliance(opts);
  a.dp.transaction((tx) => {
    tx.addService({ proto: "tcp", addr: VIP, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP, port: 80 }, { addr: RS[0], port: 8080, fwd: "nat" });
    tx.addService({ proto: "tcp", addr: VIP6, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP6, port: 80 }, { addr: RS6[0], port: 8080, fwd: "nat" });
  });
  return a;
}

describe("neighbour queue: frames wait for their next hop's resolution", () => {
  let a: Appliance;
  beforeEach(async () => { a = await natAppliance(); });

  it("declares its bounds in the layout", () => {
    const b = a.dp.layout.neighQueue;
    expect(b.pool).toBeGreaterThanOrEqual(256);
    expect(b.perNeighbour).toBeGreaterThanOrEqual(3);
    expect(b.slotBytes).toBeGreaterThanOrEqual(1514);
    expect(b.timeoutMs).toBe(3000);
  });

  it("holds a NAT reply to an unresolved client, solicits it, and the ARP reply releases the frames in order, byte-identical with the learnt MAC", () => {
    open(a, 0, 40000);
    const r1 = a.send(reply(0, 40000, 1, "SA"), 1, 1000);
    const drops0 = unresolvedDrops(a);
    expect(r1.verdict).toBe(TX);
    expect(r1.outLink).toBe(0);
    expect(a.reasonName(r1.reason)).toBe("none"); // held, not dropped: the slot carries the ARP request
    expect(diffFrames(r1.out, arp({ op: 1, sha: LB0_MAC, spa: LB0_IP, tpa: client(0) }))).toBe("");
    // A second reply within the solicitation interval: no second ARP, held too.
    const r2 = a.send(reply(0, 40000, 2), 1, 1010);
    expect(r2.verdict).toBe(HELD);
    expect(a.reasonName(r2.reason)).toBe("none");
    expect(queue(a)).toMatchObject({ queued: 2n, sent: 0n, held: 2n });
    expect(a.dp.takeReleasedFrame()).toBeNull();

    const r3 = a.send(arp({ op: 2, sha: clientMac(0), spa: client(0), tha: LB0_MAC, tpa: LB0_IP }), 0, 1020);
    expect(r3.verdict).toBe(LOCAL);
    for (const seq of [1, 2]) {
      const f = a.dp.takeReleasedFrame();
      expect(f).not.toBeNull();
      expect(f!.link).toBe(0);
      expect(diffFrames(f!.frame, replyOut(0, 40000, seq, seq === 1 ? "SA" : "A"))).toBe("");
      expect(verifyChecksums(f!.frame)).toEqual([]);
    }
    expect(a.dp.takeReleasedFrame()).toBeNull();
    expect(queue(a)).toMatchObject({ queued: 2n, sent: 2n, held: 0n, dropped_timeout: 0n, dropped_overflow: 0n });
    expect(unresolvedDrops(a)).toBe(drops0); // both delivered: no drop counted
    expect(a.dp.batchStats().framesHeld).toBeGreaterThanOrEqual(1n);
    // Resolved now: the next reply goes straight out.
    const r4 = a.send(reply(0, 40000, 3), 1, 1030);
    expect(r4.verdict).toBe(TX);
    expect(diffFrames(r4.out, replyOut(0, 40000, 3))).toBe("");
    expect(queue(a).queued).toBe(2n);
  });

  it("keeps at most perNeighbour frames for one neighbour; the rest are dropped and counted", () => {
    const cap = a.dp.layout.neighQueue.perNeighbour;
    open(a, 1, 40001);
    const before = unresolvedDrops(a);
    for (let i = 0; i < cap + 5; i++) a.send(reply(1, 40001, i + 1), 1, 1000);
    expect(queue(a)).toMatchObject({ queued: BigInt(cap), dropped_overflow: 5n, held: BigInt(cap) });
    expect(unresolvedDrops(a) - before).toBe(5n); // only the frames the queue could not keep are drops
    a.send(arp({ op: 2, sha: clientMac(1), spa: client(1), tha: LB0_MAC, tpa: LB0_IP }), 0, 1001);
    let n = 0;
    for (let f = a.dp.takeReleasedFrame(); f; f = a.dp.takeReleasedFrame()) {
      expect(diffFrames(f.frame, replyOut(1, 40001, n + 1))).toBe(""); // the first cap, in order
      n++;
    }
    expect(n).toBe(cap);
    expect(queue(a)).toMatchObject({ sent: BigInt(cap), held: 0n });
  });

  it("never holds more than the pool, whatever the number of neighbours", () => {
    const { pool, perNeighbour } = a.dp.layout.neighQueue;
    const clients = Math.ceil(pool / perNeighbour) + 2;
    for (let k = 0; k < clients; k++) open(a, 10 + k, 41000 + k);
    for (let k = 0; k < clients; k++) {
      for (let i = 0; i < perNeighbour; i++) a.send(reply(10 + k, 41000 + k, i + 1), 1, 1000);
    }
    const q = queue(a);
    expect(q.held).toBe(BigInt(pool));
    expect(q.queued).toBe(BigInt(pool));
    expect(q.dropped_overflow).toBe(BigInt(clients * perNeighbour - pool));
    // A neighbour that got nothing queued resolves with nothing to send.
    const last = 10 + clients - 1;
    a.send(arp({ op: 2, sha: clientMac(last), spa: client(last), tha: LB0_MAC, tpa: LB0_IP }), 0, 1001);
    expect(a.dp.takeReleasedFrame()).toBeNull();
  });

  it("drops and counts the frames of a neighbour that does not answer within the timeout", () => {
    const t = a.dp.layout.neighQueue.timeoutMs;
    open(a, 2, 40002);
    a.send(reply(2, 40002, 1), 1, 1000);
    a.send(reply(2, 40002, 2), 1, 1500);
    a.batch.clear();
    a.batch.run(1000 + t - 100); // a timer tick (no frames) before the timeout: still held
    expect(queue(a)).toMatchObject({ held: 2n, dropped_timeout: 0n });
    const before = unresolvedDrops(a);
    a.batch.run(1000 + t + 100);
    expect(queue(a)).toMatchObject({ held: 0n, dropped_timeout: 2n, sent: 0n });
    expect(unresolvedDrops(a) - before).toBe(2n); // lost now: neigh_unresolved drops now
    // A late answer finds nothing to release.
    a.send(arp({ op: 2, sha: clientMac(2), spa: client(2), tha: LB0_MAC, tpa: LB0_IP }), 0, 1000 + t + 200);
    expect(a.dp.takeReleasedFrame()).toBeNull();
  });

  it("drops and counts what it holds when the neighbours are flushed", () => {
    open(a, 3, 40003);
    a.send(reply(3, 40003, 1), 1, 1000);
    const before = unresolvedDrops(a);
    a.dp.flushNeighbours(0);
    expect(queue(a)).toMatchObject({ held: 0n, dropped_flushed: 1n });
    expect(unresolvedDrops(a) - before).toBe(1n);
  });

  it("IPv6: holds a NAT reply while soliciting the client, and the neighbour advertisement releases it", () => {
    const syn = tcp6Frame({ ethSrc: CLIENT6_MAC, ethDst: LB0_MAC, src: CLIENT6, dst: VIP6, sport: 40010, dport: 80, flags: "S", seq: 1 });
    expect(a.send(syn, 0, 1000).verdict).toBe(TX);
    const rep = tcp6Frame({ ...fromRs0, src: RS6[0], dst: CLIENT6, sport: 8080, dport: 40010, flags: "SA", seq: 1, ack: 2 });
    const r = a.send(rep, 1, 1000);
    expect(r.verdict).toBe(TX);
    expect(a.reasonName(r.reason)).toBe("none");
    expect(r.out[12] * 256 + r.out[13]).toBe(0x86dd); // a neighbour solicitation, not the reply
    expect(queue(a)).toMatchObject({ queued: 1n, held: 1n });
    expect(a.send(na(CLIENT6, CLIENT6, CLIENT6_MAC), 0, 1010).verdict).toBe(LOCAL);
    const f = a.dp.takeReleasedFrame();
    expect(f).not.toBeNull();
    expect(f!.link).toBe(0);
    expect(diffFrames(f!.frame, tcp6Frame({ ethSrc: LB0_MAC, ethDst: CLIENT6_MAC, src: VIP6, dst: CLIENT6, sport: 80, dport: 40010, flags: "SA", seq: 1, ack: 2 }))).toBe("");
    expect(verifyChecksums(f!.frame)).toEqual([]);
    expect(queue(a)).toMatchObject({ sent: 1n, held: 0n });
  });
});

describe("neighbour table: a full table is compacted, so it never stays full", () => {
  // 2001:db8::/64 is on link 0: every spoofed client of a flood is a new neighbour to resolve.
  const flooder = (k: number) => `2001:db8::1:${k.toString(16)}`;
  const synFrom = (k: number) => tcp6Frame({ ethSrc: CLIENT6_MAC, ethDst: LB0_MAC, src: flooder(k), dst: VIP6, sport: 20000 + (k % 40000), dport: 80, flags: "S", seq: 1 });
  const replyTo = (k: number) => tcp6Frame({ ...fromRs0, src: RS6[0], dst: flooder(k), sport: 8080, dport: 20000 + (k % 40000), flags: "SA", seq: 1, ack: 2 });
  /** Client k's SYN goes to RS6_0 (static MAC); RS6_0's SYN-ACK needs k's MAC: its verdict. */
  const connect = (a: Appliance, k: number, now: number) => {
    expect(a.send(synFrom(k), 0, now).verdict).toBe(TX);
    return a.send(replyTo(k), 1, now);
  };

  it("frees the unresolved entries of a flood at most once a second; static entries stay", async () => {
    const a = await natAppliance({ connCapacity6: 1 << 14 });
    const cap = a.dp.x.neighCapacity();
    // More unresolved neighbours than the table takes, twice over, within one millisecond.
    let refused = 0;
    for (let k = 0; k < 2 * cap; k++) if (connect(a, k, 1000).verdict === 0) refused++;
    // The first time it filled it was compacted at once; the second time it stays full until a second has passed.
    expect(refused).toBeGreaterThan(0);
    const blocked = connect(a, 2 * cap, 1500);
    expect(blocked.verdict).toBe(0); // still full: refused, counted
    expect(a.reasonName(blocked.reason)).toBe("neigh_unresolved");
    // A second later the next batch compacts it: a new neighbour is asked for again, its frame held.
    a.batch.clear();
    a.batch.run(2001);
    const r = connect(a, 2 * cap + 1, 2002);
    expect(r.verdict).toBe(TX);
    expect(r.out[12] * 256 + r.out[13]).toBe(0x86dd); // the neighbour solicitation
    expect(queue(a).held).toBeGreaterThanOrEqual(1n);
    // The static neighbour (RS6_0) survived: a new client's SYN still goes straight to it.
    expect(a.send(synFrom(3 * cap), 0, 2003).verdict).toBe(TX);
  });
});
