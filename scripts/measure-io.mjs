#!/usr/bin/env node
// Packet I/O measurements through `weir run` on veth (root): client ns ──
// appliance ns ── real-server ns, a NAT service, then
//   drain   the appliance is stopped (SIGSTOP), a burst of 64-byte UDP frames
//           fills its RX ring, it is resumed (SIGCONT) and the real server's
//           side times the forwarded frames by their kernel timestamps;
//   latency UDP request/response through the NAT service, one at a time;
//   tcp     one TCP stream of BYTES through the NAT service;
//   idle    CPU of `weir run` with both links attached and no traffic.
// Usage: node scripts/measure-io.mjs [--io JSON] [--frames N] [--workers N] [--rt PRIO] [--only drain,latency,tcp,idle]
// Addresses from 198.18.0.0/15, namespaces wmio<PID>{c,a,s}, every loop bounded.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WEIR = path.join(ROOT, "bin", "weir.js");
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const IO = arg("io", "{}");
const FRAMES = Number(arg("frames", "50000"));
const ONLY = arg("only", "drain,latency,tcp,idle").split(",");
/** --workers N: `weir run --workers N` (default 1: the data plane on the main thread). */
const WORKERS = arg("workers", "1");
/** --rt N: run weir's threads SCHED_FIFO at priority N (chrt), to see what scheduling delay costs. */
const RT = arg("rt", "");
/** --baseline: no weir; the appliance namespace's kernel forwards (latency only, to the real server's address). */
const BASELINE = process.argv.includes("--baseline");
const P = `wmio${process.pid}`;
const NS = { c: `${P}c`, a: `${P}a`, s: `${P}s` };
const VIP = "198.18.100.1";
const sh = (cmd, args, input) => execFileSync(cmd, args, { encoding: "utf8", timeout: 60000, input });
const ip = (...a) => sh("ip", a);
const dir = mkdtempSync(path.join(tmpdir(), "weir-mio-"));
const sock = path.join(dir, "ctl.sock");
const procs = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(ns, argv, env = {}) {
  const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  const p = { child, out: "", err: "", exited: new Promise((res) => child.on("exit", (c, s) => res(c ?? s))) };
  child.stdout.on("data", (d) => (p.out += d));
  child.stderr.on("data", (d) => (p.err += d));
  procs.push(p);
  return p;
}
async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await fn()) return; await sleep(20); }
  throw new Error(`timeout: ${what}`);
}
const ctl = (line) => { try { sh(process.execPath, [WEIR, "ctl", "--ctl", sock, "--", ...line.split(" ")]); return true; } catch { return false; } };
const native = `import * as native from ${JSON.stringify(path.join(ROOT, "native", "index.js"))};`;

// 64-byte UDP frames client → VIP:5300 from distinct source ports, through a TX ring.
const BLAST = `${native}
const [dmac, n] = [process.argv[2].split(":").map((h) => parseInt(h, 16)), +process.argv[3]]; const FLOWS = +(process.argv[4] ?? 64);
const tx = native.openTx("eth0", { frameSize: 2048, frameCount: 4096 });
const g = native.mapSeparate(tx); const mem = new Uint8Array(g.buffer); const dv = new DataView(g.buffer);
const smac = native.linkInfo("eth0").mac.split(":").map((h) => parseInt(h, 16));
function frame(i) { const f = new Uint8Array(60); f.set(dmac, 0); f.set(smac, 6); f[12] = 8; f[14] = 0x45; f[17] = 46; f[22] = 64; f[23] = 17;
  f.set([198, 18, 0, 10], 26); f.set([198, 18, 100, 1], 30); let s = 0; for (let k = 14; k < 34; k += 2) s += (f[k] << 8) | f[k + 1]; while (s > 0xffff) s = (s & 0xffff) + (s >>> 16); s = ~s & 0xffff; f[24] = s >> 8; f[25] = s & 0xff;
  const sp = 10000 + (i % FLOWS); f[34] = sp >> 8; f[35] = sp & 0xff; f[36] = 0x14; f[37] = 0xb4; f[39] = 26; return f; }
let sent = 0, slot = 0; const t0 = Date.now();
while (sent < n && Date.now() - t0 < 20000) { let q = 0;
  while (q < 256 && sent < n) { const b = slot * 2048; if (dv.getUint32(b, true) !== 0) break; mem.set(frame(sent), b + 32); dv.setUint32(b + 4, 60, true); dv.setUint32(b, 1, true); slot = (slot + 1) % 4096; sent++; q++; }
  native.kickTx(tx); }
console.log(JSON.stringify({ sent, ms: Date.now() - t0 }));`;

// Counts UDP frames to port 5300 arriving on eth0 (V2 ring), first/last kernel timestamps.
const SINK = `${native}
const rx = native.openRx("eth0", { version: 2, blockSize: 1 << 22, blockCount: 32, frameSize: 2048 });
const g = native.mapSeparate(rx); const dv = new DataView(g.buffer); const want = +process.argv[2];
let got = 0, first = 0, last = 0, slot = 0, idleSince = Date.now(); const n = g.frameCount; console.log("ready");
while (got < want && Date.now() - idleSince < 3000) { native.poll([rx], 100);
  for (;;) { const b = slot * 2048; const st = dv.getUint32(b, true); if (!(st & 1)) break; const mac = dv.getUint16(b + 12, true);
    if (dv.getUint8(b + mac + 23) === 17 && dv.getUint16(b + mac + 36) === 5300) { const t = dv.getUint32(b + 16, true) * 1e3 + dv.getUint32(b + 20, true) / 1e6; if (!got) first = t; last = t; got++; idleSince = Date.now(); }
    dv.setUint32(b, 0, true); slot = (slot + 1) % n; } }
console.log(JSON.stringify({ got, ms: last - first, drops: native.stats(rx).drops }));`;

const ECHO = `import dgram from "node:dgram"; const s = dgram.createSocket("udp4"); s.on("message", (m, r) => s.send(m, r.port, r.address)); s.bind(7007, () => console.log("ready")); setTimeout(() => process.exit(0), 120000).unref();`;
const PING = `import dgram from "node:dgram"; const s = dgram.createSocket("udp4"); const n = +process.argv[2]; const rtt = []; let t = 0, i = 0;
const next = () => { if (i >= n) { rtt.sort((a, b) => a - b); const q = (p) => rtt[Math.min(rtt.length - 1, Math.floor(p * rtt.length))].toFixed(1);
  console.log(JSON.stringify({ n: rtt.length, p50us: q(0.5), p90us: q(0.9), p99us: q(0.99) })); process.exit(0); } i++; t = process.hrtime.bigint(); s.send(Buffer.alloc(32), 7007, process.argv[3]); };
s.on("message", () => { rtt.push(Number(process.hrtime.bigint() - t) / 1000); setTimeout(next, 1); }); setTimeout(() => { console.log(JSON.stringify({ error: "timeout", n: rtt.length })); process.exit(1); }, 60000); s.bind(() => next());`;
const TCPSRV = `import net from "node:net"; net.createServer((s) => { let n = 0; s.on("data", (d) => (n += d.length)); s.on("end", () => s.end(String(n))); s.on("error", () => {}); }).listen(8080, () => console.log("ready"));`;
const TCPCLI = `import net from "node:net"; const total = +process.argv[2]; const buf = Buffer.alloc(1 << 20, 7); let sent = 0; const t0 = process.hrtime.bigint();
const s = net.connect(80, "${VIP}", () => { const w = () => { while (sent < total) { sent += buf.length; if (!s.write(buf)) return s.once("drain", w); } s.end(); }; w(); });
let r = ""; s.on("data", (d) => (r += d)); s.on("end", () => { const ms = Number(process.hrtime.bigint() - t0) / 1e6; console.log(JSON.stringify({ bytes: +r, ms, gbps: (+r * 8 / ms / 1e6).toFixed(2) })); process.exit(0); });`;
for (const [f, t] of Object.entries({ blast: BLAST, sink: SINK, echo: ECHO, ping: PING, tcpsrv: TCPSRV, tcpcli: TCPCLI })) writeFileSync(path.join(dir, `${f}.mjs`), t);

async function main() {
  for (const n of Object.values(NS)) { ip("netns", "add", n); ip("-n", n, "link", "set", "lo", "up"); }
  ip("-n", NS.a, "link", "add", "veth-c", "type", "veth", "peer", "name", "eth0", "netns", NS.c);
  ip("-n", NS.a, "link", "add", "veth-s", "type", "veth", "peer", "name", "eth0", "netns", NS.s);
  for (const [ns, a, r] of [[NS.c, "198.18.0.10/24", ["198.18.100.0/24", "via", "198.18.0.1"]], [NS.s, "198.19.0.11/24", ["default", "via", "198.19.0.1"]]]) {
    ip("-n", ns, "addr", "add", a, "dev", "eth0"); ip("-n", ns, "link", "set", "eth0", "up"); ip("-n", ns, "route", "add", ...r);
  }
  if (BASELINE) {
    ip("-n", NS.a, "addr", "add", "198.18.0.1/24", "dev", "veth-c");
    ip("-n", NS.a, "addr", "add", "198.19.0.1/24", "dev", "veth-s");
    for (const d of ["veth-c", "veth-s"]) ip("-n", NS.a, "link", "set", d, "up");
    ip("-n", NS.c, "route", "add", "198.19.0.0/24", "via", "198.18.0.1");
    sh("ip", ["netns", "exec", NS.a, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    const e = start(NS.s, [process.execPath, path.join(dir, "echo.mjs")]); await until("echo", () => e.out.includes("ready"));
    const p = start(NS.c, [process.execPath, path.join(dir, "ping.mjs"), "2000", "198.19.0.11"]); await Promise.race([p.exited, sleep(70000)]);
    console.log(JSON.stringify({ baseline: "kernel forwarding", latency: JSON.parse(p.out.trim()) }));
    return;
  }
  const weir = start(NS.a, [process.execPath, WEIR, "run", "--ctl", sock, "--workers", WORKERS], { WEIR_IO_OPTIONS: IO });
  await until("weir run", () => ctl("ip link show"));
  if (RT) sh("chrt", ["-f", "-a", "-p", RT, String(weir.child.pid)]);
  for (const l of ["ip link set veth-c up", "ip link set veth-s up", "ip addr add 198.18.0.1/24 dev veth-c", `ip addr add ${VIP}/32 dev veth-c`,
    "ip addr add 198.19.0.1/24 dev veth-s", `ipvsadm -A -u ${VIP}:5300 -s rr`, `ipvsadm -a -u ${VIP}:5300 -r 198.19.0.11:5300 -m`,
    `ipvsadm -A -u ${VIP}:7007 -s rr`, `ipvsadm -a -u ${VIP}:7007 -r 198.19.0.11:7007 -m`,
    `ipvsadm -A -t ${VIP}:80 -s rr`, `ipvsadm -a -t ${VIP}:80 -r 198.19.0.11:8080 -m`]) if (!ctl(l)) throw new Error(`ctl failed: ${l}\n${weir.err}`);
  sh("ip", ["netns", "exec", NS.c, "ping", "-c", "1", "-W", "2", VIP]);
  sh("ip", ["netns", "exec", NS.s, "ping", "-c", "1", "-W", "2", "198.19.0.1"]);
  const vmac = ip("-n", NS.a, "-br", "link", "show", "veth-c").split(/\s+/)[2];
  const out = { io: JSON.parse(IO) };
  const pid = weir.child.pid;

  if (ONLY.includes("drain")) {
    // Warm the data plane's neighbour entry for the real server.
    const warm = start(NS.c, [process.execPath, path.join(dir, "blast.mjs"), vmac, "10"]); await warm.exited; await sleep(200);
    // The real server's stack stays out of it (an AF_PACKET tap sees frames before this drop), as a sink would.
    sh("ip", ["netns", "exec", NS.s, "nft", "-f", "-"], `table netdev wmio {\n chain rx {\n type filter hook ingress device "eth0" priority 0;\n udp dport 5300 drop\n }\n}\n`);
    const sink = start(NS.s, [process.execPath, path.join(dir, "sink.mjs"), String(FRAMES)]);
    await until("sink", () => sink.out.includes("ready"));
    process.kill(pid, "SIGSTOP");
    const b = start(NS.c, [process.execPath, path.join(dir, "blast.mjs"), vmac, String(FRAMES)]);
    await b.exited; await sleep(200);
    process.kill(pid, "SIGCONT");
    await Promise.race([sink.exited, sleep(30000)]);
    const r = JSON.parse(sink.out.trim().split("\n").pop());
    out.drain = { offered: FRAMES, forwarded: r.got, ms: +r.ms.toFixed(2), mpps: +(r.got / r.ms / 1000).toFixed(3), blaster: JSON.parse(b.out.trim()) };
  }
  if (ONLY.includes("latency")) {
    const e = start(NS.s, [process.execPath, path.join(dir, "echo.mjs")]); await until("echo", () => e.out.includes("ready"));
    const p = start(NS.c, [process.execPath, path.join(dir, "ping.mjs"), "2000", BASELINE ? "198.19.0.11" : VIP]); await Promise.race([p.exited, sleep(70000)]);
    out.latency = JSON.parse(p.out.trim());
  }
  if (ONLY.includes("tcp")) {
    const s = start(NS.s, [process.execPath, path.join(dir, "tcpsrv.mjs")]); await until("tcp server", () => s.out.includes("ready"));
    const c = start(NS.c, [process.execPath, path.join(dir, "tcpcli.mjs"), String(1 << 30)]); await Promise.race([c.exited, sleep(60000)]);
    out.tcp = JSON.parse(c.out.trim());
  }
  if (ONLY.includes("idle")) {
    await sleep(1000);
    const ticks = () => { const f = sh("cat", [`/proc/${pid}/stat`]).split(") ")[1].split(" "); return +f[11] + +f[12]; };
    const t0 = ticks(); await sleep(10000); const t1 = ticks();
    out.idle = { cpuPercent: +(((t1 - t0) / 100) / 10 * 100).toFixed(2), seconds: 10 };
  }
  out.weirStats = sh(process.execPath, [WEIR, "ctl", "--ctl", sock, "--", "ipvsadm", "-L", "-n", "--stats"]).trim().split("\n").slice(3).join(" | ");
  weir.child.kill("SIGTERM");
  out.exit = await Promise.race([weir.exited, sleep(10000).then(() => "timeout")]);
  console.log(JSON.stringify(out, null, 1));
}

try {
  await main();
} finally {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) { try { p.child.kill("SIGCONT"); p.child.kill("SIGKILL"); } catch { /* gone */ } }
  await sleep(200);
  for (const n of Object.values(NS)) { try { ip("netns", "del", n); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
}
