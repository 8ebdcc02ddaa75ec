// The lvs_sync_daemon console word (src/sync/words.ts) with fake
// dependencies: parsing, refusals that change nothing, replacement, del,
// show, running-config, checkpoint.

import { afterEach, describe, expect, it } from "vitest";
import pino from "pino";
import { lvsSyncDaemonWord, parseSyncLine, type SyncWord, type SyncWordDeps } from "../../src/sync/words.js";
import { KEY_HEX } from "./helpers.js";
import { FakeDataPlane, FakeRole, Wire } from "./fakes.js";

const ctx = { source: "socket" as const };
const tok = (line: string) => line.split(/\s+/).filter(Boolean);

function setup(o: { openFails?: boolean } = {}) {
  const wire = new Wire();
  const opened: string[] = [];
  const deps: SyncWordDeps = {
    dp: new FakeDataPlane(),
    role: (name) => (name === "VI_1" || name === "VI_2" ? new FakeRole("BACKUP") : name === "VI_M" ? new FakeRole("MASTER") : null),
    link: (dev) => dev === "eth1" || dev === "eth2" ? { mac: "02:00:00:00:00:01", addr: "198.18.0.1", mtu: 1500, attached: true }
      : dev === "host0" ? { mac: "02:00:00:00:00:02", addr: "198.18.0.2", mtu: 1500, attached: false }
      : dev === "bare0" ? { mac: "02:00:00:00:00:03", addr: null, mtu: 1500, attached: true }
      : null,
    openLink: async (dev, onFrame) => {
      if (o.openFails) throw new Error(`cannot open connection-sync packet I/O on ${dev}: EPERM`);
      opened.push(dev);
      return wire.link(onFrame);
    },
    now: () => 0,
    log: pino({ level: "silent" }),
  };
  const w = lvsSyncDaemonWord(deps);
  words.push(w);
  return { w, wire, opened, dp: deps.dp as FakeDataPlane, run: (line: string) => w.execute(tok(line), ctx) };
}

const words: SyncWord[] = [];
afterEach(() => { for (const w of words.splice(0)) w.stop(); });

describe("lvs_sync_daemon", () => {
  it("parses DEV INSTANCE [id N] key HEX in either order, canonical back", () => {
    expect(parseSyncLine(tok(`eth1 VI_1 key ${KEY_HEX}`))).toEqual({ dev: "eth1", instance: "VI_1", syncId: 0, keyHex: KEY_HEX });
    expect(parseSyncLine(tok(`eth1 VI_1 key ${KEY_HEX.toUpperCase()} id 200`))).toEqual({ dev: "eth1", instance: "VI_1", syncId: 200, keyHex: KEY_HEX });
  });

  it("starts, shows, gives its line back, and stops", async () => {
    const { w, run, opened } = setup();
    expect(await run(`eth1 VI_1 id 5 key ${KEY_HEX.toUpperCase()}`)).toEqual({ ok: true, text: "" });
    expect(opened).toEqual(["eth1"]);
    expect(w.runningConfig!()).toEqual([`lvs_sync_daemon eth1 VI_1 id 5 key ${KEY_HEX}`]);
    const show = await run("show");
    expect(show.ok).toBe(true);
    expect(show.text).toMatch(/^lvs_sync_daemon eth1 instance VI_1 id 5\n  role BACKUP \(receiving, bulk resync pending\)/);
    expect(show.text).not.toContain(KEY_HEX);
    expect(w.stats()).toMatchObject({ dev: "eth1", role: "BACKUP", resyncsRequested: 1 });
    expect(await run("del")).toEqual({ ok: true, text: "" });
    expect(w.runningConfig!()).toEqual([]);
    expect(w.stats()).toBeNull();
    expect((await run("show")).text).toBe("lvs_sync_daemon: not running");
    expect(await run("del")).toMatchObject({ ok: false, text: "error: lvs_sync_daemon del: no sync daemon is running" });
  });

  it("a second line replaces the running daemon", async () => {
    const { w, run } = setup();
    await run(`eth1 VI_1 key ${KEY_HEX}`);
    const first = w.daemon()!;
    expect(await run(`eth2 VI_2 id 1 key ${KEY_HEX}`)).toMatchObject({ ok: true });
    expect(first.isStopped).toBe(true);
    expect(w.runningConfig!()).toEqual([`lvs_sync_daemon eth2 VI_2 id 1 key ${KEY_HEX}`]);
  });

  it("replacing a master's daemon leaves the change log on; del turns it off", async () => {
    const { run, dp } = setup();
    await run(`eth1 VI_M key ${KEY_HEX}`);
    expect(dp.on).toBe(true);
    await run(`eth2 VI_M id 2 key ${KEY_HEX}`);
    expect(dp.on).toBe(true);
    await run("del");
    expect(dp.on).toBe(false);
  });

  it.each([
    ["", /usage/],
    ["eth1", /usage/],
    ["eth1 VI_1", /a key is required/],
    [`eth1 VI_1 key ${KEY_HEX.slice(1)}`, /exactly 64 hex digits/],
    [`eth1 VI_1 key ${KEY_HEX}0`, /exactly 64 hex digits/],
    [`eth1 VI_1 key ${KEY_HEX.slice(1)}g`, /exactly 64 hex digits/],
    [`eth1 VI_1 id 256 key ${KEY_HEX}`, /id '256' is not 0-255/],
    [`eth1 VI_1 id -1 key ${KEY_HEX}`, /id '-1' is not 0-255/],
    [`eth1 VI_1 id 1 id 2 key ${KEY_HEX}`, /'id' given twice/],
    [`eth1 VI_1 key ${KEY_HEX} key ${KEY_HEX}`, /'key' given twice/],
    [`eth1 VI_1 key`, /'key' needs a value/],
    [`eth1 VI_1 port 9 key ${KEY_HEX}`, /unexpected 'port'/],
    [`eth1 VI_9 key ${KEY_HEX}`, /no such vrrp instance: VI_9/],
    [`eth9 VI_1 key ${KEY_HEX}`, /no such link: eth9/],
    [`host0 VI_1 key ${KEY_HEX}`, /not attached to the data plane/],
    [`bare0 VI_1 key ${KEY_HEX}`, /no IPv4 address/],
    ["del now", /unexpected argument 'now'/],
    ["show all", /unexpected argument 'all'/],
  ])("refuses %j and changes nothing", async (line, why) => {
    const { w, run } = setup();
    await run(`eth1 VI_1 key ${KEY_HEX}`);
    const d = w.daemon();
    const r = await run(line);
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/^error: /);
    expect(r.text).toMatch(why);
    expect(w.daemon()).toBe(d);
    expect(d!.isStopped).toBe(false);
    expect(w.runningConfig!()).toEqual([`lvs_sync_daemon eth1 VI_1 id 0 key ${KEY_HEX}`]);
  });

  it("a link that cannot be opened is an error and keeps nothing", async () => {
    const { w, run } = setup({ openFails: true });
    const r = await run(`eth1 VI_1 key ${KEY_HEX}`);
    expect(r).toMatchObject({ ok: false });
    expect(r.text).toMatch(/^error: lvs_sync_daemon: cannot open .* EPERM/);
    expect(w.daemon()).toBeNull();
  });

  it("checkpoint's undo puts the previous line back", async () => {
    const { w, run } = setup();
    await run(`eth1 VI_1 key ${KEY_HEX}`);
    const undo = w.checkpoint!();
    await run(`eth2 VI_2 id 3 key ${KEY_HEX}`);
    await undo();
    expect(w.runningConfig!()).toEqual([`lvs_sync_daemon eth1 VI_1 id 0 key ${KEY_HEX}`]);
    const undo2 = w.checkpoint!();
    await run("del");
    await run(`eth2 VI_2 key ${KEY_HEX}`);
    await undo2();
    expect(w.config()).toMatchObject({ dev: "eth1" });
    await run("del");
    const undo3 = w.checkpoint!();
    await run(`eth2 VI_2 key ${KEY_HEX}`);
    await undo3();
    expect(w.daemon()).toBeNull();
  });
});
