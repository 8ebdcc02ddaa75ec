#!/usr/bin/env node
// npm run bench [-- ID ...]: runs the benchmarks of TARGETS.md that live here
// (B1 B2 B7 B8, and as root the network ones B3 B4 B5 B6 B9 B10 SCALE; all by
// default) and writes bench/results/latest.json and latest.md. Progress goes
// to stderr. Wrap in `flock /tmp/weir-cpu.lock` on a shared machine.
// Options: --runs N (default 3, minimum 3).

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BENCH, buildRef, checkBuilt, machine, log } from "./lib/util.js";

const ALL = {
  B1: () => import("./b1.js"),
  B1S: () => import("./b1sync.js"),
  B2: () => import("./b2.js"),
  B3: () => import("./b3.js"),
  B4: () => import("./b3.js"),
  B5: () => import("./b5.js"),
  B6: () => import("./b5.js"),
  B7: () => import("./b7.js"),
  B8: () => import("./b8.js"),
  B9: () => import("./b9.js"),
  B10: () => import("./b10.js"),
  SCALE: () => import("./scale.js"),
};
/** Ids measured by one module in one go (B4 beside B3, B6 needs B5's maximum). */
const GROUP = { B3: ["B3", "B4"], B4: ["B3", "B4"], B5: ["B5", "B6"], B6: ["B5", "B6"] };
const NET = new Set(["B3", "B4", "B5", "B6", "B9", "B10", "SCALE"]);

function parseArgs(argv) {
  const ids = [];
  let runs = 3;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--runs") runs = Math.max(3, Number(argv[++i]) || 3);
    else ids.push(argv[i].toUpperCase());
  }
  for (const id of ids) if (!ALL[id]) throw new Error(`unknown benchmark ${id} (have ${Object.keys(ALL).join(" ")})`);
  let all = Object.keys(ALL);
  if (!ids.length && process.getuid?.() !== 0) {
    log("not root: skipping the network benchmarks (B3 B4 B5 B6 B9 B10 SCALE)");
    all = all.filter((id) => !NET.has(id));
  }
  return { ids: ids.length ? ids : all, runs };
}

const fmt = (v, unit) => {
  if (v === null || v === undefined) return "—";
  if (unit === "entries") return Math.round(v).toLocaleString("en-US");
  if (Math.abs(v) >= 100) return v.toFixed(1);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toPrecision(3);
};
const mmm = (xs, unit) => {
  const v = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!v.length) return "—";
  const med = v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  return `${fmt(v[0], unit)} / ${fmt(med, unit)} / ${fmt(v[v.length - 1], unit)}`;
};

function markdown(doc) {
  const m = doc.machine;
  const lines = [
    "# Weir benchmark results",
    "",
    `Machine: ${m.cpu}, ${m.cores} cores, kernel ${m.kernel}, Node ${m.node}, V8 ${m.v8}. Date: ${doc.date}.`,
    `Command: \`${doc.command}\`. ratio = value ÷ baseline (medians of the runs); each name says whether lower or higher is better.`,
    "",
    "| id | name | unit | value | baseline | ratio | value min / median / max | baseline min / median / max | runs |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of doc.results) {
    lines.push(`| ${r.id} | ${r.name} | ${r.unit} | ${fmt(r.value, r.unit)} | ${fmt(r.baseline, r.unit)} | ${r.ratio ?? "—"} | ${mmm(r.runs.map((x) => x.value), r.unit)} | ${mmm(r.runs.map((x) => x.baseline), r.unit)} | ${r.runs.length} |`);
  }
  const notes = doc.results.filter((r) => r.note);
  if (notes.length) {
    lines.push("", "## Notes", "");
    for (const r of notes) lines.push(`- ${r.id} ${r.name}: ${r.note}`);
  }
  if (doc.scaling) lines.push("", doc.scaling);
  if (doc.errors.length) {
    lines.push("", "## Errors", "");
    for (const e of doc.errors) lines.push(`- ${e.id}: ${e.error}`);
  }
  return lines.join("\n") + "\n";
}

/** The SCALE figures as a small table (req/s by real servers) under the plot's name. */
function scalingNote(rows) {
  const ns = [...new Set(rows.map((r) => Number(/, (\d+) real server/.exec(r.name)[1])))];
  const get = (label, n) => rows.find((r) => r.name.includes(`${label}, ${n} real server`));
  const lines = ["## Scaling (bench/results/scaling.svg)", "",
    "Requests/s with `Connection: close` against 1…N real servers, medians; client, balancer and real servers share the same 2 cores (see bench/README.md for what this can and cannot show).", "",
    `| balancer | ${ns.map((n) => `${n} RS`).join(" | ")} |`, `|---|${ns.map(() => "---").join("|")}|`];
  lines.push(`| Weir NAT | ${ns.map((n) => fmt(get("Weir NAT", n)?.value)).join(" | ")} |`);
  lines.push(`| Weir DR | ${ns.map((n) => fmt(get("Weir DR", n)?.value)).join(" | ")} |`);
  lines.push(`| HAProxy | ${ns.map((n) => fmt(get("Weir NAT", n)?.baseline)).join(" | ")} |`);
  return lines.join("\n");
}

async function main() {
  const { ids, runs } = parseArgs(process.argv.slice(2));
  checkBuilt();
  buildRef();
  const doc = { machine: machine(), date: new Date().toISOString(), command: `npm run bench${ids.length < Object.keys(ALL).length ? " -- " + ids.join(" ") : ""}`, results: [], errors: [] };
  const done = new Set();
  for (const id of ids) {
    if (done.has(id)) continue;
    const only = (GROUP[id] ?? [id]).filter((x) => ids.includes(x));
    for (const x of only) done.add(x);
    const t0 = Date.now();
    log(`${only.join("+")} …`);
    try {
      const mod = await ALL[id]();
      const rows = await mod.run({ runs, only });
      doc.results.push(...rows.filter((r) => only.includes(r.id)));
      if (id === "SCALE") doc.scaling = scalingNote(rows);
    } catch (e) {
      log(`${id} failed: ${e.stack ?? e}`);
      doc.errors.push({ id, error: String(e.message ?? e) });
    }
    log(`${only.join("+")} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const dir = path.join(BENCH, "results");
  mkdirSync(dir, { recursive: true });
  const json = { machine: doc.machine, date: doc.date, results: doc.results, ...(doc.errors.length ? { errors: doc.errors } : {}) };
  writeFileSync(path.join(dir, "latest.json"), JSON.stringify(json, null, 2) + "\n");
  writeFileSync(path.join(dir, "latest.md"), markdown(doc));
  process.stdout.write(markdown(doc));
  if (doc.errors.length) process.exitCode = 1;
}

main().catch((e) => { log(e.stack ?? String(e)); process.exitCode = 1; });
