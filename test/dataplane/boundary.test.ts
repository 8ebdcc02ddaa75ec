// The Wasm boundary, declared once: the supervisor's view of the exports is
// the compiler's declarations (build/weir.d.ts, written by build:wasm beside
// build/weir.wasm; src/dataplane/wasm.ts derives WeirExports from them).
// These tests fail when the declarations and the modules that are loaded
// disagree: an export added or gone, or one taking another number of
// parameters. The memory layout comes from the data plane at load
// (assembly/ctl/layout.ts, read by src/dataplane/layout.ts), and so do the
// scheduler names, but for a list generated at build time for the checks
// that run without a data plane.

import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it, expect } from "vitest";
import { compileModule, instantiate, wasmPath } from "../../src/dataplane/wasm.js";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { SCHEDULERS } from "../../src/dataplane/schedulers.js";

type Shape = string; // "function/3", "global", "memory"

/** Counts a parameter list's parameters (commas outside brackets). */
function arity(params: string): number {
  if (params.trim() === "") return 0;
  let depth = 0, n = 1;
  for (const c of params) {
    if ("(<[{".includes(c)) depth++;
    else if (")>]}".includes(c)) depth--;
    else if (c === "," && depth === 0) n++;
  }
  return n;
}

/** The exports build/weir.d.ts declares, by name. */
function declared(): Map<string, Shape> {
  const file = path.join(path.dirname(wasmPath()), "weir.d.ts");
  const text = readFileSync(file, "utf8");
  const open = "declare namespace __AdaptedExports {";
  const start = text.indexOf(open);
  const end = text.indexOf("\n}\n", start);
  if (start < 0 || end < 0) throw new Error(`${file}: no ${open} … } (run npm run build:wasm)`);
  const body = text.slice(start + open.length, end);
  const out = new Map<string, Shape>();
  for (const m of body.matchAll(/^\s*export function (\w+)\((.*)\):/gm)) out.set(m[1], `function/${arity(m[2])}`);
  for (const m of body.matchAll(/^\s*export const (\w+): (.+);/gm)) out.set(m[1], m[2] === "WebAssembly.Memory" ? "memory" : "global");
  // Every declaration was read (a line the patterns above miss would hide an export).
  expect(out.size).toBe([...body.matchAll(/^\s*export /gm)].length);
  return out;
}

/** The exports of the module that is loaded, by name. */
async function loaded(debug: boolean): Promise<Map<string, Shape>> {
  const module = await compileModule(debug);
  const x = (await instantiate(debug)) as unknown as Record<string, unknown>;
  const out = new Map<string, Shape>();
  for (const e of WebAssembly.Module.exports(module)) {
    out.set(e.name, e.kind === "function" ? `function/${(x[e.name] as (...a: unknown[]) => unknown).length}` : e.kind);
  }
  return out;
}

const sorted = (m: Map<string, Shape>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe("the Wasm boundary", () => {
  it("build/weir.d.ts declares exactly the release module's exports, with their parameter counts", async () => {
    const d = declared();
    expect(d.size).toBeGreaterThan(50);
    expect(sorted(await loaded(false))).toEqual(sorted(d));
  });

  it("the debug module exports the same", async () => {
    expect(sorted(await loaded(true))).toEqual(sorted(await loaded(false)));
  });
});

describe("the layout the data plane declares (assembly/ctl/layout.ts)", () => {
  /** The raw table: "group.field" → value. */
  async function table(): Promise<{ dp: DataPlane; entries: [string, number][] }> {
    const dp = await DataPlane.load({ connCapacity: 64, connCapacity6: 16 });
    const entries: [string, number][] = [];
    for (let i = 0; i < dp.x.layoutCount(); i++) entries.push([dp.readString(dp.x.layoutName(i)), dp.x.layoutValue(i)]);
    return { dp, entries };
  }

  it("names each entry once, and the supervisor reads every one (no entry is dead on either side)", async () => {
    const { dp, entries } = await table();
    const names = entries.map(([n]) => n);
    expect(new Set(names).size).toBe(names.length);
    const L = dp.layout as unknown as Record<string, unknown>;
    for (const name of names) {
      const [group, field] = name.split(".");
      if (group === "tcpState") expect(dp.layout.tcpStates).toContain(field);
      else if (group === "neighState") expect(dp.layout.neighStates).toContain(field);
      else expect(Object.keys((L[group] ?? {}) as object), name).toContain(field);
    }
  });

  it("keeps every field inside its record", async () => {
    const { dp } = await table();
    const L = dp.layout;
    const within = (rec: Record<string, number>, size: number, what: string) => {
      for (const [f, off] of Object.entries(rec)) if (f !== "size") expect(off, `${what}.${f}`).toBeLessThan(size);
    };
    within(L.desc, L.desc.size, "desc");
    within(L.scratch, L.scratch.size, "scratch");
    within(L.conn, L.conn.size, "conn");
    for (const off of Object.values(L.stats)) expect(L.scratch.res + off + 8).toBeLessThanOrEqual(L.scratch.resActive);
    expect(L.tcpStates[0]).toBe("NONE");
  });
});

describe("the scheduler names", () => {
  it("src/dataplane/schedulers.ts (generated by build:wasm) is the loaded data plane's list, in id order", async () => {
    const dp = await DataPlane.load({ connCapacity: 64, connCapacity6: 16 });
    expect([...SCHEDULERS]).toEqual(dp.schedulers);
  });
});
