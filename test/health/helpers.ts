// Fixtures for the health-check tests: real servers on 127.0.0.1 that start
// and stop inside a test, a recording HealthTarget, event waits, a check
// that nothing (socket, process) was left open, and a script directory the
// script rules accept.

import net from "node:net";
import http from "node:http";
import dgram from "node:dgram";
import pino from "pino";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setRootLogger } from "../../src/log.js";
import type { HealthMonitor } from "../../src/health/monitor.js";
import type { HealthMode, HealthTarget, SorryServer, Transition } from "../../src/health/types.js";

/** Captured log lines (pino JSON, parsed). */
export const logLines: Array<Record<string, unknown>> = [];
setRootLogger(pino({ level: "info" }, { write: (s: string) => { logLines.push(JSON.parse(s)); } }));

export const LOOPBACK = "127.0.0.1";

/** A TCP server that can be stopped and restarted on the same port. */
export class TcpServer {
  port = 0;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  accepted = 0;

  async start(port = this.port): Promise<this> {
    const server = net.createServer((s) => {
      this.accepted++;
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => {});
      s.resume(); // read and discard: a peer's close is seen at once
    });
    await new Promise<void>((res, rej) => { server.once("error", rej); server.listen(port, LOOPBACK, () => res()); });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    for (const c of this.sockets) c.destroy();
    await new Promise<void>((res) => s.close(() => res()));
  }
}

/** An HTTP server answering from a route table (path → status and body). */
export async function startHttp(routes: Record<string, { status: number; body: string }>): Promise<{ port: number; hosts: string[]; close(): Promise<void> }> {
  const hosts: string[] = [];
  const server = http.createServer((req, res) => {
    hosts.push(req.headers.host ?? "");
    const r = routes[req.url ?? ""] ?? { status: 404, body: "not found\n" };
    res.writeHead(r.status, { "Content-Type": "text/plain" });
    res.end(r.body);
  });
  await new Promise<void>((res) => server.listen(0, LOOPBACK, () => res()));
  return {
    port: (server.address() as net.AddressInfo).port,
    hosts,
    close: () => new Promise<void>((res) => { server.closeAllConnections(); server.close(() => res()); }),
  };
}

/** A UDP socket on 127.0.0.1: replies with reply(msg), or stays silent when reply returns null. */
export async function startUdp(reply: (msg: Buffer) => Buffer | null): Promise<{ port: number; received: Buffer[]; from: string[]; close(): Promise<void> }> {
  const sock = dgram.createSocket("udp4");
  const received: Buffer[] = [];
  const from: string[] = [];
  sock.on("message", (msg, rinfo) => {
    received.push(msg);
    from.push(rinfo.address);
    const r = reply(msg);
    if (r) sock.send(r, rinfo.port, rinfo.address);
  });
  await new Promise<void>((res) => sock.bind(0, LOOPBACK, () => res()));
  return { port: sock.address().port, received, from, close: () => new Promise<void>((res) => sock.close(() => res())) };
}

/** A UDP port with nothing bound to it (bound, then closed). */
export async function closedUdpPort(): Promise<number> {
  const u = await startUdp(() => null);
  await u.close();
  return u.port;
}

/** A TCP port with nothing listening on it. */
export async function closedTcpPort(): Promise<number> {
  const s = await new TcpServer().start(0);
  await s.stop();
  return s.port;
}

/** Collects a monitor's transitions; next() waits for the next one matching. */
export class Transitions {
  readonly all: Transition[] = [];
  private waiters: Array<{ match: (t: Transition) => boolean; resolve: (t: Transition) => void }> = [];
  readonly off: () => void;

  constructor(monitor: HealthMonitor) {
    this.off = monitor.onTransition((t) => {
      this.all.push(t);
      this.waiters = this.waiters.filter((w) => { if (!w.match(t)) return true; w.resolve(t); return false; });
    });
  }

  next(match: (t: Transition) => boolean = () => true, timeoutMs = 5000): Promise<Transition> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching transition within ${timeoutMs} ms; saw ${JSON.stringify(this.all)}`)), timeoutMs);
      this.waiters.push({ match, resolve: (t) => { clearTimeout(timer); resolve(t); } });
    });
  }
}

export type TargetCall =
  | { call: "setDestHealth"; service: string; dest: string; up: boolean; mode: HealthMode }
  | { call: "setSorryServer"; service: string; sorry: SorryServer | null };

/** A HealthTarget that records its calls; `services` (when given) backs destKeys. */
export class FakeTarget implements HealthTarget {
  readonly calls: TargetCall[] = [];
  failSorry = false;
  destKeys?: (service: string) => string[] | undefined;
  private waiters: Array<() => void> = [];

  constructor(services?: Record<string, string[]>) {
    if (services) this.destKeys = (s) => services[s];
  }

  setDestHealth(service: string, dest: string, up: boolean, mode: HealthMode): void {
    this.push({ call: "setDestHealth", service, dest, up, mode });
  }

  async setSorryServer(service: string, sorry: SorryServer | null): Promise<void> {
    await Promise.resolve();
    if (this.failSorry) throw new Error("sorry server refused");
    this.push({ call: "setSorryServer", service, sorry });
  }

  /** Waits until `n` calls have been recorded. */
  async waitCalls(n: number, timeoutMs = 5000): Promise<TargetCall[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.calls.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.calls.length} of ${n} calls: ${JSON.stringify(this.calls)}`);
      await new Promise<void>((res) => { this.waiters.push(res); setTimeout(res, 50); });
    }
    return this.calls;
  }

  private push(c: TargetCall): void {
    this.calls.push(c);
    const w = this.waiters; this.waiters = [];
    for (const f of w) f();
  }
}

const HANDLE_KINDS = ["TCPSocketWrap", "TCPServerWrap", "UDPWrap", "ProcessWrap", "PipeWrap"];

/** Counts of the handle kinds a check could leak. */
export function handleCounts(): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(HANDLE_KINDS.map((k) => [k, 0]));
  for (const r of process.getActiveResourcesInfo()) if (r in out) out[r]++;
  return out;
}

/** Waits (bounded) until the handle counts are back to `baseline`; returns the final counts. */
export async function settledHandles(baseline: Record<string, number>, timeoutMs = 2000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = handleCounts();
    if (HANDLE_KINDS.every((k) => now[k] <= baseline[k]) || Date.now() > deadline) return now;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Splits a console line into words (double quotes group, backslash escapes inside them). */
export function words(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]);
  return out;
}

/**
 * A script directory the script rules (policy.ts) accept: made under the
 * temporary directory (root's and sticky), mode 0755 so the script user can
 * reach it. `out` beside it is writable by anyone, for what scripts report.
 */
export function scriptDir(): { base: string; dir: string; out: string; script(name: string, body: string): string; cleanup(): void } {
  const base = mkdtempSync(join(tmpdir(), "weir-scripts-"));
  chmodSync(base, 0o755);
  const dir = join(base, "scripts");
  const out = join(base, "out");
  mkdirSync(dir, { mode: 0o755 });
  mkdirSync(out);
  chmodSync(out, 0o777);
  return {
    base, dir, out,
    script(name, body) {
      const p = join(dir, name);
      writeFileSync(p, `#!/bin/sh\n${body}\n`);
      chmodSync(p, 0o755);
      return p;
    },
    cleanup() { rmSync(base, { recursive: true, force: true }); },
  };
}
