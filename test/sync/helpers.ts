// Shared by the sync tests: keys, entries, and messages built the way a
// peer would build them.

import { ENTRY_SIZE, KIND_CONN, OFF } from "../../src/sync/entry.js";
import { encodeMessage, TYPE_ENTRIES, type Message } from "../../src/sync/wire.js";

export const KEY = new Uint8Array(32).map((_, i) => i + 1);
export const OTHER_KEY = new Uint8Array(32).map((_, i) => 0xff - i);
export const KEY_HEX = Buffer.from(KEY).toString("hex");

/** n distinct connection entries (client port i + base). */
export function entries(n: number, base = 1000): Uint8Array {
  const b = new Uint8Array(n * ENTRY_SIZE);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < n; i++) {
    const o = i * ENTRY_SIZE;
    b[o + OFF.kind] = KIND_CONN;
    b[o + OFF.af] = 4;
    b[o + OFF.proto] = 6;
    b[o + OFF.state] = 1;
    dv.setUint16(o + OFF.cport, (base + i) & 0xffff);
    dv.setUint16(o + OFF.vport, 80);
    dv.setUint16(o + OFF.dport, 8080);
    dv.setUint32(o + OFF.timeoutMs, 900_000);
    b.set([198, 18, 1, 10], o + OFF.caddr);
    b.set([198, 18, 0, 100], o + OFF.vaddr);
    b.set([198, 19, 0, 2], o + OFF.daddr);
  }
  return b;
}

export function msg(p: Partial<Message> = {}): Message {
  return { type: TYPE_ENTRIES, syncId: 0, epoch: 7n, seq: 1n, nonce: 0n, entries: new Uint8Array(0), ...p };
}

export function encoded(p: Partial<Message> = {}, key = KEY): Uint8Array {
  return encodeMessage(msg(p), key);
}
