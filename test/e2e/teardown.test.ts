// Nothing left behind: `weir run` stopped with SIGTERM removes its nft rules
// and restores the links it attached, the lab's teardown leaves no namespace,
// link or process, a run killed with SIGKILL is cleaned up by the next one,
// and `weir demo` runs end to end and cleans up after itself.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import path from "node:path";
import {
  Appliance, CAN_RUN, IO_ENGINE, ROOT, SKIP_REASON, Topology, listNetns, pidsWithArg, until, weirNftTables,
} from "./lib/index.js";
import { requireOrFail } from "../helpers/requires.js";

describe.skipIf(requireOrFail(CAN_RUN && IO_ENGINE, SKIP_REASON))(`teardown (${!CAN_RUN ? SKIP_REASON : "waits for the I/O engine"})`, () => {
  it("weir run restores its links and removes its nft tables on SIGTERM", async () => {
    const topo = Topology.create({ realServers: 1 });
    try {
      const before = topo.ip(topo.ns.lb, "-d", "link", "show");
      const a = await Appliance.start(topo);
      await a.ctlAll(["ip link set eth0 up", "ip link set eth1 up", "ip addr add 198.18.0.1/24 dev eth0", "ip addr add 198.19.0.1/24 dev eth1"]);
      expect(weirNftTables(topo.ns.lb).length).toBeGreaterThan(0); // the ingress drop on the data links
      await a.ctl("ip link set eth0 mtu 1400"); // reaches the TAP mirror too
      await until("TAP mtu 1400", () => /mtu 1400 /.test(topo.ip(topo.ns.lb, "link", "show", "dev", "weir-eth0")) || null, 5000);
      expect(await a.stop()).toBe(0);
      expect(weirNftTables(topo.ns.lb)).toEqual([]);
      const after = topo.ip(topo.ns.lb, "-d", "link", "show");
      const flags = (s: string) => [...s.matchAll(/^\d+: (\S+?)(?:@\S+)?: <([^>]*)>/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
      expect(flags(after)).toEqual(flags(before));
      expect(topo.ip(topo.ns.lb, "-br", "link")).not.toMatch(/tap|weir/i);
    } finally {
      topo.destroy();
    }
    topo.assertClean();
  });

  it("a weir run killed with SIGKILL is cleaned up by the next one: its links put back, its nft table gone", async () => {
    const topo = Topology.create({ realServers: 1 });
    try {
      const own = "198.18.0.250/24"; // the namespace's own address on the data link, moved to the TAP while attached
      topo.ip(topo.ns.lb, "addr", "add", own, "dev", "eth0");
      const a = await Appliance.start(topo);
      await a.ctlAll(["ip link set eth0 up"]);
      expect(topo.ip(topo.ns.lb, "-br", "addr", "show", "dev", "eth0")).not.toContain(own);
      process.kill(a.proc.pid, "SIGKILL");
      await a.proc.exited;
      expect(weirNftTables(topo.ns.lb).length).toBeGreaterThan(0); // left behind: eth0 is black-holed for the kernel
      const b = await Appliance.start(topo);
      expect(weirNftTables(topo.ns.lb)).toEqual([]);
      expect(topo.ip(topo.ns.lb, "-br", "addr", "show", "dev", "eth0")).toContain(own);
      expect(await b.stop()).toBe(0);
    } finally {
      topo.destroy();
    }
    topo.assertClean();
  });

  it("weir demo gets traffic through NAT, DR and TUN, exits 0 and leaves nothing behind", () => {
    const before = new Set(listNetns());
    const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "weir.js"), "demo", "--duration", "6"], { encoding: "utf8", timeout: 120000 });
    expect(r.stdout).toMatch(/traffic got through on NAT, DR and TUN/);
    expect(r.stdout).toMatch(/nothing left behind/);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(listNetns().filter((n) => !before.has(n))).toEqual([]);
    expect(pidsWithArg("dist/demo/")).toEqual([]);
  });
});
