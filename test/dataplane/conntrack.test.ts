// Connection tracking on the test clock: IPVS's TCP state table
// (net/netfilter/ipvs/ip_vs_proto_tcp.c, tcp_states[] and tcp_timeouts[]),
// the per-real-server active/inactive counters, expiry, `ipvsadm --set`,
// UDP timeouts and a full connection table.
//
// The expected states and timeouts below are transcribed from the kernel
// source, not from assembly/conn/state.ts. The data plane exports no state
// names, so a state is observed through what IPVS attaches to it: its
// timeout (an entry is alive at last+T-1 ms and gone at last+T ms, checked
// with a full expiry sweep that does not touch the entry otherwise) and the
// real server's activeconns/inactconns.
//
// Active/inactive accounting: Weir follows IPVS's classic rule, as the brief
// asks: a connection counts in activeconns while ESTABLISHED and in inactconns
// otherwise; a new connection is bound inactive (ip_vs_bind_dest with
// IP_VS_CONN_F_INACTIVE from dest->conn_flags). Kernels since the 2016 commit
// "ipvs: count pre-established TCP states as active" (tcp_state_active_table)
// also count SYN_SENT, SYN_RECV and SYNACK as active.

import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { makeAppliance, type Appliance, CLIENT, CLIENT_MAC, LB0_MAC, LB1_MAC, VIP, RS, RS_MAC } from "../helpers/appliance.js";
import { tcp4Frame, udp4Frame, parseFrame, verifyChecksums, tcpFlags } from "../helpers/frames.js";
import type { ServiceKey } from "../../src/dataplane/dataplane.js";

const DROP = 0, TX = 1, LOCAL = 2;
const SVC: ServiceKey = { proto: "tcp", addr: VIP, port: 80 };
const USVC: ServiceKey = { proto: "udp", addr: VIP, port: 53 };
/** A virtual address the appliance does not own (DR-style VIP on a loopback elsewhere). */
const VIP2 = "198.18.100.2";
const SVC2: ServiceKey = { proto: "tcp", addr: VIP2, port: 80 };
const RS_PORT = 8080;

// ---- IPVS's definitions, transcribed from ip_vs_proto_tcp.c ----

type St = "NONE" | "ESTABLISHED" | "SYN_SENT" | "SYN_RECV" | "FIN_WAIT" | "TIME_WAIT" | "CLOSE" | "CLOSE_WAIT" | "LAST_ACK" | "LISTEN" | "SYNACK";
const COLS: St[] = ["NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK"];
const [sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA] = COLS;
void sNO;
/** tcp_timeouts[] in seconds. */
const TIMEOUT: Record<St, number> = {
  NONE: 2, ESTABLISHED: 900, SYN_SENT: 120, SYN_RECV: 60, FIN_WAIT: 120, TIME_WAIT: 120,
  CLOSE: 10, CLOSE_WAIT: 60, LAST_ACK: 30, LISTEN: 120, SYNACK: 120,
};
/** tcp_states[]: [direction][event] → next state by current state (columns as COLS). */
const TABLE: Record<"input" | "output" | "inputOnly", St[][]> = {
  input: [
    /*syn*/ [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR],
    /*fin*/ [sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW],
    /*ack*/ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
    /*rst*/ [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR],
  ],
  output: [
    /*syn*/ [sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR],
    /*fin*/ [sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW],
    /*ack*/ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES],
    /*rst*/ [sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL],
  ],
  inputOnly: [
    /*syn*/ [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR],
    /*fin*/ [sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW],
    /*ack*/ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
    /*rst*/ [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL],
  ],
};
/** tcp_state_idx(): rst, then syn, then fin, then ack; none of them → -1. */
function eventIdx(flags: number): number {
  if (flags & 0x04) return 3;
  if (flags & 0x02) return 0;
  if (flags & 0x01) return 1;
  if (flags & 0x10) return 2;
  return -1;
}
/** set_tcp_state(): new_state starts as CLOSE and stays so when the segment has no known flag. */
function ipvsNext(cur: St, dir: "input" | "output" | "inputOnly", flags: number): St {
  const ev = eventIdx(flags);
  if (ev < 0) return "CLOSE";
  return TABLE[dir][ev][COLS.indexOf(cur)];
}

/** Representative segments for the four events and for "no known flag". */
const EVENT_FLAGS = ["S", "FA", "A", "R", "P"];

/**
 * Every (state, direction, segment) cell reachable from a client SYN, each with
 * the shortest segment sequence that reaches its state first (breadth-first over
 * IPVS's table). dirs: which directions a connection can see.
 */
function reachableCells(dirs: ("in" | "out")[], table: (d: "in" | "out") => "input" | "output" | "inputOnly"): Step[][] {
  const pathTo = new Map<St, Step[]>();
  const first = ipvsNext("NONE", table("in"), tcpFlags("S"));
  pathTo.set(first, [["in", "S", first]]);
  const queue: St[] = [first];
  while (queue.length) {
    const st = queue.shift()!;
    for (const d of dirs) for (const f of EVENT_FLAGS) {
      const ns = ipvsNext(st, table(d), tcpFlags(f));
      if (!pathTo.has(ns)) { pathTo.set(ns, [...pathTo.get(st)!, [d, f, ns]]); queue.push(ns); }
    }
  }
  const cells: Step[][] = [];
  for (const [st, path] of pathTo) for (const d of dirs) for (const f of EVENT_FLAGS) cells.push([...path, [d, f, ipvsNext(st, table(d), tcpFlags(f))]]);
  return cells;
}

// ---- fixture helpers ----

function fromClient(sport: number, flags: string | number, o: { dst?: string; src?: string; payload?: Uint8Array } = {}): Uint8Array {
  return tcp4Frame({
    ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: o.src ?? CLIENT, dst: o.dst ?? VIP,
    sport, dport: 80, flags, seq: 1000, ack: 2000, payload: o.payload,
  });
}
function fromRs(i: number, cport: number, flags: string | number): Uint8Array {
  return tcp4Frame({ ethSrc: RS_MAC[i], ethDst: LB1_MAC, src: RS[i], dst: CLIENT, sport: RS_PORT, dport: cport, flags, seq: 2000, ack: 1001 });
}

async function withService(fwd: "nat" | "dr", opts: { connCapacity?: number } = {}): Promise<Appliance> {
  const a = await makeAppliance(opts);
  a.dp.transaction((tx) => {
    tx.addService(SVC, { scheduler: "rr" });
    tx.addDest(SVC, { addr: RS[0], port: fwd === "nat" ? RS_PORT : 80, fwd, weight: 1 });
  });
  return a;
}

function sweep(a: Appliance, now: number): number {
  return a.dp.x.expireStep(4, now >>> 0, 1 << 30);
}

/** Checks the only tracked connection lives exactly `seconds` after `last` (ms), then is gone. */
function expectLifetime(a: Appliance, last: number, seconds: number): void {
  const before = a.dp.connCount();
  expect(before).toBeGreaterThan(0);
  sweep(a, last + seconds * 1000 - 1);
  expect(a.dp.connCount(), `still tracked ${seconds * 1000 - 1} ms after the last packet`).toBe(before);
  sweep(a, last + seconds * 1000);
  expect(a.dp.connCount(), `gone ${seconds} s after the last packet`).toBe(before - 1);
}

function counts(a: Appliance, key: ServiceKey = SVC, i = 0, fwd: "nat" | "dr" = "nat") {
  const s = a.dp.destStats(key, { addr: RS[i], port: fwd === "nat" ? (key === USVC ? 5353 : RS_PORT) : 80, fwd });
  return { active: s.activeconns, inact: s.inactconns };
}

function expectNatIn(r: ReturnType<Appliance["send"]>, cport: number, rs = 0): void {
  expect(r.verdict).toBe(TX);
  expect(r.outLink).toBe(1);
  const p = parseFrame(r.out);
  expect(p.ethDst).toBe(RS_MAC[rs]);
  expect(p.ip!.src).toBe(CLIENT);
  expect(p.ip!.dst).toBe(RS[rs]);
  expect(p.tcp!.sport).toBe(cport);
  expect(p.tcp!.dport).toBe(RS_PORT);
  expect(verifyChecksums(r.out)).toEqual([]);
}
function expectNatOut(r: ReturnType<Appliance["send"]>, cport: number): void {
  expect(r.verdict).toBe(TX);
  expect(r.outLink).toBe(0);
  const p = parseFrame(r.out);
  expect(p.ethDst).toBe(CLIENT_MAC);
  expect(p.ip!.src).toBe(VIP);
  expect(p.ip!.dst).toBe(CLIENT);
  expect(p.tcp!.sport).toBe(80);
  expect(p.tcp!.dport).toBe(cport);
  expect(verifyChecksums(r.out)).toEqual([]);
}
function expectDrIn(r: ReturnType<Appliance["send"]>, cport: number): void {
  expect(r.verdict).toBe(TX);
  expect(r.outLink).toBe(1);
  const p = parseFrame(r.out);
  expect(p.ethDst).toBe(RS_MAC[0]);
  expect(p.ip!.dst).toBe(VIP);
  expect(p.tcp!.dport).toBe(80);
  expect(p.tcp!.sport).toBe(cport);
}

type Step = ["in" | "out", string | number, St];

/** Runs steps on one connection (sport) starting at t0, one ms apart; checks counters at each step. */
function drive(a: Appliance, fwd: "nat" | "dr", sport: number, t0: number, steps: Step[]): number {
  let now = t0;
  for (const [dir, flags, want] of steps) {
    now += 1;
    const r = dir === "in" ? a.send(fromClient(sport, flags), 0, now) : a.send(fromRs(0, sport, flags), 1, now);
    if (fwd === "nat") (dir === "in" ? expectNatIn : expectNatOut)(r, sport);
    else expectDrIn(r, sport);
    const c = counts(a, SVC, 0, fwd);
    const label = `${dir} ${typeof flags === "string" ? flags : flags.toString(16)} → ${want}`;
    expect(c, label).toEqual(want === "ESTABLISHED" ? { active: 1, inact: 0 } : { active: 0, inact: 1 });
  }
  return now;
}

// ---- NAT: input and output tables ----

describe("TCP states of a NAT connection (tcp_states INPUT/OUTPUT)", () => {
  it("SYN → SYN_RECV (60 s), SYN-ACK from the real server keeps SYN_RECV, ACK → ESTABLISHED: activeconns 0→1, inactconns 1→0", async () => {
    const a = await withService("nat");
    const t = 10_000;
    expect(counts(a)).toEqual({ active: 0, inact: 0 });
    expectNatIn(a.send(fromClient(40000, "S"), 0, t), 40000);
    expect(counts(a)).toEqual({ active: 0, inact: 1 });
    expect(a.dp.connCount()).toBe(1);
    expectNatOut(a.send(fromRs(0, 40000, "SA"), 1, t + 5), 40000);
    expect(counts(a)).toEqual({ active: 0, inact: 1 });
    expectNatIn(a.send(fromClient(40000, "A"), 0, t + 10), 40000);
    expect(counts(a)).toEqual({ active: 1, inact: 0 });
    expectLifetime(a, t + 10, TIMEOUT.ESTABLISHED);
    expect(counts(a)).toEqual({ active: 0, inact: 0 });
  });

  it("SYN_RECV lives 60 s without an answer", async () => {
    const a = await withService("nat");
    a.send(fromClient(40001, "S"), 0, 5000);
    expectLifetime(a, 5000, TIMEOUT.SYN_RECV);
    expect(counts(a)).toEqual({ active: 0, inact: 0 });
  });

  const handshake: Step[] = [["in", "S", "SYN_RECV"], ["out", "SA", "SYN_RECV"], ["in", "A", "ESTABLISHED"]];
  const cases: { name: string; steps: Step[] }[] = [
    { name: "client closes first: FIN → CLOSE_WAIT, server FIN → TIME_WAIT, last ACK stays TIME_WAIT",
      steps: [...handshake, ["in", "FA", "CLOSE_WAIT"], ["out", "FA", "TIME_WAIT"], ["in", "A", "TIME_WAIT"]] },
    { name: "client FIN alone → CLOSE_WAIT (60 s)", steps: [...handshake, ["in", "FA", "CLOSE_WAIT"]] },
    { name: "server closes first: FIN → FIN_WAIT (120 s)", steps: [...handshake, ["out", "FA", "FIN_WAIT"]] },
    { name: "server FIN then client FIN → TIME_WAIT", steps: [...handshake, ["out", "FA", "FIN_WAIT"], ["in", "FA", "TIME_WAIT"]] },
    { name: "server FIN then client ACK stays FIN_WAIT", steps: [...handshake, ["out", "FA", "FIN_WAIT"], ["in", "A", "FIN_WAIT"]] },
    { name: "client RST in ESTABLISHED → CLOSE (10 s)", steps: [...handshake, ["in", "R", "CLOSE"]] },
    { name: "server RST in ESTABLISHED → CLOSE", steps: [...handshake, ["out", "R", "CLOSE"]] },
    { name: "server RST in SYN_RECV → CLOSE", steps: [["in", "S", "SYN_RECV"], ["out", "R", "CLOSE"]] },
    { name: "client RST in SYN_RECV keeps SYN_RECV (IPVS ignores it there)", steps: [["in", "S", "SYN_RECV"], ["in", "R", "SYN_RECV"]] },
    { name: "RST+ACK counts as RST (rst beats ack)", steps: [...handshake, ["in", "RA", "CLOSE"]] },
    { name: "a segment with none of SYN/FIN/ACK/RST moves to CLOSE", steps: [...handshake, ["in", "P", "CLOSE"]] },
    { name: "client SYN again in ESTABLISHED stays ESTABLISHED", steps: [...handshake, ["in", "S", "ESTABLISHED"]] },
    { name: "server SYN in CLOSE_WAIT → SYN_SENT (120 s)", steps: [...handshake, ["in", "FA", "CLOSE_WAIT"], ["out", "S", "SYN_SENT"]] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const a = await withService("nat");
      const last = drive(a, "nat", 41000, 20_000, c.steps);
      const final = c.steps[c.steps.length - 1][2];
      expectLifetime(a, last, TIMEOUT[final]);
      expect(counts(a)).toEqual({ active: 0, inact: 0 });
    });
  }

  it("every reachable cell of IPVS's INPUT/OUTPUT table: next state's timeout and activeconns", async () => {
    const a = await withService("nat");
    const cells = reachableCells(["in", "out"], (d) => (d === "in" ? "input" : "output"));
    expect(cells.length).toBeGreaterThan(60); // SYN_RECV, ESTABLISHED, CLOSE, CLOSE_WAIT, TIME_WAIT, FIN_WAIT, SYN_SENT, ... × 2 × 5
    cells.forEach((steps, n) => {
      const last = drive(a, "nat", 30000 + n, (n + 1) * 4_000_000, steps);
      expectLifetime(a, last, TIMEOUT[steps[steps.length - 1][2]]);
      expect(counts(a)).toEqual({ active: 0, inact: 0 });
    });
  });

  it("matches IPVS's table for random segment sequences in both directions", async () => {
    const a = await withService("nat");
    let run = 0;
    const flagArb = fc.oneof(
      { arbitrary: fc.constantFrom("S", "SA", "A", "PA", "FA", "F", "R", "RA", "P", "U", "SF", "SR", ""), weight: 4 },
      { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom<"in" | "out">("in", "out"), flagArb), { minLength: 0, maxLength: 7 }), async (evs) => {
        run++;
        const t0 = run * 4_000_000; // far beyond any previous connection's life
        const sport = 10000 + run;
        let st: St = "NONE";
        const steps: Step[] = [];
        for (const [dir, flags] of [["in", "S"] as ["in", string], ...evs]) {
          st = ipvsNext(st, dir === "in" ? "input" : "output", typeof flags === "number" ? flags : tcpFlags(flags));
          steps.push([dir, flags, st]);
        }
        const last = drive(a, "nat", sport, t0, steps);
        expectLifetime(a, last, TIMEOUT[st]);
        expect(counts(a)).toEqual({ active: 0, inact: 0 });
      }),
      { numRuns: 150 },
    );
  });
});

// ---- DR: the input-only table ----

describe("TCP states of a DR connection (tcp_states INPUT-ONLY)", () => {
  it("SYN → SYN_RECV, ACK → ESTABLISHED with the counters moving, then 900 s", async () => {
    const a = await withService("dr");
    expectDrIn(a.send(fromClient(42000, "S"), 0, 1000), 42000);
    expect(counts(a, SVC, 0, "dr")).toEqual({ active: 0, inact: 1 });
    expectDrIn(a.send(fromClient(42000, "A"), 0, 1001), 42000);
    expect(counts(a, SVC, 0, "dr")).toEqual({ active: 1, inact: 0 });
    expectLifetime(a, 1001, TIMEOUT.ESTABLISHED);
  });

  const handshake: Step[] = [["in", "S", "SYN_RECV"], ["in", "A", "ESTABLISHED"]];
  const cases: { name: string; steps: Step[] }[] = [
    // The input-only table differs from INPUT here: FIN in ESTABLISHED is FIN_WAIT, not CLOSE_WAIT.
    { name: "client FIN in ESTABLISHED → FIN_WAIT (120 s), not CLOSE_WAIT", steps: [...handshake, ["in", "FA", "FIN_WAIT"]] },
    { name: "FIN then ACK stays FIN_WAIT", steps: [...handshake, ["in", "FA", "FIN_WAIT"], ["in", "A", "FIN_WAIT"]] },
    { name: "FIN in SYN_RECV → TIME_WAIT", steps: [["in", "S", "SYN_RECV"], ["in", "F", "TIME_WAIT"]] },
    { name: "RST in ESTABLISHED → CLOSE", steps: [...handshake, ["in", "R", "CLOSE"]] },
    { name: "RST in SYN_RECV stays SYN_RECV", steps: [["in", "S", "SYN_RECV"], ["in", "R", "SYN_RECV"]] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const a = await withService("dr");
      const last = drive(a, "dr", 42100, 30_000, c.steps);
      expectLifetime(a, last, TIMEOUT[c.steps[c.steps.length - 1][2]]);
      expect(counts(a, SVC, 0, "dr")).toEqual({ active: 0, inact: 0 });
    });
  }

  it("every reachable cell of IPVS's INPUT-ONLY table: next state's timeout and activeconns", async () => {
    const a = await withService("dr");
    const cells = reachableCells(["in"], () => "inputOnly");
    expect(cells.length).toBeGreaterThan(20);
    cells.forEach((steps, n) => {
      const last = drive(a, "dr", 30000 + n, (n + 1) * 4_000_000, steps);
      expectLifetime(a, last, TIMEOUT[steps[steps.length - 1][2]]);
      expect(counts(a, SVC, 0, "dr")).toEqual({ active: 0, inact: 0 });
    });
  });

  it("matches IPVS's input-only table for random client segment sequences", async () => {
    const a = await withService("dr");
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom("S", "A", "PA", "FA", "F", "R", "RA", "P", ""), { maxLength: 7 }), async (evs) => {
        run++;
        let st: St = "NONE";
        const steps: Step[] = [];
        for (const flags of ["S", ...evs]) {
          st = ipvsNext(st, "inputOnly", tcpFlags(flags));
          steps.push(["in", flags, st]);
        }
        const last = drive(a, "dr", 20000 + run, run * 4_000_000, steps);
        expectLifetime(a, last, TIMEOUT[st]);
      }),
      { numRuns: 100 },
    );
  });

  it("a real server's packet to the client does not match a DR connection (no output side)", async () => {
    const a = await withService("dr");
    a.send(fromClient(42200, "S"), 0, 1000);
    const before = a.dp.drops().no_service;
    const r = a.send(tcp4Frame({ ethSrc: RS_MAC[0], ethDst: LB1_MAC, src: RS[0], dst: CLIENT, sport: 80, dport: 42200, flags: "SA" }), 1, 1001);
    expect(r.verdict).toBe(DROP);
    expect(a.reasonName(r.reason)).toBe("no_service");
    expect(a.dp.drops().no_service).toBe(before + 1n);
    expect(counts(a, SVC, 0, "dr")).toEqual({ active: 0, inact: 1 }); // still SYN_RECV
  });
});

// ---- expiry ----

describe("expiry on the test clock", () => {
  async function established(a: Appliance, sport: number, t: number, dst = VIP, rs = 0): Promise<void> {
    expect(a.send(fromClient(sport, "S", { dst }), 0, t).verdict).toBe(TX);
    expect(a.send(fromRs(rs, sport, "SA"), 1, t).verdict).toBe(TX);
    expect(a.send(fromClient(sport, "A", { dst }), 0, t).verdict).toBe(TX);
  }

  it("an ESTABLISHED connection is forwarded at t+899 s and gone at t+900 s; a later non-SYN goes to the host (VIP owned)", async () => {
    const a = await withService("nat");
    const t = 1_000;
    await established(a, 43000, t); // A
    await established(a, 43001, t); // B
    expect(counts(a)).toEqual({ active: 2, inact: 0 });
    // A still forwarded at t+899 s (and refreshed by it).
    expectNatIn(a.send(fromClient(43000, "PA"), 0, t + 899_000), 43000);
    // B untouched since t: at t+900 s the lookup no longer finds it.
    const r = a.send(fromClient(43001, "PA"), 0, t + 900_000);
    expect(r.verdict).toBe(LOCAL);
    expect(r.reason).toBe(0);
    sweep(a, t + 900_000);
    expect(a.dp.connCount()).toBe(1);
    expect(counts(a)).toEqual({ active: 1, inact: 0 });
    // A: 900 s after its last packet.
    expectNatIn(a.send(fromClient(43000, "PA"), 0, t + 899_000 + 899_999), 43000);
    const last = t + 899_000 + 899_999;
    expect(a.send(fromClient(43000, "PA"), 0, last + 900_000).verdict).toBe(LOCAL);
    sweep(a, last + 900_000);
    expect(a.dp.connCount()).toBe(0);
    expect(counts(a)).toEqual({ active: 0, inact: 0 });
    // The reply side is gone too: the real server's packet is no longer translated.
    const out = a.send(fromRs(0, 43000, "A"), 1, last + 900_001);
    expect(out.verdict).toBe(DROP);
    expect(a.reasonName(out.reason)).toBe("no_service");
  });

  it("without a connection, a non-SYN to a VIP the appliance does not own is a counted no_conn drop", async () => {
    const a = await withService("nat");
    a.dp.transaction((tx) => {
      tx.addService(SVC2, { scheduler: "rr" });
      tx.addDest(SVC2, { addr: RS[1], port: RS_PORT, fwd: "nat" });
    });
    await established(a, 43100, 1000, VIP2, 1);
    expect(a.send(fromClient(43100, "PA", { dst: VIP2 }), 0, 1000 + 899_999).verdict).toBe(TX);
    const before = a.dp.drops().no_conn;
    const r = a.send(fromClient(43100, "PA", { dst: VIP2 }), 0, 1000 + 899_999 + 900_000);
    expect(r.verdict).toBe(DROP);
    expect(a.reasonName(r.reason)).toBe("no_conn");
    expect(a.dp.drops().no_conn).toBe(before + 1n);
  });

  it("the per-batch sweep reclaims expired entries by itself (table within the sweep budget)", async () => {
    const a = await withService("nat", { connCapacity: 32 });
    await established(a, 43200, 1000);
    await established(a, 43201, 1000);
    expect(a.dp.connCount()).toBe(2);
    // Unrelated traffic later on drives the sweep: a UDP datagram to a VIP port without a service.
    const noise = udp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: VIP, sport: 9, dport: 9 });
    a.send(noise, 0, 1000 + 899_999);
    expect(a.dp.connCount()).toBe(2);
    expect(counts(a)).toEqual({ active: 2, inact: 0 });
    a.send(noise, 0, 1000 + 900_000);
    expect(a.dp.connCount()).toBe(0);
    expect(counts(a)).toEqual({ active: 0, inact: 0 });
  });

  it("expireStep(4, now, budget) examines at most budget entries per call", async () => {
    const a = await withService("nat", { connCapacity: 64 });
    for (let p = 0; p < 10; p++) a.send(fromClient(44000 + p, "S"), 0, 1000);
    // A sweep of 5 entries cannot remove more than 5 of the 10 expired ones.
    const first = a.dp.x.expireStep(4, 1000 + 60_000, 5);
    expect(first).toBeLessThanOrEqual(5);
    expect(a.dp.connCount()).toBe(10 - first);
    expect(sweep(a, 1000 + 60_000)).toBe(10 - first);
    expect(a.dp.connCount()).toBe(0);
    expect(counts(a)).toEqual({ active: 0, inact: 0 });
  });
});

// ---- ipvsadm --set ----

describe("timeouts at run time (ipvsadm --set tcp tcpfin udp)", () => {
  it("defaults read back as 900 120 300", async () => {
    const a = await makeAppliance();
    expect(a.dp.getTimeouts()).toEqual({ tcp: 900, tcpfin: 120, udp: 300 });
  });

  it("setTimeouts changes them, getTimeouts reads them back, and 0 keeps a value", async () => {
    const a = await makeAppliance();
    a.dp.setTimeouts({ tcp: 10, tcpfin: 5, udp: 7 });
    expect(a.dp.getTimeouts()).toEqual({ tcp: 10, tcpfin: 5, udp: 7 });
    a.dp.setTimeouts({ udp: 9 });
    expect(a.dp.getTimeouts()).toEqual({ tcp: 10, tcpfin: 5, udp: 9 });
    a.dp.setTimeouts({ tcp: 0, tcpfin: 0, udp: 0 });
    expect(a.dp.getTimeouts()).toEqual({ tcp: 10, tcpfin: 5, udp: 9 });
  });

  it("the new ESTABLISHED timeout applies from a connection's next packet", async () => {
    const a = await withService("nat");
    drive(a, "nat", 45000, 1000, [["in", "S", "SYN_RECV"], ["out", "SA", "SYN_RECV"], ["in", "A", "ESTABLISHED"]]);
    a.dp.setTimeouts({ tcp: 10, tcpfin: 5, udp: 7 });
    // Armed before the change: still 900 s from its last packet (1003).
    sweep(a, 1003 + 600_000);
    expect(a.dp.connCount()).toBe(1);
    expectNatIn(a.send(fromClient(45000, "PA"), 0, 700_000), 45000);
    expectLifetime(a, 700_000, 10);
  });

  it("tcpfin sets FIN_WAIT (NAT server close, DR client close), and other states keep theirs", async () => {
    const nat = await withService("nat");
    nat.dp.setTimeouts({ tcp: 10, tcpfin: 5, udp: 7 });
    let last = drive(nat, "nat", 45100, 1000, [["in", "S", "SYN_RECV"], ["out", "SA", "SYN_RECV"], ["in", "A", "ESTABLISHED"], ["out", "FA", "FIN_WAIT"]]);
    expectLifetime(nat, last, 5);
    last = drive(nat, "nat", 45101, 100_000, [["in", "S", "SYN_RECV"], ["out", "SA", "SYN_RECV"], ["in", "A", "ESTABLISHED"], ["in", "FA", "CLOSE_WAIT"]]);
    expectLifetime(nat, last, TIMEOUT.CLOSE_WAIT);
    last = drive(nat, "nat", 45102, 200_000, [["in", "S", "SYN_RECV"]]);
    expectLifetime(nat, last, TIMEOUT.SYN_RECV);

    const dr = await withService("dr");
    dr.dp.setTimeouts({ tcpfin: 5 });
    last = drive(dr, "dr", 45200, 1000, [["in", "S", "SYN_RECV"], ["in", "A", "ESTABLISHED"], ["in", "FA", "FIN_WAIT"]]);
    expectLifetime(dr, last, 5);
  });
});

// ---- UDP ----

describe("UDP connections", () => {
  async function udpService(): Promise<Appliance> {
    const a = await makeAppliance();
    a.dp.transaction((tx) => {
      tx.addService(USVC, { scheduler: "rr" });
      tx.addDest(USVC, { addr: RS[0], port: 5353, fwd: "nat" });
    });
    return a;
  }
  const dgram = (sport: number) => udp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: VIP, sport, dport: 53, payload: new Uint8Array([1, 2, 3]) });
  const reply = (cport: number) => udp4Frame({ ethSrc: RS_MAC[0], ethDst: LB1_MAC, src: RS[0], dst: CLIENT, sport: 5353, dport: cport, payload: new Uint8Array([4]) });

  it("live 300 s after the last datagram by default, counted as inactive (IPVS binds new connections inactive)", async () => {
    const a = await udpService();
    const r = a.send(dgram(46000), 0, 1000);
    expect(r.verdict).toBe(TX);
    const p = parseFrame(r.out);
    expect([p.ip!.dst, p.udp!.dport]).toEqual([RS[0], 5353]);
    expect(verifyChecksums(r.out)).toEqual([]);
    expect(counts(a, USVC)).toEqual({ active: 0, inact: 1 });
    // A reply in both directions refreshes it.
    const back = a.send(reply(46000), 1, 50_000);
    expect(back.verdict).toBe(TX);
    expect(parseFrame(back.out).ip!.src).toBe(VIP);
    expectLifetime(a, 50_000, 300);
    expect(counts(a, USVC)).toEqual({ active: 0, inact: 0 });
  });

  it("--set udp 7 makes it 7 s", async () => {
    const a = await udpService();
    a.dp.setTimeouts({ udp: 7 });
    a.send(dgram(46001), 0, 1000);
    expectLifetime(a, 1000, 7);
  });

  it("an expired UDP flow is scheduled anew (rr moves on) rather than resurrected", async () => {
    const a = await makeAppliance();
    a.dp.transaction((tx) => {
      tx.addService(USVC, { scheduler: "rr" });
      tx.addDest(USVC, { addr: RS[0], port: 5353, fwd: "nat" });
      tx.addDest(USVC, { addr: RS[1], port: 5353, fwd: "nat" });
    });
    expect(parseFrame(a.send(dgram(46002), 0, 1000).out).ip!.dst).toBe(RS[0]);
    expect(parseFrame(a.send(dgram(46002), 0, 1000 + 299_999).out).ip!.dst).toBe(RS[0]);
    expect(parseFrame(a.send(dgram(46002), 0, 1000 + 299_999 + 300_000).out).ip!.dst).toBe(RS[1]);
  });
});

// ---- table full ----

describe("connection table full", () => {
  it("drops a new connection with conn_table_full, and reclaims expired entries for new ones", async () => {
    const a = await withService("nat", { connCapacity: 8 });
    const t = 1000;
    for (let p = 0; p < 8; p++) expectNatIn(a.send(fromClient(47000 + p, "S"), 0, t), 47000 + p);
    expect(a.dp.connCount()).toBe(8);
    const before = a.dp.drops();
    const r = a.send(fromClient(47100, "S"), 0, t + 1);
    expect(r.verdict).toBe(DROP);
    expect(a.reasonName(r.reason)).toBe("conn_table_full");
    const after = a.dp.drops();
    expect(after.conn_table_full).toBe(before.conn_table_full + 1n);
    // Exactly one counter moved.
    const moved = Object.keys(after).filter((k) => after[k] !== before[k]);
    expect(moved).toEqual(["conn_table_full"]);
    expect(a.dp.connCount()).toBe(8);
    expect(counts(a)).toEqual({ active: 0, inact: 8 });
    // Existing connections still work.
    expectNatIn(a.send(fromClient(47003, "A"), 0, t + 2), 47003);
    // The 7 others are SYN_RECV (60 s): still full just before, room just after.
    expect(a.send(fromClient(47100, "S"), 0, t + 59_999).verdict).toBe(DROP);
    expect(a.dp.drops().conn_table_full).toBe(before.conn_table_full + 2n);
    expectNatIn(a.send(fromClient(47100, "S"), 0, t + 60_000), 47100);
    // 47003 is ESTABLISHED and survives; the 7 SYN_RECV ones were reclaimed.
    expect(a.dp.connCount()).toBe(2);
    expect(counts(a)).toEqual({ active: 1, inact: 1 });
    expectNatIn(a.send(fromClient(47003, "PA"), 0, t + 60_001), 47003);
  });
});
