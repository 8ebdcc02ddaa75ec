// VRRP in `weir run` against a real keepalived (Debian's 2.2.x, VRRP only)
// on one shared segment: a bridge joins Weir's eth0, keepalived's eth0 and a
// client; behind Weir's eth1 a real server answers "rs" on port 80 through a
// NAT service on the virtual address. Whoever is MASTER answers ARP for the
// VIP: through Weir the client's connection reaches the real server; through
// keepalived (the VIP on its kernel, nothing listening) it is refused. One
// `weir run` for every case; keepalived restarted per case. Cases: v3
// multicast at 0.1 s both ways (Weir master / keepalived master), a cut link
// (FAULT, keepalived takes over, Weir takes back), v2 multicast at 1 s both
// ways, v3 unicast both ways, IPv6 (adverts from the link-local address, ND
// for the VIP answered by the master only), and SIGTERM of a master Weir
// (priority 0: keepalived takes over). Root only; namespaces wvw<pid>*, addresses from
// 198.18.0.0/15; processes started here are ended by PID.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { alive, haveCommand, run, tryRun } from "../../src/demo/sys.js";
import { ctlLine } from "../../src/demo/appliance.js";
import { requireOrFail } from "../helpers/requires.js";
import { endHelper } from "../vrrp/helper.js";
import { Keepalived as KeepalivedPeer } from "../helpers/keepalived.js";
import { decodeFrame, macText } from "../../src/vrrp/packet.js";
import { until as pollUntil } from "./lib/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const WEIR = path.join(ROOT, "bin", "weir.js");
const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;
const CAN_RUN = IS_ROOT && haveCommand("ip") && haveCommand("nft") && haveCommand("keepalived");
const WHY = "the Weir-with-keepalived test needs root, ip, nft and keepalived (apt-get install keepalived)";

const P = `wvw${process.pid}`;
const NS = { seg: `${P}s`, weir: `${P}w`, ka: `${P}k`, client: `${P}c`, rs: `${P}r` };
const WEIR_ADDR = "198.18.0.1";
const KA_ADDR = "198.18.0.2";
const CLIENT_ADDR = "198.18.0.10";
const VIP = "198.18.0.100";
const RS_NET_WEIR = "198.18.1.1";
const VIP6 = "2001:db8::100";
const CLIENT6 = "2001:db8::10";
const WEIR6 = "2001:db8::1";
const RS_ADDR = "198.18.1.2";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until: typeof pollUntil = (what, fn, timeoutMs, everyMs = 50) => pollUntil(what, fn, timeoutMs, everyMs);
const sh = (argv: string[]) => run(argv, { timeoutMs: 10000 });
const shQuiet = (argv: string[]) => { tryRun(argv, { timeoutMs: 10000 }); };


/** Ends a child: SIGTERM, then SIGKILL when it lingers (bounded). */
async function end(p: ChildProcess | undefined, graceMs = 5000): Promise<void> {
  const pid = p?.pid;
  if (pid === undefined || !alive(pid)) return;
  p!.kill("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(20);
  if (alive(pid)) p!.kill("SIGKILL");
}

// ------------------------------------------------------------ keepalived

interface KaConf { vrid: number; priority: number; version: 2 | 3; advertInt: string; unicast?: boolean; vip?: string }

/** keepalived on NS.ka's eth0 (test/helpers/keepalived.ts), its VIPs removed when it stops. */
class Keepalived extends KeepalivedPeer {
  static start(dir: string, c: KaConf): Keepalived {
    return Keepalived.launch(NS.ka, dir, {
      iface: "eth0", vrid: c.vrid, priority: c.priority, version: c.version, advertInt: c.advertInt,
      vips: [c.vip ?? `${VIP}/32`], unicast: c.unicast ? { src: KA_ADDR, peers: [WEIR_ADDR] } : undefined,
    });
  }

  async stop(): Promise<void> {
    await super.stop();
    shQuiet(["ip", "-n", NS.ka, "addr", "del", `${VIP}/32`, "dev", "eth0"]);
    shQuiet(["ip", "-n", NS.ka, "addr", "del", `${VIP6}/128`, "dev", "eth0"]);
  }
}

// ------------------------------------------------------------------ weir

class Weir {
  readonly stderr: string[] = [];
  private constructor(readonly proc: ChildProcess, readonly sock: string) {}

  static async start(dir: string): Promise<Weir> {
    const sock = path.join(dir, "ctl.sock");
    const proc = spawn("ip", ["netns", "exec", NS.weir, process.execPath, WEIR, "run", "--ctl", sock], { stdio: ["ignore", "ignore", "pipe"] });
    const w = new Weir(proc, sock);
    createInterface({ input: proc.stderr! }).on("line", (l) => w.stderr.push(l));
    await until(`weir run's control socket (stderr: ${w.stderr.slice(-3).join(" | ")})`, async () => (await ctlLine(sock, "ip link show").catch(() => ({ ok: false }))).ok, 20000, 100);
    return w;
  }

  async ctl(line: string): Promise<string> {
    const r = await ctlLine(this.sock, line);
    if (!r.ok) throw new Error(`weir ctl -- ${line}: ${r.text}`);
    return r.text;
  }

  tryCtl(line: string) { return ctlLine(this.sock, line); }

  /** The STATE word of `vrrp show` for the instance. */
  async state(name = "vi1"): Promise<string | undefined> {
    const line = (await this.ctl("vrrp show")).split("\n").find((l) => l.startsWith(`${name} `));
    return line?.split(" ")[4];
  }

  async waitState(state: string, timeoutMs: number, name = "vi1"): Promise<string> {
    return until(`weir ${name} ${state}`, async () => (await this.state(name)) === state && state, timeoutMs);
  }

  /** The VRRP transition log lines (pino JSON, module vrrp). */
  transitions(): { from: string; to: string; reason: string }[] {
    return this.stderr.filter((l) => l.includes('"module":"vrrp"') && l.includes('"reason"')).map((l) => JSON.parse(l));
  }
}

// ----------------------------------------------------------- capture

/** Every VRRP and ARP frame the client's link sees (test/vrrp/pktio.mjs in the client's namespace). */
class Capture {
  readonly frames: { t: number; f: Uint8Array }[] = [];
  private constructor(readonly proc: ChildProcess) {}

  static async start(): Promise<Capture> {
    const proc = spawn("ip", ["netns", "exec", NS.client, process.execPath, path.join(ROOT, "test", "vrrp", "pktio.mjs"), "eth0"], { stdio: ["pipe", "pipe", "pipe"] });
    const c = new Capture(proc);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("pktio not ready")), 10000);
      proc.once("exit", (code) => reject(new Error(`pktio exited ${code}`)));
      createInterface({ input: proc.stdout! }).on("line", (l) => {
        const o = JSON.parse(l);
        if (o.ready) { clearTimeout(timer); resolve(); }
        else if (o.hex) c.frames.push({ t: Date.now(), f: Uint8Array.from(Buffer.from(o.hex, "hex")) });
      });
    });
    return c;
  }

  mark(): number { return this.frames.length; }

  /** Adverts decoded, from IP source src, seen since mark. */
  adverts(src: string, from = 0) {
    return this.frames.slice(from).map((x) => decodeFrame(x.f)).filter((d) => d.ok && d.src === src).map((d) => (d.ok ? d.advert : null)!);
  }

  /** Gratuitous ARPs for addr from mac, since mark. */
  garps(addr: string, mac: string, from = 0): number {
    const ip = addr.split(".").map(Number);
    return this.frames.slice(from).filter(({ f }) => f.length >= 42 && f[12] === 0x08 && f[13] === 0x06 && macText(f.subarray(6, 12)) === mac
      && ip.every((b, i) => f[28 + i] === b && f[38 + i] === b)).length;
  }

  close(): void { endHelper(this.proc); }
}

// ---------------------------------------------------------------- client

/** Connects from the client to VIP:80 (its ARP cache flushed first): "rs" through Weir, an error code otherwise. */
function probe(): string {
  shQuiet(["ip", "-n", NS.client, "neigh", "flush", "all"]);
  const js = `const s=require("net").connect({host:"${VIP}",port:80});const t=setTimeout(()=>{process.stdout.write("TIMEOUT");process.exit(0)},1500);` +
    `s.on("data",(d)=>{process.stdout.write(String(d).trim());clearTimeout(t);s.destroy()});s.on("error",(e)=>{process.stdout.write(e.code);clearTimeout(t)})`;
  return (tryRun(["ip", "netns", "exec", NS.client, process.execPath, "-e", js], { timeoutMs: 5000 }) ?? "").trim();
}

const instance = (extra: string) =>
  `vrrp instance vi1 interface eth0 virtual_router_id 51 virtual_ipaddress ${VIP}/32 ${extra}`;

// ------------------------------------------------------------------ tests

describe.skipIf(requireOrFail(CAN_RUN, WHY))("VRRP in weir run, with keepalived as the peer", () => {
  let dir = "";
  let weir: Weir;
  let ka: Keepalived | undefined;
  let server: ChildProcess | undefined;
  let cap: Capture | undefined;
  let weirMac = "";

  async function restartKa(c: KaConf): Promise<Keepalived> {
    await ka?.stop();
    ka = Keepalived.start(dir, c);
    return ka;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "weir-vrrp-run-"));
    for (const ns of Object.values(NS)) sh(["ip", "netns", "add", ns]);
    sh(["ip", "-n", NS.seg, "link", "add", "br0", "type", "bridge"]);
    sh(["ip", "-n", NS.seg, "link", "set", "br0", "up"]);
    for (const [ns, name] of [[NS.weir, "w"], [NS.ka, "k"], [NS.client, "c"]]) {
      sh(["ip", "link", "add", `${P}${name}0`, "netns", ns, "type", "veth", "peer", "name", `${P}${name}1`, "netns", NS.seg]);
      sh(["ip", "-n", ns, "link", "set", `${P}${name}0`, "name", "eth0"]);
      sh(["ip", "-n", NS.seg, "link", "set", `${P}${name}1`, "master", "br0", "up"]);
      sh(["ip", "-n", ns, "link", "set", "eth0", "up"]);
      sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    sh(["ip", "-n", NS.ka, "addr", "add", `${KA_ADDR}/24`, "dev", "eth0"]);
    sh(["ip", "-n", NS.client, "addr", "add", `${CLIENT_ADDR}/24`, "dev", "eth0"]);
    sh(["ip", "-n", NS.client, "addr", "add", `${CLIENT6}/64`, "dev", "eth0", "nodad"]);
    sh(["ip", "link", "add", `${P}r0`, "netns", NS.weir, "type", "veth", "peer", "name", `${P}r1`, "netns", NS.rs]);
    sh(["ip", "-n", NS.weir, "link", "set", `${P}r0`, "name", "eth1"]);
    sh(["ip", "-n", NS.rs, "link", "set", `${P}r1`, "name", "eth0"]);
    for (const ns of [NS.weir, NS.rs]) sh(["ip", "-n", ns, "link", "set", ns === NS.weir ? "eth1" : "eth0", "up"]);
    sh(["ip", "-n", NS.rs, "link", "set", "lo", "up"]);
    sh(["ip", "-n", NS.rs, "addr", "add", `${RS_ADDR}/24`, "dev", "eth0"]);
    sh(["ip", "-n", NS.rs, "route", "add", "default", "via", RS_NET_WEIR]);
    server = spawn("ip", ["netns", "exec", NS.rs, process.execPath, "-e",
      `require("net").createServer((s)=>{s.end("rs\\n")}).listen(80,"${RS_ADDR}",()=>console.log("ready"))`], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.once("data", () => resolve());
      server!.once("exit", (c) => reject(new Error(`real server exited ${c}`)));
    });
    weirMac = JSON.parse(sh(["ip", "-n", NS.weir, "-j", "link", "show", "eth0"]))[0].address;
    cap = await Capture.start();
    weir = await Weir.start(dir);
    for (const l of [
      "ip link set eth0 up", "ip link set eth1 up",
      `ip addr add ${WEIR_ADDR}/24 dev eth0`, `ip addr add ${WEIR6}/64 dev eth0`, `ip addr add ${RS_NET_WEIR}/24 dev eth1`,
      `ipvsadm -A -t ${VIP}:80 -s rr`, `ipvsadm -a -t ${VIP}:80 -r ${RS_ADDR}:80 -m`,
    ]) await weir.ctl(l);
  }, 60000);

  afterAll(async () => {
    await ka?.stop();
    cap?.close();
    await end(weir?.proc);
    await end(server);
    for (const ns of Object.values(NS)) shQuiet(["ip", "netns", "del", ns]);
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(sh(["ip", "netns", "list"]).includes(P)).toBe(false);
  });

  describe("version 3, multicast, advert_int 0.1", () => {
    it("Weir at 200, keepalived at 100: Weir is MASTER and the VIP's service is answered through it", async () => {
      const k = await restartKa({ vrid: 51, priority: 100, version: 3, advertInt: "0.1" });
      const from = cap!.mark();
      await weir.ctl(instance("priority 200 advert_int 0.1"));
      await weir.waitState("MASTER", 5000);
      await k.waitState("BACKUP", 5000);
      // Becoming master it announced the VIP: garp_master_repeat (5) gratuitous ARPs from its MAC.
      expect(await until("5 gratuitous ARPs", () => cap!.garps(VIP, weirMac, from) >= 5, 3000)).toBe(true);
      const ad = cap!.adverts(WEIR_ADDR, from)[0];
      expect(ad).toMatchObject({ version: 3, vrid: 51, priority: 200, intervalCs: 10, addresses: [VIP] });
      expect(await until("the service through Weir", () => probe() === "rs" && "rs", 5000)).toBe("rs");
      const show = await weir.ctl("vrrp show");
      expect(show).toMatch(new RegExp(`^vi1 eth0 vrid 51 MASTER prio 200 master ${WEIR_ADDR} since \\S+Z `));
      expect(await weir.ctl("show running-config")).toContain(`vrrp instance vi1 interface eth0 virtual_router_id 51 priority 200 virtual_ipaddress ${VIP}/32 advert_int 0.1 version 3`);
      // The link listens to all multicast while VRRP runs on it (a NIC's multicast filter would drop 224.0.0.18).
      expect(JSON.parse(sh(["ip", "-n", NS.weir, "-j", "link", "show", "eth0"]))[0].flags).toContain("ALLMULTI");
      const stats = await weir.ctl("show stats");
      expect(stats).toMatch(/^vrrp vi1 eth0 MASTER adverts_sent [1-9]/m);
    });

    it("Weir at 50: keepalived is MASTER, Weir BACKUP behind it, and the VIP is not Weir's (connection refused by keepalived's host)", async () => {
      const from = ka!.mark();
      await weir.ctl(instance("priority 50 advert_int 0.1"));
      await ka!.waitState("MASTER", 5000, from);
      await weir.waitState("BACKUP", 5000);
      expect(await weir.ctl("vrrp show")).toMatch(new RegExp(`^vi1 eth0 vrid 51 BACKUP prio 50 master ${KA_ADDR} `));
      expect(await until("the service refused", () => probe() === "ECONNREFUSED" && "refused", 5000)).toBe("refused");
      expect(await weir.ctl("show stats")).toMatch(/^drop_vip_standby \d+/m);
    });

    it("a cut data link: Weir (MASTER again at 200) goes FAULT and keepalived takes over; back up, Weir preempts", async () => {
      await weir.ctl(instance("priority 200 advert_int 0.1"));
      await weir.waitState("MASTER", 5000);
      const from = ka!.mark();
      sh(["ip", "-n", NS.seg, "link", "set", `${P}w1`, "down"]); // carrier loss on Weir's eth0
      await weir.waitState("FAULT", 3000);
      await ka!.waitState("MASTER", 3000, from);
      expect(await weir.ctl("vrrp show")).toMatch(/^vi1 eth0 vrid 51 FAULT prio 200 master none since \S+ link_down \(link eth0 down/m);
      const back = ka!.mark();
      sh(["ip", "-n", NS.seg, "link", "set", `${P}w1`, "up"]);
      await weir.waitState("MASTER", 5000);
      await ka!.waitState("BACKUP", 5000, back);
      expect(await until("the service through Weir", () => probe() === "rs" && "rs", 5000)).toBe("rs");
      const t = weir.transitions();
      expect(t.some((x) => x.to === "FAULT" && x.reason === "link_down")).toBe(true);
      expect(t.some((x) => x.from === "FAULT" && x.to === "BACKUP" && x.reason === "link_up")).toBe(true);
    });
  });

  describe("version 2, multicast, advert_int 1", () => {
    it("keepalived at 150 over Weir at 100: keepalived MASTER; Weir at 200 preempts it", async () => {
      await weir.tryCtl("vrrp del vi1");
      // No instance on eth0: its VRRP socket is closed and allmulticast is off again.
      await until("allmulticast off", () => !JSON.parse(sh(["ip", "-n", NS.weir, "-j", "link", "show", "eth0"]))[0].flags.includes("ALLMULTI"), 3000);
      const k = await restartKa({ vrid: 51, priority: 150, version: 2, advertInt: "1" });
      await k.waitState("MASTER", 8000);
      await weir.ctl(instance("priority 100 advert_int 1 version 2"));
      await weir.waitState("BACKUP", 3000);
      await until("Weir sees keepalived as master", async () => (await weir.ctl("vrrp show")).includes(`master ${KA_ADDR}`), 4000);
      expect(probe()).toBe("ECONNREFUSED");
      const from = k.mark();
      await weir.ctl(instance("priority 200 advert_int 1 version 2"));
      await k.waitState("BACKUP", 8000, from);
      await weir.waitState("MASTER", 8000);
      expect(await until("the service through Weir", () => probe() === "rs" && "rs", 5000)).toBe("rs");
    });
  });

  describe("version 3, unicast peers, advert_int 0.1", () => {
    it("Weir at 200 with unicast_peer: MASTER, keepalived BACKUP; at 50 the other way round", async () => {
      await weir.tryCtl("vrrp del vi1");
      const k = await restartKa({ vrid: 51, priority: 100, version: 3, advertInt: "0.1", unicast: true });
      await k.waitState("MASTER", 5000);
      let from = k.mark();
      await weir.ctl(instance(`priority 200 advert_int 0.1 unicast_src_ip ${WEIR_ADDR} unicast_peer ${KA_ADDR}`));
      await k.waitState("BACKUP", 5000, from);
      await weir.waitState("MASTER", 5000);
      expect(await until("the service through Weir", () => probe() === "rs" && "rs", 5000)).toBe("rs");
      from = k.mark();
      await weir.ctl(instance(`priority 50 advert_int 0.1 unicast_src_ip ${WEIR_ADDR} unicast_peer ${KA_ADDR}`));
      await k.waitState("MASTER", 5000, from);
      await weir.waitState("BACKUP", 5000);
      expect(await weir.ctl("vrrp show")).toMatch(new RegExp(`^vi1 eth0 vrid 51 BACKUP prio 50 master ${KA_ADDR} `));
    });
  });

  describe("IPv6, version 3, multicast, advert_int 0.1", () => {
    /**
     * Pings the IPv6 VIP from the client (neighbour cache flushed): the MAC
     * that answered ND for it, or null. (keepalived's host has no route back
     * to the client, so only the ND answer counts, not the echo reply.)
     */
    function ndOwner(): string | null {
      shQuiet(["ip", "-n", NS.client, "-6", "neigh", "flush", "all"]);
      tryRun(["ip", "netns", "exec", NS.client, "ping", "-6", "-c", "1", "-W", "1", VIP6], { timeoutMs: 5000 });
      const n = JSON.parse(sh(["ip", "-n", NS.client, "-6", "-j", "neigh", "show", VIP6]))[0];
      return n?.lladdr ?? null;
    }

    it("Weir at 200: MASTER over keepalived from its link-local address, and ND for the VIP is answered by Weir; at 50 by keepalived", async () => {
      await weir.tryCtl("vrrp del vi1");
      const k = await restartKa({ vrid: 61, priority: 100, version: 3, advertInt: "0.1", vip: `${VIP6}/128` });
      await k.waitState("MASTER", 8000);
      const kaMac = JSON.parse(sh(["ip", "-n", NS.ka, "-j", "link", "show", "eth0"]))[0].address;
      let from = k.mark();
      const seen = cap!.mark();
      await weir.ctl(`vrrp instance vi6 interface eth0 virtual_router_id 61 priority 200 virtual_ipaddress ${VIP6} advert_int 0.1`);
      await k.waitState("BACKUP", 5000, from);
      await weir.waitState("MASTER", 5000, "vi6");
      const ad = cap!.frames.slice(seen).map((x) => decodeFrame(x.f)).find((d) => d.ok && d.advert.family === 6 && d.advert.priority === 200);
      expect(ad).toMatchObject({ ok: true, dst: "ff02::12", ttl: 255, advert: { version: 3, vrid: 61, addresses: [VIP6] } });
      expect(ad!.ok && ad!.src.startsWith("fe80::")).toBe(true);
      expect(await until("ND for the VIP answered by Weir", () => ndOwner() === weirMac && "weir", 5000)).toBe("weir");
      from = k.mark();
      await weir.ctl(`vrrp instance vi6 interface eth0 virtual_router_id 61 priority 50 virtual_ipaddress ${VIP6} advert_int 0.1`);
      await k.waitState("MASTER", 5000, from);
      await weir.waitState("BACKUP", 5000, "vi6");
      expect(await until("ND for the VIP answered by keepalived's host", () => ndOwner() === kaMac && "ka", 5000)).toBe("ka");
      await weir.ctl("vrrp del vi6");
    });
  });

  describe("a clean stop", () => {
    it("SIGTERM of a master Weir: it sends priority 0 and keepalived takes over at once", async () => {
      await weir.tryCtl("vrrp del vi1");
      const k = await restartKa({ vrid: 51, priority: 100, version: 3, advertInt: "1" });
      await weir.ctl(instance("priority 200 advert_int 1"));
      await weir.waitState("MASTER", 8000);
      await k.waitState("BACKUP", 8000);
      const from = k.mark();
      const seen = cap!.mark();
      const t0 = Date.now();
      weir.proc.kill("SIGTERM");
      // Master_Down_Interval at 1 s is 3.6 s; after priority 0 keepalived waits Skew_Time (0.6 s) only.
      await k.waitState("MASTER", 8000, from);
      const took = Date.now() - t0;
      process.stdout.write(`vrrp-weir: keepalived MASTER ${took} ms after SIGTERM of the master Weir\n`);
      expect(cap!.adverts(WEIR_ADDR, seen).map((a) => a.priority)).toContain(0);
      expect(weir.transitions().some((x) => x.to === "INIT" && x.reason === "shutdown")).toBe(true);
    });
  });
});
