// Persistence (ipvsadm -p/-M), firewall-mark services (-f) and one-packet
// scheduling (-o), checked against IPVS's behaviour (ip_vs_core.c
// ip_vs_sched_persist, ip_vs_conn.c ip_vs_check_template/ip_vs_conn_expire).
//
// The schedulers are rr throughout, so "where would a non-persistent service
// have sent it" is known exactly: rr walks the real servers in the order they
// were added, starting with the first, skipping weight-0 ones.

import { describe, it, expect } from "vitest";
import { makeAppliance, type Appliance, CLIENT, CLIENT_MAC, LB0_MAC, LB1_MAC, VIP, VIP6, RS, RS6, RS_MAC } from "../helpers/appliance.js";
import { tcp4Frame, tcp6Frame, udp4Frame, parseFrame, verifyChecksums } from "../helpers/frames.js";
import type { ServiceKey, ServiceSpec } from "../../src/dataplane/dataplane.js";

const DROP = 0, TX = 1;
const SVC: ServiceKey = { proto: "tcp", addr: VIP, port: 80 };
const RS_PORT = 8080;
const MAIL_VIP = "198.18.100.2";
const MARK: ServiceKey = { fwmark: 1 };

function syn(src: string, sport: number, o: { dst?: string; dport?: number; flags?: string } = {}): Uint8Array {
  return tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src, dst: o.dst ?? VIP, sport, dport: o.dport ?? 80, flags: o.flags ?? "S" });
}

/** Where a forwarded frame went (real server address), checking it was forwarded at all. */
function target(r: ReturnType<Appliance["send"]>): string {
  expect(r.verdict).toBe(TX);
  expect(r.outLink).toBe(1);
  expect(verifyChecksums(r.out)).toEqual([]);
  return parseFrame(r.out).ip!.dst;
}

async function service(spec: Partial<ServiceSpec>, opts: { dests?: number } = {}): Promise<Appliance> {
  const a = await makeAppliance();
  a.dp.transaction((tx) => {
    tx.addService(SVC, { scheduler: "rr", ...spec });
    for (let i = 0; i < (opts.dests ?? 3); i++) tx.addDest(SVC, { addr: RS[i], port: RS_PORT, fwd: "nat" });
  });
  return a;
}

const sweep = (a: Appliance, now: number) => a.dp.x.expireStep(4, now >>> 0, 1 << 30);
const persist = (a: Appliance, i: number, key: ServiceKey = SVC, port = RS_PORT) =>
  a.dp.destStats(key, { addr: RS[i], port }).persistconns;

describe("persistence (-p)", () => {
  it("baseline without -p: rr sends two connections of one client to different real servers", async () => {
    const a = await service({});
    expect(target(a.send(syn(CLIENT, 1001), 0))).toBe(RS[0]);
    expect(target(a.send(syn(CLIENT, 1002), 0))).toBe(RS[1]);
    expect([0, 1, 2].map((i) => persist(a, i))).toEqual([0, 0, 0]);
  });

  it("-p 300: connections from one client (other source ports) stick to one real server on an rr service; persistconns counts templates", async () => {
    const a = await service({ persistent: 300 });
    expect(target(a.send(syn(CLIENT, 1001), 0, 1000))).toBe(RS[0]);
    expect(target(a.send(syn(CLIENT, 1002), 0, 2000))).toBe(RS[0]);
    // Another client is scheduled (rr moves on), and then sticks too.
    expect(target(a.send(syn("198.18.0.11", 1001), 0, 3000))).toBe(RS[1]);
    expect(target(a.send(syn(CLIENT, 1003), 0, 4000))).toBe(RS[0]);
    expect(target(a.send(syn("198.18.0.11", 5555), 0, 5000))).toBe(RS[1]);
    expect(target(a.send(syn("198.18.0.12", 1001), 0, 6000))).toBe(RS[2]);
    expect([0, 1, 2].map((i) => persist(a, i))).toEqual([1, 1, 1]);
    // 6 connections and 3 templates.
    expect(a.dp.connCount()).toBe(9);
    const d0 = a.dp.destStats(SVC, { addr: RS[0], port: RS_PORT });
    expect([d0.activeconns, d0.inactconns, Number(d0.conns)]).toEqual([0, 3, 3]);
  });

  it("-M 255.255.255.0 (netmask 24): clients in one /24 share a real server, another /24 is scheduled", async () => {
    const a = await service({ persistent: 300, netmask: 24 });
    expect(target(a.send(syn("198.18.0.10", 1001), 0))).toBe(RS[0]);
    expect(target(a.send(syn("198.18.0.77", 1001), 0))).toBe(RS[0]);
    expect(target(a.send(syn("198.18.0.254", 2002), 0))).toBe(RS[0]);
    expect(target(a.send(syn("198.18.1.10", 1001), 0))).toBe(RS[1]);
    expect(target(a.send(syn("198.18.1.200", 1001), 0))).toBe(RS[1]);
    expect([0, 1, 2].map((i) => persist(a, i))).toEqual([1, 1, 0]);
  });

  it("IPv6 with -M as a prefix length (64): clients in one /64 share a real server", async () => {
    const a = await makeAppliance();
    const S6: ServiceKey = { proto: "tcp", addr: VIP6, port: 80 };
    a.dp.transaction((tx) => {
      tx.addService(S6, { scheduler: "rr", persistent: 300, netmask: 64 });
      for (let i = 0; i < 3; i++) tx.addDest(S6, { addr: RS6[i], port: RS_PORT, fwd: "nat" });
    });
    const syn6 = (src: string, sport: number) => tcp6Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src, dst: VIP6, sport, dport: 80, flags: "S" });
    expect(target(a.send(syn6("2001:db8::10", 1001), 0))).toBe(RS6[0]);
    expect(target(a.send(syn6("2001:db8::ffff:1", 1002), 0))).toBe(RS6[0]);
    expect(target(a.send(syn6("2001:db8:0:1::10", 1001), 0))).toBe(RS6[1]);
    expect(target(a.send(syn6("2001:db8::10", 1003), 0))).toBe(RS6[0]);
    expect(a.dp.connCount(6)).toBe(4 + 2);
    expect(a.dp.destStats(S6, { addr: RS6[0], port: RS_PORT }).persistconns).toBe(1);
    expect(a.dp.destStats(S6, { addr: RS6[1], port: RS_PORT }).persistconns).toBe(1);
  });

  it("a template lives its persistence timeout after its last use once no connection is left; then the client is rescheduled", async () => {
    const a = await service({ persistent: 300 });
    const t = 1000;
    // Client A → RS0, client B → RS1; both connections stay SYN_RECV (60 s).
    expect(target(a.send(syn(CLIENT, 1001), 0, t))).toBe(RS[0]);
    expect(target(a.send(syn("198.18.0.11", 1001), 0, t))).toBe(RS[1]);
    sweep(a, t + 60_000);
    expect(a.dp.connCount()).toBe(2); // the two templates
    expect([0, 1, 2].map((i) => persist(a, i))).toEqual([1, 1, 0]);
    // A is back just before its template's end: same server, template renewed.
    sweep(a, t + 299_999);
    expect(target(a.send(syn(CLIENT, 1002), 0, t + 299_999))).toBe(RS[0]);
    // B comes back at the end of its template: scheduled again, rr's next is RS2.
    sweep(a, t + 300_000);
    expect(persist(a, 1)).toBe(0);
    expect(target(a.send(syn("198.18.0.11", 1002), 0, t + 300_000))).toBe(RS[2]);
    expect([0, 1, 2].map((i) => persist(a, i))).toEqual([1, 0, 1]);
    // Everything gone eventually: counters back to 0.
    sweep(a, t + 300_000 + 60_000); // both new connections (SYN_RECV, 60 s)
    sweep(a, t + 300_000 + 300_000);
    expect(a.dp.connCount()).toBe(0);
    expect([0, 1, 2].map((i) => persist(a, i))).toEqual([0, 0, 0]);
  });

  it("a template outlived by its connection is re-checked every 60 s (ip_vs_conn_expire), not kept for another -p", async () => {
    const a = await service({ persistent: 300 });
    const t = 1000;
    expect(target(a.send(syn(CLIENT, 1001), 0, t))).toBe(RS[0]);
    a.send(tcp4Frame({ ethSrc: RS_MAC[0], ethDst: LB1_MAC, src: RS[0], dst: CLIENT, sport: RS_PORT, dport: 1001, flags: "SA" }), 1, t);
    expect(target(a.send(syn(CLIENT, 1001, { flags: "A" }), 0, t))).toBe(RS[0]);
    expect(target(a.send(syn(CLIENT, 1001, { flags: "PA" }), 0, t + 250_000))).toBe(RS[0]);
    // Persistence timeout passes while the connection lives: the template stays.
    sweep(a, t + 301_000);
    expect(persist(a, 0)).toBe(1);
    // The connection ends (RST → CLOSE, 10 s) at t+400 s and is reaped at t+411 s.
    expect(target(a.send(syn(CLIENT, 1001, { flags: "R" }), 0, t + 400_000))).toBe(RS[0]);
    sweep(a, t + 411_000);
    expect(a.dp.destStats(SVC, { addr: RS[0], port: RS_PORT }).inactconns).toBe(0);
    // IPVS: the template's timer fired at t+300 s, +360 s, +420 s: gone by t+420 s
    // at the latest (60 s after its last connection left). Here within 60 s of the reaping sweep.
    sweep(a, t + 471_000);
    expect(persist(a, 0)).toBe(0);
    expect(a.dp.connCount()).toBe(0);
    expect(target(a.send(syn(CLIENT, 1002), 0, t + 472_000))).toBe(RS[1]);
  });

  it("a real server deleted from the service gets no new persistent connections; its existing ones end (dest_gone)", async () => {
    const a = await service({ persistent: 300 });
    expect(target(a.send(syn(CLIENT, 1001), 0, 1000))).toBe(RS[0]);
    a.dp.transaction((tx) => tx.deleteDest(SVC, { addr: RS[0], port: RS_PORT }));
    // Existing connection: expired on its next packet (IPVS with expire_nodest_conn=1).
    const gone = a.send(syn(CLIENT, 1001, { flags: "A" }), 0, 2000);
    expect(a.reasonName(gone.reason)).toBe("dest_gone");
    // New connection of the same client: the template points at a dest that is not available.
    const r = target(a.send(syn(CLIENT, 1002), 0, 3000));
    expect(r).not.toBe(RS[0]);
    expect([RS[1], RS[2]]).toContain(r);
    // And it sticks to its new server.
    expect(target(a.send(syn(CLIENT, 1003), 0, 4000))).toBe(r);
    expect(persist(a, RS.indexOf(r))).toBe(1);
  });

  it("weight 0 with persistence: the template is still honoured (IPVS default, expire_quiescent_template = 0); new clients avoid the server", async () => {
    const a = await service({ persistent: 300 });
    expect(target(a.send(syn(CLIENT, 1001), 0, 1000))).toBe(RS[0]);
    a.dp.transaction((tx) => tx.editDest(SVC, { addr: RS[0], port: RS_PORT, fwd: "nat", weight: 0 }));
    expect(target(a.send(syn(CLIENT, 1002), 0, 2000))).toBe(RS[0]);
    for (let k = 0; k < 4; k++) expect(target(a.send(syn(`198.18.0.${20 + k}`, 1001), 0, 3000))).not.toBe(RS[0]);
  });

  it("weight 0 with expire_quiescent_template = 1: the template is dropped and the client rescheduled", async () => {
    const a = await service({ persistent: 300 });
    expect(target(a.send(syn(CLIENT, 1001), 0, 1000))).toBe(RS[0]);
    a.dp.transaction((tx) => tx.editDest(SVC, { addr: RS[0], port: RS_PORT, fwd: "nat", weight: 0 }));
    a.dp.x.setExpireQuiescent(1);
    expect(target(a.send(syn(CLIENT, 1002), 0, 2000))).not.toBe(RS[0]);
  });
});

describe("firewall-mark services (-f)", () => {
  async function mailCluster(): Promise<Appliance> {
    const a = await makeAppliance();
    a.dp.transaction((tx) => {
      for (const port of [25, 110, 143]) tx.addMarkRule({ proto: "tcp", prefix: `${MAIL_VIP}/32`, ports: [port, port], mark: 1 });
      tx.addService(MARK, { scheduler: "rr", persistent: 300 });
      // NAT with port 0: each connection keeps its destination port.
      for (let i = 0; i < 3; i++) tx.addDest(MARK, { addr: RS[i], port: 0, fwd: "nat" });
    });
    return a;
  }

  it("SMTP, POP3 and IMAP from one client land on the same real server (the LVS mail-cluster example)", async () => {
    const a = await mailCluster();
    const first = a.send(syn(CLIENT, 1001, { dst: MAIL_VIP, dport: 25 }), 0, 1000);
    const server = target(first);
    expect(server).toBe(RS[0]);
    for (const [sport, dport] of [[1002, 110], [1003, 143], [1004, 25]]) {
      const r = a.send(syn(CLIENT, sport, { dst: MAIL_VIP, dport }), 0, 2000);
      expect(target(r)).toBe(server);
      expect(parseFrame(r.out).tcp!.dport).toBe(dport);
    }
    // Another client is scheduled onto the next server, for all three protocols.
    for (const dport of [143, 25, 110]) expect(target(a.send(syn("198.18.0.11", 2000 + dport, { dst: MAIL_VIP, dport }), 0, 3000))).toBe(RS[1]);
    expect(persist(a, 0, MARK, 0)).toBe(1);
    expect(persist(a, 1, MARK, 0)).toBe(1);
    expect(Number(a.dp.serviceStats(MARK).conns)).toBe(7);
  });

  it("a packet matching no rule and no service is dropped as no_service", async () => {
    const a = await mailCluster();
    for (const f of [
      syn(CLIENT, 1001, { dst: MAIL_VIP, dport: 80 }), // port without a rule
      syn(CLIENT, 1001, { dst: "198.18.100.3", dport: 25 }), // address outside the prefix
      udp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: MAIL_VIP, sport: 1001, dport: 25 }), // rule is TCP only
    ]) {
      const before = a.dp.drops().no_service;
      const r = a.send(f, 0, 1000);
      expect(r.verdict).toBe(DROP);
      expect(a.reasonName(r.reason)).toBe("no_service");
      expect(a.dp.drops().no_service).toBe(before + 1n);
    }
    expect(a.dp.connCount()).toBe(0);
  });
});

describe("one-packet scheduling (-o)", () => {
  it("UDP datagrams of one 5-tuple are scheduled one by one (rr alternates) and no connection is kept", async () => {
    const a = await makeAppliance();
    const U: ServiceKey = { proto: "udp", addr: VIP, port: 53 };
    a.dp.transaction((tx) => {
      tx.addService(U, { scheduler: "rr", onePacket: true });
      tx.addDest(U, { addr: RS[0], port: 53, fwd: "nat" });
      tx.addDest(U, { addr: RS[1], port: 53, fwd: "nat" });
    });
    const dgram = udp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: VIP, sport: 5000, dport: 53, payload: new Uint8Array(10) });
    const seen = [];
    for (let k = 0; k < 4; k++) {
      const r = a.send(dgram, 0, 1000 + k);
      seen.push(target(r));
      expect(parseFrame(r.out).udp!.dport).toBe(53);
      expect(a.dp.connCount()).toBe(0);
    }
    expect(seen).toEqual([RS[0], RS[1], RS[0], RS[1]]);
    const s = a.dp.serviceStats(U);
    expect([Number(s.inpkts), Number(s.inbytes)]).toEqual([4, 4 * (20 + 8 + 10)]);
    expect(a.dp.destStats(U, { addr: RS[0], port: 53 }).inactconns).toBe(0);
  });

  it("without -o the same datagrams follow one connection", async () => {
    const a = await makeAppliance();
    const U: ServiceKey = { proto: "udp", addr: VIP, port: 53 };
    a.dp.transaction((tx) => {
      tx.addService(U, { scheduler: "rr" });
      tx.addDest(U, { addr: RS[0], port: 53, fwd: "nat" });
      tx.addDest(U, { addr: RS[1], port: 53, fwd: "nat" });
    });
    const dgram = udp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: VIP, sport: 5000, dport: 53 });
    const seen = [0, 1, 2].map((k) => target(a.send(dgram, 0, 1000 + k)));
    expect(seen).toEqual([RS[0], RS[0], RS[0]]);
    expect(a.dp.connCount()).toBe(1);
  });
});
