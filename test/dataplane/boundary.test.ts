// The Wasm boundary, declared once: the supervisor's view of the exports is
// the compiler's declarations (build/weir.d.ts, written by build:wasm beside
// build/weir.wasm; src/dataplane/wasm.ts derives WeirExports from them).
// These tests fail when the declarations and the modules that are loaded
// disagree: an export added or gone, or one taking another number of
// parameters.

import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it, expect } from "vitest";
import { compileModule, instantiate, wasmPath } from "../../src/dataplane/wasm.js";

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
