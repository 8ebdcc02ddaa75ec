// weir run's last resort: an uncaught exception or unhandled rejection is
// logged (fatal / error) and the process goes on; a flood is rate-limited.

import { describe, it, expect } from "vitest";
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import pino from "pino";
import { installLastResort } from "../../src/appliance/lastresort.js";

function capture() {
  const lines: { level: number; msg: string; err?: { message: string; stack?: string }; suppressed?: number }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level: "trace" }, stream), lines };
}

describe("last resort", () => {
  it("logs an uncaught exception at fatal and an unhandled rejection at error, with the stack", () => {
    const { log, lines } = capture();
    const proc = new EventEmitter();
    const remove = installLastResort({ log, proc });
    proc.emit("uncaughtException", new Error("stray throw"));
    proc.emit("unhandledRejection", new Error("stray rejection"));
    proc.emit("unhandledRejection", Symbol("not an error"));
    proc.emit("uncaughtException", { toString() { throw new Error("unprintable"); } });
    expect(lines.map((l) => [l.level, l.err?.message])).toEqual([
      [60, "stray throw"],
      [50, "stray rejection"],
      [50, "non-error value: Symbol(not an error)"],
    ]);
    expect(lines[0].msg).toMatch(/keeps running/);
    expect(lines[0].err?.stack).toContain("lastresort.test.ts");
    remove();
    expect(proc.listenerCount("uncaughtException") + proc.listenerCount("unhandledRejection")).toBe(0);
  });

  it("logs at most maxPerMinute in full, then how many it left out", () => {
    const { log, lines } = capture();
    const proc = new EventEmitter();
    let now = 0;
    installLastResort({ log, proc, maxPerMinute: 3, now: () => now });
    for (let i = 0; i < 10; i++) proc.emit("uncaughtException", new Error(`e${i}`));
    expect(lines.map((l) => l.err?.message)).toEqual(["e0", "e1", "e2"]);
    now = 60_000;
    proc.emit("uncaughtException", new Error("later"));
    expect(lines.slice(3).map((l) => [l.suppressed, l.err?.message])).toEqual([[7, undefined], [undefined, "later"]]);
  });

  it("keeps a real process running past a throw in a callback and a rejected promise", async () => {
    const { log, lines } = capture();
    // The test runner's own handlers would report these as failures: set them aside meanwhile.
    const saved = { uncaughtException: process.listeners("uncaughtException"), unhandledRejection: process.listeners("unhandledRejection") };
    process.removeAllListeners("uncaughtException");
    process.removeAllListeners("unhandledRejection");
    const remove = installLastResort({ log });
    try {
      setImmediate(() => { throw new Error("thrown in a callback"); });
      void Promise.reject(new Error("rejected, never handled"));
      for (let i = 0; i < 100 && lines.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      remove();
      for (const l of saved.uncaughtException) process.on("uncaughtException", l);
      for (const l of saved.unhandledRejection) process.on("unhandledRejection", l as NodeJS.UnhandledRejectionListener);
    }
    expect(lines.map((l) => [l.level, l.err?.message]).sort()).toEqual([[50, "rejected, never handled"], [60, "thrown in a callback"]]);
    expect(process.exitCode ?? 0).toBe(0);
  });
});
