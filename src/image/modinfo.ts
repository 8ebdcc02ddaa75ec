// Kernel module dependencies, read from each module's .modinfo ELF section
// ("depends=a,b"), so the build needs neither depmod nor modinfo on the host.

import fs from "node:fs";
import path from "node:path";

/** The NUL-separated key=value strings of an ELF64 module's .modinfo section. */
export function readModinfo(ko: Buffer): Map<string, string[]> {
  if (ko.readUInt32BE(0) !== 0x7f454c46 || ko[4] !== 2 || ko[5] !== 1) throw new Error("not a little-endian ELF64 module");
  const shoff = Number(ko.readBigUInt64LE(0x28));
  const shentsize = ko.readUInt16LE(0x3a), shnum = ko.readUInt16LE(0x3c), shstrndx = ko.readUInt16LE(0x3e);
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    return { name: ko.readUInt32LE(o), offset: Number(ko.readBigUInt64LE(o + 0x18)), size: Number(ko.readBigUInt64LE(o + 0x20)) };
  };
  const strtab = section(shstrndx);
  const out = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const end = ko.indexOf(0, strtab.offset + s.name);
    if (ko.toString("latin1", strtab.offset + s.name, end) !== ".modinfo") continue;
    for (const kv of ko.toString("utf8", s.offset, s.offset + s.size).split("\0")) {
      const eq = kv.indexOf("=");
      if (eq <= 0) continue;
      const k = kv.slice(0, eq);
      out.set(k, [...(out.get(k) ?? []), kv.slice(eq + 1)]);
    }
  }
  return out;
}

/** Module name ("virtio_net") → its file under moduleDir, for every .ko found. */
export function indexModules(moduleDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ko")) out.set(e.name.slice(0, -3).replace(/-/g, "_"), p);
    }
  };
  walk(moduleDir);
  return out;
}

/**
 * The modules to load for `wanted`, dependencies first (an order insmod can
 * follow). Names the kernel has built in (modules.builtin) are skipped.
 */
export function moduleLoadOrder(index: Map<string, string>, builtin: Set<string>, wanted: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, from: string[]) => {
    const n = name.replace(/-/g, "_");
    if (seen.has(n) || builtin.has(n)) return;
    const file = index.get(n);
    if (!file) throw new Error(`kernel module '${n}' not found${from.length ? ` (needed by ${from.join(" <- ")})` : ""}`);
    seen.add(n);
    const deps = readModinfo(fs.readFileSync(file)).get("depends")?.[0] ?? "";
    for (const d of deps.split(",").filter(Boolean)) visit(d, [n, ...from]);
    order.push(n);
  };
  for (const w of wanted) visit(w, []);
  return order;
}

/** Names in lib/modules/VERSION/modules.builtin ("kernel/fs/ext4/ext4.ko" → "ext4"). */
export function builtinModules(moduleDir: string): Set<string> {
  const f = path.join(moduleDir, "modules.builtin");
  if (!fs.existsSync(f)) return new Set();
  return new Set(fs.readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => path.basename(l, ".ko").replace(/-/g, "_")));
}
