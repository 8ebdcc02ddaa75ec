// Forwarding tables for the data plane, in the style of Katran's test
// fixtures: each step is {description, input frame, expected verdict, egress
// link and output frame}. Steps of one group run in order on one appliance,
// so a later step sees the connections, fragment notes and neighbours the
// earlier ones left. Every expected frame is built from first principles
// with test/helpers/frames.ts (never from the data plane's own output) and
// compared byte for byte; every step also checks the drop counters: exactly
// the expected one moves, by exactly one.

import { describe, it, expect, beforeAll } from "vitest";
import {
  arp,
  concat,
  diffFrames,
  ether,
  icmp,
  icmp4Echo,
  icmp4Error,
  icmp6Echo,
  icmp6Error,
  ip6,
  ipFrame,
  ipip4Frame,
  ipv4,
  ipv6,
  ipv6Frag,
  mac,
  parseFrame,
  summarizeFrame,
  tcp,
  tcp4Frame,
  tcp6Frame,
  udp,
  udp4Frame,
  udp6Frame,
  verifyChecksums,
  withL4Checksum,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
} from "../helpers/frames.js";
import {
  makeAppliance,
  type Appliance,
  CLIENT,
  CLIENT6,
  CLIENT_MAC,
  LB0_MAC,
  LB1_MAC,
  RS,
  RS6,
  RS_MAC,
  VIP,
  VIP6,
} from "../helpers/appliance.js";

// ---------------------------------------------------------------------------
// Topology and services
// ---------------------------------------------------------------------------

const DROP = 0;
const TX = 1;
const LOCAL = 2;
const HELD = 3;

/** The appliance's own addresses (test/helpers/appliance.ts). */
const LB0_IP = "198.18.0.1";
const LB1_IP = "198.19.0.1";
const LB0_IP6 = "2001:db8::1";
const LB1_IP6 = "2001:db8:1::1";
const ROUTER = "198.18.0.254"; // a router on the client side that reports PMTU problems
const ROUTER_MAC = "02:00:00:00:00:fe";

/** Service addresses that the appliance does not own (DR/TUN VIPs live on the real servers too). */
const VIP_DR = "198.18.100.2";
const VIP6_DR = "2001:db8:100::2";
const VIP_TUN = "198.18.100.3";
const VIP_NODEST = "198.18.100.4";
const VIP_NOROUTE = "198.18.100.5";
const UNROUTABLE_RS = "10.99.0.1";

/**
 * NAT services each have one real server so the expected frames need no
 * knowledge of the scheduler; the two-server service is for stickiness.
 */
function configure(a: Appliance): void {
  a.dp.transaction((tx) => {
    tx.addService({ proto: "tcp", addr: VIP, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP, port: 80 }, { addr: RS[0], port: 8080, fwd: "nat" });
    tx.addService({ proto: "udp", addr: VIP, port: 53 }, { scheduler: "rr" });
    tx.addDest({ proto: "udp", addr: VIP, port: 53 }, { addr: RS[1], port: 5353, fwd: "nat" });
    tx.addService({ proto: "tcp", addr: VIP, port: 8000 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP, port: 8000 }, { addr: RS[1], port: 8081, fwd: "nat" });
    tx.addDest({ proto: "tcp", addr: VIP, port: 8000 }, { addr: RS[2], port: 8081, fwd: "nat" });

    tx.addService({ proto: "tcp", addr: VIP6, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP6, port: 80 }, { addr: RS6[0], port: 8080, fwd: "nat" });
    tx.addService({ proto: "udp", addr: VIP6, port: 53 }, { scheduler: "rr" });
    tx.addDest({ proto: "udp", addr: VIP6, port: 53 }, { addr: RS6[1], port: 5353, fwd: "nat" });

    tx.addService({ proto: "tcp", addr: VIP_DR, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP_DR, port: 80 }, { addr: RS[2], port: 80, fwd: "dr" });
    tx.addService({ proto: "tcp", addr: VIP6_DR, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP6_DR, port: 80 }, { addr: RS6[2], port: 80, fwd: "dr" });

    tx.addService({ proto: "tcp", addr: VIP_TUN, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP_TUN, port: 80 }, { addr: RS[1], port: 80, fwd: "tun" });

    tx.addService({ proto: "tcp", addr: VIP_NODEST, port: 80 }, { scheduler: "rr" });
    tx.addService({ proto: "tcp", addr: VIP_NOROUTE, port: 80 }, { scheduler: "rr" });
    tx.addDest({ proto: "tcp", addr: VIP_NOROUTE, port: 80 }, { addr: UNROUTABLE_RS, port: 80, fwd: "nat" });
  });
}

// ---------------------------------------------------------------------------
// The table runner
// ---------------------------------------------------------------------------

interface Step {
  description: string;
  link: number;
  frame: Uint8Array;
  /** 0 drop, 1 transmit, 2 pass to the host stack. */
  verdict: 0 | 1 | 2;
  /** Transmit only: the exact frame and the egress link. */
  expected?: Uint8Array;
  outLink?: number;
  /** Reason reported with the verdict ("none" unless given). */
  reason?: string;
  /** Drop counter that must go up by exactly one (defaults to `reason` for drops, none otherwise). */
  counted?: string | null;
  /** Processing time, ms (default 1000). */
  now?: number;
  /**
   * Fields the data plane may choose freely, taken from the output before the
   * comparison (only the outer IPv4 id of a tunnel packet).
   */
  expectedFrom?: (out: Uint8Array) => Uint8Array;
}

interface Group {
  name: string;
  neighbours?: boolean;
  setup?: (a: Appliance) => void;
  steps: Step[];
}

function dropDelta(before: Record<string, bigint>, after: Record<string, bigint>): Record<string, bigint> {
  const d: Record<string, bigint> = {};
  for (const k of Object.keys(after)) if (after[k] !== before[k]) d[k] = after[k] - (before[k] ?? 0n);
  return d;
}

/**
 * Like a.send, but with the descriptor's output slot pointed at the input
 * slot: the in-place rewrite the batch interface allows (ring/batch.ts).
 */
function sendInPlace(a: Appliance, frame: Uint8Array, link: number, now: number) {
  a.batch.clear();
  a.batch.set(0, frame, link);
  const DESC = a.dp.layout.desc;
  new DataView(a.dp.memory.buffer, a.batch.desc, DESC.size).setUint32(DESC.outOff, a.batch.inSlot(0), true);
  a.batch.run(now);
  return a.batch.result(0);
}

function runStep(a: Appliance, s: Step, inPlace: boolean): void {
  const before = a.dp.drops();
  const r = inPlace ? sendInPlace(a, s.frame, s.link, s.now ?? 1000) : a.send(s.frame, s.link, s.now ?? 1000);
  const after = a.dp.drops();
  const ctx = `${s.description}\n  in:  ${summarizeFrame(s.frame)}\n  out: ${r.out.length ? summarizeFrame(r.out) : "(none)"}`;
  expect({ verdict: r.verdict, reason: a.reasonName(r.reason) }, ctx).toEqual({ verdict: s.verdict, reason: s.reason ?? "none" });
  const counted = s.counted !== undefined ? s.counted : s.verdict === DROP ? s.reason : null;
  expect(dropDelta(before, after), ctx).toEqual(counted ? { [counted]: 1n } : {});
  if (s.verdict !== TX) {
    expect(r.out.length, ctx).toBe(0);
    return;
  }
  expect(r.outLink, ctx).toBe(s.outLink);
  const expected = s.expectedFrom ? s.expectedFrom(r.out) : s.expected!;
  expect(diffFrames(r.out, expected), ctx).toBe("");
  expect(verifyChecksums(r.out), ctx).toEqual([]);
}

function runGroups(groups: Group[], inPlace = false): void {
  for (const g of groups) {
    describe(inPlace ? `${g.name} [in place]` : g.name, () => {
      let a: Appliance;
      beforeAll(async () => {
        a = await makeAppliance({ neighbours: g.neighbours });
        configure(a);
        g.setup?.(a);
      });
      for (const s of g.steps) it(s.description, () => runStep(a, s, inPlace));
    });
  }
}

// ---------------------------------------------------------------------------
// Frame shorthands (all plain frames.ts builders)
// ---------------------------------------------------------------------------

/** Client → appliance on link 0. */
const fromClient = { ethSrc: CLIENT_MAC, ethDst: LB0_MAC };
/** Appliance → client on link 0. */
const toClient = { ethSrc: LB0_MAC, ethDst: CLIENT_MAC };
/** Real server i → appliance on link 1. */
const fromRs = (i: number) => ({ ethSrc: RS_MAC[i], ethDst: LB1_MAC });
/** Appliance → real server i on link 1. */
const toRs = (i: number) => ({ ethSrc: LB1_MAC, ethDst: RS_MAC[i] });

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

/** IPv4 header fields that must pass through NAT untouched (TTL, id, DF, TOS). */
const ip4f = { ttl: 57, id: 0x1234, df: true, tos: 0x28 };
const ip6f = { hopLimit: 57, trafficClass: 0x28, flowLabel: 0x12345 };

// ---------------------------------------------------------------------------
// NAT
// ---------------------------------------------------------------------------

const natTcp4: Step[] = [
  {
    description: "client SYN to VIP:80 goes to RS0:8080 with dst address/port rewritten",
    link: 0,
    frame: tcp4Frame({ ...fromClient, ...ip4f, src: CLIENT, dst: VIP, sport: 40001, dport: 80, flags: "S", seq: 1000, options: Uint8Array.of(2, 4, 5, 0xb4) }),
    verdict: TX,
    outLink: 1,
    expected: tcp4Frame({ ...toRs(0), ...ip4f, src: CLIENT, dst: RS[0], sport: 40001, dport: 8080, flags: "S", seq: 1000, options: Uint8Array.of(2, 4, 5, 0xb4) }),
  },
  {
    description: "RS0's SYN-ACK comes back to the client from VIP:80",
    link: 1,
    frame: tcp4Frame({ ...fromRs(0), ttl: 64, id: 0x4321, df: true, src: RS[0], dst: CLIENT, sport: 8080, dport: 40001, flags: "SA", seq: 5000, ack: 1001 }),
    verdict: TX,
    outLink: 0,
    expected: tcp4Frame({ ...toClient, ttl: 64, id: 0x4321, df: true, src: VIP, dst: CLIENT, sport: 80, dport: 40001, flags: "SA", seq: 5000, ack: 1001 }),
  },
  {
    description: "the client's ACK with data follows the same connection to RS0:8080",
    link: 0,
    frame: tcp4Frame({ ...fromClient, ...ip4f, id: 0x1235, src: CLIENT, dst: VIP, sport: 40001, dport: 80, flags: "PA", seq: 1001, ack: 5001, payload: bytes(300) }),
    verdict: TX,
    outLink: 1,
    expected: tcp4Frame({ ...toRs(0), ...ip4f, id: 0x1235, src: CLIENT, dst: RS[0], sport: 40001, dport: 8080, flags: "PA", seq: 1001, ack: 5001, payload: bytes(300) }),
  },
  {
    description: "RS0's data reply is source-NATed to VIP:80",
    link: 1,
    frame: tcp4Frame({ ...fromRs(0), ttl: 64, id: 0x4322, src: RS[0], dst: CLIENT, sport: 8080, dport: 40001, flags: "PA", seq: 5001, ack: 1301, payload: bytes(1000, 3) }),
    verdict: TX,
    outLink: 0,
    expected: tcp4Frame({ ...toClient, ttl: 64, id: 0x4322, src: VIP, dst: CLIENT, sport: 80, dport: 40001, flags: "PA", seq: 5001, ack: 1301, payload: bytes(1000, 3) }),
  },
  {
    description: "a SYN with IPv4 options keeps its options (and the rest of the header)",
    link: 0,
    frame: ipFrame(fromClient, ipv4({ ...ip4f, src: CLIENT, dst: VIP, proto: IPPROTO_TCP, options: Uint8Array.of(0x94, 4, 0, 0), payload: tcp({ sport: 40002, dport: 80, flags: "S", seq: 77 }) })),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(0), ipv4({ ...ip4f, src: CLIENT, dst: RS[0], proto: IPPROTO_TCP, options: Uint8Array.of(0x94, 4, 0, 0), payload: tcp({ sport: 40002, dport: 8080, flags: "S", seq: 77 }) })),
  },
  {
    description: "Ethernet padding after a short datagram is not carried to the output",
    link: 0,
    frame: tcp4Frame({ ...fromClient, ...ip4f, src: CLIENT, dst: VIP, sport: 40003, dport: 80, flags: "S", pad: true }),
    verdict: TX,
    outLink: 1,
    expected: tcp4Frame({ ...toRs(0), ...ip4f, src: CLIENT, dst: RS[0], sport: 40003, dport: 8080, flags: "S" }),
  },
];

const natUdp4: Step[] = [
  {
    description: "client UDP datagram to VIP:53 goes to RS1:5353",
    link: 0,
    frame: udp4Frame({ ...fromClient, ...ip4f, src: CLIENT, dst: VIP, sport: 5000, dport: 53, payload: bytes(37) }),
    verdict: TX,
    outLink: 1,
    expected: udp4Frame({ ...toRs(1), ...ip4f, src: CLIENT, dst: RS[1], sport: 5000, dport: 5353, payload: bytes(37) }),
  },
  {
    description: "RS1's answer comes back from VIP:53",
    link: 1,
    frame: udp4Frame({ ...fromRs(1), ttl: 64, id: 9, src: RS[1], dst: CLIENT, sport: 5353, dport: 5000, payload: bytes(120, 5) }),
    verdict: TX,
    outLink: 0,
    expected: udp4Frame({ ...toClient, ttl: 64, id: 9, src: VIP, dst: CLIENT, sport: 53, dport: 5000, payload: bytes(120, 5) }),
  },
  {
    description: "a second datagram of the flow goes to the same real server",
    link: 0,
    frame: udp4Frame({ ...fromClient, ...ip4f, id: 0x1236, src: CLIENT, dst: VIP, sport: 5000, dport: 53, payload: bytes(20, 9) }),
    verdict: TX,
    outLink: 1,
    expected: udp4Frame({ ...toRs(1), ...ip4f, id: 0x1236, src: CLIENT, dst: RS[1], sport: 5000, dport: 5353, payload: bytes(20, 9) }),
  },
  {
    description: "a UDP datagram without checksum (0) keeps checksum 0",
    link: 0,
    frame: ipFrame(fromClient, ipv4({ ...ip4f, src: CLIENT, dst: VIP, proto: IPPROTO_UDP, fillL4Checksum: false, payload: udp({ sport: 5001, dport: 53, payload: bytes(12) }) })),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(1), ipv4({ ...ip4f, src: CLIENT, dst: RS[1], proto: IPPROTO_UDP, fillL4Checksum: false, payload: udp({ sport: 5001, dport: 5353, payload: bytes(12) }) })),
  },
];

const natTcp6: Step[] = [
  {
    description: "IPv6 client SYN to [VIP6]:80 goes to [RS6_0]:8080",
    link: 0,
    frame: tcp6Frame({ ...fromClient, ...ip6f, src: CLIENT6, dst: VIP6, sport: 40001, dport: 80, flags: "S", seq: 1 }),
    verdict: TX,
    outLink: 1,
    expected: tcp6Frame({ ...toRs(0), ...ip6f, src: CLIENT6, dst: RS6[0], sport: 40001, dport: 8080, flags: "S", seq: 1 }),
  },
  {
    description: "RS6_0's SYN-ACK comes back from [VIP6]:80",
    link: 1,
    frame: tcp6Frame({ ...fromRs(0), hopLimit: 64, src: RS6[0], dst: CLIENT6, sport: 8080, dport: 40001, flags: "SA", seq: 9, ack: 2 }),
    verdict: TX,
    outLink: 0,
    expected: tcp6Frame({ ...toClient, hopLimit: 64, src: VIP6, dst: CLIENT6, sport: 80, dport: 40001, flags: "SA", seq: 9, ack: 2 }),
  },
  {
    description: "the IPv6 client's next segment follows the connection",
    link: 0,
    frame: tcp6Frame({ ...fromClient, ...ip6f, src: CLIENT6, dst: VIP6, sport: 40001, dport: 80, flags: "PA", seq: 2, ack: 10, payload: bytes(333) }),
    verdict: TX,
    outLink: 1,
    expected: tcp6Frame({ ...toRs(0), ...ip6f, src: CLIENT6, dst: RS6[0], sport: 40001, dport: 8080, flags: "PA", seq: 2, ack: 10, payload: bytes(333) }),
  },
];

const natUdp6: Step[] = [
  {
    description: "IPv6 UDP to [VIP6]:53 goes to [RS6_1]:5353",
    link: 0,
    frame: udp6Frame({ ...fromClient, ...ip6f, src: CLIENT6, dst: VIP6, sport: 6000, dport: 53, payload: bytes(41) }),
    verdict: TX,
    outLink: 1,
    expected: udp6Frame({ ...toRs(1), ...ip6f, src: CLIENT6, dst: RS6[1], sport: 6000, dport: 5353, payload: bytes(41) }),
  },
  {
    description: "RS6_1's answer comes back from [VIP6]:53",
    link: 1,
    frame: udp6Frame({ ...fromRs(1), src: RS6[1], dst: CLIENT6, sport: 5353, dport: 6000, payload: bytes(99) }),
    verdict: TX,
    outLink: 0,
    expected: udp6Frame({ ...toClient, src: VIP6, dst: CLIENT6, sport: 53, dport: 6000, payload: bytes(99) }),
  },
];

// ---------------------------------------------------------------------------
// DR and TUN
// ---------------------------------------------------------------------------

const drPkt4 = ipv4({ ...ip4f, src: CLIENT, dst: VIP_DR, proto: IPPROTO_TCP, payload: tcp({ sport: 41000, dport: 80, flags: "S", seq: 4 }) });
const drPkt4b = ipv4({ ...ip4f, id: 0x2000, src: CLIENT, dst: VIP_DR, proto: IPPROTO_TCP, payload: tcp({ sport: 41000, dport: 80, flags: "A", seq: 5, ack: 1 }) });
const drPkt6 = ipv6({ ...ip6f, src: CLIENT6, dst: VIP6_DR, nextHeader: IPPROTO_TCP, payload: tcp({ sport: 41000, dport: 80, flags: "S", seq: 4, payload: bytes(10) }) });

const dr: Step[] = [
  {
    description: "DR IPv4: SYN goes to RS2 with only the MACs changed",
    link: 0,
    frame: ipFrame(fromClient, drPkt4),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(2), drPkt4),
  },
  {
    description: "DR IPv4: the connection's ACK follows, IP packet byte-identical",
    link: 0,
    frame: ipFrame(fromClient, drPkt4b),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(2), drPkt4b),
  },
  {
    description: "DR IPv6: SYN goes to RS6_2 with only the MACs changed",
    link: 0,
    frame: ipFrame(fromClient, drPkt6),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(2), drPkt6),
  },
];

const tunInner = ipv4({ ttl: 64, id: 0x3333, df: true, tos: 0x10, src: CLIENT, dst: VIP_TUN, proto: IPPROTO_TCP, payload: tcp({ sport: 42000, dport: 80, flags: "S", seq: 8 }) });
const tunInnerNoDf = ipv4({ ttl: 64, id: 0x3334, df: false, tos: 0, src: CLIENT, dst: VIP_TUN, proto: IPPROTO_TCP, payload: tcp({ sport: 42000, dport: 80, flags: "A", seq: 9, ack: 1, payload: bytes(100) }) });
/** Largest inner datagram that fits link 1 (MTU 1400) with the 20-byte outer header. */
const tunFits = ipv4({ ttl: 64, id: 0x3335, df: true, src: CLIENT, dst: VIP_TUN, proto: IPPROTO_TCP, payload: tcp({ sport: 42000, dport: 80, flags: "A", seq: 109, ack: 1, payload: bytes(1380 - 40) }) });
const tunTooBigDf = ipv4({ ttl: 64, id: 0x3336, df: true, tos: 0x10, src: CLIENT, dst: VIP_TUN, proto: IPPROTO_TCP, payload: tcp({ sport: 42000, dport: 80, flags: "A", seq: 1449, ack: 1, payload: bytes(1381 - 40) }) });
const tunTooBigNoDf = ipv4({ ttl: 64, id: 0x3337, df: false, src: CLIENT, dst: VIP_TUN, proto: IPPROTO_TCP, payload: tcp({ sport: 42000, dport: 80, flags: "A", seq: 1449, ack: 1, payload: bytes(1381 - 40) }) });
const natTooBig = ipv4({ ttl: 64, id: 0x3338, df: true, src: CLIENT, dst: VIP, proto: IPPROTO_TCP, payload: tcp({ sport: 42001, dport: 80, flags: "S", seq: 1, payload: bytes(1401 - 40) }) });
const nat6TooBig = ipv6({ hopLimit: 64, src: CLIENT6, dst: VIP6, nextHeader: IPPROTO_TCP, payload: tcp({ sport: 42002, dport: 80, flags: "S", seq: 1, payload: bytes(1401 - 60) }) });

/**
 * The outer IPv4 id of a tunnel packet is the appliance's to choose: it is
 * the only field taken from the output.
 */
const tunnelTo = (i: number, inner: Uint8Array) => (out: Uint8Array) => {
  const id = parseFrame(out).ip?.id ?? 0;
  const innerHdr = parseFrame(ipFrame(fromClient, inner)).ip!;
  return ipip4Frame({ ...toRs(i), outerSrc: LB1_IP, outerDst: RS[i], ttl: 64, id, tos: innerHdr.tos, df: innerHdr.df, inner });
};

/** ICMP frag-needed from the client-side address (ingress link's primary) quoting what fits in 576 bytes. */
const fragNeeded = (pkt: Uint8Array, mtu: number) =>
  icmp4Error({ ...toClient, src: LB0_IP, dst: CLIENT, ttl: 64, id: 0, df: false, tos: 0xc0, type: 3, code: 4, mtu, quoted: pkt.slice(0, 576 - 28) });

const tun: Step[] = [
  {
    description: "TUN: IP-in-IP to RS1 from 198.19.0.1, inner packet byte-identical, TOS and DF copied",
    link: 0,
    frame: ipFrame(fromClient, tunInner),
    verdict: TX,
    outLink: 1,
    expectedFrom: tunnelTo(1, tunInner),
  },
  {
    description: "TUN: a packet without DF gets an outer header without DF",
    link: 0,
    frame: ipFrame(fromClient, tunInnerNoDf),
    verdict: TX,
    outLink: 1,
    expectedFrom: tunnelTo(1, tunInnerNoDf),
  },
  {
    description: "TUN: a 1380-byte datagram fits the 1400-byte MTU once encapsulated",
    link: 0,
    frame: ipFrame(fromClient, tunFits),
    verdict: TX,
    outLink: 1,
    expectedFrom: tunnelTo(1, tunFits),
  },
  {
    description: "TUN: 1381 bytes + 20 exceeds the MTU; with DF the client gets frag-needed, MTU 1380",
    link: 0,
    frame: ipFrame(fromClient, tunTooBigDf),
    verdict: TX,
    outLink: 0,
    reason: "too_big",
    counted: "too_big",
    expected: fragNeeded(tunTooBigDf, 1380),
  },
  {
    description: "TUN: 1381 bytes without DF is dropped as too_big",
    link: 0,
    frame: ipFrame(fromClient, tunTooBigNoDf),
    verdict: DROP,
    reason: "too_big",
  },
  {
    description: "NAT: 1401 bytes with DF on a 1400-byte link gets frag-needed, MTU 1400",
    link: 0,
    frame: ipFrame(fromClient, natTooBig),
    verdict: TX,
    outLink: 0,
    reason: "too_big",
    counted: "too_big",
    expected: fragNeeded(natTooBig, 1400),
  },
  {
    description: "NAT IPv6: 1401 bytes on a 1400-byte link gets packet-too-big, MTU 1400, quoting 1232 bytes",
    link: 0,
    frame: ipFrame(fromClient, nat6TooBig),
    verdict: TX,
    outLink: 0,
    reason: "too_big",
    counted: "too_big",
    expected: icmp6Error({ ...toClient, src: LB0_IP6, dst: CLIENT6, hopLimit: 64, type: 2, code: 0, mtu: 1400, quoted: nat6TooBig.slice(0, 1280 - 48) }),
  },
];

/** Replies from the real servers that do not fit link 0 (MTU 1280). */
const replyFits = ipv4({ ttl: 64, id: 0x3901, df: true, src: RS[0], dst: CLIENT, proto: IPPROTO_TCP, payload: tcp({ sport: 8080, dport: 42100, flags: "A", seq: 1, ack: 2, payload: bytes(1280 - 40) }) });
const replyTooBig = ipv4({ ttl: 64, id: 0x3902, df: true, src: RS[0], dst: CLIENT, proto: IPPROTO_TCP, payload: tcp({ sport: 8080, dport: 42100, flags: "A", seq: 1241, ack: 2, payload: bytes(1281 - 40) }) });
const replyTooBigNoDf = ipv4({ ttl: 64, id: 0x3903, df: false, src: RS[0], dst: CLIENT, proto: IPPROTO_TCP, payload: tcp({ sport: 8080, dport: 42100, flags: "A", seq: 1241, ack: 2, payload: bytes(1281 - 40) }) });

const replyMtu: Step[] = [
  {
    description: "(setup) client SYN to VIP:80",
    link: 0,
    frame: tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 42100, dport: 80, flags: "S", seq: 1 }),
    verdict: TX,
    outLink: 1,
    expected: tcp4Frame({ ...toRs(0), src: CLIENT, dst: RS[0], sport: 42100, dport: 8080, flags: "S", seq: 1 }),
  },
  {
    description: "a 1280-byte reply fits link 0 and is source-NATed",
    link: 1,
    frame: ipFrame(fromRs(0), replyFits),
    verdict: TX,
    outLink: 0,
    expected: tcp4Frame({ ...toClient, ttl: 64, id: 0x3901, df: true, src: VIP, dst: CLIENT, sport: 80, dport: 42100, flags: "A", seq: 1, ack: 2, payload: bytes(1280 - 40) }),
  },
  {
    description: "a 1281-byte reply with DF gets frag-needed (MTU 1280) back to RS0 from 198.19.0.1",
    link: 1,
    frame: ipFrame(fromRs(0), replyTooBig),
    verdict: TX,
    outLink: 1,
    reason: "too_big",
    counted: "too_big",
    expected: icmp4Error({ ethSrc: LB1_MAC, ethDst: RS_MAC[0], src: LB1_IP, dst: RS[0], ttl: 64, id: 0, df: false, tos: 0xc0, type: 3, code: 4, mtu: 1280, quoted: replyTooBig.slice(0, 576 - 28) }),
  },
  {
    description: "a 1281-byte reply without DF is dropped as too_big",
    link: 1,
    frame: ipFrame(fromRs(0), replyTooBigNoDf),
    verdict: DROP,
    reason: "too_big",
  },
];

// ---------------------------------------------------------------------------
// VLAN-tagged input
// ---------------------------------------------------------------------------

const vlan: Step[] = [
  {
    description: "802.1Q-tagged SYN to the NAT service leaves untagged",
    link: 0,
    frame: tcp4Frame({ ...fromClient, vlan: [100], ...ip4f, src: CLIENT, dst: VIP, sport: 43000, dport: 80, flags: "S", seq: 1 }),
    verdict: TX,
    outLink: 1,
    expected: tcp4Frame({ ...toRs(0), ...ip4f, src: CLIENT, dst: RS[0], sport: 43000, dport: 8080, flags: "S", seq: 1 }),
  },
  {
    description: "double-tagged (QinQ) UDP to the NAT service leaves untagged",
    link: 0,
    frame: udp4Frame({ ...fromClient, vlan: [10, 20], ...ip4f, src: CLIENT, dst: VIP, sport: 43001, dport: 53, payload: bytes(9) }),
    verdict: TX,
    outLink: 1,
    expected: udp4Frame({ ...toRs(1), ...ip4f, src: CLIENT, dst: RS[1], sport: 43001, dport: 5353, payload: bytes(9) }),
  },
  {
    description: "802.1Q-tagged SYN to the DR service leaves untagged, IP packet identical",
    link: 0,
    frame: ipFrame({ ...fromClient, vlan: [200] }, drPkt4),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(2), drPkt4),
  },
  {
    description: "802.1Q-tagged IPv6 SYN to the NAT service leaves untagged",
    link: 0,
    frame: tcp6Frame({ ...fromClient, vlan: [300], ...ip6f, src: CLIENT6, dst: VIP6, sport: 43002, dport: 80, flags: "S" }),
    verdict: TX,
    outLink: 1,
    expected: tcp6Frame({ ...toRs(0), ...ip6f, src: CLIENT6, dst: RS6[0], sport: 43002, dport: 8080, flags: "S" }),
  },
];

// ---------------------------------------------------------------------------
// ICMP errors of a connection
// ---------------------------------------------------------------------------

/** What the client would have received from the service (VIP:80 → client:44000), as a router quotes it. */
const vipToClient = ipv4({ ttl: 63, id: 0x5555, df: true, src: VIP, dst: CLIENT, proto: IPPROTO_TCP, payload: tcp({ sport: 80, dport: 44000, flags: "A", seq: 7000, ack: 2, payload: bytes(1460) }) });
/** The same packet as RS0 sent it (RS0:8080 → client). */
const rsToClient = ipv4({ ttl: 63, id: 0x5555, df: true, src: RS[0], dst: CLIENT, proto: IPPROTO_TCP, payload: tcp({ sport: 8080, dport: 44000, flags: "A", seq: 7000, ack: 2, payload: bytes(1460) }) });

/** DR and TUN connections and the errors a router returns about their server → client packets. */
const drSyn44002 = ipv4({ src: CLIENT, dst: VIP_DR, proto: IPPROTO_TCP, payload: tcp({ sport: 44002, dport: 80, flags: "S", seq: 1 }) });
const drIcmp = ipv4({ ttl: 255, id: 78, src: ROUTER, dst: VIP_DR, proto: 1, payload: icmp({ type: 3, code: 4, rest: 1280, body: ipv4({ ttl: 63, id: 1, df: true, src: VIP_DR, dst: CLIENT, proto: IPPROTO_TCP, payload: tcp({ sport: 80, dport: 44002, flags: "SA", seq: 1, ack: 2, payload: bytes(1400) }) }).slice(0, 28) }) });
const tunSyn44003 = ipv4({ ttl: 64, src: CLIENT, dst: VIP_TUN, proto: IPPROTO_TCP, payload: tcp({ sport: 44003, dport: 80, flags: "S", seq: 1 }) });
const tunIcmp = ipv4({ ttl: 64, id: 79, src: ROUTER, dst: VIP_TUN, proto: 1, payload: icmp({ type: 3, code: 4, rest: 1280, body: ipv4({ ttl: 63, id: 1, df: true, src: VIP_TUN, dst: CLIENT, proto: IPPROTO_TCP, payload: tcp({ sport: 80, dport: 44003, flags: "SA", seq: 1, ack: 2, payload: bytes(1400) }) }).slice(0, 28) }) });

/** A packet of no connection (client port 44999). */
const unknownToClient = ipv4({ ttl: 63, id: 0x5556, df: true, src: VIP_DR, dst: CLIENT, proto: IPPROTO_TCP, payload: tcp({ sport: 80, dport: 44999, flags: "A", seq: 1, ack: 2 }) });

/** A client datagram as RS1 received it (client:44001 → RS1:5353) and as the client sent it (→ VIP:53). */
const clientUdpAtRs = ipv4({ ttl: 64, id: 0x6666, src: CLIENT, dst: RS[1], proto: IPPROTO_UDP, payload: udp({ sport: 44001, dport: 5353, payload: bytes(20) }) });
/**
 * Translated back, the quote shows VIP:53; like IPVS (ip_vs_nat_icmp) the
 * quoted UDP checksum is left as the real server saw it.
 */
const clientUdpAsSent = (() => {
  const p = ipv4({ ttl: 64, id: 0x6666, src: CLIENT, dst: VIP, proto: IPPROTO_UDP, payload: udp({ sport: 44001, dport: 53, payload: bytes(20) }) });
  p.set(clientUdpAtRs.subarray(26, 28), 26);
  return p;
})();

const icmpErrors: Step[] = [
  {
    description: "(setup) client SYN to VIP:80 makes the NAT connection",
    link: 0,
    frame: tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 44000, dport: 80, flags: "S", seq: 1 }),
    verdict: TX,
    outLink: 1,
    expected: tcp4Frame({ ...toRs(0), src: CLIENT, dst: RS[0], sport: 44000, dport: 8080, flags: "S", seq: 1 }),
  },
  {
    description: "frag-needed from a client-side router about VIP→client goes to RS0, translated to RS0→client",
    link: 0,
    frame: icmp4Error({ ethSrc: ROUTER_MAC, ethDst: LB0_MAC, src: ROUTER, dst: VIP, ttl: 255, id: 77, type: 3, code: 4, mtu: 1280, quoted: vipToClient.slice(0, 28) }),
    verdict: TX,
    outLink: 1,
    expected: icmp4Error({ ...toRs(0), src: ROUTER, dst: RS[0], ttl: 255, id: 77, type: 3, code: 4, mtu: 1280, quoted: rsToClient.slice(0, 28) }),
  },
  {
    description: "(setup) client UDP to VIP:53 makes the NAT connection",
    link: 0,
    frame: udp4Frame({ ...fromClient, id: 0x6666, src: CLIENT, dst: VIP, sport: 44001, dport: 53, payload: bytes(20) }),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(1), clientUdpAtRs),
  },
  {
    description: "port-unreachable from RS1 reaches the client from VIP, quoting client→VIP:53",
    link: 1,
    frame: icmp4Error({ ...fromRs(1), src: RS[1], dst: CLIENT, ttl: 64, id: 88, tos: 0xc0, type: 3, code: 3, quoted: clientUdpAtRs }),
    verdict: TX,
    outLink: 0,
    expected: icmp4Error({ ...toClient, src: VIP, dst: CLIENT, ttl: 64, id: 88, tos: 0xc0, type: 3, code: 3, quoted: clientUdpAsSent }),
  },
  {
    description: "(setup) client SYN to the DR service",
    link: 0,
    frame: ipFrame(fromClient, drSyn44002),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(2), drSyn44002),
  },
  {
    description: "frag-needed about a DR connection goes to RS2 unchanged (MACs only)",
    link: 0,
    frame: ipFrame({ ethSrc: ROUTER_MAC, ethDst: LB0_MAC }, drIcmp),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(2), drIcmp),
  },
  {
    description: "(setup) client SYN to the TUN service",
    link: 0,
    frame: ipFrame(fromClient, tunSyn44003),
    verdict: TX,
    outLink: 1,
    expectedFrom: tunnelTo(1, tunSyn44003),
  },
  {
    description: "frag-needed about a TUN connection goes to RS1 inside IP-in-IP, unchanged",
    link: 0,
    frame: ipFrame({ ethSrc: ROUTER_MAC, ethDst: LB0_MAC }, tunIcmp),
    verdict: TX,
    outLink: 1,
    expectedFrom: tunnelTo(1, tunIcmp),
  },
  {
    description: "an ICMP error about no known connection, to a non-owned address, is dropped",
    link: 0,
    frame: icmp4Error({ ethSrc: ROUTER_MAC, ethDst: LB0_MAC, src: ROUTER, dst: VIP_DR, type: 3, code: 4, mtu: 1280, quoted: unknownToClient.slice(0, 28) }),
    verdict: DROP,
    reason: "icmp_unmatched",
  },
];

// ---------------------------------------------------------------------------
// IPv4 fragments
// ---------------------------------------------------------------------------

/** A UDP datagram client:45000 → VIP:53 (and as RS1 must get it), split at byte 64 of the payload. */
const fragUdpIn = withL4Checksum(4, CLIENT, VIP, IPPROTO_UDP, udp({ sport: 45000, dport: 53, payload: bytes(150) }));
const fragUdpOut = withL4Checksum(4, CLIENT, RS[1], IPPROTO_UDP, udp({ sport: 45000, dport: 5353, payload: bytes(150) }));
const fragTcpIn = withL4Checksum(4, CLIENT, VIP, IPPROTO_TCP, tcp({ sport: 45001, dport: 80, flags: "S", seq: 3, payload: bytes(200) }));
const fragTcpOut = withL4Checksum(4, CLIENT, RS[0], IPPROTO_TCP, tcp({ sport: 45001, dport: 8080, flags: "S", seq: 3, payload: bytes(200) }));

const frag4 = (dst: string, proto: number, seg: Uint8Array, id: number, offset: number, end: number, mf: boolean) =>
  ipv4({ ttl: 64, id, src: CLIENT, dst, proto, mf, fragOffset: offset, fillL4Checksum: false, payload: seg.slice(offset, end) });

const fragUdp6In = withL4Checksum(6, CLIENT6, VIP6, IPPROTO_UDP, udp({ sport: 45002, dport: 53, payload: bytes(150) }));
const fragUdp6Out = withL4Checksum(6, CLIENT6, RS6[1], IPPROTO_UDP, udp({ sport: 45002, dport: 5353, payload: bytes(150) }));
const frag6 = (dst: string, seg: Uint8Array, id: number, offset: number, end: number, more: boolean) =>
  ipv6({ src: CLIENT6, dst, nextHeader: IPPROTO_UDP, extHeaders: [ipv6Frag({ offset, more, id })], fillL4Checksum: false, payload: seg.slice(offset, end) });

const fragments: Step[] = [
  {
    description: "UDP first fragment (MF, offset 0) is NATed: address, port and whole-datagram checksum",
    link: 0,
    frame: ipFrame(fromClient, frag4(VIP, IPPROTO_UDP, fragUdpIn, 0x7001, 0, 64, true)),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(1), frag4(RS[1], IPPROTO_UDP, fragUdpOut, 0x7001, 0, 64, true)),
  },
  {
    description: "UDP later fragment (same id) follows with only the IP destination changed",
    link: 0,
    frame: ipFrame(fromClient, frag4(VIP, IPPROTO_UDP, fragUdpIn, 0x7001, 64, 158, false)),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(1), frag4(RS[1], IPPROTO_UDP, fragUdpOut, 0x7001, 64, 158, false)),
  },
  {
    description: "TCP SYN first fragment is NATed",
    link: 0,
    frame: ipFrame(fromClient, frag4(VIP, IPPROTO_TCP, fragTcpIn, 0x7002, 0, 96, true)),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(0), frag4(RS[0], IPPROTO_TCP, fragTcpOut, 0x7002, 0, 96, true)),
  },
  {
    description: "TCP middle fragment follows",
    link: 0,
    frame: ipFrame(fromClient, frag4(VIP, IPPROTO_TCP, fragTcpIn, 0x7002, 96, 160, true)),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(0), frag4(RS[0], IPPROTO_TCP, fragTcpOut, 0x7002, 96, 160, true)),
  },
  {
    description: "TCP last fragment follows",
    link: 0,
    frame: ipFrame(fromClient, frag4(VIP, IPPROTO_TCP, fragTcpIn, 0x7002, 160, 220, false)),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(0), frag4(RS[0], IPPROTO_TCP, fragTcpOut, 0x7002, 160, 220, false)),
  },
  {
    description: "IPv6 UDP first fragment is NATed",
    link: 0,
    frame: ipFrame(fromClient, frag6(VIP6, fragUdp6In, 0x9001, 0, 64, true)),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(1), frag6(RS6[1], fragUdp6Out, 0x9001, 0, 64, true)),
  },
  {
    description: "IPv6 UDP later fragment follows with only the destination changed",
    link: 0,
    frame: ipFrame(fromClient, frag6(VIP6, fragUdp6In, 0x9001, 64, 158, false)),
    verdict: TX,
    outLink: 1,
    expected: ipFrame(toRs(1), frag6(RS6[1], fragUdp6Out, 0x9001, 64, 158, false)),
  },
  {
    description: "an IPv6 later fragment with no first fragment is dropped",
    link: 0,
    frame: ipFrame(fromClient, frag6(VIP6, fragUdp6In, 0x9002, 64, 158, false)),
    verdict: DROP,
    reason: "frag_no_state",
  },
  {
    description: "a later fragment whose first fragment was never seen is dropped",
    link: 0,
    frame: ipFrame(fromClient, frag4(VIP, IPPROTO_UDP, fragUdpIn, 0x7003, 64, 158, false)),
    verdict: DROP,
    reason: "frag_no_state",
  },
];

// ---------------------------------------------------------------------------
// ARP, ND, echo
// ---------------------------------------------------------------------------

const ndOpt = (type: number, m: string) => concat(Uint8Array.of(type, 1), mac(m));
const solicitedNode = (a: string) => {
  const b = ip6(a);
  const g = ip6("ff02::1:ff00:0");
  g.set(b.subarray(13), 13);
  return g;
};
const solicitedMac = (a: string) => {
  const b = ip6(a);
  return Uint8Array.of(0x33, 0x33, 0xff, b[13], b[14], b[15]);
};
const ns = (l2: { ethSrc: string | Uint8Array; ethDst: string | Uint8Array }, src: string, dst: string | Uint8Array, target: string, sllaMac: string) =>
  ipFrame(l2, ipv6({ src, dst, hopLimit: 255, nextHeader: IPPROTO_ICMPV6, payload: icmp({ type: 135, body: concat(ip6(target), ndOpt(1, sllaMac)) }) }));
const na = (l2: { ethSrc: string | Uint8Array; ethDst: string | Uint8Array }, src: string, dst: string, target: string, tllaMac: string) =>
  ipFrame(l2, ipv6({ src, dst, hopLimit: 255, nextHeader: IPPROTO_ICMPV6, payload: icmp({ type: 136, rest: 0x60000000, body: concat(ip6(target), ndOpt(2, tllaMac)) }) }));

const arpNd: Step[] = [
  {
    description: "ARP who-has 198.18.0.1 (owned on link 0) gets a reply with LB0's MAC",
    link: 0,
    frame: arp({ op: 1, sha: CLIENT_MAC, spa: CLIENT, tpa: LB0_IP }),
    verdict: TX,
    outLink: 0,
    expected: arp({ op: 2, ethSrc: LB0_MAC, sha: LB0_MAC, spa: LB0_IP, tha: CLIENT_MAC, tpa: CLIENT }),
  },
  {
    description: "ARP who-has VIP (owned), padded to 60 bytes, gets a 42-byte reply",
    link: 0,
    frame: concat(arp({ op: 1, sha: CLIENT_MAC, spa: CLIENT, tpa: VIP }), new Uint8Array(18)),
    verdict: TX,
    outLink: 0,
    expected: arp({ op: 2, ethSrc: LB0_MAC, sha: LB0_MAC, spa: VIP, tha: CLIENT_MAC, tpa: CLIENT }),
  },
  {
    description: "ARP who-has an address nobody here owns is passed up, no reply",
    link: 0,
    frame: arp({ op: 1, sha: CLIENT_MAC, spa: CLIENT, tpa: "198.18.0.99" }),
    verdict: LOCAL,
  },
  {
    description: "ARP who-has 198.19.0.1 asked on link 0 (owned only on link 1) gets no reply",
    link: 0,
    frame: arp({ op: 1, sha: CLIENT_MAC, spa: CLIENT, tpa: LB1_IP }),
    verdict: LOCAL,
  },
  {
    description: "ND: solicitation for 2001:db8::1 gets an advertisement (S+O, target LLA = LB0)",
    link: 0,
    frame: ns({ ethSrc: CLIENT_MAC, ethDst: solicitedMac(LB0_IP6) }, CLIENT6, solicitedNode(LB0_IP6), LB0_IP6, CLIENT_MAC),
    verdict: TX,
    outLink: 0,
    expected: na(toClient, LB0_IP6, CLIENT6, LB0_IP6, LB0_MAC),
  },
  {
    description: "ND: solicitation for VIP6 gets an advertisement",
    link: 0,
    frame: ns({ ethSrc: CLIENT_MAC, ethDst: solicitedMac(VIP6) }, CLIENT6, solicitedNode(VIP6), VIP6, CLIENT_MAC),
    verdict: TX,
    outLink: 0,
    expected: na(toClient, VIP6, CLIENT6, VIP6, LB0_MAC),
  },
  {
    description: "ND: solicitation for an address not owned here gets no answer",
    link: 0,
    frame: ns({ ethSrc: CLIENT_MAC, ethDst: solicitedMac("2001:db8::99") }, CLIENT6, solicitedNode("2001:db8::99"), "2001:db8::99", CLIENT_MAC),
    verdict: LOCAL,
  },
];

/** Note: icmp4Echo/icmp6Echo use `id` for both the echo identifier and (v4) the IP id. */
const echo: Step[] = [
  {
    description: "echo request to 198.18.0.1 gets an echo reply (TTL 64, same id/seq/data)",
    link: 0,
    frame: icmp4Echo({ ...fromClient, ttl: 50, src: CLIENT, dst: LB0_IP, id: 0x0a0a, seq: 1, payload: bytes(56) }),
    verdict: TX,
    outLink: 0,
    expected: icmp4Echo({ ...toClient, ttl: 64, src: LB0_IP, dst: CLIENT, type: 0, id: 0x0a0a, seq: 1, payload: bytes(56) }),
  },
  {
    description: "echo request to the VIP gets an echo reply from the VIP",
    link: 0,
    frame: icmp4Echo({ ...fromClient, ttl: 64, src: CLIENT, dst: VIP, id: 0x0b0b, seq: 9, payload: bytes(8) }),
    verdict: TX,
    outLink: 0,
    expected: icmp4Echo({ ...toClient, ttl: 64, src: VIP, dst: CLIENT, type: 0, id: 0x0b0b, seq: 9, payload: bytes(8) }),
  },
  {
    description: "ICMPv6 echo request to 2001:db8::1 gets an echo reply",
    link: 0,
    frame: icmp6Echo({ ...fromClient, hopLimit: 50, src: CLIENT6, dst: LB0_IP6, id: 7, seq: 2, payload: bytes(32) }),
    verdict: TX,
    outLink: 0,
    expected: icmp6Echo({ ...toClient, hopLimit: 64, src: LB0_IP6, dst: CLIENT6, type: 129, id: 7, seq: 2, payload: bytes(32) }),
  },
  {
    description: "ICMPv6 echo request to VIP6 gets an echo reply from VIP6",
    link: 0,
    frame: icmp6Echo({ ...fromClient, hopLimit: 64, src: CLIENT6, dst: VIP6, id: 8, seq: 3, payload: bytes(3) }),
    verdict: TX,
    outLink: 0,
    expected: icmp6Echo({ ...toClient, hopLimit: 64, src: VIP6, dst: CLIENT6, type: 129, id: 8, seq: 3, payload: bytes(3) }),
  },
  {
    description: "echo request to an address neither owned nor a service is dropped",
    link: 0,
    frame: icmp4Echo({ ...fromClient, src: CLIENT, dst: "198.18.0.77", id: 1, seq: 1 }),
    verdict: DROP,
    reason: "icmp_unmatched",
  },
  {
    description: "ICMPv6 echo request to an address neither owned nor a service is dropped",
    link: 0,
    frame: icmp6Echo({ ...fromClient, src: CLIENT6, dst: "2001:db8::77", id: 1, seq: 1 }),
    verdict: DROP,
    reason: "icmp_unmatched",
  },
];

/**
 * With no static neighbours: the first packet waits in the neighbour queue
 * (held, not a drop) and its output slot carries a solicitation for its next hop.
 */
const unresolved: Step[] = [
  {
    description: "SYN to VIP:80 with RS0 unresolved: broadcast ARP who-has RS0 tell 198.19.0.1 on link 1",
    link: 0,
    frame: tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 47000, dport: 80, flags: "S", seq: 1 }),
    verdict: TX,
    outLink: 1,
    expected: arp({ op: 1, sha: LB1_MAC, spa: LB1_IP, tpa: RS[0] }),
  },
  {
    description: "the retransmitted SYN within a second is held too, without a second ARP request",
    link: 0,
    now: 1500,
    frame: tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 47000, dport: 80, flags: "S", seq: 1 }),
    verdict: HELD,
  },
  {
    description: "RS0's ARP reply is consumed (learnt), passed up",
    link: 1,
    now: 1600,
    frame: arp({ op: 2, sha: RS_MAC[0], spa: RS[0], tha: LB1_MAC, tpa: LB1_IP }),
    verdict: LOCAL,
  },
  {
    description: "the next SYN is forwarded to RS0's learnt MAC",
    link: 0,
    now: 2000,
    frame: tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 47000, dport: 80, flags: "S", seq: 1 }),
    verdict: TX,
    outLink: 1,
    expected: tcp4Frame({ ...toRs(0), src: CLIENT, dst: RS[0], sport: 47000, dport: 8080, flags: "S", seq: 1 }),
  },
  {
    description: "RS0's SYN-ACK with the client unresolved: ARP who-has client tell 198.18.0.1 on link 0",
    link: 1,
    now: 2000,
    frame: tcp4Frame({ ...fromRs(0), src: RS[0], dst: CLIENT, sport: 8080, dport: 47000, flags: "SA", seq: 1, ack: 2 }),
    verdict: TX,
    outLink: 0,
    expected: arp({ op: 1, sha: LB0_MAC, spa: LB0_IP, tpa: CLIENT }),
  },
  {
    description: "IPv6 SYN with RS6_0 unresolved: neighbour solicitation to its solicited-node group",
    link: 0,
    now: 2000,
    frame: tcp6Frame({ ...fromClient, src: CLIENT6, dst: VIP6, sport: 47001, dport: 80, flags: "S" }),
    verdict: TX,
    outLink: 1,
    expected: ns({ ethSrc: LB1_MAC, ethDst: solicitedMac(RS6[0]) }, LB1_IP6, solicitedNode(RS6[0]), RS6[0], LB1_MAC),
  },
  {
    description: "RS6_0's advertisement is learnt",
    link: 1,
    now: 2100,
    frame: na(fromRs(0), RS6[0], LB1_IP6, RS6[0], RS_MAC[0]),
    verdict: LOCAL,
  },
  {
    description: "the next IPv6 SYN is forwarded to RS6_0",
    link: 0,
    now: 2200,
    frame: tcp6Frame({ ...fromClient, src: CLIENT6, dst: VIP6, sport: 47001, dport: 80, flags: "S" }),
    verdict: TX,
    outLink: 1,
    expected: tcp6Frame({ ...toRs(0), src: CLIENT6, dst: RS6[0], sport: 47001, dport: 8080, flags: "S" }),
  },
];

// ---------------------------------------------------------------------------
// Drops (and what is passed up instead)
// ---------------------------------------------------------------------------

const syn4 = (dst: string, dport: number, sport = 46000) => tcp4Frame({ ...fromClient, src: CLIENT, dst, sport, dport, flags: "S", seq: 1 });

const drops: Step[] = [
  {
    description: "a 13-byte frame is a truncated Ethernet header",
    link: 0,
    frame: syn4(VIP, 80).slice(0, 13),
    verdict: DROP,
    reason: "eth_truncated",
  },
  {
    description: "a bad IPv4 header checksum",
    link: 0,
    frame: ipFrame(fromClient, ipv4({ src: CLIENT, dst: VIP, proto: IPPROTO_TCP, badChecksum: true, payload: tcp({ sport: 46001, dport: 80, flags: "S" }) })),
    verdict: DROP,
    reason: "ip_bad_checksum",
  },
  {
    description: "an IPv4 total length beyond the end of the frame",
    link: 0,
    frame: tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 46002, dport: 80, flags: "S", payload: bytes(100) }).slice(0, 14 + 40 + 90),
    verdict: DROP,
    reason: "ip_malformed",
  },
  {
    description: "a unicast frame for another MAC",
    link: 0,
    frame: tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: "02:00:00:00:99:99", src: CLIENT, dst: VIP, sport: 46003, dport: 80, flags: "S" }),
    verdict: DROP,
    reason: "not_our_mac",
  },
  {
    description: "LB1's MAC arriving on link 0 is not link 0's MAC",
    link: 0,
    frame: tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB1_MAC, src: CLIENT, dst: VIP, sport: 46004, dport: 80, flags: "S" }),
    verdict: DROP,
    reason: "not_our_mac",
  },
  {
    description: "an unknown ethertype (0x88b5)",
    link: 0,
    frame: ether({ dst: LB0_MAC, src: CLIENT_MAC, type: 0x88b5, payload: bytes(46) }),
    verdict: DROP,
    reason: "ethertype",
  },
  {
    description: "a TCP ACK with no connection to a non-owned service address",
    link: 0,
    frame: tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP_DR, sport: 46005, dport: 80, flags: "A", seq: 1, ack: 1 }),
    verdict: DROP,
    reason: "no_conn",
  },
  {
    description: "a TCP ACK with no connection to the owned VIP is passed up",
    link: 0,
    frame: tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 46006, dport: 80, flags: "A", seq: 1, ack: 1 }),
    verdict: LOCAL,
  },
  {
    description: "a SYN to a service without real servers",
    link: 0,
    frame: syn4(VIP_NODEST, 80),
    verdict: DROP,
    reason: "no_dest",
  },
  {
    description: "a SYN to a service whose real server has no route",
    link: 0,
    frame: syn4(VIP_NOROUTE, 80),
    verdict: DROP,
    reason: "no_route",
  },
  {
    description: "a SYN to an address that is neither owned nor a service",
    link: 0,
    frame: syn4("198.18.0.77", 80),
    verdict: DROP,
    reason: "no_service",
  },
  {
    description: "a SYN to an owned address on a port without a service is passed up",
    link: 0,
    frame: syn4(VIP, 22),
    verdict: LOCAL,
  },
];

const GROUPS: Group[] = [
  { name: "NAT IPv4 TCP", steps: natTcp4 },
  { name: "NAT IPv4 UDP", steps: natUdp4 },
  { name: "NAT IPv6 TCP", steps: natTcp6 },
  { name: "NAT IPv6 UDP", steps: natUdp6 },
  { name: "DR", steps: dr },
  { name: "TUN and MTU (link 1 MTU 1400)", setup: (a) => a.dp.setLink(1, { mac: LB1_MAC, mtu: 1400 }), steps: tun },
  { name: "replies and the client-side MTU (link 0 MTU 1280)", setup: (a) => a.dp.setLink(0, { mac: LB0_MAC, mtu: 1280 }), steps: replyMtu },
  { name: "VLAN-tagged input", steps: vlan },
  { name: "ICMP errors of a connection", steps: icmpErrors },
  { name: "IPv4 fragments", steps: fragments },
  { name: "ARP and ND", steps: arpNd },
  { name: "ICMP echo", steps: echo },
  { name: "unresolved next hops", neighbours: false, steps: unresolved },
  { name: "drops", steps: drops },
];

runGroups(GROUPS);
// The same tables again with output written over the input frame.
runGroups(GROUPS, true);

describe("NAT stickiness with two real servers (rr)", () => {
  it("each connection stays with the server its SYN was given", async () => {
    const a = await makeAppliance();
    configure(a);
    const rsFor = new Map<number, number>();
    const cports = [48000, 48001, 48002, 48003];
    for (const cport of cports) {
      const r = a.send(tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: cport, dport: 8000, flags: "S", seq: cport }), 0);
      expect(r.verdict).toBe(TX);
      const i = RS.indexOf(parseFrame(r.out).ip!.dst);
      expect([1, 2]).toContain(i);
      rsFor.set(cport, i);
      expect(diffFrames(r.out, tcp4Frame({ ...toRs(i), src: CLIENT, dst: RS[i], sport: cport, dport: 8081, flags: "S", seq: cport }))).toBe("");
    }
    // Round robin over two servers: both are used, so "same server" below is not luck.
    expect(new Set(rsFor.values()).size).toBe(2);
    for (let round = 0; round < 3; round++) {
      for (const cport of [...cports].reverse()) {
        const i = rsFor.get(cport)!;
        const payload = bytes(10 + round, cport);
        const r = a.send(tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: cport, dport: 8000, flags: "PA", seq: cport + 1, ack: 1, payload }), 0);
        expect({ verdict: r.verdict, outLink: r.outLink }).toEqual({ verdict: TX, outLink: 1 });
        expect(diffFrames(r.out, tcp4Frame({ ...toRs(i), src: CLIENT, dst: RS[i], sport: cport, dport: 8081, flags: "PA", seq: cport + 1, ack: 1, payload }))).toBe("");
        const back = a.send(tcp4Frame({ ...fromRs(i), src: RS[i], dst: CLIENT, sport: 8081, dport: cport, flags: "A", seq: 1, ack: cport + 2 }), 1);
        expect({ verdict: back.verdict, outLink: back.outLink }).toEqual({ verdict: TX, outLink: 0 });
        expect(diffFrames(back.out, tcp4Frame({ ...toClient, src: VIP, dst: CLIENT, sport: 8000, dport: cport, flags: "A", seq: 1, ack: cport + 2 }))).toBe("");
      }
    }
  });
});
