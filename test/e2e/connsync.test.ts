// Connection sync over a real link: two directors' sync daemons (each with a
// real data plane, test/sync/syncnode.mjs) in two namespaces joined by a
// veth pair, their frames through AF_PACKET raw links (SyncRawLink) and the
// socket filter. Proves:
//   - a backup that starts gets the master's connections by a bulk resync,
//     and the master's later changes (a new connection, one becoming
//     ESTABLISHED) by the change stream;
//   - forged, replayed, truncated and other-sync-id frames on the link are
//     counted by reason and install nothing;
//   - failover and failback: the new master's connections reach the old one
//     when it comes back as backup, and the backup forwards a synced
//     connection to the real server the master chose;
//   - a backup restarted with 3000 connections on the master gets them all
//     (~160 messages through a 16-slot TX ring) with no gap.
// Root only; namespaces wsyn<pid>a / wsyn<pid>b, addresses from 198.18.0.0/15;
// the processes started here are ended by PID.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { haveCommand, run, tryRun } from "../../src/demo/sys.js";
import { requireOrFail } from "../helpers/requires.js";
import { JsonLinesProc, type Line } from "../helpers/jsonlines.js";
import { buildSyncFrame } from "../../src/sync/frame.js";
import { encodeMessage, TYPE_ENTRIES } from "../../src/sync/wire.js";
import { entries, KEY, KEY_HEX, OTHER_KEY } from "../sync/helpers.js";
import { until as pollUntil } from "./lib/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;
const CAN_RUN = IS_ROOT && haveCommand("ip");
const WHY = "the connection-sync namespace test needs root and ip (iproute2)";

const NS_A = `wsyn${process.pid}a`, NS_B = `wsyn${process.pid}b`;
const ADDR_A = "198.18.0.1", ADDR_B = "198.18.0.2";
const DEV = "eth0";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until: typeof pollUntil = (what, fn, timeoutMs = 5000, everyMs = 25) => pollUntil(what, fn, timeoutMs, everyMs);
const sh = (argv: string[]) => run(argv, { timeoutMs: 10000 });
const shQuiet = (argv: string[]) => { tryRun(argv, { timeoutMs: 10000 }); };


/** syncnode.mjs in a namespace, speaking JSON lines. */
class Node extends JsonLinesProc {
  static start(ns: string, role: string, addr: string): Promise<Node> {
    return Node.launch(ns, path.join(ROOT, "test", "sync", "syncnode.mjs"), [DEV, role, KEY_HEX, addr]);
  }

  async conns(): Promise<string[]> { return (await this.cmd({ conns: true })).conns; }
  async stats(): Promise<Line> { return (await this.cmd({ stats: true })).stats; }
  async tcp(sport: number, flags = "S"): Promise<string> {
    const r = await this.cmd({ tcp: sport, flags });
    expect(r.verdict, `packet ${sport} ${flags} not forwarded`).toBe(1);
    return r.rs;
  }
}

async function same(a: Node, b: Node, what: string): Promise<string[]> {
  try {
    return await until(what, async () => { const [x, y] = [await a.conns(), await b.conns()]; return x.length > 0 && JSON.stringify(x) === JSON.stringify(y) && x; });
  } catch (e) {
    // Say how far apart they are, and what each daemon counted.
    const [x, y] = [await a.conns(), await b.conns()];
    throw new Error(`${(e as Error).message}: ${x.length} vs ${y.length} entries; ${JSON.stringify(await a.stats())} / ${JSON.stringify(await b.stats())}`);
  }
}

describe.skipIf(requireOrFail(CAN_RUN, WHY))("connection sync between two namespaces", () => {
  let a: Node | undefined, b: Node | undefined;

  beforeAll(() => {
    sh(["ip", "netns", "add", NS_A]);
    sh(["ip", "netns", "add", NS_B]);
    sh(["ip", "link", "add", `wsyn${process.pid}x`, "netns", NS_A, "type", "veth", "peer", "name", `wsyn${process.pid}y`, "netns", NS_B]);
    for (const [ns, dev, addr] of [[NS_A, `wsyn${process.pid}x`, ADDR_A], [NS_B, `wsyn${process.pid}y`, ADDR_B]]) {
      sh(["ip", "-n", ns, "link", "set", dev, "name", DEV]);
      sh(["ip", "-n", ns, "addr", "add", `${addr}/24`, "dev", DEV]);
      sh(["ip", "-n", ns, "link", "set", DEV, "up"]);
    }
  });

  afterAll(() => {
    a?.close();
    b?.close();
    shQuiet(["ip", "netns", "del", NS_A]);
    shQuiet(["ip", "netns", "del", NS_B]);
  });

  it("a starting backup gets the table by a bulk, then the changes", async () => {
    a = await Node.start(NS_A, "MASTER", ADDR_A);
    for (const p of [1001, 1002, 1003]) await a.tcp(p);
    b = await Node.start(NS_B, "BACKUP", ADDR_B);
    const synced = await same(a, b, "the bulk");
    expect(synced).toHaveLength(3);
    await until("B in sync", async () => (await b!.stats()).synced);
    expect(await a.stats()).toMatchObject({ resyncsServed: 1 });
    await a.tcp(1004);
    await a.tcp(1001, "A");
    const after = await same(a, b, "the changes");
    expect(after).toHaveLength(4);
    expect(after.find((c) => c.startsWith("1001>"))).toMatch(/ESTABLISHED$/);
    const s = await b.stats();
    expect(s.boundEpoch).toBe(a.ready.epoch);
    expect(s.sequenceGaps).toBe(0);
    expect(Object.values(s.rejected as Record<string, number>).reduce((x, y) => x + y, 0)).toBe(0);
  });

  it("forged, replayed, truncated and other-sync-id frames are counted and install nothing", async () => {
    const before = await b!.stats();
    const conns = await b!.conns();
    const msg = (key: Uint8Array, syncId: number, seq: bigint) => buildSyncFrame(encodeMessage({
      type: TYPE_ENTRIES, syncId, epoch: BigInt(`0x${a!.ready.epoch}`), seq, nonce: 0n, entries: entries(1, 9999),
    }, key), { mac: a!.ready.mac, addr: ADDR_A });
    const hex = (f: Uint8Array) => Buffer.from(f).toString("hex");
    const forged = msg(OTHER_KEY, 0, 1_000_000n);
    const replayed = msg(KEY, 0, 1n); // the master's epoch, a number long passed
    const other = msg(KEY, 7, 1_000_001n);
    const cut = msg(KEY, 0, 1_000_002n);
    const cutFrame = cut.subarray(0, cut.length - 30);
    for (const f of [forged, replayed, other, cutFrame]) expect((await a!.cmd({ raw: hex(f) })).sent).toBe(true);
    const s = await until("the rejections counted", async () => {
      const x = await b!.stats();
      return x.rejected.mac > before.rejected.mac && x.rejected.replayed > before.rejected.replayed
        && x.rejected.sync_id > before.rejected.sync_id && x.rejected.frame > before.rejected.frame && x;
    });
    expect(s.rejected.mac - before.rejected.mac).toBe(1);
    expect(s.rejected.replayed - before.rejected.replayed).toBe(1);
    expect(s.rejected.sync_id - before.rejected.sync_id).toBe(1);
    expect(s.entriesInstalled).toBe(before.entriesInstalled);
    expect(await b!.conns()).toEqual(conns);
  });

  it("failover and failback: the outage's connections survive on both sides", async () => {
    // A's link dies as far as VRRP is concerned: A FAULT, B MASTER.
    await b!.cmd({ role: "MASTER" });
    await a!.cmd({ role: "FAULT" });
    const rs = await b!.tcp(2001);
    await b!.tcp(1002, "A"); // a synced connection continues on B
    // A comes back as BACKUP and asks B for the bulk.
    await a!.cmd({ role: "BACKUP" });
    const both = await same(a!, b!, "the old master's bulk from the new one");
    expect(both.find((c) => c.startsWith("2001>"))).toBe(`2001>${rs}:8080 SYN_RECV`);
    // Failback with preemption: A MASTER again, B BACKUP; a connection made on A reaches B.
    await a!.cmd({ role: "MASTER" });
    await b!.cmd({ role: "BACKUP" });
    await a!.tcp(3001);
    const last = await same(a!, b!, "after the failback");
    expect(last.map((c) => c.split(">")[0])).toEqual(["1001", "1002", "1003", "1004", "2001", "3001"]);
    await until("B in sync again", async () => (await b!.stats()).synced);
  });

  it("a restarted backup gets a large table whole", async () => {
    b!.close();
    expect((await a!.cmd({ syns: [10000, 3000] })).forwarded).toBe(3000);
    b = await Node.start(NS_B, "BACKUP", ADDR_B);
    const all = await same(a!, b, "the large bulk");
    expect(all).toHaveLength(3006);
    const s = await until("B in sync", async () => { const x = await b!.stats(); return x.synced && x; });
    expect(s).toMatchObject({ sequenceGaps: 0, resyncsRequested: 1 });
    expect((await a!.stats()).txFailures).toBe(0);
  });
});
