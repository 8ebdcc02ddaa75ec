// Interop with a real keepalived (Debian's 2.2.x, VRRP only) on a veth
// between two namespaces: keepalived in one, our codec in the other through
// the addon's AF_PACKET rings (test/vrrp/pktio.mjs). Its adverts and
// gratuitous ARPs are decoded by src/vrrp/packet.ts, every field checked and
// rebuilt byte for byte; adverts built by packet.ts move it to BACKUP (a
// higher priority), leave it MASTER (a lower one), hand MASTER back after
// Master_Down_Interval of silence or Skew_Time after priority 0; and the
// adverts our decoder or our instance refuses (wrong checksum, TTL 254,
// other addresses, a v2 interval mismatch) are ignored by keepalived too,
// which logs why. Then our state machine (machine.ts on the system clock)
// runs against it in real time: it preempts keepalived from above, yields to
// it from below, and each hands over to the other with priority 0 in
// Skew_Time. v3 at advert_int 0.1 and v2 at 1 s over multicast, v3 over
// unicast peers, where keepalived differs and the test pins how: it checks
// no TTL there, and it takes the pre-1.3.7 checksum (the group in the
// pseudo-header) and then refuses RFC ones. Root only; namespaces
// wvk<pid>k / wvk<pid>p, addresses from 198.18.0.0/15; the processes
// started here are ended by PID.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { alive, haveCommand, run, tryRun } from "../../src/demo/sys.js";
import { requireOrFail } from "../helpers/requires.js";
import { endHelper } from "../vrrp/helper.js";
import {
  GROUP4, GROUP_MAC4, VRRP_TOS, buildAnnouncement, buildFrame, buildGarp, decodeFrame, macText, type Advert, type DecodedFrame,
} from "../../src/vrrp/packet.js";
import { Machine, masterDownIntervalUs, skewTimeUs, type Transition } from "../../src/vrrp/machine.js";
import { VirtualClock, systemScheduler } from "../../src/vrrp/clock.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;
const CAN_RUN = IS_ROOT && haveCommand("ip") && haveCommand("keepalived");
const WHY = "the keepalived interop test needs root, ip (iproute2) and keepalived (apt-get install keepalived)";

const NS_K = `wvk${process.pid}k`; // keepalived's namespace
const NS_P = `wvk${process.pid}p`; // ours
const KA = "198.18.0.1";
const PEER = "198.18.0.2";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Commands: run() throws with the command's stderr; tryRun() is for cleanup of what may not exist.
const sh = (argv: string[]) => run(argv, { timeoutMs: 10000 });
const shQuiet = (argv: string[]) => { tryRun(argv, { timeoutMs: 10000 }); };

async function until<T>(what: string, fn: () => T | undefined | null | false, timeoutMs: number, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

const be16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// ---------------------------------------------------------------- the port

interface Seen {
  t: number;
  frame: Uint8Array;
}

/** pktio.mjs in our namespace: what it saw, and frames to send. */
class Port {
  readonly seen: Seen[] = [];
  private readonly listeners = new Set<(s: Seen) => void>();
  mac = "";
  private next = 1;
  private readonly waiting = new Map<number, (o: { t: number; error?: string }) => void>();

  private constructor(readonly proc: ChildProcess) {}

  static async start(ns: string, dev: string): Promise<Port> {
    const proc = spawn("ip", ["netns", "exec", ns, process.execPath, path.join(ROOT, "test", "vrrp", "pktio.mjs"), dev], { stdio: ["pipe", "pipe", "pipe"] });
    const port = new Port(proc);
    let err = "";
    proc.stderr!.on("data", (d) => (err += d));
    const ready = new Promise<void>((resolve, reject) => {
      proc.once("exit", (c) => reject(new Error(`pktio exited ${c}: ${err}`)));
      createInterface({ input: proc.stdout! }).on("line", (line) => {
        const o = JSON.parse(line);
        if (o.ready) {
          port.mac = o.mac;
          resolve();
        } else if (o.hex) {
          const seen = { t: o.t, frame: Uint8Array.from(Buffer.from(o.hex, "hex")) };
          port.seen.push(seen);
          for (const l of port.listeners) l(seen);
        }
        else if (o.id) port.waiting.get(o.id)?.(o);
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`pktio not ready: ${err}`)), 10000);
    });
    try {
      await Promise.race([ready, late]);
    } finally {
      clearTimeout(timer);
    }
    return port;
  }

  private cmd(c: object): Promise<number> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (o) => (o.error ? reject(new Error(o.error)) : resolve(o.t)));
      this.proc.stdin!.write(JSON.stringify({ id, ...c }) + "\n");
    });
  }

  /** Calls fn with every frame seen from now on; returns the unsubscribe. */
  listen(fn: (s: Seen) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Sends now; the helper's time of sending. */
  send(...frames: Uint8Array[]): Promise<number> {
    return this.cmd({ send: frames.map(hex) });
  }

  /** The helper's clock now. */
  now(): Promise<number> {
    return this.send();
  }

  repeat(everyMs: number, ...frames: Uint8Array[]): Promise<number> {
    return this.cmd({ repeat: frames.map(hex), everyMs });
  }

  /** Stops repeating: the time of the last frame sent. */
  stop(): Promise<number> {
    return this.cmd({ stop: true });
  }

  /** VRRP adverts seen from `mac` after t (µs on the helper's clock), decoded. */
  adverts(mac: string, after = 0): (Seen & { d: DecodedFrame })[] {
    return this.seen
      .filter((s) => s.t > after && macText(s.frame.subarray(6, 12)) === mac && (be16(s.frame, 12) === 0x0800 || be16(s.frame, 12) === 0x86dd) && s.frame[14 + 9] === 112)
      .map((s) => ({ ...s, d: decodeFrame(s.frame) }));
  }

  arps(mac: string, after = 0): Seen[] {
    return this.seen.filter((s) => s.t > after && be16(s.frame, 12) === 0x0806 && macText(s.frame.subarray(6, 12)) === mac);
  }

  close(): void {
    endHelper(this.proc);
  }
}

// ----------------------------------------------------------- keepalived

interface KaConf {
  name: string;
  vrid: number;
  priority: number;
  version: 2 | 3;
  advertInt: string;
  vips: string[];
  unicast?: boolean;
}

function kaConf(c: KaConf): string {
  return [
    "global_defs {",
    `  router_id weir_${process.pid}`,
    "}",
    `vrrp_instance ${c.name} {`,
    "  state BACKUP",
    "  interface eth0",
    `  virtual_router_id ${c.vrid}`,
    `  priority ${c.priority}`,
    `  advert_int ${c.advertInt}`,
    `  version ${c.version}`,
    ...(c.unicast ? [`  unicast_src_ip ${KA}`, "  unicast_peer {", `    ${PEER}`, "  }"] : []),
    "  virtual_ipaddress {",
    ...c.vips.map((v) => `    ${v}/32`),
    "  }",
    "}",
    "",
  ].join("\n");
}

/** One keepalived, VRRP only, in the foreground: its log lines (-l), its state from them. */
class Keepalived {
  readonly lines: string[] = [];
  private constructor(readonly proc: ChildProcess, readonly conf: KaConf) {}

  static start(dir: string, conf: KaConf): Keepalived {
    const file = path.join(dir, `${conf.name}.conf`);
    writeFileSync(file, kaConf(conf));
    const pid = (n: string) => path.join(dir, `${conf.name}.${n}.pid`);
    const proc = spawn("ip", ["netns", "exec", NS_K, "keepalived", "-n", "-l", "-P", "--dont-respawn", "-f", file, "-p", pid("main"), "-r", pid("vrrp"), "-c", pid("check")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const k = new Keepalived(proc, conf);
    for (const s of [proc.stdout!, proc.stderr!]) createInterface({ input: s }).on("line", (l) => k.lines.push(l));
    return k;
  }

  /** Index to look from. */
  mark(): number {
    return this.lines.length;
  }

  /** The state of its last "Entering … STATE" line after `from`, or null. */
  stateSince(from = 0): string | null {
    let st: string | null = null;
    for (const l of this.lines.slice(from)) {
      const m = /\((\S+)\) Entering (\w+) STATE/.exec(l);
      if (m && m[1] === this.conf.name) st = m[2];
    }
    return st;
  }

  waitState(state: string, timeoutMs: number, from = 0): Promise<string> {
    return until(`keepalived ${this.conf.name} ${state} (log: ${this.lines.slice(-5).join(" | ")})`, () => this.stateSince(from) === state && state, timeoutMs);
  }

  logged(re: RegExp, from = 0): boolean {
    return this.lines.slice(from).some((l) => re.test(l));
  }

  /** The virtual addresses configured in its namespace now (it owns them as MASTER). */
  vipsPresent(): string[] {
    const out = sh(["ip", "-n", NS_K, "-4", "-o", "addr", "show", "dev", "eth0"]);
    return this.conf.vips.filter((v) => out.includes(` ${v}/32 `));
  }

  /** SIGTERM (it sends priority 0 and removes its addresses), SIGKILL if it lingers; the addresses go either way. */
  async stop(): Promise<void> {
    const pid = this.proc.pid;
    if (pid !== undefined && alive(pid)) {
      process.kill(pid, "SIGTERM");
      const end = Date.now() + 5000;
      while (alive(pid) && Date.now() < end) await sleep(20);
      if (alive(pid)) process.kill(pid, "SIGKILL");
    }
    for (const v of this.conf.vips) shQuiet(["ip", "-n", NS_K, "addr", "del", `${v}/32`, "dev", "eth0"]);
  }
}

// ---------------------------------------------------------------- helpers

/** The instance keepalived runs, as our own machine sees it: to ask it what it would refuse. */
function ourInstanceLike(c: KaConf): Machine {
  return new Machine(
    { name: c.name, interface: "eth0", vrid: c.vrid, priority: c.priority, version: c.version, intervalCs: Math.round(parseFloat(c.advertInt) * 100), addresses: c.vips, primary: KA, unicastPeers: c.unicast ? [PEER] : [] },
    new VirtualClock(),
    () => {},
  );
}

function ours(port: Port, kaMac: string, c: KaConf, patch: Partial<Advert> = {}, o: { ttl?: number; unicast?: boolean } = {}): Uint8Array {
  const a: Advert = { version: c.version, family: 4, vrid: c.vrid, priority: 200, intervalCs: Math.round(parseFloat(c.advertInt) * 100), addresses: c.vips, ...patch };
  return buildFrame(a, { srcMac: port.mac, src: PEER, ttl: o.ttl, ...(o.unicast ? { dst: KA, dstMac: kaMac } : {}) });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function report(line: string): void {
  process.stdout.write(`vrrp-keepalived: ${line}\n`);
}

// ------------------------------------------------------------------ tests

describe.skipIf(requireOrFail(CAN_RUN, WHY))("keepalived as the VRRP peer", () => {
  let dir = "";
  let port: Port;
  let kaMac = "";
  let version = "";
  const running: Keepalived[] = [];

  function start(c: KaConf): Keepalived {
    const k = Keepalived.start(dir, c);
    running.push(k);
    return k;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "weir-vrrp-"));
    const v = spawnSync("keepalived", ["--version"], { encoding: "utf8", timeout: 10000 });
    version = `${v.stdout}${v.stderr}`.split("\n")[0];
    sh(["ip", "netns", "add", NS_K]);
    sh(["ip", "netns", "add", NS_P]);
    sh(["ip", "link", "add", `wvk${process.pid}a`, "netns", NS_K, "type", "veth", "peer", "name", `wvk${process.pid}b`, "netns", NS_P]);
    for (const [ns, dev, addr] of [[NS_K, `wvk${process.pid}a`, KA], [NS_P, `wvk${process.pid}b`, PEER]]) {
      sh(["ip", "-n", ns, "link", "set", dev, "name", "eth0"]);
      sh(["ip", "-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0"]);
      sh(["ip", "-n", ns, "link", "set", "eth0", "up"]);
      sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    kaMac = JSON.parse(sh(["ip", "-n", NS_K, "-j", "link", "show", "eth0"]))[0].address;
    port = await Port.start(NS_P, "eth0");
    report(`${version.trim()}; keepalived's MAC ${kaMac}, ours ${port.mac}`);
  });

  afterAll(async () => {
    for (const k of running) await k.stop();
    port?.close();
    shQuiet(["ip", "netns", "del", NS_K]);
    shQuiet(["ip", "netns", "del", NS_P]);
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(sh(["ip", "netns", "list"]).includes(`wvk${process.pid}`)).toBe(false);
  });

  describe("version 3, multicast, advert_int 0.1", () => {
    const c: KaConf = { name: "VI_3", vrid: 51, priority: 150, version: 3, advertInt: "0.1", vips: ["198.18.100.1", "198.18.100.2"] };
    let ka: Keepalived;
    let tMaster = 0;

    beforeAll(async () => {
      ka = start(c);
      await ka.waitState("MASTER", 10000);
      tMaster = await port.now();
    });

    it("its adverts decode with every field keepalived set, and packet.ts rebuilds them byte for byte", async () => {
      await until("10 adverts", () => port.adverts(kaMac).length >= 10, 5000);
      const adverts = port.adverts(kaMac);
      for (const { frame, d } of adverts) {
        expect(d).toMatchObject({ ok: true, advert: { version: 3, family: 4, vrid: 51, priority: 150, intervalCs: 10, addresses: c.vips }, src: KA, dst: GROUP4, ttl: 255, multicast: true, srcMac: kaMac });
        expect(hex(frame.subarray(0, 6))).toBe(hex(GROUP_MAC4));
        expect(frame[15]).toBe(VRRP_TOS);
        if (d.ok) expect(hex(buildFrame(d.advert, { srcMac: kaMac, src: KA, id: be16(frame, 18) }))).toBe(hex(frame));
      }
      const gaps = adverts.slice(1).map((a, i) => a.t - adverts[i].t);
      report(`v3 0.1 s: ${adverts.length} adverts, median gap ${(median(gaps) / 1000).toFixed(1)} ms`);
    });

    it("becoming master it sent gratuitous ARPs for each address, as buildGarp builds them", () => {
      const arps = port.arps(kaMac);
      for (const v of c.vips) {
        const mine = hex(buildGarp(kaMac, v));
        expect(arps.filter((a) => hex(a.frame) === mine).length).toBeGreaterThanOrEqual(5);
      }
      expect(arps.every((a) => c.vips.some((v) => hex(buildGarp(kaMac, v)) === hex(a.frame)))).toBe(true);
    });

    it("a lower priority of ours (100) leaves it MASTER", async () => {
      const m = ka.mark();
      const t0 = await port.repeat(100, ours(port, kaMac, c, { priority: 100 }));
      await sleep(1000);
      await port.stop();
      expect(ka.stateSince(m)).toBeNull();
      expect(ka.vipsPresent()).toEqual(c.vips);
      expect(port.adverts(kaMac, t0).length).toBeGreaterThanOrEqual(5);
      const seen = ka.lines.slice(m).find((l) => /lower priority 100/.test(l));
      report(`lower priority: keepalived logged "${seen?.replace(/^.*?: /, "") ?? "(nothing)"}"`);
      expect(seen).toBeDefined();
    });

    it("a higher priority of ours (200) makes it BACKUP: it stops advertising and releases the addresses", async () => {
      const m = ka.mark();
      await port.repeat(100, ours(port, kaMac, c));
      await ka.waitState("BACKUP", 3000, m);
      await until("addresses released", () => ka.vipsPresent().length === 0, 3000);
      const t = await port.now();
      await sleep(600);
      expect(port.adverts(kaMac, t + 20_000)).toEqual([]);
    });

    it("when our adverts stop, it takes MASTER back after Master_Down_Interval (3 × 0.1 s + skew)", async () => {
      const m = ka.mark();
      const last = await port.stop();
      const first = await until("keepalived's first advert", () => port.adverts(kaMac, last)[0], 5000);
      await ka.waitState("MASTER", 3000, m);
      const took = first.t - last;
      const expected = masterDownIntervalUs(3, 150, 10);
      report(`takeover after our last advert: ${(took / 1000).toFixed(1)} ms (Master_Down_Interval ${expected / 1000} ms)`);
      expect(took).toBeGreaterThan(3 * 100_000 - 20_000);
      expect(took).toBeLessThan(3_000_000);
    });

    it("priority 0 from the master we play: it takes over after Skew_Time, not Master_Down_Interval", async () => {
      let m = ka.mark();
      await port.repeat(100, ours(port, kaMac, c));
      await ka.waitState("BACKUP", 3000, m);
      await port.stop();
      m = ka.mark();
      const t0 = await port.send(ours(port, kaMac, c, { priority: 0 }));
      const first = await until("keepalived's first advert", () => port.adverts(kaMac, t0)[0], 3000);
      await ka.waitState("MASTER", 3000, m);
      const took = first.t - t0;
      report(`takeover after our priority 0: ${(took / 1000).toFixed(1)} ms (Skew_Time ${skewTimeUs(3, 150, 10) / 1000} ms)`);
      expect(took).toBeLessThan(masterDownIntervalUs(3, 150, 10) - 100_000);
    });

    const refused: [string, (p: Port) => Uint8Array, string, RegExp][] = [
      ["a wrong checksum", (p) => {
        const f = ours(p, kaMac, c);
        f[14 + 20 + 7] ^= 0x01;
        return f;
      }, "bad_checksum", /checksum/i],
      ["TTL 254", (p) => ours(p, kaMac, c, {}, { ttl: 254 }), "bad_ttl", /ttl/i],
      ["one address missing", (p) => ours(p, kaMac, c, { addresses: [c.vips[0]] }), "addr_mismatch", /ip number count|count/i],
      ["another address", (p) => ours(p, kaMac, c, { addresses: [c.vips[0], "198.18.100.9"] }), "addr_mismatch", /not present|address/i],
    ];
    for (const [what, build, reason, logRe] of refused) {
      it(`priority 200 with ${what}: keepalived ignores it and stays MASTER; we refuse it as ${reason}`, async () => {
        const frame = build(port);
        const d = decodeFrame(frame);
        const verdict = d.ok ? ourInstanceLike(c).receive(d.advert, d.src) : d.reason;
        expect(verdict).toBe(reason);
        const m = ka.mark();
        await port.repeat(100, frame);
        await sleep(1200);
        await port.stop();
        expect(ka.stateSince(m)).toBeNull();
        expect(ka.vipsPresent()).toEqual(c.vips);
        const why = ka.lines.slice(m).find((l) => logRe.test(l));
        report(`${what}: keepalived logged "${why?.replace(/^.*?: /, "") ?? "(nothing)"}"`);
        expect(why).toBeDefined();
      });
    }

    it("stopped with SIGTERM it sends priority 0", async () => {
      const t = await port.now();
      await ka.stop();
      const last = await until("priority 0", () => port.adverts(kaMac, t).find((a) => a.d.ok && a.d.advert.priority === 0), 3000);
      expect(last.d).toMatchObject({ ok: true, advert: { vrid: 51, priority: 0, intervalCs: 10 } });
    });
  });

  describe("our state machine against keepalived, in real time (v3, 0.1 s)", () => {
    const c: KaConf = { name: "VI_M", vrid: 54, priority: 150, version: 3, advertInt: "0.1", vips: ["198.18.100.5"] };
    let ka: Keepalived;

    /** A Machine on the system clock, its adverts and announcements sent through the port, keepalived's adverts fed to it. */
    function weir(priority: number) {
      const transitions: Transition[] = [];
      const owned = new Set<string>();
      const refused: string[] = [];
      let priorityZeroAt = 0;
      const m = new Machine({ name: "weir", interface: "eth0", vrid: c.vrid, priority, intervalCs: 10, addresses: c.vips, primary: PEER }, systemScheduler(), (a) => {
        if (a.kind === "transition") transitions.push(a.transition);
        else if (a.kind === "own") a.addresses.forEach((x) => owned.add(x));
        else if (a.kind === "release") a.addresses.forEach((x) => owned.delete(x));
        else if (a.kind === "announce") void port.send(...a.addresses.flatMap((x) => Array.from({ length: a.repeat }, () => buildAnnouncement(port.mac, x))));
        else void port.send(...a.to.map((to) => buildFrame(a.advert, { srcMac: port.mac, src: PEER, dst: to })));
      });
      const unlisten = port.listen((s) => {
        if (macText(s.frame.subarray(6, 12)) !== kaMac || be16(s.frame, 12) !== 0x0800 || s.frame[23] !== 112) return;
        const d = decodeFrame(s.frame);
        if (!d.ok) return void refused.push(d.reason);
        if (d.advert.priority === 0) priorityZeroAt = systemScheduler().now();
        const why = m.receive(d.advert, d.src);
        if (why) refused.push(why);
      });
      return {
        m, transitions, owned, refused, priorityZeroAt: () => priorityZeroAt,
        stop() {
          m.shutdown();
          unlisten();
        },
      };
    }

    beforeAll(async () => {
      ka = start(c);
      await ka.waitState("MASTER", 10000);
    });

    it("ours at 200 preempts keepalived (150), which goes BACKUP; ours stopping hands MASTER back within Skew_Time", async () => {
      const m0 = ka.mark();
      const w = weir(200);
      w.m.start();
      await until("ours MASTER", () => w.m.state === "MASTER", 3000);
      await ka.waitState("BACKUP", 3000, m0);
      await until("keepalived released the address", () => ka.vipsPresent().length === 0, 3000);
      expect(w.transitions.map((t) => `${t.to}:${t.reason}`)).toEqual(["BACKUP:startup", "MASTER:preempt"]);
      const tookUs = w.transitions[1].at - w.transitions[0].at;
      report(`ours (200) preempted keepalived after ${(tookUs / 1000).toFixed(1)} ms (its Master_Down_Interval ${masterDownIntervalUs(3, 200, 10) / 1000} ms)`);
      expect(tookUs).toBeGreaterThanOrEqual(masterDownIntervalUs(3, 200, 10));
      expect([...w.owned]).toEqual(c.vips);
      await sleep(500);
      expect(w.m.state).toBe("MASTER");
      expect(ka.stateSince(m0)).toBe("BACKUP");
      const m1 = ka.mark();
      const t = await port.now();
      w.stop();
      expect(w.owned.size).toBe(0);
      const first = await until("keepalived's advert", () => port.adverts(kaMac, t).find((a) => a.d.ok && a.d.advert.priority === 150), 3000);
      await ka.waitState("MASTER", 3000, m1);
      report(`ours stopped (priority 0): keepalived advertised as master ${((first.t - t) / 1000).toFixed(1)} ms later (Skew_Time ${skewTimeUs(3, 150, 10) / 1000} ms)`);
      expect(first.t - t).toBeLessThan(masterDownIntervalUs(3, 150, 10) - 100_000);
      expect(w.refused).toEqual([]);
    });

    it("ours at 100 stays BACKUP behind keepalived (150), learns its interval, and takes over when it stops (priority 0)", async () => {
      const m0 = ka.mark();
      const w = weir(100);
      w.m.start();
      await sleep(1000);
      expect(w.m.status()).toMatchObject({ state: "BACKUP", master: KA, masterPriority: 150, masterAdverCs: 10 });
      expect(ka.stateSince(m0)).toBeNull();
      await ka.stop();
      await until("ours MASTER", () => w.m.state === "MASTER", 3000);
      const t = w.transitions.at(-1)!;
      expect(t).toMatchObject({ to: "MASTER", reason: "priority_zero", detail: `${KA} sent priority 0` });
      const after = t.at - w.priorityZeroAt();
      report(`keepalived stopped: ours became master ${(after / 1000).toFixed(1)} ms after its priority 0 (Skew_Time ${skewTimeUs(3, 100, 10) / 1000} ms)`);
      expect(after).toBeGreaterThanOrEqual(skewTimeUs(3, 100, 10));
      expect(after).toBeLessThan(masterDownIntervalUs(3, 100, 10));
      expect([...w.owned]).toEqual(c.vips);
      w.stop();
      expect(w.refused).toEqual([]);
    });
  });

  describe("version 2, multicast, advert_int 1", () => {
    const c: KaConf = { name: "VI_2", vrid: 52, priority: 120, version: 2, advertInt: "1", vips: ["198.18.100.3"] };
    let ka: Keepalived;

    beforeAll(async () => {
      ka = start(c);
      await ka.waitState("MASTER", 15000);
    });

    it("its adverts decode (auth none, whole seconds) and rebuild byte for byte", async () => {
      await until("2 adverts", () => port.adverts(kaMac).filter((a) => a.d.ok && a.d.advert.version === 2).length >= 2, 5000);
      for (const { frame, d } of port.adverts(kaMac).filter((a) => a.d.ok && a.d.advert.version === 2)) {
        expect(d).toMatchObject({ ok: true, advert: { version: 2, vrid: 52, priority: 120, intervalCs: 100, addresses: c.vips }, ttl: 255 });
        expect(frame.length).toBe(14 + 20 + 20);
        if (d.ok) expect(hex(buildFrame(d.advert, { srcMac: kaMac, src: KA, id: be16(frame, 18) }))).toBe(hex(frame));
      }
    });

    it("an advert interval of 2 s (ours 1 s) is ignored by keepalived and refused by us (interval_mismatch)", async () => {
      const frame = ours(port, kaMac, c, { intervalCs: 200 });
      const d = decodeFrame(frame);
      expect(d.ok && ourInstanceLike(c).receive(d.advert, d.src)).toBe("interval_mismatch");
      const m = ka.mark();
      await port.repeat(1000, frame);
      await sleep(2500);
      await port.stop();
      expect(ka.stateSince(m)).toBeNull();
      expect(ka.vipsPresent()).toEqual(c.vips);
      expect(ka.logged(/interval/i, m)).toBe(true);
    });

    it("ours at priority 200 make it BACKUP; silence gives MASTER back after 3 s + skew", async () => {
      let m = ka.mark();
      await port.repeat(1000, ours(port, kaMac, c));
      await ka.waitState("BACKUP", 5000, m);
      await sleep(500);
      m = ka.mark();
      const last = await port.stop();
      const first = await until("keepalived's first advert", () => port.adverts(kaMac, last)[0], 8000);
      await ka.waitState("MASTER", 3000, m);
      const took = first.t - last;
      report(`v2 takeover after our last advert: ${(took / 1000).toFixed(0)} ms (Master_Down_Interval ${masterDownIntervalUs(2, 120, 100) / 1000} ms)`);
      expect(took).toBeGreaterThan(3_000_000 - 50_000);
      await ka.stop();
    });
  });

  describe("version 3, unicast peers, advert_int 0.1", () => {
    const c: KaConf = { name: "VI_U", vrid: 53, priority: 150, version: 3, advertInt: "0.1", vips: ["198.18.100.4"], unicast: true };
    let ka: Keepalived;

    beforeAll(async () => {
      ka = start(c);
      await ka.waitState("MASTER", 10000);
    });

    it("its adverts come to our address and MAC, the checksum over the unicast pseudo-header", async () => {
      await until("5 adverts", () => port.adverts(kaMac).filter((a) => a.d.ok && a.d.advert.vrid === 53).length >= 5, 5000);
      for (const { frame, d } of port.adverts(kaMac).filter((a) => a.d.ok && a.d.advert.vrid === 53)) {
        expect(d).toMatchObject({ ok: true, advert: { version: 3, vrid: 53, priority: 150, intervalCs: 10, addresses: c.vips }, src: KA, dst: PEER, multicast: false });
        expect(macText(frame.subarray(0, 6))).toBe(port.mac);
        if (d.ok) expect(hex(buildFrame(d.advert, { srcMac: kaMac, dstMac: port.mac, src: KA, dst: PEER, id: be16(frame, 18) }))).toBe(hex(frame));
      }
    });

    it("TTL 254 over unicast: keepalived takes it (no TTL check on unicast peers by default); we refuse it unless told", async () => {
      const f = ours(port, kaMac, c, {}, { unicast: true, ttl: 254 });
      expect(decodeFrame(f)).toMatchObject({ ok: false, reason: "bad_ttl" });
      expect(decodeFrame(f, { checkTtl: false }).ok).toBe(true);
      const m = ka.mark();
      await port.repeat(100, f);
      await ka.waitState("BACKUP", 3000, m);
      await port.stop();
      report("unicast TTL 254: keepalived took it (went BACKUP)");
      await until("MASTER again", () => ka.stateSince() === "MASTER" && ka.vipsPresent().length === 1, 5000);
    });

    it("ours at priority 200, unicast to it, make it BACKUP; silence gives MASTER back", async () => {
      let m = ka.mark();
      await port.repeat(100, ours(port, kaMac, c, {}, { unicast: true }));
      await ka.waitState("BACKUP", 3000, m);
      await until("address released", () => ka.vipsPresent().length === 0, 3000);
      m = ka.mark();
      const last = await port.stop();
      const first = await until("keepalived's first advert", () => port.adverts(kaMac, last)[0], 5000);
      await ka.waitState("MASTER", 3000, m);
      report(`unicast takeover after our last advert: ${((first.t - last) / 1000).toFixed(1)} ms`);
    });

    it("a wrong checksum over unicast is ignored", async () => {
      const f = ours(port, kaMac, c, {}, { unicast: true });
      f[14 + 20 + 7] ^= 0x01;
      expect(decodeFrame(f)).toMatchObject({ ok: false, reason: "bad_checksum" });
      const m = ka.mark();
      await port.repeat(100, f);
      await sleep(1000);
      await port.stop();
      expect(ka.stateSince(m)).toBeNull();
      expect(ka.vipsPresent()).toEqual(c.vips);
      expect(ka.logged(/Invalid VRRPv3 checksum/, m)).toBe(true);
    });

    it("the pre-1.3.7 unicast checksum (the group in the pseudo-header): keepalived takes it and switches to it; we do only with legacyUnicastChecksum", async () => {
      const rfc = ours(port, kaMac, c, {}, { unicast: true });
      const group = buildFrame({ version: 3, family: 4, vrid: 53, priority: 200, intervalCs: 10, addresses: c.vips }, { srcMac: port.mac, src: PEER });
      const f = Uint8Array.from(rfc);
      f.set(group.subarray(14 + 20 + 6, 14 + 20 + 8), 14 + 20 + 6);
      expect(decodeFrame(f)).toMatchObject({ ok: false, reason: "bad_checksum" });
      expect(decodeFrame(f, { legacyUnicastChecksum: true })).toMatchObject({ ok: true, legacyChecksum: true });
      let m = ka.mark();
      await port.repeat(100, f);
      await ka.waitState("BACKUP", 3000, m);
      const switched = ka.lines.slice(m).find((l) => /old version|checksum/i.test(l));
      report(`unicast, the group's checksum: keepalived went BACKUP and logged "${switched?.replace(/^.*?: /, "") ?? "(nothing)"}"`);
      expect(switched).toMatch(/old/i);
      m = ka.mark();
      const last = await port.stop();
      const first = await until("keepalived's first advert", () => port.adverts(kaMac, last)[0], 5000);
      await ka.waitState("MASTER", 3000, m);
      // Its own adverts keep the RFC's checksum…
      expect(first.d).toMatchObject({ ok: true, advert: { vrid: 53, priority: 150 } });
      // …but from now on it checks ours against the group: RFC-checksummed unicast adverts are refused
      // until it restarts (keepalived's `old_unicast_checksum never` prevents the switch).
      m = ka.mark();
      await port.repeat(100, rfc);
      await sleep(1000);
      await port.stop();
      expect(ka.stateSince(m)).toBeNull();
      expect(ka.logged(/Invalid VRRPv3 checksum/, m)).toBe(true);
      report("after the switch keepalived refuses RFC unicast checksums (Invalid VRRPv3 checksum) and still sends them");
      await ka.stop();
    });
  });
});
