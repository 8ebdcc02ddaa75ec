// The reference topology itself, without Weir: built, checked, carrying
// NAT- and DR-style traffic through kernel stand-ins for the appliance
// (nftables DNAT, and a netdev ingress rule that rewrites the MAC and forwards
// — what VS/DR does), switched to offloads off, and torn down without a trace,
// also when its process exits without calling destroy().
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import {
  AgentClient, CAN_RUN, MAC, SKIP_REASON, Topology, leftovers, listNetns, rsAddr, run, script, type HttpResult, type UdpResult,
} from "./lib/index.js";
import { requireOrFail } from "../helpers/requires.js";

describe.skipIf(requireOrFail(CAN_RUN, SKIP_REASON))(`reference topology (${SKIP_REASON})`, () => {
  let topo: Topology;
  let agent: AgentClient;

  beforeAll(async () => {
    topo = Topology.create({ realServers: 3 });
    topo.addRsVip("198.18.100.2", [1]);
    for (const [i, ns] of topo.ns.rs.entries()) {
      await topo.spawnScript(ns, script("servers"), ["--name", `rs${i + 1}`, "--udp-port", "5300", "--udp-addr", i === 1 ? `${rsAddr(i)},198.18.100.2` : rsAddr(i)], { label: `rs${i + 1}` });
    }
    agent = new AgentClient(await topo.spawnScript(topo.ns.client, script("agent"), [], { label: "agent" }));
  });

  afterAll(() => {
    topo?.destroy();
    topo?.assertClean();
  });

  it("has the namespaces, links, addresses and real-server settings of TESTING.md", () => {
    const mine = listNetns().filter((n) => n.startsWith(topo.prefix)).sort();
    expect(mine).toEqual([topo.ns.client, topo.ns.lb, ...topo.ns.rs, topo.ns.sw].sort());
    expect(topo.ip(topo.ns.client, "-br", "addr", "show", "c0")).toContain("198.18.0.10/24");
    expect(topo.ip(topo.ns.client, "route", "show", "198.18.100.0/24")).toContain("via 198.18.0.1 dev c0");
    expect(topo.ip(topo.ns.lb, "-br", "link")).toMatch(/eth0@\S+\s+DOWN\s+02:00:00:00:00:01/);
    expect(topo.ip(topo.ns.lb, "-br", "link")).toMatch(/eth1@\S+\s+DOWN\s+02:00:00:00:01:01/);
    expect(topo.ip(topo.ns.lb, "-br", "addr")).not.toMatch(/198\./); // the appliance owns its addresses itself
    const sysctl = (ns: string, k: string) => topo.exec(ns, ["sysctl", "-n", k]).trim();
    for (const [i, ns] of topo.ns.rs.entries()) {
      expect(topo.ip(ns, "-br", "addr", "show", "eth0")).toContain(`${rsAddr(i)}/24`);
      expect(topo.ip(ns, "route", "show", "default")).toContain("via 198.19.0.1 dev eth0");
      expect(topo.ip(ns, "rule", "show")).toContain("from 198.18.100.0/24 lookup 100");
      expect(topo.ip(ns, "route", "show", "table", "100")).toContain("198.18.0.0/24 via 198.19.0.10 dev eth0");
      expect(sysctl(ns, "net.ipv4.conf.all.arp_ignore")).toBe("1");
      expect(sysctl(ns, "net.ipv4.conf.all.arp_announce")).toBe("2");
      expect(sysctl(ns, "net.ipv4.conf.all.rp_filter")).toBe("0");
      expect(sysctl(ns, "net.ipv4.conf.eth0.rp_filter")).toBe("0");
    }
    expect(topo.ip(topo.ns.rs[1], "-br", "addr", "show", "lo")).toContain("198.18.100.2/32");
    const ports = topo.ip(topo.ns.sw, "-br", "link", "show", "master", "br0");
    for (const p of ["lb", "cl", "rs1", "rs2", "rs3"]) expect(ports).toMatch(new RegExp(`^${p}@`, "m"));
  });

  it("carries NAT-style traffic through a kernel stand-in (DNAT in the appliance namespace)", async () => {
    const lb = topo.ns.lb;
    topo.ip(lb, "addr", "add", "198.18.0.1/24", "dev", "eth0");
    topo.ip(lb, "addr", "add", "198.19.0.1/24", "dev", "eth1");
    topo.ip(lb, "link", "set", "eth0", "up");
    topo.ip(lb, "link", "set", "eth1", "up");
    topo.exec(lb, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    topo.exec(lb, ["nft", "-f", "-"], {
      input: `table ip weirstandin {\n chain pre { type nat hook prerouting priority -100; ip daddr 198.18.100.1 tcp dport 80 dnat to 198.19.0.11; ip daddr 198.18.100.1 udp dport 5300 dnat to 198.19.0.11; }\n}\n`,
    });
    const r = await agent.call<HttpResult>("http", { url: "http://198.18.100.1/", bodyBytes: 300000, timeoutMs: 5000 });
    expect(r).toMatchObject({ status: 200, server: "rs1", sent: 300000, received: 300000, echoOk: true });
    const u = await agent.call<UdpResult>("udp", { host: "198.18.100.1", port: 5300, count: 3, timeoutMs: 1000 });
    expect(u).toMatchObject({ sent: 3, replies: 3, echoOk: 3, byServer: { rs1: 3 } });
  });

  it("carries DR-style traffic: the stand-in rewrites the MAC, the real server answers the client directly", async () => {
    topo.exec(topo.ns.lb, ["nft", "-f", "-"], {
      input: `table netdev weirstandindr {\n chain in { type filter hook ingress device "eth0" priority 0; ip daddr 198.18.100.2 ether daddr set ${MAC.rs(1)} fwd to "eth1"; }\n}\n`,
    });
    const r = await agent.call<HttpResult>("http", { url: "http://198.18.100.2/", bodyBytes: 300000, timeoutMs: 5000 });
    expect(r).toMatchObject({ status: 200, server: "rs2", received: 300000, echoOk: true });
    const u = await agent.call<UdpResult>("udp", { host: "198.18.100.2", port: 5300, count: 3, timeoutMs: 1000 });
    expect(u).toMatchObject({ replies: 3, echoOk: 3, byServer: { rs2: 3 } });
    // The replies came over the shared segment: rs2 resolved the client's segment address, not the appliance's.
    expect(topo.ip(topo.ns.rs[1], "neigh", "show", "198.19.0.10")).toContain(MAC.clientSegment);
  });

  it("turns offloads off on every veth and back on", () => {
    topo.setOffloads(false);
    for (const [ns, dev] of topo.vethEnds()) {
      const f = topo.offloadState(ns, dev);
      expect([dev, f["tcp-segmentation-offload"], f["generic-segmentation-offload"], f["tx-checksumming"]]).toEqual([dev, "off", "off", "off"]);
    }
    topo.setOffloads(true);
    const f = topo.offloadState(topo.ns.client, "c0");
    expect(f["tcp-segmentation-offload"]).toBe("on");
  });
});

describe.skipIf(requireOrFail(CAN_RUN, SKIP_REASON))(`topology teardown (${SKIP_REASON})`, () => {
  it("destroy() is idempotent and assertClean() names leftovers", async () => {
    const t = Topology.create({ realServers: 1 });
    const p = await t.spawnScript(t.ns.rs[0], script("servers"), ["--name", "rs1"], { label: "rs1" });
    expect(() => t.assertClean()).toThrow(/namespaces .*processes/);
    t.destroy();
    t.destroy();
    t.assertClean();
    expect(await p.exited).not.toBe("unknown");
  });

  it("an exiting process removes its topology (exit handler)", () => {
    const prefix = `weirx${process.pid}`;
    const code = `import(${JSON.stringify(script("topology"))}).then((m) => { m.Topology.create({ prefix: ${JSON.stringify(prefix)}, realServers: 2 }); process.exit(3); })`;
    try {
      execFileSync(process.execPath, ["-e", code], { timeout: 30000, stdio: "pipe" });
    } catch (e) {
      expect((e as { status: number }).status).toBe(3);
    }
    expect(leftovers(prefix)).toEqual([]);
  });

  it("the caller's namespace gets no links and no nft tables", () => {
    const before = run(["ip", "-o", "link", "show"]).split("\n").length;
    const t = Topology.create({ realServers: 2 });
    const during = run(["ip", "-o", "link", "show"]);
    expect(during.split("\n").length).toBe(before);
    expect(during).not.toContain(t.prefix);
    t.destroy();
    t.assertClean();
  });
});
