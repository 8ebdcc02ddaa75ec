#!/usr/bin/env node
// Builds the addon: `cargo build --release` in native/ (std only, no crates
// to fetch), then copies the cdylib to native/weir-native.<platform>.node
// (git-ignored), the name index.js loads. cargo is found even when the shell
// profile that puts ~/.cargo/bin on PATH did not run (CI).
//
// This is all `napi build --release --platform` did for a crate with a
// hand-written N-API layer and hand-written typings; doing it here drops
// @napi-rs/cli, whose dependency tree (GitHub client, cross toolchains)
// wanted Node 22 (npm's EBADENGINE warnings) for nothing this build uses.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, renameSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { homedir } from "node:os";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

function onPath(cmd) {
  return (process.env.PATH ?? "").split(delimiter).some((d) => d && existsSync(join(d, cmd)));
}

function fail(msg) {
  console.error(`build:native: ${msg}`);
  process.exit(1);
}

const env = { ...process.env };
if (!onPath("cargo")) {
  const candidates = [
    process.env.CARGO_HOME && join(process.env.CARGO_HOME, "bin"),
    join(homedir(), ".cargo", "bin"),
    "/root/.cargo/bin",
  ].filter(Boolean);
  const found = candidates.find((d) => existsSync(join(d, "cargo")));
  if (!found) fail(`cargo not found on PATH nor in ${candidates.join(", ")} (install Rust: Debian's cargo package, or rustup)`);
  env.PATH = found + delimiter + (env.PATH ?? "");
}

if (process.platform !== "linux") fail(`the addon is Linux only (AF_PACKET), not ${process.platform}`);
const r = spawnSync("cargo", ["build", "--release", "--offline", "--manifest-path", join(here, "Cargo.toml")], { cwd: here, env, stdio: "inherit" });
if (r.error) fail(`cannot run cargo: ${r.error.message}`);
if (r.status !== 0) process.exit(r.status ?? 1);

const lib = join(here, "target", "release", "libweir_native.so");
if (!existsSync(lib)) fail(`cargo built no ${lib}`);
// The name index.js looks for; glibc systems only (musl would be -musl).
const out = join(here, `weir-native.linux-${process.arch}-gnu.node`);
copyFileSync(lib, `${out}.tmp`);
renameSync(`${out}.tmp`, out); // a running process keeps its mapping of the old file
console.log(`build:native: ${out}`);
