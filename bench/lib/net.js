// Shared pieces of the network benchmarks (B3–B6, B9, SCALE): the namespace
// topology of src/demo/topology.ts with `weir run` (src/demo/appliance.ts),
// the C tools of bench/ref (pkt, paced), nginx / HAProxy / nftables
// configurations, wrk runs and their parsing. Every process is started in a
// namespace of the lab, tracked by PID and ended by PID; Lab.destroy()
// (also run on exit) ends them and deletes the namespaces.
//
// Addresses: 198.18.0.0/15 only (TESTING.md) — client 198.18.0.10 (c0) and
// 198.19.0.10 (c1, the server segment), appliance 198.18.0.1 / 198.19.0.1,
// real servers 198.19.0.11…, VIPs 198.18.100.1 (NAT) and 198.18.100.2 (DR).

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BENCH, ROOT, log, tempDir, removeDir } from "./util.js";
import { Topology, MAC, rsAddr, LB_CLIENT_ADDR, LB_SERVER_ADDR, LB_CLIENT_LINK, LB_SERVER_LINK } from "../../dist/demo/topology.js";
import { Appliance } from "../../dist/demo/appliance.js";

export { MAC, rsAddr };
export const VIP = "198.18.100.1";
export const VIP_DR = "198.18.100.2";
export const WEIR_BIN = path.join(ROOT, "bin", "weir.js");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- tools ----

const TOOLS = ["wrk", "nginx", "haproxy", "nft", "gcc", "ethtool"];
const have = (t) => ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin", "/usr/local/sbin"].some((d) => existsSync(`${d}/${t}`));

/** Runs bench/setup.sh (Debian packages) when one of the tools is missing; checks root. */
export function ensureNetTools() {
  if (process.getuid?.() !== 0) throw new Error("network benchmarks need root (namespaces, AF_PACKET)");
  if (TOOLS.every(have)) return;
  log(`missing ${TOOLS.filter((t) => !have(t)).join(" ")}: running bench/setup.sh`);
  execFileSync("bash", [path.join(BENCH, "setup.sh")], { stdio: ["ignore", "inherit", "inherit"], timeout: 600000 });
  const still = TOOLS.filter((t) => !have(t));
  if (still.length) throw new Error(`bench/setup.sh did not provide ${still.join(" ")}`);
}

/** Builds bench/ref/bin/NAME from bench/ref/NAME.c (gcc -O2) when missing or stale. */
export function buildTool(name) {
  const src = path.join(BENCH, "ref", `${name}.c`);
  const bin = path.join(BENCH, "ref", "bin", name);
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return bin;
  mkdirSync(path.dirname(bin), { recursive: true });
  execFileSync("gcc", ["-O2", "-Wall", "-o", bin, src], { stdio: "inherit" });
  return bin;
}

export function sh(argv, opts = {}) {
  return execFileSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: opts.timeoutMs ?? 30000, input: opts.input, stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 << 20 });
}

// ---- the lab ----

/**
 * A topology (client, appliance, N real servers, bridge) plus the processes
 * started in it. Kernel-side balancers (HAProxy, nft DNAT) use the appliance
 * namespace's own stack with the appliance's addresses, only while `weir
 * run` is not running there.
 */
export class Lab {
  constructor(topo, dir) {
    this.topo = topo;
    this.dir = dir;
    this.procs = new Set();
    this.weir = null;
    this.kernelLb = false;
  }

  static create({ realServers = 2, prefix } = {}) {
    const topo = Topology.create({ realServers, prefix, log: (l) => log(`  topo: ${l}`) });
    const lab = new Lab(topo, tempDir());
    const c = topo.ns.client;
    // Many short connections from one client: use the whole port range.
    topo.exec(c, ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535", "net.ipv4.tcp_tw_reuse=1"]);
    for (const n of topo.ns.rs) topo.exec(n, ["sysctl", "-q", "-w", "net.core.somaxconn=4096", "net.ipv4.tcp_max_syn_backlog=4096"]);
    return lab;
  }

  get ns() { return this.topo.ns; }

  /** Starts argv in namespace ns (tracked by PID); resolves once `readyLine` shows on stdout (or at once). */
  start(ns, argv, { label = argv[0], ready = null, timeoutMs = 15000, env } = {}) {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
    const p = { label, child, pid: child.pid, out: "", err: "" };
    if (child.pid) this.topo.track(child.pid);
    p.exited = new Promise((res) => { child.once("exit", (c, s) => res(c ?? s)); child.once("error", (e) => { p.err += e.message; res("spawn-error"); }); });
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d) => { p.out += d; if (p.out.length > 1 << 20) p.out = p.out.slice(-(1 << 19)); });
    child.stderr.on("data", (d) => { p.err = (p.err + d).slice(-16384); });
    this.procs.add(p);
    p.exited.then(() => this.procs.delete(p));
    p.stop = async (sig = "SIGTERM", graceMs = 3000) => {
      if (child.exitCode !== null || child.signalCode !== null) return p.exited;
      try { process.kill(p.pid, "SIGCONT"); process.kill(p.pid, sig); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(p.pid, "SIGKILL"); } catch { /* gone */ } }, graceMs);
      const r = await p.exited;
      clearTimeout(t);
      return r;
    };
    if (!ready) return Promise.resolve(p);
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const tick = () => {
        if (p.out.includes(ready)) return resolve(p);
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
          void p.stop("SIGKILL");
          return reject(new Error(`${label}: not ready (${child.exitCode ?? child.signalCode ?? "timeout"}): ${p.err.trim()}`));
        }
        setTimeout(tick, 20);
      };
      tick();
    });
  }

  /** Runs argv in ns to completion (bounded); returns stdout. */
  async run(ns, argv, { timeoutMs = 30000, label } = {}) {
    const p = await this.start(ns, argv, { label });
    const r = await Promise.race([p.exited, sleep(timeoutMs).then(() => "timeout")]);
    if (r === "timeout") { await p.stop("SIGKILL"); throw new Error(`${label ?? argv[0]}: took longer than ${timeoutMs} ms`); }
    if (r !== 0) throw new Error(`${label ?? argv[0]} exited ${r}: ${p.err.trim().slice(-2000)}`);
    return p.out;
  }

  exec(ns, argv, opts) { return this.topo.exec(ns, argv, opts); }

  // ---- real servers ----

  /** nginx-light on every real server (port 80, one worker, answers "rsI\n" with X-Weir-Server). */
  async startNginx(which = [...this.ns.rs.keys()]) {
    this.nginx ??= new Map();
    for (const i of which) {
      if (this.nginx.has(i)) continue;
      const d = path.join(this.dir, `nginx-rs${i + 1}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, "nginx.conf"), `worker_processes 1;
daemon off;
master_process off;
pid ${d}/nginx.pid;
error_log ${d}/error.log error;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path ${d}/body; proxy_temp_path ${d}/proxy; fastcgi_temp_path ${d}/fcgi; uwsgi_temp_path ${d}/uwsgi; scgi_temp_path ${d}/scgi;
  server {
    listen 80 reuseport backlog=4096;
    location / { add_header X-Weir-Server rs${i + 1}; return 200 "rs${i + 1}\\n"; }
  }
}
`);
      const p = await this.start(this.ns.rs[i], ["/usr/sbin/nginx", "-c", path.join(d, "nginx.conf"), "-e", path.join(d, "error.log")], { label: `nginx rs${i + 1}` });
      this.nginx.set(i, p);
    }
    // Ready once each answers directly from the client's segment address.
    for (const i of which) await this.waitHttp(rsAddr(i), 80);
  }

  async waitHttp(addr, port, ms = 10000) {
    const end = Date.now() + ms;
    for (;;) {
      try {
        return sh(["ip", "netns", "exec", this.ns.client, "curl", "-s", "-m", "1", `http://${addr}:${port}/`], { timeoutMs: 3000 });
      } catch (e) {
        if (Date.now() > end) throw new Error(`no HTTP answer from ${addr}:${port} within ${ms} ms`);
        await sleep(50);
      }
    }
  }

  // ---- weir ----

  /** Starts `weir run` in the appliance namespace with its links attached and addresses set. */
  startWeir({ env = {}, args = [] } = {}) {
    return this.startWeirEnv(env, args);
  }

  /** Like startWeir, with extra environment (e.g. WEIR_IO_OPTIONS) for `weir run`. */
  async startWeirEnv(env, args = []) {
    if (this.kernelLb) this.stopKernelLb();
    const saved = {};
    for (const [k, v] of Object.entries(env)) { saved[k] = process.env[k]; process.env[k] = v; }
    try {
      this.weir = await Appliance.start(this.topo, { args });
    } finally {
      for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    }
    await this.weirBase();
    return this.weir;
  }

  async weirBase() {
    await this.weir.ctlAll([
      `ip link set ${LB_CLIENT_LINK} up`, `ip link set ${LB_SERVER_LINK} up`,
      `ip addr add ${LB_CLIENT_ADDR}/24 dev ${LB_CLIENT_LINK}`, `ip addr add ${VIP}/32 dev ${LB_CLIENT_LINK}`,
      `ip addr add ${VIP_DR}/32 dev ${LB_CLIENT_LINK}`, `ip addr add ${LB_SERVER_ADDR}/24 dev ${LB_SERVER_LINK}`,
    ]);
  }

  ctl(line) { return this.weir.ctl(line, true); }

  /** Replaces every service by one TCP service VIP:80 over real servers [0, n) with forwarding flag (-m NAT, -g DR). */
  async weirService(n, flag = "-m", vip = flag === "-g" ? VIP_DR : VIP) {
    await this.ctl("ipvsadm -C");
    await this.ctl(`ipvsadm -A -t ${vip}:80 -s rr`);
    for (let i = 0; i < n; i++) await this.ctl(`ipvsadm -a -t ${vip}:80 -r ${rsAddr(i)}:80 ${flag}`);
    if (flag === "-g") for (let i = 0; i < n; i++) this.rsVip(i, vip);
    // First answers through the service (ARP/neighbours resolved).
    for (let i = 0; i < n + 1; i++) await this.waitHttp(vip, 80);
  }

  rsVip(i, vip) {
    this.rsVips ??= new Set();
    const k = `${i} ${vip}`;
    if (this.rsVips.has(k)) return;
    this.topo.ip(this.ns.rs[i], "addr", "add", `${vip}/32`, "dev", "lo");
    this.rsVips.add(k);
  }

  async stopWeir() {
    if (!this.weir) return;
    const w = this.weir;
    this.weir = null;
    await w.stop(8000);
  }

  /** Metrics text of the running appliance (needs --metrics 127.0.0.1:9100). */
  metrics(port = 9100) {
    return sh(["ip", "netns", "exec", this.ns.lb, "curl", "-s", "-m", "30", `http://127.0.0.1:${port}/metrics`], { timeoutMs: 40000 });
  }

  // ---- kernel balancers in the appliance namespace ----

  /** The appliance's addresses on its links in the kernel (for HAProxy / nft DNAT). */
  startKernelLb() {
    if (this.weir) throw new Error("weir run is still attached to the links");
    if (this.kernelLb) return;
    const lb = this.ns.lb, ip = (...a) => this.topo.ip(lb, ...a);
    ip("addr", "add", `${LB_CLIENT_ADDR}/24`, "dev", LB_CLIENT_LINK);
    ip("addr", "add", `${VIP}/32`, "dev", LB_CLIENT_LINK);
    ip("addr", "add", `${LB_SERVER_ADDR}/24`, "dev", LB_SERVER_LINK);
    ip("link", "set", LB_CLIENT_LINK, "up");
    ip("link", "set", LB_SERVER_LINK, "up");
    this.exec(lb, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.core.somaxconn=4096", "net.ipv4.tcp_max_syn_backlog=4096",
      "net.ipv4.ip_local_port_range=1024 65535", "net.ipv4.tcp_tw_reuse=1"]);
    this.kernelLb = true;
  }

  stopKernelLb() {
    if (!this.kernelLb) return;
    const lb = this.ns.lb;
    this.nftDnat(null);
    for (const dev of [LB_CLIENT_LINK, LB_SERVER_LINK]) {
      this.topo.ip(lb, "addr", "flush", "dev", dev);
      this.topo.ip(lb, "link", "set", dev, "down");
    }
    this.exec(lb, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]);
    // Conntrack entries of the DNAT runs would outlive them.
    try { this.exec(lb, ["conntrack", "-F"]); } catch { /* conntrack tool absent: entries expire */ }
    this.kernelLb = false;
  }

  /** HAProxy (TCP mode, roundrobin) on VIP:80 over real servers [0, n); returns its process. */
  async startHaproxy(n) {
    this.startKernelLb();
    const cfg = path.join(this.dir, `haproxy-${n}.cfg`);
    writeFileSync(cfg, `global
  maxconn 8000
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind ${VIP}:80
  default_backend be
backend be
  balance roundrobin
${Array.from({ length: n }, (_, i) => `  server rs${i + 1} ${rsAddr(i)}:80\n`).join("")}`);
    const p = await this.start(this.ns.lb, ["/usr/sbin/haproxy", "-db", "-f", cfg], { label: "haproxy" });
    try {
      await this.waitHttp(VIP, 80);
    } catch (e) {
      await p.stop();
      throw new Error(`haproxy: ${e.message}: ${p.err.trim()}`);
    }
    return p;
  }

  /** nftables DNAT (numgen inc, roundrobin) of VIP:80 to real servers [0, n); null removes it. */
  nftDnat(n) {
    const lb = this.ns.lb;
    try { this.exec(lb, ["nft", "delete", "table", "ip", "wbench"]); } catch { /* none */ }
    if (n === null) return;
    this.startKernelLb();
    const map = Array.from({ length: n }, (_, i) => `${i} : ${rsAddr(i)}`).join(", ");
    this.exec(lb, ["nft", "-f", "-"], { input: `table ip wbench {
  chain pre { type nat hook prerouting priority dstnat; ip daddr ${VIP} tcp dport 80 dnat to numgen inc mod ${n} map { ${map} }; }
  chain post { type nat hook postrouting priority srcnat; }
}
` });
  }

  // ---- load ----

  /**
   * wrk in the client namespace: `wrk -t1 -cC -dDs [--latency] [-H "Connection: close"] URL`.
   * Returns { rps, requests, errors, non2xx, latency: {p50,p90,p99} (µs, with --latency) }.
   */
  async wrk(url, { close = false, conns = 32, seconds = 5, threads = 1, script } = {}) {
    const argv = ["wrk", `-t${threads}`, `-c${conns}`, `-d${seconds}s`, "--latency", "--timeout", "2s",
      ...(close ? ["-H", "Connection: close"] : []), ...(script ? ["-s", script] : []), url];
    const out = await this.run(this.ns.client, argv, { timeoutMs: (seconds + 15) * 1000, label: "wrk" });
    return parseWrk(out);
  }

  async destroy() {
    for (const p of [...this.procs]) await p.stop("SIGTERM", 1500).catch(() => {});
    if (this.weir) await this.stopWeir().catch(() => {});
    this.topo.destroy();
    removeDir(this.dir);
  }
}

const US = { us: 1, ms: 1000, s: 1e6 };
export function parseWrk(out) {
  const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : null; };
  const lat = (p) => { const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(out); return m ? Number(m[1]) * US[m[2]] : null; };
  const err = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const r = {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) ?? 0,
    errors: err ? err.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    latency: { p50: lat(50), p90: lat(90), p99: lat(99) },
  };
  if (r.rps === null) throw new Error(`wrk output not understood:\n${out}`);
  return r;
}

/** Median of numbers (nulls left out); null when none. */
export function med(xs) {
  const v = xs.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Runs fn(lab) with a fresh lab, destroying it (processes by PID, namespaces) whatever happens. */
export async function withLab(opts, fn) {
  const lab = Lab.create(opts);
  const onSig = () => { try { lab.topo.destroy(); } catch { /* exiting */ } process.exit(130); };
  process.once("SIGINT", onSig);
  process.once("SIGTERM", onSig);
  try {
    return await fn(lab);
  } finally {
    process.off("SIGINT", onSig);
    process.off("SIGTERM", onSig);
    await lab.destroy();
  }
}
