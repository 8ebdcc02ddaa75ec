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

export async function instantiate(debug = false): Promise<WeirExports> {
  const module = await compileModule(debug);
  let memory: WebAssembly.Memory | undefined;
  const instance = await WebAssembly.instantiate(module, {
    env: {
      abort(msg: number, file: number, line: number, col: number) {
        const text = memory ? `${readString(memory, msg)} at ${readString(memory, file)}:${line}:${col}` : "abort";
        throw new Error(`data plane aborted: ${text}`);
      },
    },
  });
  const exports = instance.exports as unknown as WeirExports;
  memory = exports.memory;
  return exports;
}

/** Reads an AssemblyScript string (UTF-16, byte length stored just before it). */
export function readString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return "";
  const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  return Buffer.from(memory.buffer, ptr, bytes).toString("utf16le");
}
