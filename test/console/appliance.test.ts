// The appliance's own words (show stats, help, exit) and the registry other
// modules add their words to.

import { describe, expect, it } from "vitest";
import { ok } from "../../src/console/types.js";
import { makeConsole } from "./helpers.js";
import { fromClient, syn, topology } from "./fixture.js";

describe("appliance words", () => {
  it("show stats: batch counters, connections and every drop reason, one per line", async () => {
    const t = await makeConsole();
    await topology(t);
    await t.setup("ipvsadm -A -t 198.18.100.1:80 -s rr", "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m");
    fromClient(t, [syn(80, 45000), syn(81, 45001, "198.18.100.77")]);
    const out = (await t.run("show stats")).split("\n");
    expect(out.slice(0, 7)).toEqual(["batches 1", "frames_in 2", "frames_tx 1", "frames_local 0", "frames_held 0", "connections 1", "connections6 0"]);
    const nDrops = t.dp.dropReasons.length;
    expect(out.slice(7, 7 + nDrops)).toEqual(t.dp.dropReasons.map((r) => `drop_${r} ${r === "no_service" ? 1 : 0}`));
    expect(out.slice(7 + nDrops)).toEqual(["queued", "sent", "dropped_timeout", "dropped_overflow", "dropped_too_big", "dropped_flushed", "dropped_unsent", "held"].map((n) => `neigh_queue_${n} 0`));
    expect(await t.run("show stats now")).toBe("error: unexpected argument 'now'");
  });

  it("help lists every word; help WORD shows one; exit replies ok", async () => {
    const t = await makeConsole();
    expect(t.con.commands()).toEqual(["ip", "iptables", "ipvsadm", "show running-config", "show stats", "save", "help", "exit"]);
    const help = (await t.run("help")).split("\n");
    expect(help).toHaveLength(8);
    expect(help[2]).toMatch(/^ipvsadm ARGS — /);
    expect(await t.run("help show")).toBe([
      "show running-config — the lines that rebuild the current configuration",
      "show stats — data-plane batch counters, connections and drops by reason",
    ].join("\n"));
    expect(await t.reply("exit")).toEqual(ok());
    expect(await t.reply("")).toEqual(ok());
    expect(await t.reply("   # just a comment")).toEqual(ok());
    expect((await t.run("ipvsadm -h")).split("\n")[1]).toBe("Usage:");
    expect(await t.run("ipvsadm --version")).toBe("ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)");
  });

  it("lets modules register words, multi-token ones included, with running-config sections", async () => {
    const t = await makeConsole();
    t.con.register("show health", { help: "show health — test", execute: async (args) => ok(`health ${args.join(",")}`) });
    t.con.register("health", { help: "health — test", execute: async () => ok(), runningConfig: () => ["health check tcp:198.18.100.1:80 tcp"] });
    expect(await t.run("show health -t x")).toBe("health -t,x");
    expect(await t.run("show stats")).toMatch(/^batches 0/);
    await t.setup("ipvsadm -A -t 198.18.100.1:80 -s rr");
    expect(await t.run("show running-config")).toBe("ipvsadm -A -t 198.18.100.1:80 -s rr\nhealth check tcp:198.18.100.1:80 tcp");
    expect(() => t.con.register("health", { help: "", execute: async () => ok() })).toThrow("command 'health' is already registered");
    expect(t.con.commands().slice(-2)).toEqual(["show health", "health"]);
  });

  it("turns a module's thrown error into one error line", async () => {
    const t = await makeConsole();
    t.con.register("boom", { help: "", execute: async () => { throw new Error("kaput\nsecond line"); } });
    expect(await t.reply("boom")).toEqual({ ok: false, text: "error: internal error: kaput" });
  });
});
