// What `save` writes loads back as the same words: any word list the console
// accepts (here the free-text words of health checks: a script's arguments,
// an HTTP path) → save → load into a fresh console → the same checks and
// the same running-config, one line per line.

import fc from "fast-check";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthMonitor } from "../../src/health/monitor.js";
import { healthCommand } from "../../src/health/command.js";
import { quoteWord } from "../../src/config/save.js";
import { FakeTarget } from "../health/helpers.js";
import { makeConsole, silent } from "./helpers.js";

const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
const word = fc.string({
  unit: fc.oneof(fc.constantFrom(" ", "\"", "'", "\\", "#", "--", "\u00a0", "é"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })),
  maxLength: 10,
}).filter((w) => !CONTROL.test(w) && w !== "--");
const httpPath = fc.string({ unit: fc.constantFrom("a", "/", "\"", "'", "\\", "#", "%", "?", "="), maxLength: 12 }).map((p) => `/${p}`);

async function healthConsole(configPath?: string) {
  const t = await makeConsole({ configPath });
  const monitor = new HealthMonitor({ log: silent });
  t.con.register("health", healthCommand(monitor, new FakeTarget()));
  return { ...t, monitor };
}

let dir: string;
beforeAll(async () => { dir = await mkdtemp(path.join(os.tmpdir(), "weir-words-")); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe("save → load keeps every word", () => {
  it("script arguments and HTTP paths of any accepted text", async () => {
    const file = path.join(dir, "weir.conf");
    const a = await healthConsole(file);
    const b = await healthConsole();
    await fc.assert(fc.asyncProperty(fc.array(word, { maxLength: 5 }), httpPath, async (args, p) => {
      const lines = [
        `health add -t 198.18.100.1:80 -r 198.19.0.11:80 script /etc/weir/scripts/check ${args.map(quoteWord).join(" ")}`,
        `health add -t 198.18.100.1:80 -r 198.19.0.12:80 http path ${quoteWord(p)}`,
      ];
      for (const l of lines) expect(await a.con.execute(l, { source: "config" }), l).toEqual({ ok: true, text: "" });
      expect(a.monitor.specs().map((s) => s.check)).toEqual([
        { type: "script", command: "/etc/weir/scripts/check", args },
        { type: "http", path: p, status: 200 },
      ]);
      expect(await a.run("save")).toBe("");
      const saved = await readFile(file, "utf8");
      expect(saved.split("\n")).toHaveLength(3); // two lines and the final newline
      expect(await b.con.loadConfig(file)).toEqual({ ok: true, lines: 2 });
      expect(b.monitor.specs()).toEqual(a.monitor.specs());
      expect(`${await b.run("show running-config")}\n`).toBe(saved);
      for (const c of [a, b]) {
        await c.run("health del -t 198.18.100.1:80 -r 198.19.0.11:80");
        await c.run("health del -t 198.18.100.1:80 -r 198.19.0.12:80");
      }
    }), { numRuns: 150 });
  });
});
