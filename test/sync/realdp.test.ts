// Two sync daemons on real data planes (two instances with the same
// services, test/helpers/appliance.ts) joined by the fake wire: a connection
// made on the master's packet path reaches the backup through the bulk at
// the backup's start and through the change log afterwards, and the backup
// then forwards that connection's next packet to the same real server
// (the point of the whole exercise: a takeover keeps it).

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import pino from "pino";
import { makeAppliance, type Appliance, CLIENT, CLIENT_MAC, LB0_MAC, VIP, RS } from "../helpers/appliance.js";
import { parseFrame, tcp4Frame } from "../helpers/frames.js";
import type { ServiceKey } from "../../src/dataplane/dataplane.js";
import { SyncDaemon } from "../../src/sync/daemon.js";
import { KEY } from "./helpers.js";
import { FakeRole, Wire } from "./fakes.js";

const NAT: ServiceKey = { proto: "tcp", addr: VIP, port: 80 };
const TX = 1;
const silent = pino({ level: "silent" });
let clock = 10_000;

async function director(): Promise<Appliance> {
  const a = await makeAppliance();
  a.dp.transaction((tx) => {
    tx.addService(NAT, { scheduler: "rr" });
    for (const addr of RS) tx.addDest(NAT, { addr, port: 8080, fwd: "nat" });
  });
  return a;
}

const syn = (sport: number, flags = "S") => tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: VIP, sport, dport: 80, flags });

function daemon(wire: Wire, a: Appliance, role: FakeRole, n: number): SyncDaemon {
  let d: SyncDaemon | undefined;
  const link = wire.link((f) => d!.receive(f));
  d = new SyncDaemon({
    dev: "eth1", instance: "VI_1", syncId: 0, key: KEY, dp: a.dp, role, link,
    source: { mac: `02:00:00:00:00:0${n}`, addr: `198.18.0.${n}` }, mtu: 1500, now: () => clock, log: silent,
  });
  return d;
}

const daemons: SyncDaemon[] = [];
beforeEach(() => { vi.useFakeTimers({ toFake: ["setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "Date"] }); });
afterEach(() => { for (const d of daemons.splice(0)) d.stop(); vi.useRealTimers(); });

describe("sync between two real data planes", () => {
  it("bulk at start, changes after, and the backup forwards the synced connections as the master did", async () => {
    const wire = new Wire();
    const A = await director(), B = await director();
    const roleA = new FakeRole("MASTER"), roleB = new FakeRole("BACKUP");
    daemons.push(daemon(wire, A, roleA, 1));
    // Connections on the master before the backup exists: rr spreads them over the three servers.
    const dest = new Map<number, string>();
    for (const p of [1001, 1002, 1003]) {
      const r = A.send(syn(p), 0, clock);
      expect(r.verdict).toBe(TX);
      dest.set(p, parseFrame(r.out).ip!.dst);
    }
    await vi.advanceTimersByTimeAsync(50); // the master's log is taken (no backup yet: nobody listens)
    daemons.push(daemon(wire, B, roleB, 2));
    await vi.advanceTimersByTimeAsync(100);
    const seen = (a: Appliance) => a.dp.connections(clock).map((c) => `${c.cport}>${c.daddr}:${c.dport} ${c.state}`).sort();
    expect(seen(B)).toEqual(seen(A));
    expect(seen(B)).toHaveLength(3);
    // A change: a new connection, and one of the first moving to ESTABLISHED.
    for (const f of [syn(1004), syn(1001, "A")]) {
      const r = A.send(f, 0, clock);
      expect(r.verdict).toBe(TX);
      if (parseFrame(r.out).tcp?.sport === 1004) dest.set(1004, parseFrame(r.out).ip!.dst);
    }
    await vi.advanceTimersByTimeAsync(60);
    expect(seen(B)).toEqual(seen(A));
    expect(seen(B).find((s) => s.startsWith("1001>"))).toMatch(/ESTABLISHED$/);
    // Takeover: B forwards every synced connection's next packet to the master's choice.
    roleA.set("BACKUP");
    roleB.set("MASTER");
    for (const [p, rs] of dest) {
      const r = B.send(syn(p, "A"), 0, clock + 10);
      expect(r.verdict).toBe(TX);
      expect(parseFrame(r.out).ip!.dst).toBe(rs);
    }
    expect(new Set(dest.values()).size).toBeGreaterThan(1); // not all to one server by chance of rr
  });
});
