// The console word `lvs_sync_daemon` (CONTRACTS.md; keepalived's keyword):
//
//   lvs_sync_daemon DEV INSTANCE [id N] key HEX   sync over DEV following INSTANCE (replaces a running one)
//   lvs_sync_daemon del                           stops it
//   lvs_sync_daemon show                          state, role, epochs, counters (never the key)
//
// One daemon at a time. A bad line is `error: …` and leaves the running
// daemon as it was; a good one opens the new link before the old daemon
// stops, so a failure to open changes nothing either.

import type { Logger } from "../log.js";
import type { CommandHandler } from "../console/registry.js";
import { err, ok, type Reply } from "../console/types.js";
import { SyncDaemon, type ConnSyncSource, type RoleSource, type SyncLink, type SyncStats } from "./daemon.js";
import { openSyncLink } from "./link.js";
import { syncStatsLines } from "./metrics.js";
import { entriesPerMessage, KEY_SIZE } from "./wire.js";

/** What the word needs to know of a link. */
export interface SyncLinkInfo {
  mac: string;
  /** The link's first IPv4 address (sync frames' source), or null when it has none. */
  addr: string | null;
  mtu: number;
  /** Attached to the data plane (sync runs on data links). */
  attached: boolean;
}

export interface SyncWordDeps {
  dp: ConnSyncSource;
  /** The VRRP instance's role source (VrrpRuntime.role), or null/undefined: "no such vrrp instance". */
  role(instance: string): RoleSource | null | undefined;
  /** The link's MAC, address, MTU and whether it is attached, or null/undefined when there is no such link. */
  link(dev: string): SyncLinkInfo | null | undefined;
  /** Opens the raw link (default: a SyncRawLink on dev). */
  openLink?(dev: string, onFrame: (frame: Uint8Array) => void, mtu: number): Promise<SyncLink>;
  /** The data plane's clock (ms). */
  now(): number;
  log?: Logger;
  /** Tests: the daemon's 64-bit random source. */
  random64?: () => bigint;
}

export interface SyncConfig {
  dev: string;
  instance: string;
  syncId: number;
  /** 64 lowercase hex digits. */
  keyHex: string;
}

export interface SyncWord extends CommandHandler {
  /** The running daemon's counters, or null (for metrics and `show stats`). */
  stats(): SyncStats | null;
  daemon(): SyncDaemon | null;
  config(): SyncConfig | null;
  /** Stops the daemon (shutdown). */
  stop(): void;
}

const USAGE = "lvs_sync_daemon DEV INSTANCE [id N] key HEX | lvs_sync_daemon del | lvs_sync_daemon show";

/** Parses the arguments of a set line; a string is the error. */
export function parseSyncLine(args: string[]): SyncConfig | string {
  const [dev, instance, ...rest] = args;
  if (dev === undefined || instance === undefined) return `usage: ${USAGE}`;
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(dev)) return `lvs_sync_daemon: '${dev}' is not a link name`;
  let syncId: number | undefined;
  let keyHex: string | undefined;
  for (let i = 0; i < rest.length; i += 2) {
    const opt = rest[i], v = rest[i + 1];
    if (opt !== "id" && opt !== "key") return `lvs_sync_daemon: unexpected '${opt}' (${USAGE})`;
    if (v === undefined) return `lvs_sync_daemon: '${opt}' needs a value`;
    if (opt === "id") {
      if (syncId !== undefined) return "lvs_sync_daemon: 'id' given twice";
      if (!/^\d{1,3}$/.test(v) || Number(v) > 255) return `lvs_sync_daemon: id '${v}' is not 0-255`;
      syncId = Number(v);
    } else {
      if (keyHex !== undefined) return "lvs_sync_daemon: 'key' given twice";
      if (!new RegExp(`^[0-9a-fA-F]{${KEY_SIZE * 2}}$`).test(v)) return `lvs_sync_daemon: the key must be exactly ${KEY_SIZE * 2} hex digits (a 256-bit key)`;
      keyHex = v.toLowerCase();
    }
  }
  if (keyHex === undefined) return `lvs_sync_daemon: a key is required (key HEX, ${KEY_SIZE * 2} hex digits, the same on both directors)`;
  return { dev, instance, syncId: syncId ?? 0, keyHex };
}

export function syncLine(c: SyncConfig): string {
  return `lvs_sync_daemon ${c.dev} ${c.instance} id ${c.syncId} key ${c.keyHex}`;
}

export function lvsSyncDaemonWord(deps: SyncWordDeps): SyncWord {
  let running: { daemon: SyncDaemon; config: SyncConfig } | null = null;
  const open = deps.openLink ?? openSyncLink;

  async function start(c: SyncConfig): Promise<Reply> {
    const role = deps.role(c.instance);
    if (!role) return err(`lvs_sync_daemon: no such vrrp instance: ${c.instance}`);
    const info = deps.link(c.dev);
    if (!info) return err(`lvs_sync_daemon: no such link: ${c.dev}`);
    if (!info.attached) return err(`lvs_sync_daemon: link ${c.dev} is not attached to the data plane`);
    if (!info.addr) return err(`lvs_sync_daemon: link ${c.dev} has no IPv4 address to send from`);
    if (entriesPerMessage(info.mtu) < 1) return err(`lvs_sync_daemon: link ${c.dev}'s MTU ${info.mtu} is too small for a sync message`);
    // The daemon exists only once the link is open; frames before then have nowhere to go.
    let daemon: SyncDaemon | null = null;
    let link: SyncLink;
    try {
      link = await open(c.dev, (f) => daemon?.receive(f), info.mtu);
    } catch (e) {
      return err(`lvs_sync_daemon: ${(e as Error).message}`);
    }
    // The old daemon goes before the new one starts: its stop turns the change log off.
    running?.daemon.stop();
    running = null;
    try {
      daemon = new SyncDaemon({
        dev: c.dev, instance: c.instance, syncId: c.syncId, key: Buffer.from(c.keyHex, "hex"),
        dp: deps.dp, role, link, source: { mac: info.mac, addr: info.addr }, mtu: info.mtu,
        now: deps.now, log: deps.log, random64: deps.random64,
      });
    } catch (e) {
      link.close();
      return err(`lvs_sync_daemon: ${(e as Error).message}`);
    }
    running = { daemon, config: c };
    return ok();
  }

  function stop(): void {
    running?.daemon.stop();
    running = null;
  }

  function show(): string {
    if (!running) return "lvs_sync_daemon: not running";
    const s = running.daemon.stats();
    const c = running.config;
    return [
      `lvs_sync_daemon ${c.dev} instance ${c.instance} id ${c.syncId}`,
      `  role ${s.role}${s.role === "MASTER" ? " (sending)" : ` (receiving, ${s.synced ? "in sync" : s.resyncPending ? "bulk resync pending" : "not in sync"})`}`,
      `  epoch ${s.epoch}, master epoch bound ${s.boundEpoch ?? "none"}`,
      ...syncStatsLines(s).slice(1),
    ].join("\n");
  }

  return {
    help: `${USAGE} — connection sync with the peer director over a data link, following a VRRP instance (MASTER sends, BACKUP receives)`,
    async execute(args) {
      if (args[0] === "del") {
        if (args.length > 1) return err(`lvs_sync_daemon del: unexpected argument '${args[1]}'`);
        if (!running) return err("lvs_sync_daemon del: no sync daemon is running");
        stop();
        return ok();
      }
      if (args[0] === "show") {
        if (args.length > 1) return err(`lvs_sync_daemon show: unexpected argument '${args[1]}'`);
        return ok(show());
      }
      const c = parseSyncLine(args);
      if (typeof c === "string") return err(c);
      return start(c);
    },
    runningConfig: () => (running ? [syncLine(running.config)] : []),
    checkpoint() {
      const before = running?.config ?? null;
      return async () => {
        if (before === null) stop();
        else if (!running || syncLine(running.config) !== syncLine(before)) await start(before);
      };
    },
    stats: () => running?.daemon.stats() ?? null,
    daemon: () => running?.daemon ?? null,
    config: () => (running ? { ...running.config } : null),
    stop,
  };
}
