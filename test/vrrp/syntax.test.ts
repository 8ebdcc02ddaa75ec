// The `vrrp …` lines (src/vrrp/syntax.ts): every keyword, lists that run to
// the next keyword, keepalived's defaults, the canonical line and its round
// trip, and each error naming what and where.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { instanceLine, parseVrrp, syncGroupLine, type InstanceSpec } from "../../src/vrrp/syntax.js";

const words = (line: string) => line.trim().split(/\s+/).slice(1); // the tokens after "vrrp"
const parse = (line: string) => parseVrrp(words(line));
const spec = (line: string): InstanceSpec => {
  const r = parse(line);
  if (r.kind !== "instance") throw new Error("not an instance");
  return r.spec;
};
const error = (line: string) => {
  try {
    parse(line);
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
};

describe("vrrp instance", () => {
  it("takes every keyword, in any order, lists running to the next keyword", () => {
    const s = spec("vrrp instance VI_1 garp_master_repeat 3 track_interface eth1 eth2 unicast_peer 198.18.0.2 198.18.0.3 unicast_src_ip 198.18.0.1 "
      + "preempt_delay 2.5 state BACKUP nopreempt version 2 advert_int 2 virtual_ipaddress 198.18.100.1 198.18.100.2/24 priority 150 virtual_router_id 51 interface eth0");
    expect(s).toEqual({
      name: "VI_1", interface: "eth0", vrid: 51, priority: 150,
      vips: [{ af: 4, addr: "198.18.100.1", len: 32 }, { af: 4, addr: "198.18.100.2", len: 24 }],
      advertInt: 2, version: 2, state: "BACKUP", nopreempt: true, preemptDelay: 2.5,
      unicastSrcIp: "198.18.0.1", unicastPeers: ["198.18.0.2", "198.18.0.3"], trackInterfaces: ["eth1", "eth2"], garpMasterRepeat: 3,
    });
  });

  it("fills keepalived's defaults: priority 100, advert_int 1, version 3 here, BACKUP, preempt, garp_master_repeat 5", () => {
    expect(spec("vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 2001:db8::1")).toEqual({
      name: "v", interface: "eth0", vrid: 1, priority: 100, vips: [{ af: 6, addr: "2001:db8::1", len: 128 }],
      advertInt: 1, version: 3, state: "BACKUP", nopreempt: false, preemptDelay: 0, unicastPeers: [], trackInterfaces: [], garpMasterRepeat: 5,
    });
  });

  it("prints one canonical line, which parses back to the same instance", () => {
    const l = "vrrp instance VI_1 virtual_ipaddress 198.18.100.1 interface eth0 priority 150 virtual_router_id 51 advert_int 0.10 state MASTER";
    const c = instanceLine(spec(l));
    expect(c).toBe("vrrp instance VI_1 interface eth0 virtual_router_id 51 priority 150 virtual_ipaddress 198.18.100.1/32 advert_int 0.1 version 3 state MASTER");
    expect(spec(c)).toEqual(spec(l));
  });

  it("round-trips any valid instance (property)", () => {
    const v4 = fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 254 })).map(([a, b]) => `198.18.${a}.${b}`);
    const arb = fc.record({
      vrid: fc.integer({ min: 1, max: 255 }), priority: fc.integer({ min: 1, max: 255 }),
      vips: fc.uniqueArray(v4, { minLength: 1, maxLength: 4 }), cs: fc.integer({ min: 1, max: 4095 }),
      master: fc.boolean(), nopreempt: fc.boolean(), delay: fc.integer({ min: 0, max: 1000 }),
      peers: fc.uniqueArray(v4, { maxLength: 3 }), tracks: fc.uniqueArray(fc.constantFrom("eth1", "eth2", "bond0"), { maxLength: 3 }),
      garp: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(fc.property(arb, (a) => {
      const line = [
        "vrrp instance x interface eth0", `virtual_router_id ${a.vrid}`, `priority ${a.priority}`, `virtual_ipaddress ${a.vips.join(" ")}`,
        `advert_int ${a.cs / 100}`, a.master && !a.nopreempt ? "state MASTER" : "", a.nopreempt ? "nopreempt" : "", `preempt_delay ${a.delay}`,
        a.peers.length ? `unicast_peer ${a.peers.join(" ")}` : "", a.tracks.length ? `track_interface ${a.tracks.join(" ")}` : "", `garp_master_repeat ${a.garp}`,
      ].join(" ");
      const s = spec(line);
      expect(spec(instanceLine(s))).toEqual(s);
      expect(instanceLine(spec(instanceLine(s)))).toBe(instanceLine(s));
    }));
  });

  it.each([
    ["vrrp instance", "vrrp instance: missing name"],
    ["vrrp instance interface", "invalid name 'interface'"],
    ["vrrp instance v virtual_router_id 1 virtual_ipaddress 198.18.100.1", "vrrp instance v: missing interface DEV"],
    ["vrrp instance v interface eth0 virtual_ipaddress 198.18.100.1", "vrrp instance v: missing virtual_router_id N"],
    ["vrrp instance v interface eth0 virtual_router_id 1", "vrrp instance v: missing virtual_ipaddress"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress", "virtual_ipaddress needs at least one value"],
    ["vrrp instance v interface eth0 bogus 3 virtual_router_id 1 virtual_ipaddress 198.18.100.1", "vrrp instance v: unknown keyword 'bogus'"],
    // A list runs to the next keyword: a stray word after it is one of its values.
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 bogus", "virtual_ipaddress 'bogus' is not an address"],
    ["vrrp instance v interface eth0 interface eth1 virtual_router_id 1 virtual_ipaddress 198.18.100.1", "interface given twice"],
    ["vrrp instance v interface eth0 virtual_router_id 0 virtual_ipaddress 198.18.100.1", "virtual_router_id '0' (an integer 1-255)"],
    ["vrrp instance v interface eth0 virtual_router_id 256 virtual_ipaddress 198.18.100.1", "virtual_router_id '256'"],
    ["vrrp instance v interface eth0 virtual_router_id 1 priority 0 virtual_ipaddress 198.18.100.1", "priority '0' (an integer 1-255)"],
    ["vrrp instance v interface eth0 virtual_router_id 1 priority virtual_ipaddress 198.18.100.1", "priority needs a value"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 advert_int 0", "advert_int '0' (seconds, 0.01-255)"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 advert_int 50", "(0.01-40.95 s in version 3)"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 version 2 advert_int 0.5", "(whole seconds in version 2)"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 version 4", "version '4' (2 or 3)"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 2001:db8::1 version 2", "version 2 is IPv4 only"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 2001:db8::1", "mixes IPv4 and IPv6"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.300", "virtual_ipaddress '198.18.100.300' is not an address"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1/33", "is not an address"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 state UP", "state 'UP' (MASTER or BACKUP)"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 state MASTER nopreempt", "nopreempt needs state BACKUP"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 preempt_delay 1001", "preempt_delay '1001'"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 unicast_peer nope", "unicast_peer 'nope' is not an IP address"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 unicast_peer 2001:db8::2", "2001:db8::2 is not of the virtual addresses' family"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 garp_master_repeat 256", "garp_master_repeat '256'"],
    ["vrrp instance v interface eth0/../x virtual_router_id 1 virtual_ipaddress 198.18.100.1", "invalid interface name"],
    ["vrrp instance v interface eth0 virtual_router_id 1 virtual_ipaddress 198.18.100.1 track_interface", "track_interface needs at least one value"],
  ])("%s → error naming it", (line, message) => {
    expect(error(line)).toContain(message);
  });
});

describe("vrrp sync_group, del, show", () => {
  it("parses and prints a sync group", () => {
    expect(parse("vrrp sync_group G a b c")).toEqual({ kind: "sync_group", name: "G", members: ["a", "b", "c"] });
    expect(syncGroupLine("G", ["a", "b"])).toBe("vrrp sync_group G a b");
    expect(parse("vrrp del G")).toEqual({ kind: "del", name: "G" });
    expect(parse("vrrp show")).toEqual({ kind: "show" });
  });

  it.each([
    ["vrrp", "instance, sync_group, del or show?"],
    ["vrrp frob", "unknown word 'frob'"],
    ["vrrp sync_group G a", "needs two instances or more"],
    ["vrrp sync_group G a a", "an instance given twice"],
    ["vrrp sync_group", "missing name"],
    ["vrrp del", "vrrp del: missing name"],
    ["vrrp del a b", "unexpected argument 'b'"],
    ["vrrp show x", "vrrp show: unexpected argument 'x'"],
  ])("%s → error", (line, message) => {
    expect(error(line)).toContain(message);
  });
});
