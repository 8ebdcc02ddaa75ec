// Loading the data-plane module. The only place that instantiates it.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";

/** The data plane's exports (assembly/index.ts), as JavaScript sees them. */
export interface WeirExports {
  memory: WebAssembly.Memory;
  init(cap4: number, cap6: number, seed: number): number;
  scratch(): number;
  allocBuffer(size: number, align: number): number;
  runBatch(desc: number, count: number, now: number): number;
  setExpireBudget(n: number): void;
  txBegin(): number;
  txCommit(): number;
  txAbort(): void;
  svcCall(op: number): number;
  destCall(op: number): number;
  svcFlush(): number;
  markRuleAdd(af: number, proto: number, prefixLen: number, portLo: number, portHi: number, mark: number): number;
  markRulesClear(): number;
  svcStats(): number;
  destStats(): number;
  serviceCount(): number;
  setTimeouts(tcp: number, tcpfin: number, udp: number): void;
  getTimeout(which: number): number;
  setExpireQuiescent(on: number): void;
  linkSet(id: number, mtu: number, up: number): number;
  linkDel(id: number): number;
  addrAdd(id: number, af: number, prefixLen: number): number;
  addrDel(id: number, af: number): number;
  routeAdd(af: number, len: number, link: number, hasGw: number): number;
  routeDel(af: number, len: number): number;
  neighSet(link: number, af: number, now: number): number;
  neighFlush(link: number): void;
  neighCapacity(): number;
  neighRead(i: number): number;
  dropReasonCount(): number;
  dropReasonName(i: number): number;
  dropCounter(i: number): bigint;
  connCount(af: number): number;
  connTableBytes(af: number): number;
  connTableCapacity(af: number): number;
  batchStat(which: number): bigint;
  errorName(code: number): number;
  schedulerCount(): number;
  schedulerName(i: number): number;
  testSchedule(): number;
  testSetDestConns(active: number, inactive: number): number;
  connsClear(): void;
  expireStep(af: number, now: number, budget: number): number;
  // packet I/O (assembly/ring/io.ts)
  ioAttach(id: number, rxBase: number, rxVersion: number, rxBlockSize: number, rxBlockCount: number, rxFrameSize: number, rxFrameCount: number, rxVnet: number,
    txBase: number, txFrameSize: number, txFrameCount: number, txVnet: number, localBase: number, localCap: number): number;
  ioDetach(id: number): number;
  ioRun(max: number, now: number): number;
  ioTakePending(id: number): number;
  ioLocalBase(id: number): number;
  ioLocalUsed(id: number): number;
  ioLocalReset(id: number): void;
  ioHostSlot(id: number): number;
  ioHostCap(id: number): number;
  ioHostCommit(id: number, len: number): number;
  ioCounter(id: number, i: number): bigint;
  ioCounterCount(): number;
  ioCounterName(i: number): number;
  gsoCount(p: number, len: number, flags: number): number;
  gsoSegment(p: number, len: number, flags: number, k: number, dst: number, cap: number): number;
  neighProbe(af: number, now: number): number;
  /** AssemblyScript runtime: runs the garbage collector (minimal runtime: only when called). */
  __collect(): void;
}

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
  return { ...(instance.exports as object), memory } as WeirExports;
}

/** Default data-plane memory: 512 MiB (rings of a few links, a 1 M-entry IPv4 table, and room). */
export const DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024;

/** Reads an AssemblyScript string (UTF-16, byte length stored just before it). */
export function readString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return "";
  const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  return Buffer.from(memory.buffer, ptr, bytes).toString("utf16le");
}
