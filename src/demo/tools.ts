// The host tools `weir demo` needs (iproute2's `ip`, nftables' `nft`). On a
// fresh Debian machine the README's first command must just work, so the
// demo installs what is missing with apt-get, saying so before it does; where
// it cannot (no apt-get, or apt-get fails) it names the package and stops.

import { spawnSync } from "node:child_process";
import { haveCommand, isRoot } from "./sys.js";

export interface Tool { cmd: string; pkg: string; why: string; }

export const DEMO_TOOLS: Tool[] = [
  { cmd: "ip", pkg: "iproute2", why: "network namespaces and links" },
  { cmd: "nft", pkg: "nftables", why: "the appliance's ingress drop and host guard" },
];

const APT_TIMEOUT_MS = 10 * 60_000;

/** Installs the missing tools; returns an error line, or undefined when all are there. */
export function ensureTools(tools: Tool[], say: (s: string) => void, have = haveCommand, apt = runApt): string | undefined {
  const missing = tools.filter((t) => !have(t.cmd));
  if (missing.length === 0) return undefined;
  const pkgs = missing.map((t) => t.pkg);
  const list = missing.map((t) => `${t.cmd} (${t.pkg}: ${t.why})`).join(", ");
  if (!have("apt-get")) return `missing ${list}: install ${pkgs.join(" ")} with your package manager`;
  say(`weir demo: installing ${pkgs.join(" ")} with apt-get, for ${list}`);
  // A fresh machine may have no package lists yet: try as is, then after an update.
  if (!apt(["install", "-y", "-qq", "--no-install-recommends", ...pkgs])) {
    apt(["update", "-qq"]);
    apt(["install", "-y", "-qq", "--no-install-recommends", ...pkgs]);
  }
  const still = missing.filter((t) => !have(t.cmd));
  if (still.length) return `apt-get install ${pkgs.join(" ")} did not provide ${still.map((t) => t.cmd).join(", ")}: install it by hand`;
  return undefined;
}

/** What every demo checks first: root, and the tools (installed when missing). False (said on stderr) when it cannot run. */
export function demoPreflight(name: string, say: (s: string) => void): boolean {
  if (!isRoot()) {
    process.stderr.write(`${name} needs root (it builds network namespaces and opens AF_PACKET sockets): run it with sudo\n`);
    return false;
  }
  const missing = ensureTools(DEMO_TOOLS, say);
  if (missing) process.stderr.write(`weir demo: ${missing}\n`);
  return !missing;
}

const STOP_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** A demo's Ctrl-C: the first signal asks it to stop (stopping turns true), a second aborts at once (abort(), exit 130). off() when done. */
export function demoSignals(say: (s: string) => void, abort: () => void): { readonly stopping: boolean; off(): void } {
  const state = { stopping: false, off: () => { for (const s of STOP_SIGNALS) process.off(s, on); } };
  function on(sig: NodeJS.Signals): void {
    if (state.stopping) {
      try { abort(); } catch { /* best effort */ }
      process.exit(130);
    }
    state.stopping = true;
    say(`\n${sig}: stopping (again to abort at once)`);
  }
  for (const s of STOP_SIGNALS) process.on(s, on);
  return state;
}

/** apt-get ARGS, its errors on our stderr; true when it exited 0. */
function runApt(args: string[]): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  return spawnSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env, timeout: APT_TIMEOUT_MS }).status === 0;
}
