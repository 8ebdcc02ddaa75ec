// Global setup of the e2e project: the helper programs run from dist/, so
// rebuild the TypeScript when a source file is newer than its output.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

function stale(dir: string): boolean {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (stale(p)) return true;
    } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
      const out = path.join(root, "dist", path.relative(path.join(root, "src"), p)).replace(/\.ts$/, ".js");
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(p).mtimeMs) return true;
    }
  }
  return false;
}

export default function setup(): void {
  if (!stale(path.join(root, "src"))) return;
  try {
    execFileSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(root, "tsconfig.json")], {
      stdio: "inherit", timeout: 120000,
    });
  } catch {
    // Type errors still emit JavaScript; the tests report what actually breaks.
    process.stderr.write("e2e setup: tsc reported errors (output emitted anyway)\n");
  }
}
