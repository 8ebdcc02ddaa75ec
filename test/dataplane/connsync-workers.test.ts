// Connection sync through a real WorkerPool (two worker threads, no links):
// records installed through the pool land in the worker the steering rule
// names for each connection, templates in both, nothing is echoed to the
// change logs, and the pool's export gives back what the workers hold.
// Runs the compiled worker (dist/, `npx tsc -p tsconfig.json`).

import { describe, it, expect, afterAll } from "vitest";
import { DataPlane, type ServiceKey } from "../../src/dataplane/dataplane.js";
import { WorkerPool } from "../../src/dataplane/replica/pool.js";
import { recordOwner } from "../../src/dataplane/replica/syncroute.js";
import { ENTRY_SIZE } from "../../src/sync/entry.js";
import { decodeEntries, encodeEntry } from "../../src/sync/record.js";
import { logger } from "../../src/log.js";

const VIP = "198.18.100.1";
const RS = ["198.19.0.11", "198.19.0.12"];
const NAT: ServiceKey = { proto: "tcp", addr: VIP, port: 80 };
const P: ServiceKey = { proto: "tcp", addr: VIP, port: 443 };
const load = { connCapacity: 4096, connCapacity6: 256, memoryBytes: 64 * 2 ** 20 };

describe("connection sync through a WorkerPool of two threads", () => {
  let pool: WorkerPool | undefined;
  afterAll(async () => { await pool?.stop(); });

  it("installs each connection in its owner worker, templates in every worker; exports them back; logs nothing", async () => {
    const started = performance.now();
    const now = () => Math.floor(performance.now() - started) + 1;
    pool = new WorkerPool({ workers: 2, load, io: {}, now, log: logger("test") });
    const dp = pool.wrap(await DataPlane.load(load));
    await pool.start();
    dp.transaction((tx) => {
      tx.addService(NAT, { scheduler: "rr" });
      tx.addService(P, { scheduler: "rr", persistent: 300 });
      for (const s of [NAT, P]) for (const r of RS) tx.addDest(s, { addr: r, port: 8080, fwd: "nat" });
    });
    dp.setConnSync(true);
    await pool.synced();

    const n = 16;
    const recs = new Uint8Array(ENTRY_SIZE * (n + 1));
    for (let k = 0; k < n; k++) {
      recs.set(encodeEntry({ caddr: `198.18.0.${20 + k}`, cport: 3000 + k, vaddr: VIP, vport: 80, daddr: RS[k % 2], dport: 8080, state: 1, timeoutMs: 600_000 }), k * ENTRY_SIZE);
    }
    recs.set(encodeEntry({ kind: "template", caddr: "198.18.0.0", vaddr: VIP, vport: 443, daddr: RS[1], dport: 8080, timeoutMs: 300_000 }), n * ENTRY_SIZE);
    // The steering as the pool has it: persistence makes it by client address only.
    const steer = { workers: 2, natReals: RS, byAddressOnly: true };

    expect(await dp.installConnections(recs, now())).toEqual({ installed: n + 1, refused: 0 });
    const parts = await pool.syncPeers.exportAll(now());
    expect(parts.length).toBe(2);
    const held = parts.map((p) => decodeEntries(p));
    for (const [w, entries] of held.entries()) {
      expect(entries.filter((e) => e.kind === "template").map((e) => e.daddr)).toEqual([RS[1]]);
      for (const e of entries.filter((x) => x.kind === "conn")) {
        expect(recordOwner(encodeEntry(e), steer), `${e.caddr}:${e.cport}`).toBe(w);
      }
    }
    expect(held.flat().filter((e) => e.kind === "conn").length).toBe(n);
    expect(Math.min(...held.map((h) => h.filter((e) => e.kind === "conn").length))).toBeGreaterThan(0);
    // The whole export: templates first, once per worker.
    expect(decodeEntries(await dp.exportConnections(now())).map((e) => e.kind).slice(0, 3)).toEqual(["template", "template", "conn"]);
    // Installing echoed nothing into the workers' logs.
    expect((await dp.takeConnChanges()).records.length).toBe(0);
    expect(dp.connSyncStats()).toMatchObject({ logged: 0, lost: 0, installed: n + 2, refused: 0 });
  }, 30_000);
});
