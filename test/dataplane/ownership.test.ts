// Owned and standby addresses (DataPlane.setAddressOwned), the data-plane
// half of VRRP: a MASTER owns its virtual addresses (answers ARP/ND and echo
// for them, forwards their services), a BACKUP holds them in standby and does
// none of that, nor passes their frames to the host stack (whose TAP holds
// them too). Every refusal is a counted drop, vip_standby; connection entries
// are kept across the flip, so a takeover back finds them. Frames are built
// with test/helpers/frames.ts and compared byte for byte.

import { describe, it, expect, beforeEach } from "vitest";
import { arp, concat, diffFrames, icmp, icmp4Echo, icmp6Echo, ip6, ipFrame, ipv6, mac, summarizeFrame, tcp4Frame, tcp6Frame, udp4Frame, IPPROTO_ICMPV6 } from "../helpers/frames.js";
import { makeAppliance, type Appliance, CLIENT, CLIENT6, CLIENT_MAC, LB0_MAC, LB1_MAC, RS, RS6, RS_MAC, VIP, VIP6 } from "../helpers/appliance.js";

const DROP = 0, TX = 1, LOCAL = 2;
const LB0_IP = "198.18.0.1";

const fromClient = { ethSrc: CLIENT_MAC, ethDst: LB0_MAC };
const toClient = { ethSrc: LB0_MAC, ethDst: CLIENT_MAC };
const fromRs = (i: number) => ({ ethSrc: RS_MAC[i], ethDst: LB1_MAC });
const toRs = (i: number) => ({ ethSrc: LB1_MAC, ethDst: RS_MAC[i] });

const NAT: { proto: "tcp"; addr: string; port: number } = { proto: "tcp", addr: VIP, port: 80 };
const NAT6: { proto: "tcp"; addr: string; port: number } = { proto: "tcp", addr: VIP6, port: 80 };

function configure(a: Appliance): void {
  a.dp.transaction((tx) => {
    tx.addService(NAT, { scheduler: "rr" });
    tx.addDest(NAT, { addr: RS[0], port: 8080, fwd: "nat" });
    tx.addService(NAT6, { scheduler: "rr" });
    tx.addDest(NAT6, { addr: RS6[0], port: 8080, fwd: "nat" });
  });
}

interface Want { verdict: 0 | 1 | 2; reason?: string; outLink?: number; expected?: Uint8Array }

/** Runs frame through the data plane and checks verdict, reason, output and that exactly the drop counter of the reason moved by one. */
function step(a: Appliance, frame: Uint8Array, link: number, w: Want, now = 1000): void {
  const before = a.dp.drops();
  const r = a.send(frame, link, now);
  const after = a.dp.drops();
  const ctx = `in: ${summarizeFrame(frame)}\nout: ${r.out.length ? summarizeFrame(r.out) : "(none)"}`;
  expect({ verdict: r.verdict, reason: a.reasonName(r.reason) }, ctx).toEqual({ verdict: w.verdict, reason: w.reason ?? "none" });
  const moved: Record<string, bigint> = {};
  for (const k of Object.keys(after)) if (after[k] !== before[k]) moved[k] = after[k] - before[k];
  expect(moved, ctx).toEqual(w.verdict === DROP ? { [w.reason!]: 1n } : {});
  if (w.verdict !== TX) {
    expect(r.out.length, ctx).toBe(0);
    return;
  }
  expect(r.outLink, ctx).toBe(w.outLink);
  if (w.expected) expect(diffFrames(r.out, w.expected), ctx).toBe("");
}

const standby = { verdict: DROP, reason: "vip_standby" } as const;

// ND frames as in forwarding.test.ts.
const ndOpt = (type: number, m: string) => concat(Uint8Array.of(type, 1), mac(m));
const solicitedNode = (a: string) => { const b = ip6(a); const g = ip6("ff02::1:ff00:0"); g.set(b.subarray(13), 13); return g; };
const solicitedMac = (a: string) => { const b = ip6(a); return Uint8Array.of(0x33, 0x33, 0xff, b[13], b[14], b[15]); };
const ns = (target: string) =>
  ipFrame({ ethSrc: CLIENT_MAC, ethDst: solicitedMac(target) }, ipv6({ src: CLIENT6, dst: solicitedNode(target), hopLimit: 255, nextHeader: IPPROTO_ICMPV6, payload: icmp({ type: 135, body: concat(ip6(target), ndOpt(1, CLIENT_MAC)) }) }));
const na = (src: string, dst: string, target: string, tlla: string, l2 = toClient) =>
  ipFrame(l2, ipv6({ src, dst, hopLimit: 255, nextHeader: IPPROTO_ICMPV6, payload: icmp({ type: 136, rest: 0x60000000, body: concat(ip6(target), ndOpt(2, tlla)) }) }));

describe("owned and standby addresses", () => {
  let a: Appliance;
  beforeEach(async () => {
    a = await makeAppliance();
    configure(a);
  });

  it("ARP: a request for a standby VIP gets no reply and does not go up; owned again, it is answered", () => {
    const who = arp({ op: 1, sha: CLIENT_MAC, spa: CLIENT, tpa: VIP });
    const reply = arp({ op: 2, ethSrc: LB0_MAC, sha: LB0_MAC, spa: VIP, tha: CLIENT_MAC, tpa: CLIENT });
    step(a, who, 0, { verdict: TX, outLink: 0, expected: reply });
    a.dp.setAddressOwned(0, VIP, false);
    step(a, who, 0, standby);
    // The master's gratuitous ARP for it: not for our host stack either.
    step(a, arp({ op: 1, sha: "02:00:00:00:00:77", spa: VIP, tpa: VIP }), 0, standby);
    // The link's other addresses are still owned.
    step(a, arp({ op: 1, sha: CLIENT_MAC, spa: CLIENT, tpa: LB0_IP }), 0,
      { verdict: TX, outLink: 0, expected: arp({ op: 2, ethSrc: LB0_MAC, sha: LB0_MAC, spa: LB0_IP, tha: CLIENT_MAC, tpa: CLIENT }) });
    a.dp.setAddressOwned(0, VIP, false); // again: no change
    a.dp.setAddressOwned(0, VIP, true);
    step(a, who, 0, { verdict: TX, outLink: 0, expected: reply });
  });

  it("ND: a solicitation for a standby VIP6 gets no advertisement and does not go up; owned again, it is answered", () => {
    step(a, ns(VIP6), 0, { verdict: TX, outLink: 0, expected: na(VIP6, CLIENT6, VIP6, LB0_MAC) });
    a.dp.setAddressOwned(0, VIP6, false);
    step(a, ns(VIP6), 0, standby);
    // The master's unsolicited advertisement for it.
    step(a, na("fe80::77", "ff02::1", VIP6, "02:00:00:00:00:77", { ethSrc: "02:00:00:00:00:77", ethDst: "33:33:00:00:00:01" }), 0, standby);
    a.dp.setAddressOwned(0, `${VIP6}/128`, true);
    step(a, ns(VIP6), 0, { verdict: TX, outLink: 0, expected: na(VIP6, CLIENT6, VIP6, LB0_MAC) });
  });

  it("echo: a standby VIP does not answer (IPv4 and IPv6); owned again, it does", () => {
    const e4 = icmp4Echo({ ...fromClient, ttl: 64, src: CLIENT, dst: VIP, id: 0x0b0b, seq: 9, payload: new Uint8Array(8) });
    const r4 = icmp4Echo({ ...toClient, ttl: 64, src: VIP, dst: CLIENT, type: 0, id: 0x0b0b, seq: 9, payload: new Uint8Array(8) });
    const e6 = icmp6Echo({ ...fromClient, hopLimit: 64, src: CLIENT6, dst: VIP6, id: 8, seq: 3, payload: new Uint8Array(3) });
    const r6 = icmp6Echo({ ...toClient, hopLimit: 64, src: VIP6, dst: CLIENT6, type: 129, id: 8, seq: 3, payload: new Uint8Array(3) });
    a.dp.setAddressOwned(0, VIP, false);
    a.dp.setAddressOwned(0, VIP6, false);
    step(a, e4, 0, standby);
    step(a, e6, 0, standby);
    // The link's own address still answers.
    step(a, icmp4Echo({ ...fromClient, ttl: 64, src: CLIENT, dst: LB0_IP, id: 1, seq: 1 }), 0,
      { verdict: TX, outLink: 0, expected: icmp4Echo({ ...toClient, ttl: 64, src: LB0_IP, dst: CLIENT, type: 0, id: 1, seq: 1 }) });
    a.dp.setAddressOwned(0, VIP, true);
    a.dp.setAddressOwned(0, VIP6, true);
    step(a, e4, 0, { verdict: TX, outLink: 0, expected: r4 });
    step(a, e6, 0, { verdict: TX, outLink: 0, expected: r6 });
  });

  it("a SYN to a NAT service on a standby VIP is a counted drop (vip_standby) and makes no entry; owned, it is forwarded", () => {
    const syn = tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 40001, dport: 80, flags: "S", seq: 1000 });
    const out = tcp4Frame({ ...toRs(0), src: CLIENT, dst: RS[0], sport: 40001, dport: 8080, flags: "S", seq: 1000 });
    a.dp.setAddressOwned(0, VIP, false);
    step(a, syn, 0, standby);
    expect(a.dp.connCount(4)).toBe(0);
    // Nothing for it reaches the host stack either: a port with no service.
    step(a, tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 40002, dport: 22, flags: "S", seq: 1 }), 0, standby);
    step(a, udp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 40003, dport: 53, payload: new Uint8Array(4) }), 0, standby);
    a.dp.setAddressOwned(0, VIP, true);
    step(a, syn, 0, { verdict: TX, outLink: 1, expected: out });
    expect(a.dp.connCount(4)).toBe(1);
    // And owned, a stray segment to a port with no service goes up again (the kernel resets it).
    step(a, tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 40002, dport: 22, flags: "A", seq: 1 }), 0, { verdict: LOCAL });
  });

  it("IPv6: a SYN to a standby VIP6 is dropped (vip_standby); owned, it is forwarded", () => {
    const syn = tcp6Frame({ ...fromClient, src: CLIENT6, dst: VIP6, sport: 40001, dport: 80, flags: "S", seq: 1 });
    a.dp.setAddressOwned(0, VIP6, false);
    step(a, syn, 0, standby);
    a.dp.setAddressOwned(0, VIP6, true);
    step(a, syn, 0, { verdict: TX, outLink: 1, expected: tcp6Frame({ ...toRs(0), src: CLIENT6, dst: RS6[0], sport: 40001, dport: 8080, flags: "S", seq: 1 }) });
  });

  it("an established connection stops being forwarded (both ways) while its VIP is standby and resumes on the same entry when owned again", () => {
    const c = (flags: string, seq: number, ack: number, len = 0) =>
      tcp4Frame({ ...fromClient, src: CLIENT, dst: VIP, sport: 41000, dport: 80, flags, seq, ack, payload: new Uint8Array(len).fill(7) });
    const cOut = (flags: string, seq: number, ack: number, len = 0) =>
      tcp4Frame({ ...toRs(0), src: CLIENT, dst: RS[0], sport: 41000, dport: 8080, flags, seq, ack, payload: new Uint8Array(len).fill(7) });
    const r = (flags: string, seq: number, ack: number) => tcp4Frame({ ...fromRs(0), src: RS[0], dst: CLIENT, sport: 8080, dport: 41000, flags, seq, ack });
    const rOut = (flags: string, seq: number, ack: number) => tcp4Frame({ ...toClient, src: VIP, dst: CLIENT, sport: 80, dport: 41000, flags, seq, ack });
    step(a, c("S", 100, 0), 0, { verdict: TX, outLink: 1, expected: cOut("S", 100, 0) }, 1000);
    step(a, r("SA", 500, 101), 1, { verdict: TX, outLink: 0, expected: rOut("SA", 500, 101) }, 1001);
    step(a, c("A", 101, 501), 0, { verdict: TX, outLink: 1, expected: cOut("A", 101, 501) }, 1002);
    expect(a.dp.connCount(4)).toBe(1);

    a.dp.setAddressOwned(0, VIP, false);
    step(a, c("PA", 101, 501, 10), 0, standby, 2000);
    step(a, r("PA", 501, 111), 1, standby, 2001);
    expect(a.dp.connCount(4)).toBe(1); // kept for a takeover back

    a.dp.setAddressOwned(0, VIP, true);
    step(a, c("PA", 101, 501, 10), 0, { verdict: TX, outLink: 1, expected: cOut("PA", 101, 501, 10) }, 3000);
    step(a, r("A", 501, 111), 1, { verdict: TX, outLink: 0, expected: rOut("A", 501, 111) }, 3001);
    expect(a.dp.connCount(4)).toBe(1);
  });

  it("works while a transaction is open, at once (a takeover does not wait for a configuration being applied)", () => {
    const who = arp({ op: 1, sha: CLIENT_MAC, spa: CLIENT, tpa: VIP });
    const staged = a.dp.beginTransaction();
    a.dp.setAddressOwned(0, VIP, false);
    step(a, who, 0, standby);
    staged.abort();
    step(a, who, 0, standby);
    a.dp.transaction(() => a.dp.setAddressOwned(0, VIP, true));
    step(a, who, 0, { verdict: TX, outLink: 0 });
  });

  it("an address that is not configured, or a link that is not, is an error; deleting and adding an address makes it owned", () => {
    const code = (f: () => void) => { try { f(); return "none"; } catch (e) { return (e as { code?: string }).code; } };
    expect(code(() => a.dp.setAddressOwned(0, "198.18.100.99", false))).toBe("WEIR_ERR_NO_SUCH_ADDRESS");
    expect(code(() => a.dp.setAddressOwned(1, VIP, false))).toBe("WEIR_ERR_NO_SUCH_ADDRESS");
    expect(code(() => a.dp.setAddressOwned(9, VIP, false))).toBe("WEIR_ERR_NO_SUCH_LINK");
    a.dp.setAddressOwned(0, VIP, false);
    a.dp.deleteAddress(0, VIP);
    a.dp.addAddress(0, `${VIP}/32`);
    step(a, arp({ op: 1, sha: CLIENT_MAC, spa: CLIENT, tpa: VIP }), 0, { verdict: TX, outLink: 0 });
  });

  it("the drop reason is listed", () => {
    expect(a.dp.dropReasons).toContain("vip_standby");
  });
});
