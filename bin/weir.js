#!/usr/bin/env node
// The `weir` command. Subcommands arrive with their issues; each is listed
// here only once it works.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const HELP = `usage: weir <command> [options]

Weir: an LVS-style layer-4 load balancer (VS/NAT, VS/DR, VS/TUN) with a
WebAssembly data plane.

commands:
  bench [ID ...]   run the data-plane benchmarks (B1 B2 B7 B8) and write
                   bench/results/latest.{json,md}
  help             show this text

Run 'weir <command> --help' for a command's options.`;

const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
  case undefined:
  case "help":
  case "--help":
  case "-h":
    console.log(HELP);
    break;
  case "bench": {
    if (args.includes("--help") || args.includes("-h")) {
      console.log("usage: weir bench [ID ...]\n\nRuns the benchmarks named (default: all) with their baselines side by side.");
      break;
    }
    const r = spawnSync(process.execPath, [path.join(root, "bench", "run.js"), ...args], { stdio: "inherit" });
    process.exit(r.status ?? 1);
  }
  default:
    console.error(`weir: unknown command '${cmd}' (see 'weir --help')`);
    process.exit(2);
}
