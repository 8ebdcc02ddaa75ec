// Weir forwarding real traffic between namespaces — the ground of the kernel's
// IPVS selftest (tools/testing/selftests/net/netfilter/ipvs.sh): VS/NAT, VS/DR
// and VS/TUN (decapsulated in user space on the real servers) with TCP payloads
// both ways compared byte for byte, UDP, and ARP and ping of the appliance's
// own addresses; once with the links' default offloads, once with them off.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CAN_RUN, IO_ENGINE, MAC, SKIP_REASON, UDP_PORT, VIP, rsAddr, startLab, run, type HttpResult, type Lab, type UdpResult,
} from "./lib/index.js";
import { requireOrFail } from "../helpers/requires.js";

const METHODS = [
  { name: "NAT", vip: VIP.nat, flag: "-m" },
  { name: "DR", vip: VIP.dr, flag: "-g" },
  { name: "TUN", vip: VIP.tun, flag: "-i" },
] as const;

function services(): string[] {
  const lines: string[] = [];
  for (const m of METHODS) {
    for (const [o, port] of [["-t", 80], ["-u", UDP_PORT]] as const) {
      lines.push(`ipvsadm -A ${o} ${m.vip}:${port} -s rr`);
      for (let i = 0; i < 3; i++) lines.push(`ipvsadm -a ${o} ${m.vip}:${port} -r ${rsAddr(i)}:${port} ${m.flag}`);
    }
  }
  return lines;
}

const haveping = (() => { try { run(["ping", "-V"]); return true; } catch { return false; } })();

describe.skipIf(requireOrFail(CAN_RUN && IO_ENGINE, SKIP_REASON)).each([
  { offloads: "on" },
  { offloads: "off" },
])(`forwarding with offloads $offloads (${!CAN_RUN ? SKIP_REASON : "waits for the I/O engine"})`, ({ offloads }) => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab({ offloads: offloads === "on" ? undefined : false, config: services() });
  });

  afterAll(async () => {
    await lab?.close();
  });

  for (const m of METHODS) {
    it(`${m.name}: TCP payloads both ways arrive byte for byte`, async () => {
      const sizes = [1, 1460, 65536, 1 << 20, 3 << 20];
      for (const bodyBytes of sizes) {
        const r = await lab.agent.call<HttpResult>("http", { url: `http://${m.vip}/`, bodyBytes, method: "POST", timeoutMs: 15000 });
        expect({ bodyBytes, status: r.status, received: r.received, echo: r.echoOk, same: r.receivedSha === r.sentSha })
          .toEqual({ bodyBytes, status: 200, received: bodyBytes, echo: true, same: true });
        expect(r.server).toMatch(/^rs[123]$/);
      }
      // A plain GET: the name of the real server that answered.
      const g = await lab.agent.call<HttpResult>("http", { url: `http://${m.vip}/`, timeoutMs: 5000 });
      expect(g.text).toBe(g.server);
      // Several uploads at once.
      const many = await lab.agent.call("httpMany", { url: `http://${m.vip}/`, count: 12, concurrency: 4, bodyBytes: 200000, timeoutMs: 10000, totalTimeoutMs: 60000 });
      expect(many).toMatchObject({ ok: 12, failed: 0, echoMismatches: 0 });
    });

    it(`${m.name}: UDP datagrams are answered through the appliance`, async () => {
      // (The TCP test before this one has the appliance's neighbours resolved.)
      const u = await lab.agent.call<UdpResult>("udp", { host: m.vip, port: UDP_PORT, count: 9, payloadBytes: 1200, timeoutMs: 2000 });
      expect(u).toMatchObject({ sent: 9, replies: 9, echoOk: 9 });
      expect(Object.keys(u.byServer).sort()).toEqual(["rs1", "rs2", "rs3"]);
    });
  }

  it("answers ARP and ping for its own addresses on both links", async () => {
    const { topo } = lab;
    if (haveping) {
      for (const a of ["198.18.0.1", VIP.nat, VIP.dr, VIP.tun]) {
        expect(topo.exec(topo.ns.client, ["ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", "c0", a], { timeoutMs: 10000 })).toMatch(/2 received/);
      }
      expect(topo.exec(topo.ns.rs[0], ["ping", "-c", "2", "-i", "0.2", "-W", "2", "198.19.0.1"], { timeoutMs: 10000 })).toMatch(/2 received/);
      expect(topo.exec(topo.ns.rs[0], ["ping", "-c", "1", "-s", "1400", "-W", "2", "198.19.0.1"], { timeoutMs: 10000 })).toMatch(/1 received/);
    }
    // The neighbours learnt by ARP are the appliance's links.
    await lab.agent.call("http", { url: `http://${VIP.nat}/`, timeoutMs: 5000 });
    expect(topo.ip(topo.ns.client, "neigh", "show", "198.18.0.1")).toContain(MAC.lbClient);
    expect(topo.ip(topo.ns.rs[0], "neigh", "show", "198.19.0.1")).toContain(MAC.lbServer);
  });

  it("counts the traffic per real server", async () => {
    const stats = await lab.appliance.stats();
    for (const m of METHODS) {
      const s = stats.find((x) => x.proto === "TCP" && x.addr === `${m.vip}:80`)!;
      expect(s.conns).toBeGreaterThan(0);
      expect(s.dests.every((d) => d.conns > 0)).toBe(true);
      if (m.name === "NAT") expect(s.outBytes).toBeGreaterThan(1 << 20);
      else expect(s.outPkts).toBe(0); // DR/TUN replies bypass the appliance
    }
  });
});
