// The sync message codec (src/sync/wire.ts): round trips, and every kind of
// bad input refused by reason without a throw (fast-check: random bytes,
// single-bit flips and truncations of a good message).

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  batches, decodeMessage, encodeMessage, entriesPerMessage, HEADER_SIZE, MAC_SIZE,
  TYPE_BULK_BEGIN, TYPE_BULK_REQUEST, TYPE_ENTRIES, TYPE_HEARTBEAT,
} from "../../src/sync/wire.js";
import { ENTRY_SIZE } from "../../src/sync/entry.js";
import { encoded, entries, KEY, msg, OTHER_KEY } from "./helpers.js";

describe("sync wire codec", () => {
  it("round-trips every field and the entries", () => {
    const m = msg({ type: TYPE_ENTRIES, syncId: 9, epoch: 0xfedcba9876543210n, seq: 1234567890123n, nonce: 42n, entries: entries(5) });
    const b = encodeMessage(m, KEY);
    expect(b.length).toBe(HEADER_SIZE + 5 * ENTRY_SIZE + MAC_SIZE);
    expect(Buffer.from(b.subarray(0, 4)).toString()).toBe("WSYN");
    const d = decodeMessage(b, KEY, 9);
    expect(d).toEqual({ ok: true, msg: m });
  });

  it("control messages have no entries", () => {
    for (const type of [TYPE_BULK_REQUEST, TYPE_BULK_BEGIN, TYPE_HEARTBEAT]) {
      const d = decodeMessage(encoded({ type, nonce: 99n }), KEY, 0);
      expect(d.ok && d.msg.type === type && d.msg.nonce === 99n && d.msg.entries.length === 0).toBe(true);
    }
  });

  it("refuses a wrong key, a flipped bit, another sync id, a wrong version, an unknown type, bad lengths", () => {
    const good = encoded({ entries: entries(2) });
    expect(decodeMessage(good, OTHER_KEY, 0)).toEqual({ ok: false, reason: "mac" });
    const flipped = good.slice();
    flipped[HEADER_SIZE + 3] ^= 1;
    expect(decodeMessage(flipped, KEY, 0)).toEqual({ ok: false, reason: "mac" });
    const seqFlip = good.slice();
    seqFlip[31] ^= 1; // the sequence number is under the MAC
    expect(decodeMessage(seqFlip, KEY, 0)).toEqual({ ok: false, reason: "mac" });
    expect(decodeMessage(good, KEY, 1)).toEqual({ ok: false, reason: "sync_id" });
    const v2 = good.slice(); v2[4] = 2;
    expect(decodeMessage(v2, KEY, 0)).toEqual({ ok: false, reason: "version" });
    const t = good.slice(); t[5] = 77;
    expect(decodeMessage(t, KEY, 0)).toEqual({ ok: false, reason: "unknown_type" });
    const magic = good.slice(); magic[0] = 0;
    expect(decodeMessage(magic, KEY, 0)).toEqual({ ok: false, reason: "bad_magic" });
    expect(decodeMessage(good.subarray(0, good.length - 1), KEY, 0)).toEqual({ ok: false, reason: "truncated" });
    expect(decodeMessage(good.subarray(0, 20), KEY, 0)).toEqual({ ok: false, reason: "truncated" });
    const longer = new Uint8Array(good.length + 1); longer.set(good);
    expect(decodeMessage(longer, KEY, 0)).toEqual({ ok: false, reason: "length" });
    // Entries on a control message, even correctly MACed, are refused.
    const ctl = encodeMessage(msg({ type: TYPE_HEARTBEAT, entries: entries(1) }), KEY);
    expect(decodeMessage(ctl, KEY, 0)).toEqual({ ok: false, reason: "length" });
  });

  it("never throws and never accepts on random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 255 }), (b, id) => {
      const d = decodeMessage(b, KEY, id);
      expect(d.ok).toBe(false);
    }), { numRuns: 2000 });
  });

  it("refuses every single-bit flip and every truncation of a good message", () => {
    const good = encoded({ entries: entries(3), seq: 5n, epoch: 11n });
    fc.assert(fc.property(fc.integer({ min: 0, max: good.length * 8 - 1 }), (bit) => {
      const b = good.slice();
      b[bit >> 3] ^= 1 << (bit & 7);
      expect(decodeMessage(b, KEY, 0).ok).toBe(false);
    }), { numRuns: 1000 });
    for (let n = 0; n < good.length; n++) expect(decodeMessage(good.subarray(0, n), KEY, 0).ok).toBe(false);
  });

  it("sizes batches to the MTU", () => {
    expect(entriesPerMessage(1500)).toBe(19); // (1500 - 28 - 56) / 72
    expect(20 + 8 + HEADER_SIZE + 19 * ENTRY_SIZE + MAC_SIZE).toBeLessThanOrEqual(1500);
    expect(entriesPerMessage(9000)).toBe(123);
    const parts = [...batches(entries(45), 19)].map((b) => b.length / ENTRY_SIZE);
    expect(parts).toEqual([19, 19, 7]);
  });
});
