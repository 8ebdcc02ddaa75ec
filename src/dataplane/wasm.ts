// Loading the data-plane module. The only place that instantiates it.
//
// The exports' types are not written here: they are derived from the
// declarations the compiler writes beside the module (asconfig.json's release
// target has "bindings": ["raw"], so `npm run build:wasm` writes
// build/weir.d.ts from the same compile as build/weir.wasm). Derived rather
// than a hand-written copy checked by a test: a copy is one more place to edit
// for every export, and the compiler's own description cannot disagree with
// the module it describes; tsc then checks every call site against it. The
// declarations describe the exports as asc's JavaScript glue adapts them
// (strings lifted, results made unsigned); this module instantiates the raw
// module instead (no glue between the I/O loop and runBatch/ioRun), so
// WeirExports maps them back: a string result is a pointer (readString), a
// bool parameter takes 0/1 too. test/dataplane/boundary.test.ts fails when the
// declarations on disk do not match the module that is loaded (an export
// added, gone or with another number of parameters), e.g. after a compile
// that did not go through build:wasm.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type { instantiate as instantiateBound } from "../../build/weir.js";

/** The exports as build/weir.d.ts declares them (asc's adapted view). */
type BoundExports = Awaited<ReturnType<typeof instantiateBound>>;
type RawParam<T> = T extends boolean ? boolean | number : T;
type RawResult<T> = T extends string ? number : T;
/** One export as the raw instance has it: strings as pointers, exported globals as WebAssembly.Global. */
type RawExport<T> = T extends (...args: infer P) => infer R
  ? (...args: { [K in keyof P]: RawParam<P[K]> }) => RawResult<R>
  : T extends number ? WebAssembly.Global : T;

/** The data plane's exports (assembly/index.ts and the runtime's), as JavaScript sees them. */
export type WeirExports = { readonly [K in keyof BoundExports]: RawExport<BoundExports[K]> } & { memory: WebAssembly.Memory };

const here = path.dirname(fileURLToPath(import.meta.url));

/** build/ sits at the package root, two levels above src/dataplane or dist/dataplane. */
export function wasmPath(debug = false): string {
  return path.resolve(here, "..", "..", "build", debug ? "weir.debug.wasm" : "weir.wasm");
}

let cached: Map<string, WebAssembly.Module> = new Map();

export async function compileModule(debug = false): Promise<WebAssembly.Module> {
  const p = wasmPath(debug);
  let m = cached.get(p);
  if (!m) {
    m = await WebAssembly.compile(await readFile(p));
    cached.set(p, m);
  }
  return m;
}

/** Wasm page size (64 KiB). */
export const WASM_PAGE = 65536;
/** Largest memory the module can address: 4 GiB minus a page (AssemblyScript's TLSF takes the end as a u32). */
export const MAX_MEMORY_BYTES = 65535 * WASM_PAGE;

/**
 * Instantiates the module over an imported memory of `memoryBytes` (rounded
 * up to whole pages) whose maximum equals its initial size: it never grows,
 * so packet rings can be mapped into it (native mapInto, MAP_FIXED) and every
 * view of its buffer stays valid. The heap (AssemblyScript's TLSF) takes the
 * whole of it at start; an allocation that does not fit traps.
 */
export async function instantiate(debug = false, memoryBytes = DEFAULT_MEMORY_BYTES): Promise<WeirExports> {
  const module = await compileModule(debug);
  const pages = Math.ceil(memoryBytes / WASM_PAGE);
  if (!Number.isInteger(pages) || pages < 1 || pages > MAX_MEMORY_BYTES / WASM_PAGE) {
    throw new RangeError(`data plane memory of ${memoryBytes} bytes: must be 64 KiB to ${MAX_MEMORY_BYTES} bytes`);
  }
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const instance = await WebAssembly.instantiate(module, {
    env: {
      memory,
      abort(msg: number, file: number, line: number, col: number) {
        const text = `${readString(memory, msg)} at ${readString(memory, file)}:${line}:${col}`;
        throw new Error(`data plane aborted: ${text}`);
      },
    },
  });
  // A plain object (not the frozen exports): `memory` is the imported one.
  const x = { ...(instance.exports as object), memory } as WeirExports;
  // Wasm hands i32 results to JavaScript signed: an offset or size past 2 GiB
  // (memory goes up to 4 GiB) would come back negative. These exports return
  // usize; none is called per packet.
  for (const name of USIZE_RESULTS) {
    const f = x[name] as (...a: number[]) => number;
    const unsigned = (...a: number[]) => f(...a) >>> 0;
    Object.defineProperty(unsigned, "length", { value: f.length }); // the same arity (boundary.test.ts reads it)
    (x as unknown as Record<string, unknown>)[name] = unsigned;
  }
  return x;
}

/** The exports whose result is a usize (assembly/index.ts): offsets into the memory and byte counts. */
const USIZE_RESULTS = ["scratch", "allocBuffer", "connTableBytes", "connBuf", "ioLocalBase", "ioHostSlot"] as const satisfies readonly (keyof WeirExports)[];

/** Default data-plane memory: 512 MiB (rings of a few links, a 1 M-entry IPv4 table, and room). */
export const DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024;

/** Reads an AssemblyScript string (UTF-16, byte length stored just before it). */
export function readString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return "";
  const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  return Buffer.from(memory.buffer, ptr, bytes).toString("utf16le");
}
