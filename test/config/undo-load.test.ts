// Undoing a whole config load: the links, addresses and routes it made go
// back out of the data plane, even when the state put back has no links at
// all (a boot-time load whose later word failed). Before the fix the
// addresses were looked up on links the target state no longer had, and the
// undo threw half way, leaving the data plane and the model apart.

import { describe, expect, it } from "vitest";
import { makeConsole } from "../console/helpers.js";
import { TOPOLOGY } from "../console/fixture.js";
import { err } from "../../src/console/types.js";

describe("undo of a config load", () => {
  it("from an empty start: a failing later word takes every link, address and route back out", async () => {
    const t = await makeConsole();
    t.con.register("later", { help: "later — fails (test double)", async execute() { return err("refused"); } });
    const text = [...TOPOLOGY, "ip route add 10.9.0.0/16 via 198.19.0.254", "later"].join("\n");
    expect(await t.con.loadConfigText(text, "boot.conf")).toEqual({
      ok: false, file: "boot.conf", line: 7, message: "refused", text: "boot.conf:7: error: refused",
    });
    expect(await t.run("show running-config")).toBe("");
    expect(await t.run("ip addr show")).toBe("");
    expect(await t.run("ip route show")).toBe("");
    // The same lines load again (nothing of the first try is left in the data plane).
    expect(await t.con.loadConfigText(text.replace("\nlater", ""), "again.conf")).toEqual({ ok: true, lines: 6 });
    expect((await t.run("show running-config")).split("\n")).toEqual([...TOPOLOGY, "ip route add 10.9.0.0/16 via 198.19.0.254 dev eth1"]);
  });
});
