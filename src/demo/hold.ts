// What a director failover is measured with, run by the client agent:
//
// - held connections: N long-lived TCP connections to a virtual service,
//   each sending a small HTTP/1.1 POST (a fresh random body) every
//   intervalMs over the same connection and checking the echoed body byte
//   for byte (the real servers' HTTP server, servers.ts, keeps connections
//   30 s between requests). A connection is lost when it is reset or closed,
//   when a reply is wrong, or when a request stays unanswered past stallMs;
//   a lost connection is not reopened.
// - probes: one UDP socket sending a numbered datagram every everyMs to a
//   service; replies (servers.ts answers "NAME " + payload) are matched by
//   number, so "the first answered packet sent after T" is exact.
//
// Times are wall-clock milliseconds (performance.timeOrigin + now()), the
// same clock in every process on the machine, so the controller can compare
// them with the moment it killed a director.

import net from "node:net";
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";

export const wallMs = (): number => performance.timeOrigin + performance.now();

const HISTORY = 256;
const MAX_HELD = 2000;
const MAX_PROBES = 200000;

export interface HoldOptions {
  host: string;
  port: number;
  count: number;
  bodyBytes?: number;
  intervalMs?: number;
  /** A request unanswered this long loses its connection (default 10 s). */
  stallMs?: number;
  connectTimeoutMs?: number;
}

export interface HeldConnStatus {
  id: number;
  localPort: number;
  server: string | null;
  answered: number;
  lost: string | null;
  /** Longest time between two answers on this connection (after the first), ms. */
  maxGapMs: number;
}

export interface HoldStatus {
  open: number;
  lost: number;
  connected: number;
  answered: number;
  byServer: Record<string, number>;
  /** Why connections were lost, at most 10. */
  reasons: string[];
  maxGapMs: number;
  /** Given `since`: the earliest answer to a request sent at or after it, and the latest such first answer over the open connections (null: some open connection has none yet). */
  firstAfter: number | null;
  lastFirstAfter: number | null;
  /** Open connections that have no answer to a request sent after `since` yet. */
  waiting: number;
  conns?: HeldConnStatus[];
}

class HeldConn {
  sock: net.Socket | null = null;
  server: string | null = null;
  answered = 0;
  lost: string | null = null;
  connected = false;
  maxGapMs = 0;
  localPort = 0;
  private lastAnswer = 0;
  private pending: { body: Buffer; sentAt: number } | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** [sentAt, recvAt] of the last answers. */
  readonly history: [number, number][] = [];

  constructor(readonly id: number, private readonly o: Required<HoldOptions>) {}

  start(): Promise<void> {
    return new Promise((resolve) => {
      const s = net.connect({ host: this.o.host, port: this.o.port });
      this.sock = s;
      s.setNoDelay(true);
      const ct = setTimeout(() => { this.lose(`no connection within ${this.o.connectTimeoutMs} ms`); resolve(); }, this.o.connectTimeoutMs);
      s.once("connect", () => {
        clearTimeout(ct);
        this.connected = true;
        this.localPort = s.localPort ?? 0;
        this.send();
        resolve();
      });
      s.on("data", (d: Buffer) => this.onData(d));
      s.on("error", (e: NodeJS.ErrnoException) => { clearTimeout(ct); this.lose(e.code ?? e.message); resolve(); });
      s.on("close", () => { clearTimeout(ct); this.lose("closed by the peer"); resolve(); });
    });
  }

  private send(): void {
    if (this.stopped || this.lost || !this.sock) return;
    const body = randomBytes(this.o.bodyBytes);
    this.pending = { body, sentAt: wallMs() };
    this.sock.write(`POST /hold/${this.id} HTTP/1.1\r\nHost: ${this.o.host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`);
    this.sock.write(body);
    this.timer = setTimeout(() => this.lose(`stalled: no answer within ${this.o.stallMs} ms`), this.o.stallMs);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString("latin1");
      const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
      if (!/^HTTP\/1\.1 200 /.test(head) || !Number.isFinite(len)) return this.lose(`wrong reply: ${head.split("\r\n")[0].slice(0, 60)}`);
      if (this.buf.length < end + 4 + len) return;
      const body = this.buf.subarray(end + 4, end + 4 + len);
      this.buf = this.buf.subarray(end + 4 + len);
      const p = this.pending;
      if (!p) return this.lose("an answer to no request");
      if (!body.equals(p.body)) return this.lose("wrong data: the echoed body differs");
      if (this.timer) clearTimeout(this.timer);
      this.pending = null;
      const now = wallMs();
      this.server = /\r\nx-weir-server:\s*(\S+)/i.exec(head)?.[1] ?? this.server;
      if (this.lastAnswer) this.maxGapMs = Math.max(this.maxGapMs, now - this.lastAnswer);
      this.lastAnswer = now;
      this.answered++;
      this.history.push([p.sentAt, now]);
      if (this.history.length > HISTORY) this.history.shift();
      const wait = Math.max(0, this.o.intervalMs - (now - p.sentAt));
      this.timer = setTimeout(() => this.send(), wait);
    }
  }

  /** recvAt of the first answer to a request sent at or after t. */
  firstAfter(t: number): number | null {
    return this.history.find(([sent]) => sent >= t)?.[1] ?? null;
  }

  private lose(why: string): void {
    if (this.lost || this.stopped) return;
    this.lost = why;
    if (this.timer) clearTimeout(this.timer);
    this.sock?.destroy();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.sock?.destroy();
  }
}

/** A set of held connections. */
export class HeldConnections {
  private readonly conns: HeldConn[];

  constructor(o: HoldOptions) {
    const count = Math.max(1, Math.min(Math.floor(o.count), MAX_HELD));
    const full: Required<HoldOptions> = {
      host: o.host, port: o.port, count, bodyBytes: Math.max(1, Math.min(o.bodyBytes ?? 64, 65536)),
      intervalMs: Math.max(10, o.intervalMs ?? 200), stallMs: Math.max(100, o.stallMs ?? 10000), connectTimeoutMs: o.connectTimeoutMs ?? 5000,
    };
    this.conns = Array.from({ length: count }, (_, i) => new HeldConn(i, full));
  }

  /** Opens them (in small groups, so the SYNs do not all land in one instant); resolves when each has connected or failed. */
  async start(): Promise<void> {
    for (let i = 0; i < this.conns.length; i += 20) await Promise.all(this.conns.slice(i, i + 20).map((c) => c.start()));
  }

  status(since?: number, detail = false): HoldStatus {
    const st: HoldStatus = { open: 0, lost: 0, connected: 0, answered: 0, byServer: {}, reasons: [], maxGapMs: 0, firstAfter: null, lastFirstAfter: null, waiting: 0 };
    let last: number | null = null;
    for (const c of this.conns) {
      if (c.connected) st.connected++;
      st.answered += c.answered;
      if (c.lost) {
        st.lost++;
        if (st.reasons.length < 10) st.reasons.push(`conn ${c.id} (port ${c.localPort}, ${c.server ?? "?"}): ${c.lost}`);
        continue;
      }
      st.open++;
      st.maxGapMs = Math.max(st.maxGapMs, c.maxGapMs);
      if (c.server) st.byServer[c.server] = (st.byServer[c.server] ?? 0) + 1;
      if (since !== undefined) {
        const f = c.firstAfter(since);
        if (f === null) st.waiting++;
        else {
          st.firstAfter = st.firstAfter === null ? f : Math.min(st.firstAfter, f);
          last = last === null ? f : Math.max(last, f);
        }
      }
    }
    st.lastFirstAfter = st.waiting ? null : last;
    if (detail) st.conns = this.conns.map((c) => ({ id: c.id, localPort: c.localPort, server: c.server, answered: c.answered, lost: c.lost, maxGapMs: Math.round(c.maxGapMs) }));
    return st;
  }

  stop(): void {
    for (const c of this.conns) c.stop();
  }
}

export interface ProbeOptions {
  host: string;
  port: number;
  everyMs?: number;
}

export interface ProbeStatus {
  sent: number;
  answered: number;
  /** Given `since`: recvAt of the first answer to a probe sent at or after it; and the last answer to one sent before it. */
  firstAfter: number | null;
  lastBefore: number | null;
}

/** Numbered UDP datagrams at a fixed pace, answers matched by number. */
export class Prober {
  private readonly sock = dgram.createSocket("udp4");
  private readonly sentAt: number[] = [];
  private readonly recvAt: (number | undefined)[] = [];
  /** Who answered (servers.ts's NAME before the payload). */
  private readonly by: (string | undefined)[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: ProbeOptions) {
    this.sock.on("message", (m) => {
      if (m.length < 8) return;
      const seq = m.readUInt32BE(m.length - 8);
      const check = m.readUInt32BE(m.length - 4);
      if (check !== (seq ^ 0x57454952) >>> 0 || seq >= this.sentAt.length) return;
      if (this.recvAt[seq] !== undefined) return;
      this.recvAt[seq] = wallMs();
      const sp = m.indexOf(0x20);
      this.by[seq] = sp > 0 ? m.subarray(0, sp).toString() : undefined;
    });
    this.sock.on("error", () => { /* a probe that cannot go out is simply unanswered */ });
  }

  start(): void {
    const every = Math.max(1, this.o.everyMs ?? 10);
    this.timer = setInterval(() => {
      if (this.sentAt.length >= MAX_PROBES) return;
      const seq = this.sentAt.length;
      const b = Buffer.alloc(8);
      b.writeUInt32BE(seq, 0);
      b.writeUInt32BE((seq ^ 0x57454952) >>> 0, 4);
      this.sentAt.push(wallMs());
      this.sock.send(b, this.o.port, this.o.host);
    }, every);
  }

  /** from: count only answers from the server of that name (e.g. the new master's own echo). */
  status(since?: number, from?: string): ProbeStatus {
    const st: ProbeStatus = { sent: this.sentAt.length, answered: 0, firstAfter: null, lastBefore: null };
    for (let i = 0; i < this.sentAt.length; i++) {
      const r = this.recvAt[i];
      if (r === undefined || (from !== undefined && this.by[i] !== from)) continue;
      st.answered++;
      if (since === undefined) continue;
      if (this.sentAt[i] >= since) st.firstAfter = st.firstAfter === null ? r : Math.min(st.firstAfter, r);
      else st.lastBefore = st.lastBefore === null ? r : Math.max(st.lastBefore, r);
    }
    return st;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sock.close();
  }
}
