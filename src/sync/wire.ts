// The connection-sync message: a fixed header, N entries (entry.ts), and a
// MAC. docs/sync-protocol.md is the description; this is the one codec.
// IPVS's framing (ip_vs_sync.c: a small header with a sync id and a count,
// then flat entries) plus what IPVS lacks: a sender epoch and a sequence
// number for replay protection, a nonce to bind an epoch by a fresh
// exchange, and an HMAC-SHA256 over the whole message.
//
//   0   u32  magic     "WSYN"
//   4   u8   version   1
//   5   u8   type      TYPE_* below
//   6   u8   syncId    keepalived's lvs_sync_daemon `id` (0 by default)
//   7   u8   reserved  0
//   8   u16  count     entries after the header (0 for all but ENTRIES)
//   10  u16  entrySize 72 (ENTRY_SIZE), so a receiver can refuse a layout it does not know
//   12  u32  reserved  0
//   16  u64  epoch     random per daemon start: names the sender's sequence space
//   24  u64  seq       per epoch, from 1, one more for every message the sender sends
//   32  u64  nonce     BULK_REQUEST: the requester's fresh random; BULK_BEGIN/BULK_END: its echo; else 0
//   40  …    entries   count × 72
//   end-16   mac       HMAC-SHA256(key, bytes 0 … end-16), first 16 bytes
//
// Decoding checks the fixed header, then the length, then the MAC (constant
// time), and only then hands out anything after the header.

import { createHmac, timingSafeEqual } from "node:crypto";
import { ENTRY_SIZE } from "./entry.js";

export const MAGIC = 0x5753594e; // "WSYN"
export const VERSION = 1;
export const HEADER_SIZE = 40;
export const MAC_SIZE = 16;
export const KEY_SIZE = 32;

/** Changes (and a loss-triggered refresh) and the entries of a bulk resync. */
export const TYPE_ENTRIES = 1;
/** A backup asks for the whole table; carries its fresh nonce. */
export const TYPE_BULK_REQUEST = 2;
/** The master starts a bulk: echoes the nonce, and its epoch and seq bind the requester. */
export const TYPE_BULK_BEGIN = 3;
/** The bulk's last message: echoes the nonce; the requester is in sync. */
export const TYPE_BULK_END = 4;
/** The master's idle keepalive: its seq shows a lost last message, its epoch a restarted master. */
export const TYPE_HEARTBEAT = 5;

export const TYPE_NAMES: Record<number, string> = {
  [TYPE_ENTRIES]: "entries", [TYPE_BULK_REQUEST]: "bulk_request", [TYPE_BULK_BEGIN]: "bulk_begin",
  [TYPE_BULK_END]: "bulk_end", [TYPE_HEARTBEAT]: "heartbeat",
};

/** IPVS's defaults: group, port and the group's MAC. */
export const SYNC_GROUP4 = "224.0.0.81";
export const SYNC_PORT = 8848;
export const SYNC_GROUP_MAC4 = Uint8Array.of(0x01, 0x00, 0x5e, 0x00, 0x00, 0x51);

export interface Message {
  type: number;
  syncId: number;
  epoch: bigint;
  seq: bigint;
  nonce: bigint;
  /** count × ENTRY_SIZE bytes (empty for all but ENTRIES). */
  entries: Uint8Array;
}

/** Why a message was dropped before it reached the replay rules. */
export const DECODE_REJECTS = ["truncated", "bad_magic", "version", "sync_id", "unknown_type", "length", "mac"] as const;
export type DecodeReject = (typeof DECODE_REJECTS)[number];

export type Decoded = { ok: true; msg: Message } | { ok: false; reason: DecodeReject };

const U64 = (1n << 64n) - 1n;

/** The message's bytes with its MAC. entries.length must be a multiple of ENTRY_SIZE. */
export function encodeMessage(m: Message, key: Uint8Array): Uint8Array {
  if (key.length !== KEY_SIZE) throw new RangeError(`sync key: ${key.length} bytes, not ${KEY_SIZE}`);
  if (m.entries.length % ENTRY_SIZE !== 0) throw new RangeError(`sync entries: ${m.entries.length} bytes, not a multiple of ${ENTRY_SIZE}`);
  const count = m.entries.length / ENTRY_SIZE;
  if (count > 0xffff) throw new RangeError(`sync message: ${count} entries, at most 65535`);
  const b = new Uint8Array(HEADER_SIZE + m.entries.length + MAC_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, MAGIC);
  b[4] = VERSION;
  b[5] = m.type;
  b[6] = m.syncId;
  dv.setUint16(8, count);
  dv.setUint16(10, ENTRY_SIZE);
  dv.setBigUint64(16, m.epoch & U64);
  dv.setBigUint64(24, m.seq & U64);
  dv.setBigUint64(32, m.nonce & U64);
  b.set(m.entries, HEADER_SIZE);
  b.set(macOf(key, b.subarray(0, b.length - MAC_SIZE)), b.length - MAC_SIZE);
  return b;
}

function macOf(key: Uint8Array, data: Uint8Array): Uint8Array {
  return createHmac("sha256", key).update(data).digest().subarray(0, MAC_SIZE);
}

/**
 * The message in b (a UDP payload), or why it was refused. Never throws.
 * syncId: the only id this receiver takes (others are another pair's, as in IPVS).
 */
export function decodeMessage(b: Uint8Array, key: Uint8Array, syncId: number): Decoded {
  if (b.length < HEADER_SIZE + MAC_SIZE) return { ok: false, reason: "truncated" };
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0) !== MAGIC) return { ok: false, reason: "bad_magic" };
  if (b[4] !== VERSION) return { ok: false, reason: "version" };
  if (b[6] !== syncId) return { ok: false, reason: "sync_id" };
  const type = b[5];
  if (TYPE_NAMES[type] === undefined) return { ok: false, reason: "unknown_type" };
  const count = dv.getUint16(8);
  if (dv.getUint16(10) !== ENTRY_SIZE) return { ok: false, reason: "length" };
  const want = HEADER_SIZE + count * ENTRY_SIZE + MAC_SIZE;
  if (b.length < want) return { ok: false, reason: "truncated" };
  if (b.length > want) return { ok: false, reason: "length" };
  const body = b.subarray(0, b.length - MAC_SIZE);
  if (key.length !== KEY_SIZE || !timingSafeEqual(macOf(key, body), b.subarray(b.length - MAC_SIZE))) {
    return { ok: false, reason: "mac" };
  }
  if (type !== TYPE_ENTRIES && count !== 0) return { ok: false, reason: "length" };
  return {
    ok: true,
    msg: {
      type, syncId: b[6],
      epoch: dv.getBigUint64(16), seq: dv.getBigUint64(24), nonce: dv.getBigUint64(32),
      entries: b.slice(HEADER_SIZE, HEADER_SIZE + count * ENTRY_SIZE),
    },
  };
}

/** The most entries one message carries in a UDP/IPv4 datagram on a link of this MTU. */
export function entriesPerMessage(mtu: number): number {
  return Math.max(0, Math.min(0xffff, Math.floor((mtu - 20 - 8 - HEADER_SIZE - MAC_SIZE) / ENTRY_SIZE)));
}

/** Splits records (ENTRY_SIZE each) into slices of at most perMessage entries. */
export function* batches(records: Uint8Array, perMessage: number): Generator<Uint8Array> {
  const step = perMessage * ENTRY_SIZE;
  if (step <= 0) throw new RangeError("sync: no entry fits one message");
  const usable = records.length - (records.length % ENTRY_SIZE);
  for (let o = 0; o < usable; o += step) yield records.subarray(o, Math.min(usable, o + step));
}
