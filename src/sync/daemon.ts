// The connection-sync daemon of one director (keepalived's lvs_sync_daemon):
// it follows one VRRP instance's role. As MASTER it turns on the data plane's
// change log, sends what it takes every FLUSH_MS as ENTRIES, answers a
// BULK_REQUEST with the whole live table (BULK_BEGIN, ENTRIES…, BULK_END),
// and sends a HEARTBEAT when idle. In any other role it asks for a bulk (on
// entering the role, and after a gap or a new master epoch) and installs
// what the master sends. docs/sync-protocol.md has the protocol; wire.ts the
// codec; replay.ts the receiver's rules; frame.ts the frames.

import { randomBytes } from "node:crypto";
import { logger, type Logger } from "../log.js";
import { ENTRY_SIZE } from "./entry.js";
import { buildSyncFrame, parseSyncFrame, type SyncSource } from "./frame.js";
import { ReplayGuard, REPLAY_REJECTS } from "./replay.js";
import {
  batches, decodeMessage, DECODE_REJECTS, encodeMessage, entriesPerMessage, TYPE_BULK_BEGIN, TYPE_BULK_END,
  TYPE_BULK_REQUEST, TYPE_ENTRIES, TYPE_HEARTBEAT, TYPE_NAMES, type Message,
} from "./wire.js";

export type Role = "INIT" | "BACKUP" | "MASTER" | "FAULT";

/** One VRRP instance's state, as the daemon follows it. */
export interface RoleSource {
  state(): Role;
  /** Calls fn on every change; returns the unsubscribe. */
  subscribe(fn: (s: Role) => void): () => void;
}

/** What the daemon needs of the data plane (DataPlaneApi has these four). */
export interface ConnSyncSource {
  /** Log creations, state changes and refreshes on the packet path. */
  setConnSync(on: boolean): void;
  /** The ENTRY_SIZE-byte records logged since the last call, and how many the log had to drop. */
  takeConnChanges(): Promise<{ records: Uint8Array; lost: number }>;
  /** Every live entry (connections and templates), for a bulk. */
  exportConnections(now: number): Promise<Uint8Array>;
  installConnections(records: Uint8Array, now: number): Promise<{ installed: number; refused: number }>;
}

/** The daemon's side of a raw link (rawlink.ts's RawLink has it). */
export interface SyncLink {
  send(frame: Uint8Array): boolean;
  close(): void;
}

export interface SyncDaemonOptions {
  dev: string;
  /** The VRRP instance followed (for show and logs). */
  instance: string;
  syncId: number;
  /** 32 bytes. */
  key: Uint8Array;
  dp: ConnSyncSource;
  role: RoleSource;
  link: SyncLink;
  /** Our MAC and first IPv4 address on dev. */
  source: SyncSource;
  mtu: number;
  /** The data plane's clock (ms), for export and install. */
  now: () => number;
  /** 64 random bits (tests: fixed); default node:crypto. */
  random64?: () => bigint;
  log?: Logger;
}

/** How often the master sends what the change log holds. */
export const FLUSH_MS = 25;
/** The master's keepalive when nothing else was sent. */
export const HEARTBEAT_MS = 1000;
/** A BULK_REQUEST's first retry; doubled on each to RETRY_MAX_MS. */
export const RETRY_MIN_MS = 200;
export const RETRY_MAX_MS = 5000;
/** At most one resync started on a gap or a new epoch in this time. */
export const RESYNC_MIN_MS = 1000;
/** At most one bulk served in this time (a replayed BULK_REQUEST costs at most this much). */
export const BULK_MIN_MS = 250;
/** At most one loss-triggered full refresh in this time. */
export const REFRESH_MIN_MS = 1000;
/** At most one log line about bad MACs in this time (with the count). */
export const MAC_LOG_MS = 10_000;
/**
 * Pacing: after this many messages the sender waits PACE_MS. A backup's RX
 * ring holds ~1000 messages (link.ts), so it must fall 30 slices behind to
 * lose one; at most ~30 000 messages (570 000 entries at MTU 1500) a second.
 */
const PACE_MESSAGES = 32;
const PACE_MS = 1;
/** A frame the TX ring has no room for: tried this many times, SEND_WAIT_MS apart. */
const SEND_TRIES = 50;
const SEND_WAIT_MS = 2;

export const REJECT_REASONS = ["frame", ...DECODE_REJECTS, "own", "role", ...REPLAY_REJECTS] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];
export const MESSAGE_TYPES = Object.values(TYPE_NAMES);

export interface SyncStats {
  dev: string;
  instance: string;
  syncId: number;
  role: Role;
  /** Our epoch (hex): the master's sequence space while we are master. */
  epoch: string;
  /** The master epoch we take entries from (hex), or null. */
  boundEpoch: string | null;
  /** A resync is outstanding (our BULK_REQUEST had no BULK_END yet). */
  resyncPending: boolean;
  /** A bulk ended since the last role change. */
  synced: boolean;
  sent: Record<string, number>;
  received: Record<string, number>;
  rejected: Record<RejectReason, number>;
  entriesSent: number;
  entriesInstalled: number;
  entriesRefused: number;
  resyncsRequested: number;
  resyncsServed: number;
  /** Full refreshes the master sent because its change log dropped records. */
  refreshes: number;
  /** Records the change log dropped (full before it was taken). */
  lostLogEntries: number;
  /** Sequence numbers the receiver never saw (lost messages). */
  sequenceGaps: number;
  /** Frames the link did not send. */
  txFailures: number;
}

const zeros = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
const hex64 = (v: bigint) => v.toString(16).padStart(16, "0");
const defaultRandom64 = () => randomBytes(8).readBigUInt64BE(0);

export class SyncDaemon {
  readonly epoch: bigint;
  private seq = 0n;
  private role: Role;
  private readonly guard = new ReplayGuard();
  private readonly perMessage: number;
  private readonly log: Logger;
  private readonly random64: () => bigint;
  private readonly unsubscribe: () => void;
  private stopped = false;

  // master
  private flushTimer: ReturnType<typeof setInterval> | undefined;
  private flushing = false;
  /** The master's sends, in order (sendWaiting). */
  private txChain: Promise<unknown> = Promise.resolve();
  private lastSentAt = 0;
  private bulkRunning = false;
  private bulkQueued: bigint | null = null;
  private lastBulkAt = -Infinity;
  private bulkTimer: ReturnType<typeof setTimeout> | undefined;
  private lastRefreshAt = -Infinity;
  private refreshQueued = false;

  // backup
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryMs = RETRY_MIN_MS;
  private lastResyncAt = -Infinity;
  private synced = false;
  /** Messages were lost while the outstanding bulk ran: it is incomplete, ask again when it ends. */
  private bulkDirty = false;
  private installs: Promise<void> = Promise.resolve();

  // bad MACs, logged once per MAC_LOG_MS
  private macBad = 0;
  private macLoggedAt = -Infinity;

  private readonly s = {
    sent: zeros(MESSAGE_TYPES), received: zeros(MESSAGE_TYPES), rejected: zeros(REJECT_REASONS),
    entriesSent: 0, entriesInstalled: 0, entriesRefused: 0, resyncsRequested: 0, resyncsServed: 0,
    refreshes: 0, lostLogEntries: 0, sequenceGaps: 0, txFailures: 0,
  };

  constructor(private readonly o: SyncDaemonOptions) {
    this.random64 = o.random64 ?? defaultRandom64;
    this.epoch = this.random64();
    this.perMessage = entriesPerMessage(o.mtu);
    if (this.perMessage < 1) throw new RangeError(`sync: an MTU of ${o.mtu} holds no entry`);
    this.log = (o.log ?? logger("sync")).child({ dev: o.dev, instance: o.instance, syncId: o.syncId });
    this.role = o.role.state();
    this.log.info({ epoch: hex64(this.epoch), role: this.role }, "connection sync started");
    this.enter(this.role);
    this.unsubscribe = o.role.subscribe((r) => this.onRole(r));
  }

  /** Stops: timers, the role subscription, the change log (if we were master), and the link. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    this.leaveMaster();
    this.stopRetry();
    if (this.bulkTimer) clearTimeout(this.bulkTimer);
    try { this.o.dp.setConnSync(false); } catch { /* the data plane is going away too */ }
    this.o.link.close();
    this.log.info("connection sync stopped");
  }

  get isStopped(): boolean { return this.stopped; }

  /** Resolves when every install started so far is done (tests, show). */
  settled(): Promise<void> { return this.installs; }

  stats(): SyncStats {
    const s = this.s;
    return {
      dev: this.o.dev, instance: this.o.instance, syncId: this.o.syncId, role: this.role,
      epoch: hex64(this.epoch), boundEpoch: this.guard.epoch === null ? null : hex64(this.guard.epoch),
      resyncPending: this.guard.pending !== null, synced: this.synced,
      sent: { ...s.sent }, received: { ...s.received }, rejected: { ...s.rejected },
      entriesSent: s.entriesSent, entriesInstalled: s.entriesInstalled, entriesRefused: s.entriesRefused,
      resyncsRequested: s.resyncsRequested, resyncsServed: s.resyncsServed, refreshes: s.refreshes,
      lostLogEntries: s.lostLogEntries, sequenceGaps: s.sequenceGaps, txFailures: s.txFailures,
    };
  }

  // ---------------------------------------------------------------- roles

  private onRole(r: Role): void {
    if (this.stopped || r === this.role) return;
    const was = this.role;
    this.role = r;
    this.log.info({ from: was, to: r }, r === "MASTER" ? "sync role: sending (master)" : "sync role: receiving");
    if (was === "MASTER") this.leaveMaster();
    this.enter(r);
  }

  private enter(r: Role): void {
    this.synced = false;
    if (r === "MASTER") {
      this.stopRetry();
      this.guard.reset();
      this.o.dp.setConnSync(true);
      this.lastSentAt = Date.now();
      this.flushTimer = setInterval(() => void this.flush(), FLUSH_MS);
      this.flushTimer.unref?.();
      return;
    }
    this.o.dp.setConnSync(false);
    // Entering a receiving role from master, or at start: the whole table, not only what follows.
    if (this.guard.pending === null) this.startResync("start");
  }

  private leaveMaster(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    this.bulkQueued = null;
    this.refreshQueued = false;
  }

  private get isMaster(): boolean { return this.role === "MASTER" && !this.stopped; }

  // ---------------------------------------------------------------- sending

  /** The next message of our epoch as a frame (its sequence number taken). */
  private frameOf(type: number, entries: Uint8Array = new Uint8Array(0), nonce = 0n): Uint8Array {
    const m: Message = { type, syncId: this.o.syncId, epoch: this.epoch, seq: ++this.seq, nonce, entries };
    return buildSyncFrame(encodeMessage(m, this.o.key), this.o.source, Number(this.seq & 0xffffn));
  }

  /** One try on the link; true when the kernel took the frame. */
  private transmit(frame: Uint8Array): boolean {
    try {
      return this.o.link.send(frame);
    } catch (e) {
      this.log.warn({ err: e }, "sync frame not sent");
      return false;
    }
  }

  private sent(type: number, entries: number): void {
    this.s.sent[TYPE_NAMES[type]]++;
    this.s.entriesSent += entries;
    this.lastSentAt = Date.now();
  }

  /** Sends a control message now (one try: a lost one is retried or noticed by the protocol). */
  private send(type: number, nonce = 0n): boolean {
    if (this.transmit(this.frameOf(type, undefined, nonce))) {
      this.sent(type, 0);
      return true;
    }
    this.s.txFailures++;
    return false;
  }

  /**
   * Sends a message, waiting for room: the TX ring (16 slots) fills when a
   * bulk outruns the device, and a frame given up is a gap the backup must
   * resync for. After SEND_TRIES the frame is counted as failed.
   */
  private sendWaiting(type: number, entries: Uint8Array = new Uint8Array(0), nonce = 0n): Promise<boolean> {
    // One at a time, in the order asked: sequence numbers go on the wire in order (a bulk waiting
    // for room while the flush sent a later number would look like a gap to the backup).
    const p = this.txChain.then(() => this.sendNow(type, entries, nonce));
    this.txChain = p.catch(() => undefined);
    return p;
  }

  private async sendNow(type: number, entries: Uint8Array, nonce: bigint): Promise<boolean> {
    const frame = this.frameOf(type, entries, nonce);
    for (let i = 0; i < SEND_TRIES; i++) {
      if (this.transmit(frame)) {
        this.sent(type, entries.length / ENTRY_SIZE);
        return true;
      }
      if (this.stopped) break;
      await new Promise((r) => setTimeout(r, SEND_WAIT_MS));
    }
    this.s.txFailures++;
    return false;
  }

  /** Sends records as ENTRIES messages, paced (PACE_MESSAGES, then PACE_MS). */
  private async sendEntries(records: Uint8Array): Promise<void> {
    let n = 0;
    for (const b of batches(records, this.perMessage)) {
      if (!this.isMaster) return;
      await this.sendWaiting(TYPE_ENTRIES, b);
      if (++n % PACE_MESSAGES === 0) await new Promise((r) => setTimeout(r, PACE_MS));
    }
  }

  /** The master's tick: the change log's records, a queued refresh, or a heartbeat. */
  private async flush(): Promise<void> {
    // Not while a bulk is sent: a change logged after the bulk's export must reach the backup
    // after the export's (older) entry for the same connection, or the older one would win.
    if (!this.isMaster || this.flushing || this.bulkRunning) return;
    this.flushing = true;
    try {
      const { records, lost } = await this.o.dp.takeConnChanges();
      if (!this.isMaster) return;
      await this.sendEntries(records);
      if (lost > 0) {
        this.s.lostLogEntries += lost;
        this.refreshQueued = true;
      }
      if (this.refreshQueued && !this.bulkRunning && Date.now() - this.lastRefreshAt >= REFRESH_MIN_MS) {
        this.refreshQueued = false;
        this.lastRefreshAt = Date.now();
        this.s.refreshes++;
        this.log.warn({ lost: this.s.lostLogEntries }, "sync change log overflowed: sending the whole table again");
        await this.sendEntries(await this.o.dp.exportConnections(this.o.now()));
      }
      if (this.isMaster && Date.now() - this.lastSentAt >= HEARTBEAT_MS) await this.sendWaiting(TYPE_HEARTBEAT);
    } catch (e) {
      this.log.error({ err: e }, "sync flush failed");
    } finally {
      this.flushing = false;
    }
  }

  private onBulkRequest(nonce: bigint): void {
    if (this.bulkRunning || this.bulkTimer) {
      this.bulkQueued = nonce; // served when the running bulk ends: one more, with the latest nonce
      return;
    }
    const wait = this.lastBulkAt + BULK_MIN_MS - Date.now();
    if (wait > 0) {
      this.bulkQueued = nonce;
      this.bulkTimer = setTimeout(() => {
        this.bulkTimer = undefined;
        const q = this.bulkQueued;
        this.bulkQueued = null;
        if (q !== null && this.isMaster) void this.serveBulk(q);
      }, wait);
      this.bulkTimer.unref?.();
      return;
    }
    void this.serveBulk(nonce);
  }

  private async serveBulk(nonce: bigint): Promise<void> {
    this.bulkRunning = true;
    this.lastBulkAt = Date.now();
    try {
      // BULK_BEGIN first: changes logged after it follow in later ENTRIES, so nothing falls between.
      await this.sendWaiting(TYPE_BULK_BEGIN, undefined, nonce);
      const records = await this.o.dp.exportConnections(this.o.now());
      await this.sendEntries(records);
      if (!this.isMaster) return;
      await this.sendWaiting(TYPE_BULK_END, undefined, nonce);
      this.s.resyncsServed++;
      this.log.info({ entries: records.length / ENTRY_SIZE, nonce: hex64(nonce) }, "sync bulk served");
    } catch (e) {
      this.log.error({ err: e }, "sync bulk failed");
    } finally {
      this.bulkRunning = false;
      const q = this.bulkQueued;
      this.bulkQueued = null;
      if (q !== null && this.isMaster) this.onBulkRequest(q);
    }
  }

  // ---------------------------------------------------------------- resync (receiving side)

  /** Asks for a bulk with a fresh nonce, and retries (backing off) until its BULK_END. */
  private startResync(why: string): void {
    if (this.stopped || this.role === "MASTER") return;
    this.stopRetry();
    const nonce = this.random64();
    this.guard.request(nonce);
    this.bulkDirty = false;
    this.lastResyncAt = Date.now();
    this.retryMs = RETRY_MIN_MS;
    this.s.resyncsRequested++;
    this.log.info({ why, nonce: hex64(nonce) }, "sync: asking the master for the whole table");
    this.sendRequest();
  }

  private sendRequest(): void {
    if (this.stopped || this.role === "MASTER" || this.guard.pending === null) return;
    this.send(TYPE_BULK_REQUEST, this.guard.pending);
    this.armRetry();
  }

  private armRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
      this.sendRequest();
    }, this.retryMs);
    this.retryTimer.unref?.();
  }

  private stopRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** A gap or an unbound epoch: a new resync, unless one is outstanding or one started within RESYNC_MIN_MS. */
  private resyncSoon(why: string): void {
    if (this.guard.pending !== null) return;
    if (Date.now() - this.lastResyncAt < RESYNC_MIN_MS) {
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => { this.retryTimer = undefined; this.startResync(why); },
          this.lastResyncAt + RESYNC_MIN_MS - Date.now());
        this.retryTimer.unref?.();
      }
      return;
    }
    this.startResync(why);
  }

  // ---------------------------------------------------------------- receiving

  /** A frame the link's filter took. Never throws: every refusal is counted. */
  receive(frame: Uint8Array): void {
    if (this.stopped) return;
    try {
      this.receiveFrame(frame);
    } catch (e) {
      this.log.error({ err: e }, "sync frame handling failed");
    }
  }

  private reject(reason: RejectReason): void {
    this.s.rejected[reason]++;
  }

  private receiveFrame(frame: Uint8Array): void {
    const f = parseSyncFrame(frame);
    if (!f.ok) return this.reject("frame");
    const d = decodeMessage(f.payload, this.o.key, this.o.syncId);
    if (!d.ok) {
      if (d.reason === "mac") this.macMismatch(f.src);
      return this.reject(d.reason);
    }
    const m = d.msg;
    if (m.epoch === this.epoch) return this.reject("own");
    if (m.type === TYPE_BULK_REQUEST) {
      if (!this.isMaster) return this.reject("role");
      this.s.received.bulk_request++;
      this.onBulkRequest(m.nonce);
      return;
    }
    if (this.role === "MASTER") return this.reject("role");
    const v = this.guard.check(m);
    if (!v.ok) {
      this.reject(v.reason);
      if (v.resync) this.resyncSoon("a master epoch we are not bound to");
      return;
    }
    this.s.received[TYPE_NAMES[m.type]]++;
    if (v.gap > 0n) {
      this.s.sequenceGaps += Number(v.gap);
      if (this.guard.pending !== null) this.bulkDirty = true;
      else this.resyncSoon("lost messages");
    }
    if (v.bound) {
      this.log.info({ epoch: hex64(m.epoch) }, "sync: bound to the master's epoch, bulk begins");
      this.retryMs = RETRY_MIN_MS;
    }
    if (this.guard.pending !== null && this.retryTimer) this.armRetry(); // the bulk makes progress: no retry yet
    if (v.synced) {
      this.stopRetry();
      if (this.bulkDirty) {
        this.bulkDirty = false;
        this.log.warn("sync: messages lost during the bulk, asking again");
        this.resyncSoon("lost messages during the bulk");
      } else {
        this.synced = true;
        this.log.info("sync: bulk complete, in sync with the master");
      }
    }
    if (v.install && m.entries.length > 0) this.install(m.entries);
  }

  private install(records: Uint8Array): void {
    // In order, one after another: a later change must land after an earlier one.
    this.installs = this.installs.then(async () => {
      try {
        const r = await this.o.dp.installConnections(records, this.o.now());
        this.s.entriesInstalled += r.installed;
        this.s.entriesRefused += r.refused;
      } catch (e) {
        this.s.entriesRefused += records.length / ENTRY_SIZE;
        this.log.error({ err: e }, "sync install failed");
      }
    });
  }

  private macMismatch(src: string): void {
    this.macBad++;
    const now = Date.now();
    if (now - this.macLoggedAt < MAC_LOG_MS) return;
    this.log.warn({ from: src, count: this.macBad }, "sync messages with a wrong MAC: is the key the same on both directors?");
    this.macBad = 0;
    this.macLoggedAt = now;
  }
}
