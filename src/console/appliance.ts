// The appliance's own words: show running-config, show stats, save, help, exit.

import { WeirError } from "../errors.js";
import { atomicWrite } from "../config/save.js";
import type { ConsoleEnv } from "./env.js";
import type { CommandHandler, Registry } from "./registry.js";
import { err, ok } from "./types.js";

const noArgs = (args: string[]) => {
  if (args.length) throw new WeirError("WEIR_ERR_UNEXPECTED_ARGUMENT", `unexpected argument '${args[0]}'`);
};

/** Every registered word's running-config lines, in registration order (core words first). */
export function runningConfig(reg: Registry): string[] {
  return reg.list().flatMap(([, h]) => h.runningConfig?.() ?? []);
}

export function showRunningConfig(reg: Registry): CommandHandler {
  return {
    help: "show running-config — the lines that rebuild the current configuration",
    async execute(args) { noArgs(args); return ok(runningConfig(reg).join("\n")); },
  };
}

/** `show stats`, which other modules (VRRP) add lines to with addStatsLines(). */
export interface StatsHandler extends CommandHandler { more: (() => string[])[]; }

/** Adds a module's lines to `show stats` (after the data plane's). */
export function addStatsLines(reg: Registry, lines: () => string[]): void {
  const h = reg.resolve(["show", "stats"]);
  if (!h || h.word !== "show stats") throw new WeirError("WEIR_ERR_NOT_FOUND", "no show stats word");
  (h.handler as StatsHandler).more.push(lines);
}

export function showStats(env: ConsoleEnv): StatsHandler {
  const more: (() => string[])[] = [];
  return {
    more,
    help: "show stats — data-plane batch counters, connections and drops by reason",
    async execute(args) {
      noArgs(args);
      const dp = env.model.dp;
      const b = dp.batchStats();
      const lines = [
        `batches ${b.batches}`, `frames_in ${b.framesIn}`, `frames_tx ${b.framesTx}`, `frames_local ${b.framesLocal}`, `frames_held ${b.framesHeld}`,
        `connections ${dp.connCount(4)}`, `connections6 ${dp.connCount(6)}`,
        ...Object.entries(dp.drops()).map(([name, n]) => `drop_${name} ${n}`),
        ...Object.entries(dp.neighQueueStats()).map(([name, n]) => `neigh_queue_${name} ${n}`),
        ...more.flatMap((f) => f()),
      ];
      return ok(lines.join("\n"));
    },
  };
}

export function save(reg: Registry, path: string | undefined): CommandHandler {
  return {
    help: "save — write the running configuration to the config file",
    async execute(args) {
      noArgs(args);
      if (!path) return err("no config file to save to (start with --config FILE)");
      const lines = runningConfig(reg);
      try {
        await atomicWrite(path, lines.length ? `${lines.join("\n")}\n` : "");
      } catch (e) {
        return err(`cannot write ${path}: ${(e as Error).message}`);
      }
      return ok();
    },
  };
}

export function help(reg: Registry): CommandHandler {
  return {
    help: "help [WORD] — the console's words",
    async execute(args) {
      const all = reg.list();
      if (args.length) {
        const w = args.join(" ");
        const found = all.filter(([word]) => word === w || word.startsWith(`${w} `));
        if (!found.length) return err(`no help for '${w}'`);
        return ok(found.map(([, h]) => h.help).join("\n"));
      }
      return ok(all.map(([, h]) => h.help).join("\n"));
    },
  };
}

export const exit: CommandHandler = {
  help: "exit — close this console session",
  async execute(args) { noArgs(args); return ok(); },
};
