// Configuration transactions and generations: an operation that fails
// changes nothing (ipvsadm's commands each validate first; Weir extends that
// to the whole transaction), a committed transaction appears between two
// batches, real-server edits/deletions leave existing connections alone, and
// the ipvsadm --stats counters survive edits.

import { describe, it, expect } from "vitest";
import { makeAppliance, type Appliance, CLIENT, CLIENT_MAC, LB0_MAC, LB1_MAC, VIP, RS, RS_MAC } from "../helpers/appliance.js";
import { tcp4Frame, parseFrame, verifyChecksums } from "../helpers/frames.js";
import type { ServiceKey } from "../../src/dataplane/dataplane.js";
import { WeirError } from "../../src/errors.js";

const DROP = 0, TX = 1, LOCAL = 2;
const SVC: ServiceKey = { proto: "tcp", addr: VIP, port: 80 };
const VIP2 = "198.18.100.2"; // not owned by the appliance
const SVC2: ServiceKey = { proto: "tcp", addr: VIP2, port: 80 };
const RS_PORT = 8080;
/** A service that never exists (same address and port as SVC, other protocol). */
const MISSING: ServiceKey = { proto: "udp", addr: VIP, port: 80 };

function cli(sport: number, flags: string, o: { dst?: string; payload?: Uint8Array; pad?: boolean } = {}): Uint8Array {
  return tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: o.dst ?? VIP, sport, dport: 80, flags, payload: o.payload, pad: o.pad });
}
function fromRs(i: number, cport: number, flags: string, payload?: Uint8Array): Uint8Array {
  return tcp4Frame({ ethSrc: RS_MAC[i], ethDst: LB1_MAC, src: RS[i], dst: CLIENT, sport: RS_PORT, dport: cport, flags, payload });
}
function target(r: ReturnType<Appliance["send"]>): string {
  expect(r.verdict).toBe(TX);
  expect(r.outLink).toBe(1);
  expect(verifyChecksums(r.out)).toEqual([]);
  return parseFrame(r.out).ip!.dst;
}

async function twoServers(): Promise<Appliance> {
  const a = await makeAppliance();
  a.dp.transaction((tx) => {
    tx.addService(SVC, { scheduler: "rr" });
    tx.addDest(SVC, { addr: RS[0], port: RS_PORT, fwd: "nat" });
    tx.addDest(SVC, { addr: RS[1], port: RS_PORT, fwd: "nat" });
  });
  return a;
}

function expectCode(fn: () => void, code: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(WeirError);
  expect((err as WeirError).code).toBe(code);
}

describe("a failing transaction changes nothing", () => {
  const failing: { name: string; code: string; op: (tx: Parameters<Parameters<Appliance["dp"]["transaction"]>[0]>[0]) => void }[] = [
    { name: "adding a service that exists", code: "WEIR_ERR_SERVICE_EXISTS", op: (tx) => tx.addService(SVC, { scheduler: "rr" }) },
    { name: "adding a real server to a missing service", code: "WEIR_ERR_NO_SUCH_SERVICE",
      op: (tx) => tx.addDest(MISSING, { addr: RS[2], port: RS_PORT, fwd: "nat" }) },
    { name: "an unknown scheduler", code: "WEIR_ERR_UNKNOWN_SCHEDULER", op: (tx) => tx.addService(SVC2, { scheduler: "no-such-scheduler" }) },
    { name: "editing a missing service", code: "WEIR_ERR_NO_SUCH_SERVICE", op: (tx) => tx.editService(MISSING, { scheduler: "rr" }) },
    { name: "deleting a missing service", code: "WEIR_ERR_NO_SUCH_SERVICE", op: (tx) => tx.deleteService(MISSING) },
    { name: "adding a real server twice", code: "WEIR_ERR_DEST_EXISTS", op: (tx) => tx.addDest(SVC, { addr: RS[0], port: RS_PORT, fwd: "nat" }) },
    { name: "deleting a missing real server", code: "WEIR_ERR_NO_SUCH_DEST", op: (tx) => tx.deleteDest(SVC, { addr: RS[2], port: RS_PORT }) },
    { name: "editing a missing real server", code: "WEIR_ERR_NO_SUCH_DEST", op: (tx) => tx.editDest(SVC, { addr: RS[2], port: RS_PORT, fwd: "nat", weight: 3 }) },
  ];

  for (const f of failing) {
    it(`${f.name} → ${f.code}; earlier operations of the transaction are dropped too`, async () => {
      const a = await twoServers();
      expect(target(a.send(cli(1001, "S"), 0, 1000))).toBe(RS[0]);
      expectCode(() => a.dp.transaction((tx) => {
        // Changes that would be visible if any part of the transaction leaked:
        tx.addService(SVC2, { scheduler: "rr" });
        tx.addDest(SVC2, { addr: RS[2], port: RS_PORT, fwd: "nat" });
        tx.deleteDest(SVC, { addr: RS[1], port: RS_PORT });
        tx.editDest(SVC, { addr: RS[0], port: RS_PORT, fwd: "nat", weight: 0 });
        f.op(tx);
      }), f.code);
      expect(a.dp.serviceCount()).toBe(1);
      // rr carries on where it was: RS1, then RS0 again (RS0 still weight 1, RS1 still there).
      expect(target(a.send(cli(1002, "S"), 0, 2000))).toBe(RS[1]);
      expect(target(a.send(cli(1003, "S"), 0, 2000))).toBe(RS[0]);
      // The existing connection still goes where it went.
      expect(target(a.send(cli(1001, "A"), 0, 2000))).toBe(RS[0]);
      // SVC2 never appeared.
      const r = a.send(cli(1004, "S", { dst: VIP2 }), 0, 2000);
      expect(r.verdict).toBe(DROP);
      expect(a.reasonName(r.reason)).toBe("no_service");
      expectCode(() => a.dp.serviceStats(SVC2), "WEIR_ERR_NO_SUCH_SERVICE");
      // And the next transaction works (nothing left open).
      a.dp.transaction((tx) => tx.addService(SVC2, { scheduler: "rr" }));
      expect(a.dp.serviceCount()).toBe(2);
    });
  }

  it("an exception thrown by the caller's own code aborts the transaction as well", async () => {
    const a = await twoServers();
    expect(() => a.dp.transaction((tx) => {
      tx.deleteService(SVC);
      throw new Error("health checker changed its mind");
    })).toThrow("health checker changed its mind");
    expect(a.dp.serviceCount()).toBe(1);
    expect(target(a.send(cli(1001, "S"), 0, 1000))).toBe(RS[0]);
  });

  it("a nested transaction is refused with WEIR_ERR_TRANSACTION_OPEN and the outer one is aborted", async () => {
    const a = await twoServers();
    expectCode(() => a.dp.transaction((tx) => {
      tx.deleteService(SVC);
      a.dp.transaction(() => {});
    }), "WEIR_ERR_TRANSACTION_OPEN");
    expect(a.dp.serviceCount()).toBe(1);
    expect(target(a.send(cli(1001, "S"), 0, 1000))).toBe(RS[0]);
  });
});

describe("commit", () => {
  it("a multi-operation transaction becomes visible at once: batches during the transaction see the old generation", async () => {
    const a = await twoServers();
    a.dp.transaction((tx) => {
      tx.addService(SVC2, { scheduler: "rr" });
      tx.addDest(SVC2, { addr: RS[2], port: RS_PORT, fwd: "nat" });
      expect(a.send(cli(2001, "S", { dst: VIP2 }), 0, 1000).verdict).toBe(DROP); // not yet
      tx.deleteDest(SVC, { addr: RS[0], port: RS_PORT });
      tx.addDest(SVC, { addr: RS[2], port: RS_PORT, fwd: "nat" });
      expect(target(a.send(cli(2002, "S"), 0, 1000))).toBe(RS[0]); // old config: rr starts at RS0
      expect(target(a.send(cli(2003, "S"), 0, 1000))).toBe(RS[1]);
      expect(a.dp.serviceCount()).toBe(1);
    });
    expect(a.dp.serviceCount()).toBe(2);
    expect(target(a.send(cli(2001, "S", { dst: VIP2 }), 0, 1001))).toBe(RS[2]);
    const picks = [3001, 3002, 3003, 3004].map((p) => target(a.send(cli(p, "S"), 0, 1001)));
    expect(picks).not.toContain(RS[0]);
    expect(new Set(picks)).toEqual(new Set([RS[1], RS[2]]));
  });

  it("flush removes all services (ipvsadm -C)", async () => {
    const a = await twoServers();
    a.dp.transaction((tx) => {
      tx.addService(SVC2, { scheduler: "rr" });
      tx.addDest(SVC2, { addr: RS[2], port: RS_PORT, fwd: "nat" });
    });
    expect(a.dp.serviceCount()).toBe(2);
    a.dp.transaction((tx) => tx.flush());
    expect(a.dp.serviceCount()).toBe(0);
    expectCode(() => a.dp.serviceStats(SVC), "WEIR_ERR_NO_SUCH_SERVICE");
    expectCode(() => a.dp.serviceStats(SVC2), "WEIR_ERR_NO_SUCH_SERVICE");
    // A SYN to the owned VIP goes to the host stack; to the other one it is no_service.
    expect(a.send(cli(1001, "S"), 0, 1000).verdict).toBe(LOCAL);
    const r = a.send(cli(1002, "S", { dst: VIP2 }), 0, 1000);
    expect(r.verdict).toBe(DROP);
    expect(a.reasonName(r.reason)).toBe("no_service");
    expect(a.dp.connCount()).toBe(0);
    // The same services can be added again.
    a.dp.transaction((tx) => {
      tx.addService(SVC, { scheduler: "rr" });
      tx.addDest(SVC, { addr: RS[1], port: RS_PORT, fwd: "nat" });
    });
    expect(target(a.send(cli(1003, "S"), 0, 1000))).toBe(RS[1]);
  });

  it("flush and re-add inside one transaction is a no-op for packets", async () => {
    const a = await twoServers();
    a.dp.transaction((tx) => {
      tx.flush();
      tx.addService(SVC, { scheduler: "rr" });
      tx.addDest(SVC, { addr: RS[1], port: RS_PORT, fwd: "nat" });
    });
    expect(a.dp.serviceCount()).toBe(1);
    expect(target(a.send(cli(1001, "S"), 0, 1000))).toBe(RS[1]);
  });
});

describe("real servers changing under existing connections", () => {
  async function established(a: Appliance, sport: number, rs: number, now: number): Promise<void> {
    expect(target(a.send(cli(sport, "S"), 0, now))).toBe(RS[rs]);
    expect(a.send(fromRs(rs, sport, "SA"), 1, now).verdict).toBe(TX);
    expect(target(a.send(cli(sport, "A"), 0, now))).toBe(RS[rs]);
  }

  // IPVS with expire_nodest_conn=1: a packet of a connection whose real server was deleted
  // is dropped and the entry expired, so the client's next SYN goes to a live server.
  // (ip_vs_in keeps the entry and drops silently with the sysctl at 0; draining is what
  // weight 0 is for, tested below.)
  it("a deleted real server's connections are expired on their next packet (dest_gone); new connections avoid it", async () => {
    const a = await twoServers();
    await established(a, 1001, 0, 1000);
    await established(a, 1002, 1, 1000);
    expect(a.dp.connCount()).toBe(2);
    a.dp.transaction((tx) => tx.deleteDest(SVC, { addr: RS[0], port: RS_PORT }));
    expectCode(() => a.dp.destStats(SVC, { addr: RS[0], port: RS_PORT }), "WEIR_ERR_NO_SUCH_DEST");
    const drops = a.dp.drops().dest_gone;
    const r = a.send(cli(1001, "PA", { payload: new Uint8Array(10) }), 0, 2000);
    expect(r.verdict).toBe(DROP);
    expect(a.reasonName(r.reason)).toBe("dest_gone");
    expect(a.dp.drops().dest_gone - drops).toBe(1n);
    expect(a.dp.connCount()).toBe(1);
    // The reply direction of a gone server's connection is refused the same way.
    await established(a, 1003, 1, 2000);
    // The other server's connection is untouched, and new connections avoid the deleted one.
    expect(target(a.send(cli(1002, "PA"), 0, 2000))).toBe(RS[1]);
    for (let p = 0; p < 4; p++) expect(target(a.send(cli(1100 + p, "S"), 0, 2000))).toBe(RS[1]);
  });

  it("a NAT reply from a deleted real server is dropped as dest_gone", async () => {
    const a = await twoServers();
    await established(a, 1001, 0, 1000);
    a.dp.transaction((tx) => tx.deleteDest(SVC, { addr: RS[0], port: RS_PORT }));
    const r = a.send(fromRs(0, 1001, "PA"), 1, 2000);
    expect(r.verdict).toBe(DROP);
    expect(a.reasonName(r.reason)).toBe("dest_gone");
    expect(a.dp.connCount()).toBe(0);
  });

  it("weight 0 (quiescent): existing connections continue, no new ones", async () => {
    const a = await twoServers();
    await established(a, 1001, 0, 1000);
    a.dp.transaction((tx) => tx.editDest(SVC, { addr: RS[0], port: RS_PORT, fwd: "nat", weight: 0 }));
    const d0 = a.dp.destStats(SVC, { addr: RS[0], port: RS_PORT });
    expect([d0.activeconns, d0.inactconns, d0.available]).toEqual([1, 0, true]);
    expect(target(a.send(cli(1001, "PA"), 0, 2000))).toBe(RS[0]);
    for (let p = 0; p < 4; p++) expect(target(a.send(cli(1100 + p, "S"), 0, 2000))).toBe(RS[1]);
    expect(Number(a.dp.destStats(SVC, { addr: RS[0], port: RS_PORT }).conns)).toBe(1);
    // All quiescent: no_dest.
    a.dp.transaction((tx) => tx.editDest(SVC, { addr: RS[1], port: RS_PORT, fwd: "nat", weight: 0 }));
    const r = a.send(cli(1200, "S"), 0, 3000);
    expect(r.verdict).toBe(DROP);
    expect(a.reasonName(r.reason)).toBe("no_dest");
    expect(target(a.send(cli(1001, "PA"), 0, 3000))).toBe(RS[0]);
  });

  it("a deleted real server's connection counters still fall when its connections end", async () => {
    const a = await twoServers();
    await established(a, 1001, 0, 1000);
    a.dp.transaction((tx) => tx.deleteDest(SVC, { addr: RS[0], port: RS_PORT }));
    a.dp.x.expireStep(4, 1000 + 900_000, 1 << 30);
    expect(a.dp.connCount()).toBe(0);
    // Re-added: a fresh real server with no connections.
    a.dp.transaction((tx) => tx.addDest(SVC, { addr: RS[0], port: RS_PORT, fwd: "nat" }));
    const d0 = a.dp.destStats(SVC, { addr: RS[0], port: RS_PORT });
    expect([d0.activeconns, d0.inactconns, d0.persistconns]).toEqual([0, 0, 0]);
  });
});

describe("counters (ipvsadm --stats)", () => {
  it("conns, packets and IP-datagram bytes per service and real server survive edits of the service and of the server", async () => {
    const a = await twoServers();
    // One connection: SYN (40-byte datagram, Ethernet-padded to 60: padding is not counted),
    // SYN-ACK back (40), ACK with 100 bytes of data (140), reply with 300 bytes (340).
    expect(target(a.send(cli(1001, "S", { pad: true }), 0, 1000))).toBe(RS[0]);
    expect(a.send(fromRs(0, 1001, "SA"), 1, 1000).verdict).toBe(TX);
    expect(target(a.send(cli(1001, "PA", { payload: new Uint8Array(100) }), 0, 1000))).toBe(RS[0]);
    expect(a.send(fromRs(0, 1001, "PA", new Uint8Array(300)), 1, 1000).verdict).toBe(TX);
    const want = { conns: 1n, inpkts: 2n, outpkts: 2n, inbytes: 180n, outbytes: 380n };
    expect(a.dp.serviceStats(SVC)).toEqual(want);
    const d0 = a.dp.destStats(SVC, { addr: RS[0], port: RS_PORT });
    expect({ conns: d0.conns, inpkts: d0.inpkts, outpkts: d0.outpkts, inbytes: d0.inbytes, outbytes: d0.outbytes }).toEqual(want);
    const d1 = a.dp.destStats(SVC, { addr: RS[1], port: RS_PORT });
    expect([d1.conns, d1.inpkts, d1.outpkts, d1.inbytes, d1.outbytes]).toEqual([0n, 0n, 0n, 0n, 0n]);

    a.dp.transaction((tx) => {
      tx.editService(SVC, { scheduler: "rr", persistent: 60 });
      tx.editDest(SVC, { addr: RS[0], port: RS_PORT, fwd: "nat", weight: 5 });
    });
    expect(a.dp.serviceStats(SVC)).toEqual(want);
    const e0 = a.dp.destStats(SVC, { addr: RS[0], port: RS_PORT });
    expect([e0.conns, e0.inpkts, e0.outpkts, e0.inbytes, e0.outbytes]).toEqual([1n, 2n, 2n, 180n, 380n]);

    // Traffic after the edit adds to the same counters; a new connection is counted once.
    expect(target(a.send(cli(1001, "A"), 0, 2000))).toBe(RS[0]);
    const nc = target(a.send(cli(1002, "S"), 0, 2000));
    expect(a.dp.serviceStats(SVC)).toEqual({ conns: 2n, inpkts: 4n, outpkts: 2n, inbytes: 260n, outbytes: 380n });
    const other = a.dp.destStats(SVC, { addr: nc, port: RS_PORT });
    expect(other.conns).toBe(nc === RS[0] ? 2n : 1n);
  });

  it("another service's counters are separate", async () => {
    const a = await twoServers();
    a.dp.transaction((tx) => {
      tx.addService(SVC2, { scheduler: "rr" });
      tx.addDest(SVC2, { addr: RS[0], port: RS_PORT, fwd: "nat" });
    });
    expect(target(a.send(cli(1001, "S", { dst: VIP2 }), 0, 1000))).toBe(RS[0]);
    expect(a.dp.serviceStats(SVC)).toEqual({ conns: 0n, inpkts: 0n, outpkts: 0n, inbytes: 0n, outbytes: 0n });
    expect(a.dp.serviceStats(SVC2)).toEqual({ conns: 1n, inpkts: 1n, outpkts: 0n, inbytes: 40n, outbytes: 0n });
    expect(a.dp.destStats(SVC, { addr: RS[0], port: RS_PORT }).conns).toBe(0n);
  });
});
