// Connection sync, the data-plane side (issue 12): the change log a master
// writes on the packet path (assembly/conn/synclog.ts), the bulk export, and
// the install on a backup (assembly/conn/sync.ts), driven with real frames
// on two instances with the same configuration: what A logged or exported
// and B installed must make B forward the connection's next packet as A would.

import { describe, it, expect } from "vitest";
import { makeAppliance, type Appliance, CLIENT, CLIENT6, CLIENT_MAC, LB0_MAC, LB1_MAC, VIP, VIP6, RS, RS6, RS_MAC } from "../helpers/appliance.js";
import { tcp4Frame, tcp6Frame, udp4Frame, parseFrame, verifyChecksums } from "../helpers/frames.js";
import { DataPlane, type ServiceKey } from "../../src/dataplane/dataplane.js";
import { steerOwner } from "../../src/dataplane/steer/model.js";
import { recordOwner, splitRecords } from "../../src/dataplane/replica/syncroute.js";
import { MirrorState } from "../../src/dataplane/replica/state.js";
import { applyOp, type DpOp } from "../../src/dataplane/replica/ops.js";
import { RemoteStats } from "../../src/dataplane/replica/remote.js";
import { ReplicatedDataPlane, type SyncPeers } from "../../src/dataplane/replica/replicated.js";
import { ENTRY_SIZE } from "../../src/sync/entry.js";
import { decodeEntries, decodeEntry, encodeEntry, type SyncEntry } from "../../src/sync/record.js";

const TX = 1, LOCAL = 2;
const NAT: ServiceKey = { proto: "tcp", addr: VIP, port: 80 };
const DR: ServiceKey = { proto: "tcp", addr: VIP, port: 81 };
const TUN: ServiceKey = { proto: "tcp", addr: VIP, port: 82 };
const NAT6: ServiceKey = { proto: "tcp", addr: VIP6, port: 80 };
const UDP: ServiceKey = { proto: "udp", addr: VIP, port: 53 };
// IPVS's TCP states (assembly/conn/state.ts).
const ESTABLISHED = 1, SYN_RECV = 3;

async function director(opts: { syncLogCapacity?: number; persistent?: number } = {}): Promise<Appliance> {
  const a = await makeAppliance({ syncLogCapacity: opts.syncLogCapacity });
  a.dp.transaction((tx) => {
    tx.addService(NAT, { scheduler: "rr", persistent: opts.persistent });
    for (let i = 0; i < 3; i++) tx.addDest(NAT, { addr: RS[i], port: 8080, fwd: "nat" });
    tx.addService(DR, { scheduler: "rr" });
    tx.addDest(DR, { addr: RS[1], fwd: "dr" });
    tx.addService(TUN, { scheduler: "rr" });
    tx.addDest(TUN, { addr: RS[2], fwd: "tun" });
    tx.addService(NAT6, { scheduler: "rr" });
    tx.addDest(NAT6, { addr: RS6[0], port: 8080, fwd: "nat" });
    tx.addService(UDP, { scheduler: "rr" });
    tx.addDest(UDP, { addr: RS[0], port: 5353, fwd: "nat" });
  });
  return a;
}

const c4 = (sport: number, dport: number, flags: string, src = CLIENT) =>
  tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src, dst: VIP, sport, dport, flags });
const c6 = (sport: number, flags: string) =>
  tcp6Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT6, dst: VIP6, sport, dport: 80, flags });
const reply4 = (rs: number, dport: number) =>
  tcp4Frame({ ethSrc: RS_MAC[rs], ethDst: LB1_MAC, src: RS[rs], dst: CLIENT, sport: 8080, dport, flags: "A" });

function forwarded(r: ReturnType<Appliance["send"]>) {
  expect(r.verdict, `dropped: ${r.reason}`).toBe(TX);
  expect(verifyChecksums(r.out)).toEqual([]);
  return parseFrame(r.out);
}

async function changes(a: Appliance): Promise<{ entries: SyncEntry[]; lost: number; bytes: number }> {
  const { records, lost } = await a.dp.takeConnChanges();
  return { entries: decodeEntries(records), lost, bytes: records.length };
}

describe("the change log (setConnSync / takeConnChanges)", () => {
  it("is off by default: connections log nothing", async () => {
    const a = await director();
    forwarded(a.send(c4(1001, 80, "S"), 0, 1000));
    forwarded(a.send(c4(1001, 80, "A"), 0, 1100));
    expect(await changes(a)).toEqual({ entries: [], lost: 0, bytes: 0 });
    expect(a.dp.connSyncStats().logged).toBe(0);
  });

  it("logs a new TCP connection with its fields, its move to ESTABLISHED, and a refresh only past half its timeout", async () => {
    const a = await director();
    a.dp.setConnSync(true);
    forwarded(a.send(c4(1001, 80, "S"), 0, 1000));
    const first = await changes(a);
    expect(first.bytes).toBe(ENTRY_SIZE);
    expect(first.entries).toEqual([{
      kind: "conn", af: 4, proto: 6, state: SYN_RECV, fwd: "nat",
      onePacket: false, noOutput: false, inactive: true,
      caddr: CLIENT, cport: 1001, vaddr: VIP, vport: 80, daddr: RS[0], dport: 8080,
      timeoutMs: 60_000,
    }]);
    forwarded(a.send(c4(1001, 80, "A"), 0, 2000));
    const est = (await changes(a)).entries;
    expect(est.map((e) => [e.state, e.inactive, e.timeoutMs])).toEqual([[ESTABLISHED, false, 900_000]]);
    // Same state, timer barely run down: nothing to send.
    forwarded(a.send(c4(1001, 80, "A"), 0, 3000));
    expect((await changes(a)).entries).toEqual([]);
    // 460 s later less than half of the 900 s is left: re-sent, so the backup's copy outlives no gap.
    forwarded(a.send(c4(1001, 80, "A"), 0, 3000 + 460_000));
    expect((await changes(a)).entries.map((e) => [e.state, e.timeoutMs])).toEqual([[ESTABLISHED, 900_000]]);
    expect(a.dp.connSyncStats()).toMatchObject({ logged: 3, lost: 0 });
  });

  it("logs DR and TUN connections with their method and no-output flag; stopping ends logging", async () => {
    const a = await director();
    a.dp.setConnSync(true);
    forwarded(a.send(c4(2001, 81, "S"), 0));
    forwarded(a.send(c4(2002, 82, "S"), 0));
    const e = (await changes(a)).entries;
    expect(e.map((x) => [x.fwd, x.noOutput, x.vport, x.daddr, x.dport])).toEqual([["dr", true, 81, RS[1], 81], ["tun", true, 82, RS[2], 82]]);
    a.dp.setConnSync(false);
    forwarded(a.send(c4(2003, 81, "S"), 0));
    expect((await changes(a)).entries).toEqual([]);
  });

  it("a full log counts the changes it lost, once", async () => {
    const a = await director({ syncLogCapacity: 4 });
    a.dp.setConnSync(true);
    for (let p = 0; p < 6; p++) forwarded(a.send(c4(3000 + p, 80, "S"), 0));
    const got = await changes(a);
    expect(got.entries.map((e) => e.cport)).toEqual([3000, 3001, 3002, 3003]);
    expect(got.lost).toBe(2);
    expect(await changes(a)).toEqual({ entries: [], lost: 0, bytes: 0 });
    expect(a.dp.connSyncStats()).toMatchObject({ logged: 4, lost: 2 });
  });

  it("logs a new UDP flow at its first datagram (state 0, the UDP timeout)", async () => {
    const a = await director();
    a.dp.setConnSync(true);
    forwarded(a.send(udp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: VIP, sport: 4000, dport: 53 }), 0));
    expect((await changes(a)).entries.map((e) => [e.proto, e.state, e.timeoutMs, e.dport])).toEqual([[17, 0, 300_000, 5353]]);
  });
});

describe("export and install (exportConnections / installConnections)", () => {
  it("a backup that installed the master's export forwards mid-stream packets of NAT, DR and TUN connections to the same real servers", async () => {
    const a = await director(), b = await director();
    // Move A's rr on, so B's own choice (RS[0]) would differ from A's.
    forwarded(a.send(c4(999, 80, "S", "198.18.0.77"), 0, 1000));
    expect(forwarded(a.send(c4(1001, 80, "S"), 0, 1000)).ip!.dst).toBe(RS[1]);
    forwarded(a.send(c4(1001, 80, "A"), 0, 1100));
    forwarded(a.send(c4(1002, 81, "S"), 0, 1100));
    forwarded(a.send(c4(1003, 82, "S"), 0, 1100));

    // Without the records, B has no connection for a mid-stream ACK (it goes to B's host stack, the VIP's owner).
    expect(b.send(c4(1001, 80, "A"), 0, 2000).verdict).toBe(LOCAL);

    const recs = await a.dp.exportConnections(2000);
    expect(recs.length).toBe(4 * ENTRY_SIZE);
    expect(await b.dp.installConnections(recs, 2000)).toEqual({ installed: 4, refused: 0 });
    expect(b.dp.connCount()).toBe(4);

    const nat = forwarded(b.send(c4(1001, 80, "A"), 0, 3000));
    expect([nat.ip!.dst, nat.tcp!.dport, nat.ethDst]).toEqual([RS[1], 8080, RS_MAC[1]]);
    const back = forwarded(b.send(reply4(1, 1001), 1, 3000));
    expect([back.ip!.src, back.tcp!.sport, back.ip!.dst, back.tcp!.dport]).toEqual([VIP, 80, CLIENT, 1001]);
    const dr = forwarded(b.send(c4(1002, 81, "A"), 0, 3000));
    expect([dr.ethDst, dr.ip!.dst, dr.tcp!.dport]).toEqual([RS_MAC[1], VIP, 81]);
    const tun = forwarded(b.send(c4(1003, 82, "A"), 0, 3000));
    expect([tun.ip!.proto, tun.ip!.dst, tun.inner!.ip.dst]).toEqual([4, RS[2], VIP]);

    // Bound like B's own: the established NAT connection is active on RS[1].
    expect(b.dp.destStats(NAT, { addr: RS[1], port: 8080 })).toMatchObject({ activeconns: 1, inactconns: 0 });
    const listed = b.dp.connections(3000).find((c) => c.cport === 1001)!;
    expect([listed.state, listed.daddr]).toEqual(["ESTABLISHED", RS[1]]);
  });

  it("an install updates an entry that exists (state, timer, real server) instead of adding one, and logs nothing", async () => {
    const a = await director(), b = await director();
    b.dp.setConnSync(true);
    forwarded(a.send(c4(1001, 80, "S"), 0, 1000));
    await b.dp.installConnections(await a.dp.exportConnections(1000), 1000);
    expect(b.dp.destStats(NAT, { addr: RS[0], port: 8080 })).toMatchObject({ activeconns: 0, inactconns: 1 });
    // The master saw the handshake complete; the peer's record moves it to RS[2] as well (e.g. the master rescheduled).
    const rec = encodeEntry({ ...decodeEntry(await a.dp.exportConnections(1000)), state: ESTABLISHED, inactive: false, daddr: RS[2], timeoutMs: 900_000 });
    expect(await b.dp.installConnections(rec, 1500)).toEqual({ installed: 1, refused: 0 });
    expect(b.dp.connCount()).toBe(1);
    expect(b.dp.destStats(NAT, { addr: RS[0], port: 8080 })).toMatchObject({ activeconns: 0, inactconns: 0 });
    expect(b.dp.destStats(NAT, { addr: RS[2], port: 8080 })).toMatchObject({ activeconns: 1, inactconns: 0 });
    const c = b.dp.connections(1500)[0];
    expect([c.state, c.daddr, c.expiresMs]).toEqual(["ESTABLISHED", RS[2], 900_000]);
    expect(forwarded(b.send(c4(1001, 80, "A"), 0, 2000)).ip!.dst).toBe(RS[2]);
    // The reply of the new real server finds the entry (its out-hash was moved too).
    expect(forwarded(b.send(reply4(2, 1001), 1, 2000)).ip!.src).toBe(VIP);
    // The installs logged nothing, and B's own packets changed no state and refreshed no timer run down by half.
    expect((await changes(b)).entries).toEqual([]);
    expect(b.dp.connSyncStats()).toMatchObject({ installed: 2, refused: 0 });
  });

  it("IPv6: a NAT connection exported by A is forwarded by B, replies translated back", async () => {
    const a = await director(), b = await director();
    forwarded(a.send(c6(1001, "S"), 0, 1000));
    forwarded(a.send(c6(1001, "A"), 0, 1100));
    const recs = await a.dp.exportConnections(1200);
    expect(decodeEntries(recs).map((e) => [e.af, e.caddr, e.vaddr, e.daddr, e.state])).toEqual([[6, CLIENT6, VIP6, RS6[0], ESTABLISHED]]);
    expect(b.send(c6(1001, "A"), 0, 1300).verdict).toBe(LOCAL);
    expect(await b.dp.installConnections(recs, 1300)).toEqual({ installed: 1, refused: 0 });
    const out = forwarded(b.send(c6(1001, "A"), 0, 1400));
    expect([out.ip!.dst, out.tcp!.dport]).toEqual([RS6[0], 8080]);
    const back = forwarded(b.send(tcp6Frame({ ethSrc: RS_MAC[0], ethDst: LB1_MAC, src: RS6[0], dst: CLIENT6, sport: 8080, dport: 1001, flags: "A" }), 1, 1400));
    expect([back.ip!.src, back.tcp!.sport]).toEqual([VIP6, 80]);
  });

  it("persistence templates are exported first and installed with their connections linked under them", async () => {
    const a = await director({ persistent: 300 }), b = await director({ persistent: 300 });
    a.dp.setConnSync(true);
    forwarded(a.send(c4(999, 80, "S", "198.18.0.77"), 0, 1000));
    expect(forwarded(a.send(c4(1001, 80, "S"), 0, 1000)).ip!.dst).toBe(RS[1]);
    forwarded(a.send(c4(1001, 80, "A"), 0, 1100));
    // The log has each template before its connection.
    expect((await changes(a)).entries.map((e) => e.kind)).toEqual(["template", "conn", "template", "conn", "conn"]);
    const recs = decodeEntries(await a.dp.exportConnections(2000));
    expect(recs.map((e) => e.kind)).toEqual(["template", "template", "conn", "conn"]);
    expect(recs[0]).toMatchObject({ proto: 6, cport: 0, vport: 80, timeoutMs: 300_000 - 1000 });
    // Install in the "wrong" order: the install puts templates first itself.
    const bytes = await a.dp.exportConnections(2000);
    const reversed = new Uint8Array(bytes.length);
    for (let k = 0, n = bytes.length / ENTRY_SIZE; k < n; k++) reversed.set(bytes.subarray(k * ENTRY_SIZE, (k + 1) * ENTRY_SIZE), (n - 1 - k) * ENTRY_SIZE);
    expect(await b.dp.installConnections(reversed, 2000)).toEqual({ installed: 4, refused: 0 });
    expect(b.dp.destStats(NAT, { addr: RS[1], port: 8080 }).persistconns).toBe(1);
    // Linked: past its 300 s the template stays while its ESTABLISHED connection (900 s) lives
    // (unlinked, the sweep would drop it, as it drops the other client's once that one's SYN_RECV entry is gone).
    // Two sweeps: a template seen while its connection is still there is re-armed for 60 s first.
    b.dp.x.expireStep(4, 400_000, 1 << 30);
    b.dp.x.expireStep(4, 470_000, 1 << 30);
    expect(b.dp.connections(470_000).filter((c) => c.template).map((c) => c.daddr)).toEqual([RS[1]]);
    // A new connection of the client on B follows the template (B's own rr would pick RS[0]).
    expect(forwarded(b.send(c4(1005, 80, "S"), 0, 470_000)).ip!.dst).toBe(RS[1]);
  });

  it("a firewall-mark service's template carries the mark and installs on the backup's fwmark service", async () => {
    const MARK: ServiceKey = { fwmark: 7 };
    const setup = async () => {
      const x = await makeAppliance();
      x.dp.transaction((tx) => {
        tx.addMarkRule({ proto: "tcp", prefix: `${VIP}/32`, ports: [80, 80], mark: 7 });
        tx.addService(MARK, { scheduler: "rr", persistent: 60 });
        tx.addDest(MARK, { addr: RS[0], port: 8080, fwd: "nat" });
      });
      return x;
    };
    const a = await setup(), b = await setup();
    forwarded(a.send(c4(1001, 80, "S"), 0, 1000));
    const recs = await a.dp.exportConnections(1000);
    expect(decodeEntries(recs).map((e) => [e.kind, e.fwmark, e.proto])).toEqual([["template", 7, 0], ["conn", undefined, 6]]);
    expect(await b.dp.installConnections(recs, 1000)).toEqual({ installed: 2, refused: 0 });
    expect(forwarded(b.send(c4(1001, 80, "A"), 0, 1100)).ip!.dst).toBe(RS[0]);
  });

  it("refuses and counts records whose service or real server is not configured here, or that are malformed; a torn buffer is an error", async () => {
    const b = await director();
    const base = { caddr: CLIENT, cport: 1001, vaddr: VIP, vport: 80, daddr: RS[0], dport: 8080, state: ESTABLISHED, timeoutMs: 60_000 };
    const good = encodeEntry(base);
    const noService = encodeEntry({ ...base, vport: 9999 });
    const noDest = encodeEntry({ ...base, daddr: "198.19.0.99" });
    const noTime = encodeEntry({ ...base, cport: 1002, timeoutMs: 0 });
    const badKind = Uint8Array.from(good); badKind[0] = 7;
    const badAf = Uint8Array.from(good); badAf[1] = 5;
    const badState = encodeEntry({ ...base, cport: 1003, state: 200 });
    const notPersistent = encodeEntry({ ...base, kind: "template", cport: 0 });
    const all = new Uint8Array(ENTRY_SIZE * 8);
    [noService, noDest, noTime, badKind, badAf, badState, notPersistent, good].forEach((r, i) => all.set(r, i * ENTRY_SIZE));
    expect(await b.dp.installConnections(all, 1000)).toEqual({ installed: 1, refused: 7 });
    expect(b.dp.connCount()).toBe(1);
    expect(b.dp.connSyncStats()).toMatchObject({ installed: 1, refused: 7 });
    await expect(b.dp.installConnections(all.subarray(0, ENTRY_SIZE * 2 - 1), 1000)).rejects.toMatchObject({ code: "WEIR_ERR_SYNC_RECORDS" });
    expect(b.dp.connSyncStats()).toMatchObject({ installed: 1, refused: 7 });
    expect(() => decodeEntry(badKind)).toThrow(/kind 7/);
    expect(() => decodeEntry(good.subarray(0, 40))).toThrow(/cut short/);
  });

  it("a table full refuses the rest, counted", async () => {
    const b = await makeAppliance({ connCapacity: 2 });
    b.dp.transaction((tx) => { tx.addService(NAT, { scheduler: "rr" }); tx.addDest(NAT, { addr: RS[0], port: 8080, fwd: "nat" }); });
    const recs = new Uint8Array(ENTRY_SIZE * 3);
    for (let k = 0; k < 3; k++) recs.set(encodeEntry({ caddr: CLIENT, cport: 1000 + k, vaddr: VIP, vport: 80, daddr: RS[0], dport: 8080, timeoutMs: 60_000 }), k * ENTRY_SIZE);
    expect(await b.dp.installConnections(recs, 1000)).toEqual({ installed: 2, refused: 1 });
  });

  it("exports a table bigger than one slice whole", async () => {
    const a = await director();
    const n = 1300;
    for (let k = 0; k < n; k++) forwarded(a.send(c4(10_000 + k, 80, "S"), 0, 1000));
    const got = decodeEntries(await a.dp.exportConnections(1000));
    expect(got.length).toBe(n);
    expect(new Set(got.map((e) => e.cport)).size).toBe(n);
  });

  it("exports a sparse table larger than one call's scan (65536 entries) in several calls", async () => {
    const a = await makeAppliance({ connCapacity: 150_000 });
    a.dp.transaction((tx) => { tx.addService(NAT, { scheduler: "rr" }); tx.addDest(NAT, { addr: RS[0], port: 8080, fwd: "nat" }); });
    for (let k = 0; k < 3; k++) forwarded(a.send(c4(5000 + k, 80, "S"), 0, 1000));
    expect(decodeEntries(await a.dp.exportConnections(1000)).map((e) => e.cport)).toEqual([5000, 5001, 5002]);
  });
});

describe("with workers: records routed by the steering rule (replica/syncroute.ts)", () => {
  const clients = Array.from({ length: 24 }, (_, i) => `198.18.0.${20 + i}`);

  it("a record's owner is the worker the steering model gives the client's own packet, for either family, protocol and steering mode", () => {
    for (const workers of [2, 3, 4]) {
      for (const byAddressOnly of [false, true]) {
        const steer = { workers, natReals: RS, byAddressOnly };
        clients.forEach((c, i) => {
          const sport = 1024 + 97 * i;
          const t4 = tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: c, dst: VIP, sport, dport: 80, flags: "A" });
          expect(recordOwner(encodeEntry({ caddr: c, cport: sport, vaddr: VIP, vport: 80, daddr: RS[0], dport: 8080 }), steer)).toBe(steerOwner(t4, steer));
          const u4 = udp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: c, dst: VIP, sport, dport: 53 });
          expect(recordOwner(encodeEntry({ proto: 17, caddr: c, cport: sport, vaddr: VIP, vport: 53, daddr: RS[0], dport: 5353 }), steer)).toBe(steerOwner(u4, steer));
          const c6addr = `2001:db8::${(i + 16).toString(16)}`;
          const t6 = tcp6Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: c6addr, dst: VIP6, sport, dport: 80, flags: "A" });
          expect(recordOwner(encodeEntry({ caddr: c6addr, cport: sport, vaddr: VIP6, vport: 80, daddr: RS6[0], dport: 8080 }), steer)).toBe(steerOwner(t6, steer));
        });
      }
    }
  });

  it("two replicas installing their shares of a master's export: each connection's next packet and its NAT reply are forwarded by the worker the rule steers them to", async () => {
    const master = await director({ persistent: 0 });
    const conns = clients.slice(0, 12).map((c, i) => ({ c, sport: 2000 + i }));
    for (const { c, sport } of conns) {
      forwarded(master.send(c4(sport, 80, "S", c), 0, 1000));
      forwarded(master.send(c4(sport, 80, "A", c), 0, 1100));
    }
    const steer = { workers: 2, natReals: RS, byAddressOnly: false };
    const shares = splitRecords(await master.dp.exportConnections(2000), steer);
    const w = [await director(), await director()];
    for (const x of w) for (const { c } of conns) x.dp.setNeighbour(0, c, CLIENT_MAC);
    for (let k = 0; k < 2; k++) {
      await w[k].dp.installConnections(shares[k].templates, 2000);
      await w[k].dp.installConnections(shares[k].conns, 2000);
    }
    expect(w[0].dp.connCount() + w[1].dp.connCount()).toBe(conns.length);
    expect(Math.min(w[0].dp.connCount(), w[1].dp.connCount())).toBeGreaterThan(0);
    const listed = master.dp.connections(2000);
    for (const { c, sport } of conns) {
      const ack = c4(sport, 80, "A", c);
      const owner = steerOwner(ack, steer) as number;
      const rs = RS.indexOf(listed.find((e) => e.caddr === c && e.cport === sport)!.daddr);
      expect(forwarded(w[owner].send(ack, 0, 3000)).ip!.dst).toBe(RS[rs]);
      expect(w[1 - owner].send(ack, 0, 3000).verdict).toBe(LOCAL);
      const reply = tcp4Frame({ ethSrc: RS_MAC[rs], ethDst: LB1_MAC, src: RS[rs], dst: c, sport: 8080, dport: sport, flags: "A" });
      expect(steerOwner(reply, steer)).toBe(owner);
      expect(forwarded(w[owner].send(reply, 1, 3000)).ip!.src).toBe(VIP);
    }
  });

  it("templates go to every worker; malformed records to worker 0, which refuses them", () => {
    const steer = { workers: 3, natReals: RS, byAddressOnly: true };
    const t = encodeEntry({ kind: "template", caddr: CLIENT, vaddr: VIP, vport: 80, daddr: RS[0], dport: 8080, timeoutMs: 1000 });
    const bad = Uint8Array.from(t); bad[0] = 9;
    const recs = new Uint8Array(ENTRY_SIZE * 2);
    recs.set(t, 0); recs.set(bad, ENTRY_SIZE);
    const shares = splitRecords(recs, steer);
    expect(shares.map((s) => [s.templates.length, s.conns.length])).toEqual([[ENTRY_SIZE, ENTRY_SIZE], [ENTRY_SIZE, 0], [ENTRY_SIZE, 0]]);
  });

  it("setConnSync is kept in the replayed state: a worker started later logs too", async () => {
    const state = new MirrorState();
    state.apply({ m: "setConnSync", a: [true] });
    const fresh = await director();
    for (const op of state.snapshotOps()) await applyOp(fresh.dp, op, { due: () => false, next: async () => {} });
    forwarded(fresh.send(c4(1001, 80, "S"), 0));
    expect((await changes(fresh)).entries.length).toBe(1);
    state.apply({ m: "setConnSync", a: [false] });
    expect(state.snapshotOps().some((o) => o.m === "setConnSync")).toBe(false);
  });

  it("ReplicatedDataPlane: setConnSync is mirrored; installs go to the workers, exports put every instance's templates first, counters add up", async () => {
    const local = await DataPlane.load({ connCapacity: 64, connCapacity6: 16, seed: 1 });
    const ops: DpOp[] = [];
    const tmpl = encodeEntry({ kind: "template", caddr: CLIENT, vaddr: VIP, vport: 80, daddr: RS[0], dport: 8080, timeoutMs: 1000 });
    const conn = encodeEntry({ caddr: CLIENT, cport: 5, vaddr: VIP, vport: 80, daddr: RS[0], dport: 8080, timeoutMs: 1000 });
    const installed: Uint8Array[] = [];
    const peers: SyncPeers = {
      take: async () => ({ parts: [conn], lost: 3 }),
      exportAll: async () => [conn, tmpl],
      install: async (r) => { installed.push(r); return { installed: 1, refused: 0 }; },
      stats: () => ({ logged: 1, lost: 3, installed: 1, refused: 0 }),
    };
    const remote = new RemoteStats(async () => [], () => ({ seq: 0, index: new Map() }));
    const dp = new ReplicatedDataPlane(local, (op) => ops.push(op), remote, peers);
    dp.setConnSync(true);
    expect(ops).toEqual([{ m: "setConnSync", a: [true] }]);
    expect(await dp.takeConnChanges()).toEqual({ records: conn, lost: 3 });
    expect(decodeEntries(await dp.exportConnections(0)).map((e) => e.kind)).toEqual(["template", "conn"]);
    expect(await dp.installConnections(conn, 0)).toEqual({ installed: 1, refused: 0 });
    expect(installed).toEqual([conn]);
    expect(local.connCount()).toBe(0); // the control instance forwards nothing with workers
    await expect(dp.installConnections(conn.subarray(1), 0)).rejects.toMatchObject({ code: "WEIR_ERR_SYNC_RECORDS" });
    expect(dp.connSyncStats()).toEqual({ logged: 1, lost: 3, installed: 1, refused: 0 });
  });
});
