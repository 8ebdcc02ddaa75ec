// The receiver's replay rules (src/sync/replay.ts).

import { describe, expect, it } from "vitest";
import { ReplayGuard } from "../../src/sync/replay.js";
import { TYPE_BULK_BEGIN, TYPE_BULK_END, TYPE_ENTRIES, TYPE_HEARTBEAT } from "../../src/sync/wire.js";
import { msg } from "./helpers.js";

const E = 0xabcn;
const begin = (seq: bigint, nonce: bigint, epoch = E) => msg({ type: TYPE_BULK_BEGIN, epoch, seq, nonce });
const ent = (seq: bigint, epoch = E) => msg({ type: TYPE_ENTRIES, epoch, seq });

describe("ReplayGuard", () => {
  it("installs nothing before an epoch is bound by our nonce", () => {
    const g = new ReplayGuard();
    expect(g.check(ent(1n))).toEqual({ ok: false, reason: "unbound_epoch", resync: true });
    expect(g.check(begin(1n, 5n))).toEqual({ ok: false, reason: "stale_nonce" }); // no request outstanding
    g.request(6n);
    expect(g.check(begin(1n, 5n))).toEqual({ ok: false, reason: "stale_nonce" }); // another nonce (a replayed BULK_BEGIN)
    expect(g.check(ent(2n))).toMatchObject({ ok: false, reason: "unbound_epoch" });
    expect(g.epoch).toBeNull();
  });

  it("binds on BULK_BEGIN with our nonce, then takes rising sequence numbers once", () => {
    const g = new ReplayGuard();
    g.request(6n);
    expect(g.check(begin(10n, 6n))).toMatchObject({ ok: true, install: false, bound: true });
    expect(g.check(ent(11n))).toEqual({ ok: true, install: true, gap: 0n });
    expect(g.check(ent(11n))).toEqual({ ok: false, reason: "replayed" });
    expect(g.check(ent(10n))).toEqual({ ok: false, reason: "replayed" }); // the BULK_BEGIN's own number
    expect(g.check(ent(9n))).toEqual({ ok: false, reason: "replayed" }); // before the binding: old
    expect(g.check(msg({ type: TYPE_BULK_END, epoch: E, seq: 12n, nonce: 6n }))).toMatchObject({ ok: true, synced: true, install: false });
    expect(g.pending).toBeNull();
    expect(g.check(msg({ type: TYPE_HEARTBEAT, epoch: E, seq: 13n }))).toEqual({ ok: true, install: false, gap: 0n });
  });

  it("counts a gap, takes a late message in the window once, refuses one below the window", () => {
    const g = new ReplayGuard();
    g.request(1n);
    g.check(begin(1n, 1n));
    expect(g.check(ent(5n))).toEqual({ ok: true, install: true, gap: 3n });
    expect(g.check(ent(3n))).toEqual({ ok: true, install: true, gap: 0n });
    expect(g.check(ent(3n))).toEqual({ ok: false, reason: "replayed" });
    expect(g.check(ent(200n))).toMatchObject({ ok: true, gap: 194n });
    expect(g.check(ent(4n))).toEqual({ ok: false, reason: "replayed" });
    expect(g.check(ent(200n - 63n))).toMatchObject({ ok: true });
    expect(g.check(ent(200n - 64n))).toEqual({ ok: false, reason: "replayed" });
  });

  it("a restarted master (new epoch) and a replay of an old epoch install nothing and ask for a resync", () => {
    const g = new ReplayGuard();
    g.request(1n);
    g.check(begin(1n, 1n));
    expect(g.check(ent(2n, 0x999n))).toEqual({ ok: false, reason: "unbound_epoch", resync: true });
    // A new request: the new epoch binds; the old one is then unbound.
    g.request(2n);
    expect(g.check(begin(1n, 2n, 0x999n))).toMatchObject({ ok: true, bound: true });
    expect(g.check(ent(2n, 0x999n))).toMatchObject({ ok: true, install: true });
    expect(g.check(ent(3n, E))).toMatchObject({ ok: false, reason: "unbound_epoch" });
  });

  it("a replayed BULK_BEGIN of the bound epoch with the outstanding nonce is still a replay", () => {
    const g = new ReplayGuard();
    g.request(1n);
    g.check(begin(1n, 1n));
    expect(g.check(begin(1n, 1n))).toEqual({ ok: false, reason: "replayed" });
    expect(g.check(begin(7n, 1n))).toMatchObject({ ok: true, bound: true, gap: 5n }); // a second bulk for the same request
  });
});
