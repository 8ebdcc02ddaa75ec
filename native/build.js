#!/usr/bin/env node
// Builds the addon: `napi build --release --platform` in native/, with cargo
// found even when the shell profile that puts ~/.cargo/bin on PATH did not
// run (CI). Produces native/weir-native.<platform>.node (git-ignored).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { homedir } from "node:os";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);

function onPath(cmd) {
  return (process.env.PATH ?? "").split(delimiter).some((d) => d && existsSync(join(d, cmd)));
}

const env = { ...process.env };
if (!onPath("cargo")) {
  const candidates = [
    process.env.CARGO_HOME && join(process.env.CARGO_HOME, "bin"),
    join(homedir(), ".cargo", "bin"),
    "/root/.cargo/bin",
  ].filter(Boolean);
  const found = candidates.find((d) => existsSync(join(d, "cargo")));
  if (!found) {
    console.error("build:native: cargo not found on PATH nor in " + candidates.join(", ") + " (install Rust, e.g. rustup)");
    process.exit(1);
  }
  env.PATH = found + delimiter + (env.PATH ?? "");
}

const napi = join(root, "node_modules", ".bin", "napi");
if (!existsSync(napi)) {
  console.error("build:native: @napi-rs/cli is not installed (npm ci at the repository root)");
  process.exit(1);
}
// --no-js: index.js and index.d.ts are ours, hand-written.
const r = spawnSync(napi, ["build", "--release", "--platform", "--no-js"], { cwd: here, env, stdio: "inherit" });
if (r.error) {
  console.error("build:native: cannot run napi: " + r.error.message);
  process.exit(1);
}
process.exit(r.status ?? 1);
