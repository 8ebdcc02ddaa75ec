// Round trips: ipvsadm -S → -C → -R rebuilds the same table (property test
// over generated tables), and show running-config replayed onto a fresh
// appliance gives the same running-config.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lenToMask } from "../../src/config/addr.js";
import { SCHEDULERS, schedFlagNames } from "../../src/config/state.js";
import { makeConsole } from "./helpers.js";
import { TOPOLOGY } from "./fixture.js";

type Kind = "t" | "u" | "f";
interface GenDest { host: number; v6: boolean; port: number; fwd: "m" | "g" | "i"; weight: number; x: number; y: number; }
interface GenSvc {
  kind: Kind; v6: boolean; host: number; port: number; mark: number; sched: string; flags: number;
  persistent: number; netmask: number; ops: boolean; dests: GenDest[];
}

const destArb = fc.record({
  host: fc.integer({ min: 1, max: 254 }),
  v6: fc.boolean(),
  port: fc.integer({ min: 1, max: 65535 }),
  fwd: fc.constantFrom("m", "g", "i"),
  weight: fc.integer({ min: 0, max: 65535 }),
  x: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100000 })),
  y: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100000 })),
}) as fc.Arbitrary<GenDest>;

const svcArb = fc.record({
  kind: fc.constantFrom("t", "u", "f"),
  v6: fc.boolean(),
  host: fc.integer({ min: 1, max: 254 }),
  port: fc.integer({ min: 0, max: 65535 }),
  mark: fc.integer({ min: 1, max: 0xffffffff }),
  sched: fc.constantFrom(...SCHEDULERS),
  flags: fc.integer({ min: 0, max: 7 }),
  persistent: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2147483 })),
  netmask: fc.integer({ min: 1, max: 128 }),
  ops: fc.boolean(),
  dests: fc.array(destArb, { maxLength: 5 }),
}) as fc.Arbitrary<GenSvc>;

const addr = (v6: boolean, net: string, host: number) => (v6 ? `[2001:db8:${net}::${host.toString(16)}]` : `198.${net === "100" ? 18 : 19}.${net === "100" ? 100 : 0}.${host}`);

/** ipvsadm lines for a generated table, made valid (unique keys, rules ipvsadm enforces). */
function toLines(svcs: GenSvc[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const s of svcs) {
    const opt = s.kind === "f" ? `-f ${s.mark}${s.v6 ? " -6" : ""}` : `-${s.kind} ${addr(s.v6, "100", s.host)}:${s.port}`;
    if (seen.has(opt)) continue;
    seen.add(opt);
    const persistent = s.persistent || (s.kind !== "f" && s.port === 0) ? s.persistent || 300 : 0;
    const af6 = s.v6;
    let line = `-A ${opt} -s ${s.sched}`;
    const flags = schedFlagNames(s.sched, s.flags);
    if (flags.length) line += ` -b ${flags.join(",")}`;
    if (persistent) {
      line += ` -p ${persistent}`;
      const len = af6 ? s.netmask : 1 + (s.netmask % 32);
      line += ` -M ${af6 ? len : lenToMask(len)}`;
    }
    if (s.ops && s.kind !== "t") line += " -o";
    out.push(line);
    const dseen = new Set<string>();
    for (const d of s.dests) {
      const v6 = s.kind === "f" ? d.v6 : s.v6;
      const fwd = d.fwd === "i" && v6 ? "g" : d.fwd;
      // ipvsadm gives DR/TUN real servers the service's port, but not a fwmark service's.
      const port = fwd === "m" || s.kind === "f" ? d.port : s.port;
      const key = `${addr(v6, "1", d.host)}:${port}`;
      if (dseen.has(key)) continue;
      dseen.add(key);
      out.push(`-a ${opt} -r ${key} -${fwd} -w ${d.weight}${d.x ? ` -x ${d.x}` : ""}${d.y ? ` -y ${d.y}` : ""}`);
    }
  }
  return out;
}

describe("ipvsadm -S / -C / -R", () => {
  it("round-trips any table to identical -S output and the same data plane", async () => {
    const t = await makeConsole();
    const usable = SCHEDULERS.filter((s) => t.model.schedulerAvailable(s));
    await fc.assert(
      fc.asyncProperty(fc.array(svcArb.filter((s) => usable.includes(s.sched)), { maxLength: 8 }), async (svcs) => {
        const lines = toLines(svcs);
        expect(await t.reply("ipvsadm -C")).toEqual({ ok: true, text: "" });
        for (const l of lines) expect(await t.reply(`ipvsadm ${l}`)).toEqual({ ok: true, text: "" });
        const saved = await t.run("ipvsadm -S");
        const listed = await t.run("ipvsadm -L -n");
        expect(await t.run("ipvsadm -C")).toBe("");
        expect(await t.run("ipvsadm -L -n")).toBe("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn");
        expect(await t.reply("ipvsadm -R", saved)).toEqual({ ok: true, text: "" });
        expect(await t.run("ipvsadm -S")).toBe(saved);
        expect(await t.run("ipvsadm -L -n")).toBe(listed);
        expect(t.dp.serviceCount()).toBe(saved.split("\n").filter((l) => l.startsWith("-A")).length);
      }),
      { numRuns: 60 },
    );
  });

  it("restores a whole table in one transaction", async () => {
    const t = await makeConsole();
    t.model.schedulerAvailable("rr");
    t.model.schedulerAvailable("wrr");
    let commits = 0;
    const tx = t.dp.transactionChunked.bind(t.dp);
    t.dp.transactionChunked = (ops, pause) => { commits++; return tx(ops, pause); };
    const rules = ["-A -t 198.18.100.1:80 -s rr", "-a -t 198.18.100.1:80 -r 198.19.0.11:80 -m -w 1", "-A -u 198.18.100.1:53 -s wrr -p 300", "-a -u 198.18.100.1:53 -r 198.19.0.12:53 -g -w 2"];
    expect(await t.run("ipvsadm -R", `${rules.join("\n")}\n`)).toBe("");
    expect(commits).toBe(1);
    expect(await t.run("ipvsadm -S -n")).toBe([rules[0], rules[1], rules[2], rules[3]].join("\n"));
  });
});

describe("show running-config", () => {
  it("replayed onto a fresh appliance reproduces itself", async () => {
    const a = await makeConsole();
    await a.setup(
      ...TOPOLOGY,
      "ip link set eth2 address 02:00:00:00:02:01 mtu 9000 down",
      "ip addr add 2001:db8::1/64 dev eth0",
      "ip route add 198.20.0.0/16 via 198.19.0.254",
      "ip route add default via 198.18.0.254 dev eth0",
      "iptables -t mangle -A PREROUTING -d 198.18.100.0/24 -p tcp --dport 25 -j MARK --set-mark 1",
      "iptables -t mangle -A PREROUTING -d 198.18.100.9 -p udp --dport 1000:2000 -j MARK --set-mark 0x20",
      "iptables -t mangle -A PREROUTING -j MARK --set-mark 5",
      "ipvsadm --set 1800 60 120",
      "ipvsadm -A -f 1 -s wlc -p 600 -M 255.255.255.0",
      "ipvsadm -a -f 1 -r 198.19.0.11 -g -w 2",
      "ipvsadm -A -t 198.18.100.1:80 -s mh -b mh-fallback",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12:8080 -m -x 10 -y 5",
      "ipvsadm -A -u [2001:db8:100::1]:53 -s sh -o",
      "ipvsadm -a -u [2001:db8:100::1]:53 -r [2001:db8:1::11] -m",
    );
    const text = await a.run("show running-config");
    expect(text.split("\n")).toEqual([
      "ip link set eth0 up",
      "ip link set eth1 up",
      "ip link set eth2 address 02:00:00:00:02:01 mtu 9000 down",
      "ip addr add 198.18.0.1/24 dev eth0",
      "ip addr add 198.18.100.1/32 dev eth0",
      "ip addr add 198.19.0.1/24 dev eth1",
      "ip addr add 2001:db8::1/64 dev eth0",
      "ip route add 198.20.0.0/16 via 198.19.0.254 dev eth1",
      "ip route add default via 198.18.0.254 dev eth0",
      "iptables -t mangle -A PREROUTING -d 198.18.100.0/24 -p tcp --dport 25 -j MARK --set-mark 1",
      "iptables -t mangle -A PREROUTING -d 198.18.100.9/32 -p udp --dport 1000:2000 -j MARK --set-mark 32",
      "iptables -t mangle -A PREROUTING -j MARK --set-mark 5",
      "ipvsadm --set 1800 60 120",
      "ipvsadm -A -t 198.18.100.1:80 -s mh -b mh-fallback",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12:8080 -m -w 1 -x 10 -y 5",
      "ipvsadm -A -u [2001:db8:100::1]:53 -s sh -o",
      "ipvsadm -a -u [2001:db8:100::1]:53 -r [2001:db8:1::11]:53 -m -w 1",
      "ipvsadm -A -f 1 -s wlc -p 600 -M 255.255.255.0",
      "ipvsadm -a -f 1 -r 198.19.0.11:0 -g -w 2",
    ]);
    const b = await makeConsole();
    const r = await b.con.loadConfigText(text, "running-config");
    expect(r).toEqual({ ok: true, lines: 19 });
    expect(await b.run("show running-config")).toBe(text);
    for (const l of ["ip link show", "ip addr show", "ip route show", "ip -6 route show", "iptables -t mangle -L -n", "ipvsadm -L -n", "ipvsadm -L --timeout"]) {
      expect(await b.run(l)).toBe(await a.run(l));
    }
    // Line by line, as a console user would paste it, gives the same.
    const c = await makeConsole();
    await c.setup(...text.split("\n"));
    expect(await c.run("show running-config")).toBe(text);
  });
});
