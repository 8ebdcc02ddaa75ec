// Shared helpers: the C reference (build and run), timing, statistics, machine facts.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const ROOT = path.resolve(BENCH, "..");
const SRC = path.join(BENCH, "ref", "weir_ref.c");
const BIN = path.join(BENCH, "ref", "bin", "weir_ref");

/** Builds bench/ref/bin/weir_ref with gcc -O2 when missing or older than its source. */
export function buildRef() {
  if (existsSync(BIN) && statSync(BIN).mtimeMs >= statSync(SRC).mtimeMs) return BIN;
  mkdirSync(path.dirname(BIN), { recursive: true });
  execFileSync("gcc", ["-O2", "-Wall", "-o", BIN, SRC], { stdio: "inherit" });
  return BIN;
}

/** Runs the C reference on a trace file; returns its JSON line. */
export function runRef(trace) {
  const out = execFileSync(BIN, [trace], { encoding: "utf8", maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split("\n").pop());
}

export function tempDir() { return mkdtempSync(path.join(tmpdir(), "weir-bench-")); }
export function removeDir(d) { rmSync(d, { recursive: true, force: true }); }

export const nowNs = () => Number(process.hrtime.bigint());

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A result row in the TARGETS.md format; value and baseline are the medians of the runs. */
export function result(id, name, unit, runs, digits = 2) {
  const r = (x) => (x === null || x === undefined ? null : Number(x.toFixed(digits)));
  const value = median(runs.map((x) => x.value));
  const baseline = runs.every((x) => x.baseline != null) ? median(runs.map((x) => x.baseline)) : null;
  return {
    id, name, unit, value: r(value), baseline: r(baseline),
    ratio: baseline ? Number((value / baseline).toFixed(3)) : null,
    runs: runs.map((x) => ({ value: r(x.value), baseline: r(x.baseline ?? null) })),
  };
}

export function machine() {
  const cpu = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpus()[0]?.model ?? "unknown";
  let kernel = "unknown";
  try { kernel = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(); } catch {}
  return { cpu, cores: cpus().length, kernel, node: process.version, v8: process.versions.v8 };
}

/** Fails early, with the command to run, when the release build or dist/ is missing. */
export function checkBuilt() {
  for (const f of ["build/weir.wasm", "dist/dataplane/dataplane.js"]) {
    if (!existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\` first`);
  }
}

export function log(...a) { process.stderr.write(a.join(" ") + "\n"); }
