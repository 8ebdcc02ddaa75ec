// The connection-sync daemon's Prometheus families (weir_sync_…), written
// with metrics/prometheus.ts's Exposition like every other family. With no
// daemon running the families are declared and have no samples.

import { Exposition } from "../metrics/prometheus.js";
import { MESSAGE_TYPES, REJECT_REASONS, type Role, type SyncStats } from "./daemon.js";

const ROLES: Role[] = ["INIT", "BACKUP", "MASTER", "FAULT"];

/** Declares the weir_sync_* families on x and adds s's samples (none when s is null). */
export function addSyncMetrics(x: Exposition, s: SyncStats | null): void {
  x.declare("weir_sync_role", "gauge", "Connection sync role (1 for the current one): MASTER sends, the others receive.")
    .declare("weir_sync_in_sync", "gauge", "1 when a bulk resync has completed since the last role change (receiving side).")
    .declare("weir_sync_messages_sent_total", "counter", "Sync messages sent, by type.")
    .declare("weir_sync_messages_received_total", "counter", "Sync messages accepted, by type.")
    .declare("weir_sync_messages_rejected_total", "counter", "Sync frames dropped, by reason (mac: wrong key; replayed; unbound_epoch; truncated …).")
    .declare("weir_sync_entries_sent_total", "counter", "Connection entries sent (changes, refreshes and bulks).")
    .declare("weir_sync_entries_installed_total", "counter", "Connection entries installed from the master.")
    .declare("weir_sync_entries_refused_total", "counter", "Connection entries the data plane refused to install.")
    .declare("weir_sync_resyncs_requested_total", "counter", "Bulk resyncs asked for (start, a lost message, a new master epoch).")
    .declare("weir_sync_resyncs_served_total", "counter", "Bulk resyncs sent to a backup.")
    .declare("weir_sync_refreshes_total", "counter", "Full-table refreshes sent because the change log overflowed.")
    .declare("weir_sync_log_lost_total", "counter", "Change records the data plane's sync log dropped before they were sent.")
    .declare("weir_sync_sequence_gaps_total", "counter", "Sequence numbers of the master never received (lost messages).")
    .declare("weir_sync_tx_failures_total", "counter", "Sync frames the link did not send.");
  if (!s) return;
  const base = { dev: s.dev, instance: s.instance, sync_id: String(s.syncId) };
  for (const r of ROLES) x.add("weir_sync_role", { ...base, role: r }, s.role === r ? 1 : 0);
  x.add("weir_sync_in_sync", base, s.synced ? 1 : 0);
  for (const t of MESSAGE_TYPES) {
    x.add("weir_sync_messages_sent_total", { ...base, type: t }, s.sent[t] ?? 0);
    x.add("weir_sync_messages_received_total", { ...base, type: t }, s.received[t] ?? 0);
  }
  for (const r of REJECT_REASONS) x.add("weir_sync_messages_rejected_total", { ...base, reason: r }, s.rejected[r]);
  x.add("weir_sync_entries_sent_total", base, s.entriesSent);
  x.add("weir_sync_entries_installed_total", base, s.entriesInstalled);
  x.add("weir_sync_entries_refused_total", base, s.entriesRefused);
  x.add("weir_sync_resyncs_requested_total", base, s.resyncsRequested);
  x.add("weir_sync_resyncs_served_total", base, s.resyncsServed);
  x.add("weir_sync_refreshes_total", base, s.refreshes);
  x.add("weir_sync_log_lost_total", base, s.lostLogEntries);
  x.add("weir_sync_sequence_gaps_total", base, s.sequenceGaps);
  x.add("weir_sync_tx_failures_total", base, s.txFailures);
}

/** The families as exposition text on their own (to append to a scrape). */
export function syncMetricsText(s: SyncStats | null): string {
  const x = new Exposition();
  addSyncMetrics(x, s);
  return x.text();
}

/** `show stats` lines. */
export function syncStatsLines(s: SyncStats | null): string[] {
  if (!s) return ["sync: not running"];
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const rej = Object.entries(s.rejected).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ");
  return [
    `sync: ${s.dev} instance ${s.instance} id ${s.syncId} role ${s.role}${s.role === "MASTER" ? "" : s.synced ? " in sync" : " not in sync"}`,
    `  messages sent ${sum(s.sent)} received ${sum(s.received)} rejected ${sum(s.rejected)}${rej ? ` (${rej})` : ""}`,
    `  entries sent ${s.entriesSent} installed ${s.entriesInstalled} refused ${s.entriesRefused}`,
    `  resyncs requested ${s.resyncsRequested} served ${s.resyncsServed}, refreshes ${s.refreshes}, log lost ${s.lostLogEntries}, sequence gaps ${s.sequenceGaps}, tx failures ${s.txFailures}`,
  ];
}
