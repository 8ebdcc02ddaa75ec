// ICMPv6 errors that belong to a NAT connection are translated like ICMPv4
// ones (assembly/xmit/icmperr6.ts): from the client side towards the real
// server, from the real server back to the client as the VIP. Expected
// frames are built independently with frames.ts.

import { describe, expect, it } from "vitest";
import { makeAppliance, LB0_MAC, LB1_MAC, CLIENT_MAC, CLIENT6, VIP6, RS6, RS_MAC } from "../helpers/appliance.js";
import { icmp6Error, ipv6, tcp, tcp6Frame, diffFrames, verifyChecksums, IPPROTO_TCP } from "../helpers/frames.js";

const SVC = { proto: "tcp", addr: VIP6, port: 80 } as const;
const fromClient = { ethSrc: CLIENT_MAC, ethDst: LB0_MAC };
const toClient = { ethSrc: LB0_MAC, ethDst: CLIENT_MAC };
const toRs0 = { ethSrc: LB1_MAC, ethDst: RS_MAC[0] };
const fromRs0 = { ethSrc: RS_MAC[0], ethDst: LB1_MAC };

/** A TCP/IPv6 packet cut to what an ICMPv6 error quotes here (header + 8 bytes). */
function quote(src: string, dst: string, sport: number, dport: number): Uint8Array {
  return ipv6({ src, dst, nextHeader: IPPROTO_TCP, payload: tcp({ sport, dport, flags: "A", seq: 77, ack: 5 }) }).subarray(0, 48);
}

async function natConnection() {
  const a = await makeAppliance();
  a.dp.transaction((tx) => {
    tx.addService(SVC, { scheduler: "rr" });
    tx.addDest(SVC, { addr: RS6[0], port: 8080, fwd: "nat" });
  });
  const syn = a.send(tcp6Frame({ ...fromClient, src: CLIENT6, dst: VIP6, sport: 40001, dport: 80, flags: "S" }), 0);
  expect(syn.verdict).toBe(1);
  return a;
}

describe("ICMPv6 errors of a NAT connection", () => {
  it("packet-too-big from the client side about VIP → client reaches the real server as RIP → client", async () => {
    const a = await natConnection();
    const r = a.send(icmp6Error({ ...fromClient, src: CLIENT6, dst: VIP6, type: 2, code: 0, mtu: 1280, quoted: quote(VIP6, CLIENT6, 80, 40001) }), 0);
    const want = icmp6Error({ ...toRs0, src: CLIENT6, dst: RS6[0], type: 2, code: 0, mtu: 1280, quoted: quote(RS6[0], CLIENT6, 8080, 40001) });
    expect([r.verdict, r.outLink]).toEqual([1, 1]);
    expect(diffFrames(r.out, want)).toBe("");
    expect(verifyChecksums(r.out)).toEqual([]);
  });

  it("port-unreachable from the real server about client → RIP reaches the client as coming from the VIP", async () => {
    const a = await natConnection();
    const r = a.send(icmp6Error({ ...fromRs0, src: RS6[0], dst: CLIENT6, type: 1, code: 4, quoted: quote(CLIENT6, RS6[0], 40001, 8080) }), 1);
    const want = icmp6Error({ ...toClient, src: VIP6, dst: CLIENT6, type: 1, code: 4, quoted: quote(CLIENT6, VIP6, 40001, 80) });
    expect([r.verdict, r.outLink]).toEqual([1, 0]);
    expect(diffFrames(r.out, want)).toBe("");
  });

  it("an error quoting no known connection is dropped as icmp_unmatched", async () => {
    const a = await natConnection();
    const before = a.dp.drops().icmp_unmatched;
    const r = a.send(icmp6Error({ ...fromClient, src: CLIENT6, dst: "2001:db8::99", type: 1, code: 4, quoted: quote("2001:db8::99", CLIENT6, 80, 40999) }), 0);
    expect(a.reasonName(r.reason)).toBe("icmp_unmatched");
    expect(a.dp.drops().icmp_unmatched - before).toBe(1n);
  });
});
