// The first end-to-end test of packet I/O: `weir run` in a namespace of its
// own owns two veth links, a real TCP client and a real TCP server talk
// through a NAT service, a few hundred KB each way are compared byte for
// byte, then SIGTERM and nothing may be left behind.
//
//   client ns ── veth ── appliance ns (weir run: veth-c, veth-s) ── veth ── real-server ns
//   198.18.0.10/24       198.18.0.1/24 + VIP 198.18.100.1 │ 198.19.0.1/24    198.19.0.11/24
//
// Self-contained (the shared topology library lives in test/e2e/lib): the
// namespaces are named with a prefix and this process's PID, every process
// is ours and ended by PID, every wait is bounded. Links keep their default
// offloads (veth: TSO/GSO/GRO and checksum offload on), so the appliance
// sees partial checksums and GSO frames.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { requireOrFail } from "../helpers/requires.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const WEIR = path.join(ROOT, "bin", "weir.js");
const IS_ROOT = process.getuid?.() === 0;
const HAVE_TOOLS = (() => {
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
    execFileSync("nft", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const SKIP = !IS_ROOT ? "needs root (network namespaces, AF_PACKET, TAP)" : !HAVE_TOOLS ? "needs the ip and nft tools (iproute2, nftables)" : "";

const P = `wnat${process.pid}`;
const NS = { c: `${P}c`, a: `${P}a`, s: `${P}s` };
const VIP = "198.18.100.1";
const UP = 300_000, DOWN = 400_000;

function sh(cmd: string, args: string[], opts: { input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: "utf8", timeout: 10_000, input: opts.input, stdio: ["pipe", "pipe", "pipe"] });
}
const ip = (...args: string[]) => sh("ip", args);
const inNs = (ns: string, ...argv: string[]) => sh("ip", ["netns", "exec", ns, ...argv]);
const ourNetns = () => ip("netns", "list").split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(P));

// The TCP programs: deterministic payloads, SHA-256 of the upload sent back
// ahead of the download, the client checks both byte for byte.
const GEN = `const gen = (seed, n) => { const b = Buffer.alloc(n); let x = seed >>> 0; for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; } return b; };`;
const SERVER = `import net from "node:net"; import crypto from "node:crypto"; ${GEN}
const down = gen(2, ${DOWN});
const srv = net.createServer((s) => { const h = crypto.createHash("sha256"); s.on("data", (d) => h.update(d)); s.on("error", () => {});
  s.on("end", () => s.end(Buffer.concat([Buffer.from(h.digest("hex") + "\\n"), down]))); });
srv.listen(8080, "198.19.0.11", () => console.log("ready"));
setTimeout(() => process.exit(3), 120000).unref();`;
const CLIENT = `import net from "node:net"; import crypto from "node:crypto"; ${GEN}
const up = gen(1, ${UP}); const want = crypto.createHash("sha256").update(up).digest("hex");
const s = net.connect(80, "${VIP}", () => s.end(up)); const chunks = [];
s.on("data", (d) => chunks.push(d)); s.setTimeout(20000, () => { console.log(JSON.stringify({ error: "timeout" })); process.exit(1); });
s.on("error", (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
s.on("end", () => { const all = Buffer.concat(chunks); const nl = all.indexOf(10); const body = all.subarray(nl + 1);
  console.log(JSON.stringify({ upOk: all.subarray(0, nl).toString() === want, downOk: body.equals(gen(2, ${DOWN})), got: body.length })); });`;

interface Proc { child: ChildProcess; out: string; err: string; exited: Promise<number | string>; }

function start(ns: string, argv: string[]): Proc {
  const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
  const p: Proc = { child, out: "", err: "", exited: new Promise((res) => child.on("exit", (code, sig) => res(code ?? sig ?? "?"))) };
  child.stdout!.on("data", (d) => (p.out += d));
  child.stderr!.on("data", (d) => (p.err += d));
  return p;
}

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function ctl(sock: string, line: string): { ok: boolean; text: string } {
  try {
    return { ok: true, text: sh(process.execPath, [WEIR, "ctl", "--ctl", sock, "--", ...line.split(" ")]) };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    return { ok: false, text: `${x.stdout ?? ""}${x.stderr ?? ""}`.trim() };
  }
}

describe.skipIf(requireOrFail(SKIP === "", SKIP))(`NAT through weir run on veth links${SKIP ? ` (skipped: ${SKIP})` : ""}`, () => {
  const procs: Proc[] = [];
  let dir = "";
  let sock = "";
  let weir: Proc;
  let linksBefore = "";

  const flags = (s: string) => [...s.matchAll(/^\d+: (\S+?)(?:@\S+)?: <([^>]*)>.*? mtu (\d+)/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "weir-nat-"));
    sock = path.join(dir, "ctl.sock");
    writeFileSync(path.join(dir, "server.mjs"), SERVER);
    writeFileSync(path.join(dir, "client.mjs"), CLIENT);
    for (const n of Object.values(NS)) {
      ip("netns", "add", n);
      ip("-n", n, "link", "set", "lo", "up");
    }
    ip("-n", NS.a, "link", "add", "veth-c", "type", "veth", "peer", "name", "eth0", "netns", NS.c);
    ip("-n", NS.a, "link", "add", "veth-s", "type", "veth", "peer", "name", "eth0", "netns", NS.s);
    ip("-n", NS.c, "addr", "add", "198.18.0.10/24", "dev", "eth0");
    ip("-n", NS.c, "link", "set", "eth0", "up");
    ip("-n", NS.c, "route", "add", "198.18.100.0/24", "via", "198.18.0.1");
    ip("-n", NS.s, "addr", "add", "198.19.0.11/24", "dev", "eth0");
    ip("-n", NS.s, "link", "set", "eth0", "up");
    ip("-n", NS.s, "route", "add", "default", "via", "198.19.0.1");
    ip("-n", NS.a, "link", "set", "veth-s", "up"); // one link up before, one down: both must come back as they were
    linksBefore = ip("-n", NS.a, "-d", "link", "show");

    weir = start(NS.a, [process.execPath, WEIR, "run", "--ctl", sock]);
    procs.push(weir);
    await until("weir run's control socket", () => ctl(sock, "ip link show").ok, 20_000);
    const server = start(NS.s, [process.execPath, path.join(dir, "server.mjs")]);
    procs.push(server);
    await until("the real server", () => server.out.includes("ready"));
  });

  afterAll(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
      await Promise.race([p.exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    for (const n of Object.values(NS)) {
      try { ip("netns", "del", n); } catch { /* gone */ }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(ourNetns()).toEqual([]);
  });

  it("attaches the links when configured, and says so when a device is missing", () => {
    for (const line of [
      "ip link set veth-c up", "ip link set veth-s up",
      "ip addr add 198.18.0.1/24 dev veth-c", `ip addr add ${VIP}/32 dev veth-c`, "ip addr add 198.19.0.1/24 dev veth-s",
      `ipvsadm -A -t ${VIP}:80 -s rr`, `ipvsadm -a -t ${VIP}:80 -r 198.19.0.11:8080 -m`,
    ]) {
      const r = ctl(sock, line);
      expect(r, line).toMatchObject({ ok: true });
    }
    const bad = ctl(sock, "ip link set nosuch0 up");
    expect(bad.ok).toBe(false);
    expect(bad.text).toMatch(/^error: cannot bring up nosuch0: no such device/);
    // The kernel is kept off the data links, the TAP mirrors carry the addresses.
    const nft = inNs(NS.a, "nft", "list", "ruleset");
    expect(nft).toMatch(/table netdev weir_\d+/);
    expect(nft).toMatch(/hook ingress device "veth-c"[^;]*; policy drop/);
    expect(nft).toMatch(/hook ingress device "veth-s"[^;]*; policy drop/);
    const addrs = ip("-n", NS.a, "-br", "addr");
    expect(addrs).toMatch(/weir-veth-c\s+\S+\s+198\.18\.0\.1\/24 198\.18\.100\.1\/32/);
    expect(addrs).toMatch(/weir-veth-s\s+\S+\s+198\.19\.0\.1\/24/);
  });

  it("answers ARP and ping for its addresses, and the host stack reaches the real server through the mirror", () => {
    expect(inNs(NS.c, "ping", "-c", "2", "-i", "0.2", "-W", "2", VIP)).toMatch(/2 received/);
    expect(inNs(NS.s, "ping", "-c", "2", "-i", "0.2", "-W", "2", "198.19.0.1")).toMatch(/2 received/);
    expect(inNs(NS.a, "ping", "-c", "2", "-i", "0.2", "-W", "2", "198.19.0.11")).toMatch(/2 received/);
  });

  it(`carries ${UP / 1000} KB up and ${DOWN / 1000} KB down through the NAT service, byte for byte`, async () => {
    for (let round = 0; round < 3; round++) {
      const c = start(NS.c, [process.execPath, path.join(dir, "client.mjs")]);
      procs.push(c);
      const code = await Promise.race([c.exited, new Promise((r) => setTimeout(() => r("timeout"), 30_000))]);
      expect(code, c.err).toBe(0);
      expect(JSON.parse(c.out.trim().split("\n").pop()!)).toEqual({ upOk: true, downOk: true, got: DOWN });
    }
    const stats = ctl(sock, "ipvsadm -L -n --stats --exact").text;
    const m = /->\s+198\.19\.0\.11:8080\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(stats);
    expect(m, stats).not.toBeNull();
    expect(Number(m![1])).toBe(3); // connections
    expect(Number(m![4])).toBeGreaterThanOrEqual(3 * UP); // bytes in (IP datagrams)
    expect(Number(m![5])).toBeGreaterThanOrEqual(3 * DOWN);
  });

  it("restores everything on SIGTERM: no nft table, no TAP, links as they were, process gone", async () => {
    weir.child.kill("SIGTERM");
    const code = await Promise.race([weir.exited, new Promise((r) => setTimeout(() => r("timeout"), 10_000))]);
    expect(code, weir.err.slice(-2000)).toBe(0);
    expect(inNs(NS.a, "nft", "list", "tables")).not.toMatch(/weir/);
    const after = ip("-n", NS.a, "-d", "link", "show");
    expect(after).not.toMatch(/weir-|tap/);
    expect(flags(after)).toEqual(flags(linksBefore));
    expect(ip("-n", NS.a, "-br", "addr")).not.toMatch(/198\.1[89]\./);
    expect(weir.err).toMatch(/"link detached"/);
    expect(weir.err).not.toMatch(/"level":50/); // no errors logged
  });

  it("leaves no namespace behind once torn down", () => {
    for (const n of Object.values(NS)) ip("netns", "del", n);
    expect(ourNetns()).toEqual([]);
  });
});
