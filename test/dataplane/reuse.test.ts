// A client that reuses the source port of a closed connection starts a new
// connection, scheduled afresh (IPVS's conn_reuse_mode 1), instead of
// riding the old entry to its old real server.

import { describe, expect, it } from "vitest";
import { makeAppliance, CLIENT, CLIENT_MAC, LB0_MAC, RS, VIP } from "../helpers/appliance.js";
import { parseFrame, tcp4Frame } from "../helpers/frames.js";

const SVC = { proto: "tcp", addr: VIP, port: 80 } as const;

async function twoServers(persistent?: number) {
  const a = await makeAppliance();
  a.dp.transaction((tx) => {
    tx.addService(SVC, { scheduler: "rr", persistent });
    for (const r of RS.slice(0, 2)) tx.addDest(SVC, { addr: r, port: 80, fwd: "nat" });
  });
  const send = (flags: string, now: number) => {
    const r = a.send(tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: VIP, sport: 40000, dport: 80, flags }), 0, now);
    expect(r.verdict).toBe(1);
    return parseFrame(r.out).ip!.dst;
  };
  return { a, send };
}

describe("port reuse after close", () => {
  it("a SYN on a CLOSE (or TIME_WAIT) entry is scheduled again; on a live one it follows the entry", async () => {
    const { a, send } = await twoServers();
    expect(send("S", 1000)).toBe(RS[0]);
    expect(send("S", 1100)).toBe(RS[0]); // a retransmitted SYN of the live connection: same server
    expect(send("A", 1150)).toBe(RS[0]); // ESTABLISHED
    expect(send("R", 1200)).toBe(RS[0]); // the client resets: CLOSE (a reset in SYN_RECV would be ignored, as in IPVS)
    expect(send("S", 1300)).toBe(RS[1]); // port reused: a new connection, next in rr
    expect(a.dp.connCount()).toBe(1);
  });

  it("under a persistence template the new connection keeps the client's server", async () => {
    const { send } = await twoServers(300);
    expect(send("S", 1000)).toBe(RS[0]);
    expect(send("A", 1100)).toBe(RS[0]);
    expect(send("R", 1200)).toBe(RS[0]);
    expect(send("S", 1300)).toBe(RS[0]);
  });
});
