// The receiver's replay rules (docs/sync-protocol.md, "Replay protection"):
// a message of the master installs something only when its epoch was bound
// by a fresh exchange (our BULK_REQUEST's nonce echoed in an authenticated
// BULK_BEGIN) and its sequence number was not seen before. Sequence numbers
// are checked against a sliding window (IPsec's anti-replay window, RFC 4303
// §3.4.3): the highest seen and a 64-bit map of the ones below it, so a
// message reordered by a few places still counts and a copy never does.
// Pure: no clock, no I/O; the daemon acts on the verdicts.

import { TYPE_BULK_BEGIN, TYPE_BULK_END, TYPE_ENTRIES, TYPE_HEARTBEAT, type Message } from "./wire.js";

export const WINDOW = 64n;

/** Why the replay rules refused an authenticated message. */
export const REPLAY_REJECTS = ["stale_nonce", "unbound_epoch", "replayed"] as const;
export type ReplayReject = (typeof REPLAY_REJECTS)[number];

export type Verdict =
  | {
      ok: true;
      /** The message's entries may be installed. */
      install: boolean;
      /** Sequence numbers skipped before this one (messages lost, or still to come out of order). */
      gap: bigint;
      /** BULK_BEGIN of our request: the epoch is (re)bound. */
      bound?: true;
      /** BULK_END of our request: the resync is complete. */
      synced?: true;
    }
  | { ok: false; reason: ReplayReject; /** The sender is a master we are not bound to: ask it for a bulk. */ resync?: true };

export class ReplayGuard {
  /** The epoch whose messages we take, null before the first BULK_BEGIN. */
  epoch: bigint | null = null;
  /** The highest sequence number seen in epoch. */
  last = 0n;
  /** Bit i: last - i was seen (bit 0 is last itself). */
  private seen = 0n;
  /** The nonce of our outstanding BULK_REQUEST, until its BULK_END. */
  pending: bigint | null = null;

  /** A new resync: only a BULK_BEGIN echoing this nonce binds from now on. */
  request(nonce: bigint): void {
    this.pending = nonce;
  }

  /** Forgets the bound epoch and any request (we became master). */
  reset(): void {
    this.epoch = null;
    this.last = 0n;
    this.seen = 0n;
    this.pending = null;
  }

  /** The verdict on an authenticated master's message (ENTRIES, BULK_BEGIN, BULK_END, HEARTBEAT). */
  check(m: Message): Verdict {
    if (m.type === TYPE_BULK_BEGIN) {
      if (this.pending === null || m.nonce !== this.pending) return { ok: false, reason: "stale_nonce" };
      if (m.epoch !== this.epoch) {
        // A fresh binding: the sender proved it answers our nonce now.
        this.epoch = m.epoch;
        this.last = m.seq;
        // Everything before the binding counts as seen: the bulk covers it, and an older message is stale.
        this.seen = (1n << WINDOW) - 1n;
        return { ok: true, install: false, gap: 0n, bound: true };
      }
      const v = this.sequence(m.seq);
      return v.ok ? { ...v, install: false, bound: true } : v;
    }
    if (m.type !== TYPE_ENTRIES && m.type !== TYPE_BULK_END && m.type !== TYPE_HEARTBEAT) {
      return { ok: false, reason: "unbound_epoch" }; // not a master's message: the daemon never asks
    }
    if (this.epoch === null || m.epoch !== this.epoch) return { ok: false, reason: "unbound_epoch", resync: true };
    const v = this.sequence(m.seq);
    if (!v.ok) return v;
    if (m.type === TYPE_BULK_END && this.pending !== null && m.nonce === this.pending) {
      this.pending = null;
      return { ...v, install: false, synced: true };
    }
    return { ...v, install: m.type === TYPE_ENTRIES };
  }

  /** Takes seq into the window of the bound epoch, or refuses it as seen or too old. */
  private sequence(seq: bigint): { ok: true; install: boolean; gap: bigint } | { ok: false; reason: "replayed" } {
    if (seq > this.last) {
      const shift = seq - this.last;
      const gap = shift - 1n;
      this.seen = shift >= WINDOW ? 1n : ((this.seen << shift) | 1n) & ((1n << WINDOW) - 1n);
      this.last = seq;
      return { ok: true, install: true, gap };
    }
    const back = this.last - seq;
    if (back >= WINDOW) return { ok: false, reason: "replayed" };
    const bit = 1n << back;
    if (this.seen & bit) return { ok: false, reason: "replayed" };
    this.seen |= bit;
    return { ok: true, install: true, gap: 0n };
  }
}
