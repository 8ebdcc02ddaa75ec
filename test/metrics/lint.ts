/**
 * An independent reader of the Prometheus text format (0.0.4) for tests: it
 * parses every line by the format's grammar and lists what is wrong. It
 * never imports from src/, so the writer is checked against the spec, not
 * against itself. promtool (when present) checks the same text a second way.
 *
 * Checked: every line is a HELP, a TYPE or a sample line; names match
 * [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and are not
 * reserved (__*); label values use only the escapes \\ \" \n; values parse as
 * Go floats; each family has one HELP and one TYPE, before its samples, and
 * its lines are contiguous; no series repeats; counters end in _total and
 * are not negative, other types do not end in _total; the text ends in "\n".
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  raw: string;
}

export interface Family {
  name: string;
  help?: string;
  type?: string;
  samples: Sample[];
}

export interface Parsed {
  families: Map<string, Family>;
  problems: string[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = "[a-zA-Z_][a-zA-Z0-9_]*";
const NAME_RE = new RegExp(`^${NAME}$`);
const FLOAT_RE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseFloatGo(s: string): number | undefined {
  if (!FLOAT_RE.test(s)) return undefined;
  if (s === "NaN") return NaN;
  if (/Inf$/.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  return Number(s);
}

/** Parses `{a="x",b="y"}` starting at s[i] === "{"; returns labels and the index after "}". */
function parseLabels(s: string, i: number, problems: string[], where: string): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  i++; // "{"
  const labelRe = new RegExp(`^${LABEL}`);
  for (;;) {
    if (s[i] === "}") return { labels, end: i + 1 };
    const m = labelRe.exec(s.slice(i));
    if (!m) { problems.push(`${where}: bad label name at column ${i}`); return undefined; }
    const lname = m[0];
    if (lname.startsWith("__")) problems.push(`${where}: reserved label name ${lname}`);
    if (lname in labels) problems.push(`${where}: label ${lname} given twice`);
    i += lname.length;
    if (s[i] !== "=" || s[i + 1] !== '"') { problems.push(`${where}: expected ="" after ${lname}`); return undefined; }
    i += 2;
    let v = "";
    for (;;) {
      const c = s[i];
      if (c === undefined) { problems.push(`${where}: unterminated label value`); return undefined; }
      if (c === '"') { i++; break; }
      if (c === "\\") {
        const e = s[i + 1];
        if (e === "\\") v += "\\";
        else if (e === '"') v += '"';
        else if (e === "n") v += "\n";
        else { problems.push(`${where}: bad escape \\${e} in label ${lname}`); return undefined; }
        i += 2;
        continue;
      }
      v += c;
      i++;
    }
    labels[lname] = v;
    if (s[i] === ",") { i++; continue; }
    if (s[i] !== "}") { problems.push(`${where}: expected , or } after label ${lname}`); return undefined; }
  }
}

export function parseExposition(text: string): Parsed {
  const problems: string[] = [];
  const families = new Map<string, Family>();
  const finished = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  if (!text.endsWith("\n")) problems.push("text does not end in a newline");
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();

  const enter = (name: string, where: string): Family => {
    if (current !== name) {
      if (current !== undefined) finished.add(current);
      if (finished.has(name)) problems.push(`${where}: family ${name} is split (its lines are not together)`);
      current = name;
    }
    let f = families.get(name);
    if (!f) { f = { name, samples: [] }; families.set(name, f); }
    return f;
  };

  lines.forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line === "") { problems.push(`${where}: empty line`); return; }
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) { problems.push(`${where}: comment that is neither HELP nor TYPE`); return; }
      const [, kind, name, rest = ""] = m;
      if (!NAME_RE.test(name)) problems.push(`${where}: bad metric name ${name}`);
      const f = enter(name, where);
      if (kind === "HELP") {
        if (f.help !== undefined) problems.push(`${where}: second HELP for ${name}`);
        if (!/^(?:[^\\]|\\[\\n])*$/.test(rest)) problems.push(`${where}: bad escape in HELP`);
        f.help = rest.replace(/\\(\\|n)/g, (_, e) => (e === "n" ? "\n" : "\\"));
      } else {
        if (f.type !== undefined) problems.push(`${where}: second TYPE for ${name}`);
        if (f.samples.length) problems.push(`${where}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest)) problems.push(`${where}: unknown type ${rest}`);
        f.type = rest;
      }
      return;
    }
    const nm = new RegExp(`^${NAME}`).exec(line);
    if (!nm) { problems.push(`${where}: sample line does not start with a metric name`); return; }
    const name = nm[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === "{") {
      const l = parseLabels(line, i, problems, where);
      if (!l) return;
      labels = l.labels;
      i = l.end;
    }
    const rest = line.slice(i);
    const vm = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
    if (!vm) { problems.push(`${where}: expected " VALUE [TIMESTAMP]" after the labels`); return; }
    const value = parseFloatGo(vm[1]);
    if (value === undefined) { problems.push(`${where}: value ${vm[1]} is not a float`); return; }
    const f = enter(name, where);
    const id = name + JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
    if (series.has(id)) problems.push(`${where}: duplicate series ${id}`);
    series.add(id);
    f.samples.push({ name, labels, value, raw: line });
  });

  for (const f of families.values()) {
    if (f.help === undefined) problems.push(`${f.name}: no HELP`);
    if (f.type === undefined) problems.push(`${f.name}: no TYPE`);
    if (f.type === "counter") {
      if (!f.name.endsWith("_total")) problems.push(`${f.name}: counter without _total`);
      for (const s of f.samples) if (!(s.value >= 0)) problems.push(`${f.name}: counter value ${s.value}`);
    } else if (f.name.endsWith("_total")) {
      problems.push(`${f.name}: ${f.type} ends in _total`);
    }
  }
  return { families, problems };
}
