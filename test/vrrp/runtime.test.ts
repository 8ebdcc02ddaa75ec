// VRRP in the appliance without the network: the `vrrp` words over a real
// (debug) data plane and config model, the runtime (src/vrrp/runtime.ts)
// with fake packet I/O ports and a VirtualClock. What the runtime sends is
// decoded from the frames its ports got; what the data plane does with the
// virtual address is seen by running frames through it.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { VirtualClock } from "../../src/vrrp/clock.js";
import { VrrpRuntime, type VrrpPort } from "../../src/vrrp/runtime.js";
import { vrrpWords } from "../../src/vrrp/words.js";
import { buildFrame, decodeFrame, macText, type Advert } from "../../src/vrrp/packet.js";
import { masterDownIntervalUs, skewTimeUs } from "../../src/vrrp/machine.js";
import { loadConfigText } from "../../src/console/loader.js";
import { addStatsLines } from "../../src/console/appliance.js";
import { makeConsole, silent, type TestConsole } from "../console/helpers.js";
import { CLIENT, CLIENT_MAC, ETH0_MAC, RS, RS_MAC, fromClient, syn } from "../console/fixture.js";

const VIP = "198.18.100.5";
const PEER = "198.18.0.2";
const PEER_MAC = "02:00:00:00:00:02";
const DROP = 0, TX = 1;

class FakePort implements VrrpPort {
  readonly sent: Uint8Array[] = [];
  closed = false;
  fail = false;
  constructor(readonly dev: string, readonly o: { onFrame(f: Uint8Array): void; onLinkError(e: string): void }) {}
  send(f: Uint8Array): boolean {
    if (this.fail) return false;
    this.sent.push(f);
    return true;
  }
  close(): void { this.closed = true; }
}

interface Rig {
  t: TestConsole;
  clock: VirtualClock;
  rt: VrrpRuntime;
  ports: FakePort[];
  carrier: Map<string, boolean>;
  owned: string[];
  port(dev?: string): FakePort;
  adverts(dev?: string): Advert[];
  step(us: number): Promise<void>;
}

async function rig(opts: { neighbour?: boolean } = {}): Promise<Rig> {
  const t = await makeConsole();
  const clock = new VirtualClock(1_000_000);
  const ports: FakePort[] = [];
  const carrier = new Map<string, boolean>();
  const owned: string[] = [];
  const rt = new VrrpRuntime({
    clock, pollMs: 0, log: silent, wallNow: () => Date.UTC(2026, 0, 1),
    open: async (dev, o) => { const p = new FakePort(dev, o); ports.push(p); return p; },
    setOwned: (dev, addr, own) => { owned.push(`${own ? "own" : "release"} ${dev} ${addr}`); t.model.setVipOwned(dev, addr, own); },
    link: (dev) => { const l = t.model.state.links.get(dev); return l && { mac: l.mac, attached: l.up }; },
    carrier: (dev) => carrier.get(dev) ?? true,
    neighbourMac: opts.neighbour ? (_d, a) => (a === PEER ? PEER_MAC : undefined) : undefined,
  });
  t.con.register("vrrp", vrrpWords(rt, t.model));
  addStatsLines(t.con.registry, () => rt.statsLines()); // as run.ts does
  await t.setup("ip link set eth0 up", "ip link set eth1 up", "ip addr add 198.18.0.1/24 dev eth0", "ip addr add 198.19.0.1/24 dev eth1",
    `ipvsadm -A -t ${VIP}:80 -s rr`, `ipvsadm -a -t ${VIP}:80 -r ${RS[0]}:80 -m`);
  t.dp.setNeighbour(0, CLIENT, CLIENT_MAC);
  t.dp.setNeighbour(1, RS[0], RS_MAC[0]);
  const live = (dev: string) => ports.filter((p) => p.dev === dev && !p.closed);
  const r: Rig = {
    t, clock, rt, ports, carrier, owned,
    port: (dev = "eth0") => live(dev)[0],
    adverts: (dev = "eth0") => live(dev).flatMap((p) => p.sent).map((f) => decodeFrame(f)).filter((d) => d.ok).map((d) => (d.ok ? d.advert : null)!),
    step: async (us) => { clock.advance(us); await new Promise((res) => setImmediate(res)); },
  };
  return r;
}

const flush = () => new Promise((res) => setImmediate(res));
const instance = (extra = "") => `vrrp instance vi1 interface eth0 virtual_router_id 51 priority 150 virtual_ipaddress ${VIP} advert_int 0.1 ${extra}`;
/** A SYN from the client to the VIP's service: its verdict. */
const synVerdict = (r: Rig, sport = 40000) => fromClient(r.t, [syn(80, sport, VIP)])[0];

function advertFrom(src: string, o: Partial<Advert> = {}, ttl = 255): Uint8Array {
  return buildFrame({ version: 3, family: 4, vrid: 51, priority: 200, intervalCs: 10, addresses: [VIP], ...o }, { src, srcMac: PEER_MAC, ttl });
}

describe("the virtual addresses in the data plane", () => {
  it("are standby from the moment the instance exists: its service's traffic is dropped (vip_standby) until MASTER", async () => {
    const r = await rig();
    expect(synVerdict(r, 40000)).toBe(TX); // before: no VRRP, the address is not the appliance's but the service forwards
    await r.t.setup(instance());
    const before = r.t.dp.drops().vip_standby;
    expect(synVerdict(r, 40001)).toBe(DROP);
    expect(r.t.dp.drops().vip_standby).toBe(before + 1n);
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    expect(r.rt.role("vi1")!.state()).toBe("MASTER");
    expect(synVerdict(r, 40002)).toBe(TX);
    expect(r.owned).toEqual([`own eth0 ${VIP}`]);
  });

  it("stay standby across a commit that re-adds the links' addresses (a reload) and keep MASTER's ownership too", async () => {
    const r = await rig();
    await r.t.setup(instance());
    const rc = await r.t.run("show running-config");
    // A whole configuration put back (what an undone load does): the VIP is re-added from scratch.
    await r.t.model.replace(r.t.model.state);
    expect(synVerdict(r, 40010)).toBe(DROP);
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    await r.t.model.replace({ ...r.t.model.state, vips: [] });
    await r.t.model.replace({ ...r.t.model.state, vips: [{ instance: "vi1", dev: "eth0", af: 4, addr: VIP, len: 32 }] });
    expect(synVerdict(r, 40011)).toBe(TX); // re-added while MASTER: owned at once
    expect(await r.t.run("show running-config")).toBe(rc);
  });

  it("are not ip addr's: either is refused while the other holds the address, and nothing changes", async () => {
    const r = await rig();
    await r.t.setup(instance());
    const rc0 = await r.t.run("show running-config");
    expect(await r.t.run(`ip addr add ${VIP}/32 dev eth0`)).toMatch(/^error: address 198.18.100.5 is a virtual address of VRRP instance vi1/);
    expect(await r.t.run("show running-config")).toBe(rc0);
    await r.t.setup("ip addr add 198.18.100.9/32 dev eth0");
    const rc = await r.t.run("show running-config");
    expect(await r.t.run("vrrp instance vi2 interface eth0 virtual_router_id 52 virtual_ipaddress 198.18.100.9"))
      .toMatch(/^error: virtual address 198.18.100.9 is assigned to eth0 with ip addr/);
    expect(await r.t.run(`vrrp instance vi2 interface eth0 virtual_router_id 52 virtual_ipaddress ${VIP}`))
      .toMatch(/^error: virtual address 198.18.100.5 belongs to VRRP instance vi1/);
    expect(await r.t.run("show running-config")).toBe(rc);
    expect(r.rt.exists("vi2")).toBe(false);
  });
});

describe("the vrrp words", () => {
  it("print their lines after ip and ipvsadm; a config file of running-config rebuilds the same", async () => {
    const r = await rig();
    await r.t.setup(instance(), "vrrp instance vi2 interface eth1 virtual_router_id 52 virtual_ipaddress 198.19.0.100 track_interface eth0", "vrrp sync_group G vi1 vi2");
    const rc = (await r.t.run("show running-config")).split("\n");
    expect(rc.slice(-3)).toEqual([
      `vrrp instance vi1 interface eth0 virtual_router_id 51 priority 150 virtual_ipaddress ${VIP}/32 advert_int 0.1 version 3`,
      "vrrp instance vi2 interface eth1 virtual_router_id 52 priority 100 virtual_ipaddress 198.19.0.100/32 advert_int 1 version 3 track_interface eth0",
      "vrrp sync_group G vi1 vi2",
    ]);
    expect(rc.findIndex((l) => l.startsWith("vrrp"))).toBeGreaterThan(rc.findIndex((l) => l.startsWith("ipvsadm")));
    const f2 = await makeFresh();
    const loaded = await loadConfigText(f2.t.con.registry, f2.t.model, rc.join("\n"), "cfg");
    expect(loaded).toEqual({ ok: true, lines: rc.length });
    expect((await f2.t.run("show running-config")).split("\n")).toEqual(rc);
  });

  it("vrrp show: one line per instance with state, priority, master, the last transition's time and reason", async () => {
    const r = await rig();
    expect(await r.t.run("vrrp show")).toBe("no VRRP instances");
    await r.t.setup(instance());
    expect(await r.t.run("vrrp show")).toMatch(/^vi1 eth0 vrid 51 BACKUP prio 150 master none since 2026-01-01T00:00:00.000Z startup \(Master_Down_Interval/);
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    expect(await r.t.run("vrrp show")).toMatch(/^vi1 eth0 vrid 51 MASTER prio 150 master 198.18.0.1 since \S+ master_down \(no advert heard\)$/);
  });

  it("the same line again restarts nothing; a changed one replaces the instance", async () => {
    const r = await rig();
    await r.t.setup(instance());
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    await r.t.setup(instance());
    expect(r.rt.role("vi1")!.state()).toBe("MASTER");
    await r.t.setup(instance().replace("priority 150", "priority 120"));
    expect(r.rt.role("vi1")!.state()).toBe("BACKUP");
    expect(r.adverts().some((a) => a.priority === 0)).toBe(true); // the old master stepped down with priority 0
  });

  it.each([
    [instance().replace("interface eth0", "interface eth9"), "eth9 has no IPv4 address for the adverts' source"],
    ["vrrp instance vi1 interface eth0 virtual_router_id 51", "missing virtual_ipaddress"],
    ["vrrp del nosuch", "vrrp del: no instance or sync group 'nosuch'"],
    ["vrrp sync_group G vi1 nosuch", "vrrp sync_group G: no instance 'nosuch'"],
  ])("%s → error, nothing changes", async (line, message) => {
    const r = await rig();
    await r.t.setup(instance());
    const rc = await r.t.run("show running-config");
    const vips = r.t.model.state.vips;
    expect(await r.t.run(line)).toContain(message);
    expect(await r.t.run("show running-config")).toBe(rc);
    expect(r.t.model.state.vips).toEqual(vips);
  });

  it("refuses another instance's VRID on the same link, a group's name, and deleting a grouped instance", async () => {
    const r = await rig();
    await r.t.setup(instance(), "vrrp instance vi2 interface eth1 virtual_router_id 52 virtual_ipaddress 198.19.0.100");
    const rc = await r.t.run("show running-config");
    expect(await r.t.run("vrrp instance vi3 interface eth0 virtual_router_id 51 virtual_ipaddress 198.18.100.6"))
      .toBe("error: vrrp instance vi3: virtual_router_id 51 is already instance vi1's on eth0");
    expect(await r.t.run("show running-config")).toBe(rc);
    expect(r.t.model.state.vips.some((v) => v.addr === "198.18.100.6")).toBe(false);
    await r.t.setup("vrrp sync_group G vi1 vi2");
    expect(await r.t.run("vrrp instance G interface eth0 virtual_router_id 53 virtual_ipaddress 198.18.100.7")).toMatch(/the name is a sync group's/);
    expect(await r.t.run("vrrp del vi1")).toBe("error: vrrp del vi1: it is in sync group G (vrrp del G first)");
    await r.t.setup("vrrp del G", "vrrp del vi1");
    expect(r.t.model.state.vips.map((v) => v.addr)).toEqual(["198.19.0.100"]);
  });

  it("a config file that fails half-way puts VRRP back as it was", async () => {
    const r = await rig();
    await r.t.setup(instance());
    const rc = await r.t.run("show running-config");
    const text = [
      "vrrp instance vi1 interface eth0 virtual_router_id 51 priority 10 virtual_ipaddress 198.18.100.5",
      "vrrp instance vi9 interface eth1 virtual_router_id 9 virtual_ipaddress 198.19.0.99",
      "vrrp sync_group G vi1 vi9",
      "vrrp frobnicate",
    ].join("\n");
    const res = await loadConfigText(r.t.con.registry, r.t.model, text, "bad.cfg");
    expect(res).toMatchObject({ ok: false, line: 4 });
    expect(await r.t.run("show running-config")).toBe(rc);
    expect(r.rt.exists("vi9")).toBe(false);
    expect(r.t.model.state.vips.map((v) => v.addr)).toEqual([VIP]);
    expect(await r.t.run("vrrp show")).toMatch(/^vi1 eth0 vrid 51 \w+ prio 150 /);
  });
});

describe("the runtime", () => {
  it("sends adverts to the group MAC from the link's MAC and address, and 5 GARPs on becoming MASTER", async () => {
    const r = await rig();
    await r.t.setup(instance());
    await flush();
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    const frames = r.port().sent;
    const garps = frames.filter((f) => f[12] === 0x08 && f[13] === 0x06);
    expect(garps.length).toBe(5);
    expect(macText(garps[0].subarray(6, 12))).toBe(ETH0_MAC);
    const ad = decodeFrame(frames.find((f) => f[12] === 0x08 && f[13] === 0x00)!);
    expect(ad).toMatchObject({ ok: true, src: "198.18.0.1", dst: "224.0.0.18", ttl: 255, srcMac: ETH0_MAC });
    expect(macText(frames[0].subarray(0, 6))).toBe("01:00:5e:00:00:12");
    await r.step(1_000_000);
    expect(r.adverts().filter((a) => a.priority === 150).length).toBeGreaterThanOrEqual(10);
  });

  it("a higher-priority advert makes a MASTER BACKUP and releases the address; the role subscribers hear each change", async () => {
    const r = await rig();
    await r.t.setup(instance());
    await flush();
    const seen: string[] = [];
    r.rt.role("vi1")!.subscribe((s) => seen.push(s));
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    r.port().o.onFrame(advertFrom(PEER));
    await flush();
    expect(r.rt.role("vi1")!.state()).toBe("BACKUP");
    expect(seen).toEqual(["MASTER", "BACKUP"]);
    expect(r.owned).toEqual([`own eth0 ${VIP}`, `release eth0 ${VIP}`]);
    expect(synVerdict(r, 40100)).toBe(DROP);
    expect(await r.t.run("vrrp show")).toMatch(new RegExp(`^vi1 eth0 vrid 51 BACKUP prio 150 master ${PEER} since \\S+ higher_priority`));
  });

  it("counts what it refuses, per link and reason: TTL ≠ 255, a bad checksum, an unknown VRID, a truncated frame, another version", async () => {
    const r = await rig();
    await r.t.setup(instance());
    await flush();
    const p = r.port();
    p.o.onFrame(advertFrom(PEER, {}, 254));
    const bad = advertFrom(PEER);
    bad[14 + 20 + 6] ^= 0xff; // the VRRP checksum
    p.o.onFrame(bad);
    p.o.onFrame(advertFrom(PEER, { vrid: 77 }));
    p.o.onFrame(advertFrom(PEER).subarray(0, 30));
    p.o.onFrame(advertFrom(PEER, { version: 2, intervalCs: 100 }));
    expect(r.rt.links()[0].rejected).toEqual({ bad_ttl: 1, bad_checksum: 1, unknown_vrid: 1, truncated: 1, version_mismatch: 1 });
    expect(r.rt.role("vi1")!.state()).toBe("BACKUP");
    expect(await r.t.run("show stats")).toMatch(/^vrrp_link eth0 rx 5 tx 0 tx_failed 0 rejected bad_ttl=1,bad_checksum=1,unknown_vrid=1,truncated=1,version_mismatch=1$/m);
  });

  it("any frame at all is taken or refused and counted, never thrown (property)", async () => {
    const r = await rig();
    await r.t.setup(instance());
    await flush();
    const p = r.port();
    const good = advertFrom(PEER, { priority: 100 });
    const frames = fc.oneof(
      fc.uint8Array({ maxLength: 120 }),
      // a real advert with a few bytes changed
      fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }).map((edits) => {
        const f = good.slice();
        for (const [i, v] of edits) f[i] = v;
        return f;
      }),
    );
    fc.assert(fc.property(frames, (f) => {
      const before = r.rt.links()[0];
      const taken = r.rt.report()[0].stats.advertsReceived;
      p.o.onFrame(f);
      const after = r.rt.links()[0];
      const refused = Object.values(after.rejected).reduce((a, b) => a + (b ?? 0), 0) - Object.values(before.rejected).reduce((a, b) => a + (b ?? 0), 0);
      expect(after.rxFrames).toBe(before.rxFrames + 1);
      expect(refused + (r.rt.report()[0].stats.advertsReceived - taken)).toBe(1);
    }), { numRuns: 300 });
  });

  it("a tracked link down (carrier) makes it FAULT, a master sending priority 0; back up it is BACKUP again", async () => {
    const r = await rig();
    await r.t.setup(instance("track_interface eth1"));
    await flush();
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    r.carrier.set("eth1", false);
    r.rt.poll();
    expect(r.rt.role("vi1")!.state()).toBe("FAULT");
    expect(r.adverts().at(-1)!.priority).toBe(0);
    expect(synVerdict(r, 40200)).toBe(DROP);
    expect(await r.t.run("vrrp show")).toMatch(/FAULT prio 150 master none since \S+ link_down \(link eth1 down; sent priority 0\) links_down eth1$/);
    r.carrier.set("eth1", true);
    r.rt.poll();
    expect(r.rt.role("vi1")!.state()).toBe("BACKUP");
  });

  it("the link detached by `ip link set DEV down` is down too: FAULT, and its port is closed", async () => {
    const r = await rig();
    await r.t.setup(instance());
    await flush();
    const p = r.port();
    await r.t.setup("ip link set eth0 down");
    r.rt.linkChanged("eth0");
    expect(r.rt.role("vi1")!.state()).toBe("FAULT");
    expect(p.closed).toBe(true);
    await r.t.setup("ip link set eth0 up");
    r.rt.linkChanged("eth0");
    await flush();
    expect(r.rt.role("vi1")!.state()).toBe("BACKUP");
    expect(r.port()).toBeDefined();
  });

  it("ENETDOWN from the socket re-reads the link at once", async () => {
    const r = await rig();
    await r.t.setup(instance());
    await flush();
    r.carrier.set("eth0", false);
    r.port().o.onLinkError("ENETDOWN");
    expect(r.rt.role("vi1")!.state()).toBe("FAULT");
  });

  it("a sync group follows a member's fault", async () => {
    const r = await rig();
    await r.t.setup(instance(), "vrrp instance vi2 interface eth1 virtual_router_id 52 priority 150 virtual_ipaddress 198.19.0.100 advert_int 0.1", "vrrp sync_group G vi1 vi2");
    await flush();
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    expect([r.rt.role("vi1")!.state(), r.rt.role("vi2")!.state()]).toEqual(["MASTER", "MASTER"]);
    r.carrier.set("eth1", false);
    r.rt.poll();
    expect([r.rt.role("vi1")!.state(), r.rt.role("vi2")!.state()]).toEqual(["FAULT", "FAULT"]);
    expect(await r.t.run("vrrp show")).toMatch(/^vi1 eth0 vrid 51 FAULT .* sync_group .* group G$/m);
  });

  it("unicast: adverts to each peer's MAC from the neighbour table, else the one learnt from its adverts, else broadcast", async () => {
    const r = await rig();
    await r.t.setup(instance(`unicast_peer ${PEER} 198.18.0.3`));
    await flush();
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    const ads = r.port().sent.filter((f) => f[12] === 0x08 && f[13] === 0x00).map((f) => ({ d: decodeFrame(f), to: macText(f.subarray(0, 6)) }));
    expect(ads.slice(0, 2).map((a) => [a.d.ok && a.d.dst, a.to])).toEqual([[PEER, "ff:ff:ff:ff:ff:ff"], ["198.18.0.3", "ff:ff:ff:ff:ff:ff"]]);
    r.port().o.onFrame(advertFrom(PEER, { priority: 100 })); // a lower-priority peer: ignored, but its MAC is learnt
    const n = r.port().sent.length;
    await r.step(100_000);
    const next = r.port().sent.slice(n).map((f) => ({ d: decodeFrame(f), to: macText(f.subarray(0, 6)) }));
    expect(next.map((a) => [a.d.ok && a.d.dst, a.to])).toEqual([[PEER, PEER_MAC], ["198.18.0.3", "ff:ff:ff:ff:ff:ff"]]);
    const r2 = await rig({ neighbour: true });
    await r2.t.setup(instance(`unicast_peer ${PEER}`));
    await flush();
    await r2.step(masterDownIntervalUs(3, 150, 10) + 1);
    expect(macText(r2.port().sent.find((f) => f[12] === 0x08 && f[13] === 0x00)!.subarray(0, 6))).toBe(PEER_MAC);
  });

  it("stop(): a MASTER sends priority 0 before anything closes, then the ports close", async () => {
    const r = await rig();
    await r.t.setup(instance());
    await flush();
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    const p = r.port();
    r.rt.stop();
    const last = decodeFrame(p.sent.at(-1)!);
    expect(last.ok && last.advert.priority).toBe(0);
    expect(p.closed).toBe(true);
    expect(r.rt.role("vi1")!.state()).toBe("INIT");
    expect(skewTimeUs(3, 100, 10)).toBeLessThan(masterDownIntervalUs(3, 100, 10)); // why priority 0 matters to the peer
  });

  it("state MASTER: what it sends before its port is open (advert, GARPs) leaves once it is", async () => {
    const r = await rig();
    await r.t.setup(instance("state MASTER"));
    expect(r.rt.role("vi1")!.state()).toBe("MASTER");
    await flush();
    const sent = r.port().sent;
    expect(sent.filter((f) => f[12] === 0x08 && f[13] === 0x06).length).toBe(5);
    expect(decodeFrame(sent[0])).toMatchObject({ ok: true, advert: { priority: 150 } });
    expect(r.rt.links()[0]).toMatchObject({ txFrames: 6, txFailures: 0 });
  });

  it("IPv6: adverts from the link-local address of the link's MAC to ff02::12, unsolicited NAs for the VIP", async () => {
    const r = await rig();
    await r.t.setup("ip addr add 2001:db8::1/64 dev eth0", "vrrp instance v6 interface eth0 virtual_router_id 61 priority 200 virtual_ipaddress 2001:db8::100 advert_int 0.5");
    await flush();
    await r.step(masterDownIntervalUs(3, 200, 50) + 1);
    const sent = r.port().sent;
    const ad = decodeFrame(sent.find((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === 112)!);
    // from the link-local address of eth0's MAC 02:77:65:69:72:00 (RFC 5798 §5.1.2.1), not ip addr's global one
    expect(ad).toMatchObject({ ok: true, src: "fe80::77:65ff:fe69:7200", dst: "ff02::12", ttl: 255, advert: { version: 3, family: 6, vrid: 61, intervalCs: 50, addresses: ["2001:db8::100"] } });
    expect(macText(sent[0].subarray(0, 6))).toBe("33:33:00:00:00:12");
    const nas = sent.filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[20] === 58 && f[54] === 136);
    expect(nas.length).toBe(5);
    const r2 = await rig();
    await r2.t.setup("vrrp instance v6 interface eth0 virtual_router_id 61 virtual_ipaddress 2001:db8::100");
    expect(await r2.t.run("vrrp show")).toMatch(/^v6 eth0 vrid 61 BACKUP prio 100 /);
    await flush();
    await r2.step(masterDownIntervalUs(3, 100, 100) + 1);
    expect(decodeFrame(r2.port().sent[0])).toMatchObject({ ok: true, src: "fe80::77:65ff:fe69:7200" }); // from 02:77:65:69:72:00
  });

  it("polls the carrier only while there are instances, at least every half advert interval", () => {
    const clock = new VirtualClock();
    const rt = new VrrpRuntime({
      clock, log: silent, open: async (dev, o) => new FakePort(dev, o), setOwned: () => {},
      link: () => ({ mac: ETH0_MAC, attached: true }), carrier: () => true,
    });
    const cfg = { name: "a", interface: "eth0", vrid: 1, addresses: [VIP], primary: "198.18.0.1" };
    expect(rt.pollIntervalMs).toBe(0);
    rt.upsert({ ...cfg, intervalCs: 100 });
    expect(rt.pollIntervalMs).toBe(20);
    rt.upsert({ ...cfg, name: "b", vrid: 2, intervalCs: 2 });
    expect(rt.pollIntervalMs).toBe(10);
    rt.upsert({ ...cfg, name: "b", vrid: 2, intervalCs: 1 });
    expect(rt.pollIntervalMs).toBe(5);
    rt.remove("b");
    expect(rt.pollIntervalMs).toBe(20);
    rt.stop();
    expect(rt.pollIntervalMs).toBe(0);
  });

  it("metrics(): per instance and per link, for the Prometheus families", async () => {
    const r = await rig();
    await r.t.setup(instance());
    await flush();
    await r.step(masterDownIntervalUs(3, 150, 10) + 1);
    const m = r.rt.metrics();
    expect(m.instances).toEqual([expect.objectContaining({ name: "vi1", interface: "eth0", state: "MASTER", priority: 150, becameMaster: 1, transitions: 2, advertsSent: 1 })]);
    expect(m.links).toEqual([expect.objectContaining({ dev: "eth0", open: true, up: true, txFrames: 6 })]);
  });
});

/** A console with the rig's VRRP words but nothing configured (for loading a file into). */
async function makeFresh(): Promise<Rig> {
  const t = await makeConsole();
  const clock = new VirtualClock(1_000_000);
  const ports: FakePort[] = [];
  const rt = new VrrpRuntime({
    clock, pollMs: 0, log: silent,
    open: async (dev, o) => { const p = new FakePort(dev, o); ports.push(p); return p; },
    setOwned: (dev, addr, own) => t.model.setVipOwned(dev, addr, own),
    link: (dev) => { const l = t.model.state.links.get(dev); return l && { mac: l.mac, attached: l.up }; },
    carrier: () => true,
  });
  t.con.register("vrrp", vrrpWords(rt, t.model));
  return { t, clock, rt, ports, carrier: new Map(), owned: [], port: () => ports[0], adverts: () => [], step: async () => {} };
}
