// A console over a fresh debug data plane, with no host interfaces behind
// its links and a fixed data-plane clock.

import pino from "pino";
import { DataPlane } from "../../src/dataplane/dataplane.js";
import { ConfigModel, type ModelOptions } from "../../src/config/model.js";
import { ConsoleInterpreter } from "../../src/console/interpreter.js";
import type { Reply } from "../../src/console/types.js";

export const silent = pino({ level: "silent" });

export interface TestConsole {
  con: ConsoleInterpreter;
  model: ConfigModel;
  dp: DataPlane;
  /** Runs a line; returns the reply text (errors included). */
  run(line: string, input?: string): Promise<string>;
  reply(line: string, input?: string): Promise<Reply>;
  /** Runs lines that must all succeed. */
  setup(...lines: string[]): Promise<void>;
}

export async function makeConsole(opts: { configPath?: string; now?: number; model?: ModelOptions } = {}): Promise<TestConsole> {
  const dp = await DataPlane.load({ debug: true, connCapacity: 4096, connCapacity6: 256, seed: 7 });
  const model = new ConfigModel(dp, { sysfsRoot: "/nonexistent/sys/class/net", log: silent, ...opts.model });
  const con = new ConsoleInterpreter({ model, configPath: opts.configPath, now: () => opts.now ?? 1000, log: silent });
  const reply = (line: string, input?: string) => con.execute(line, { source: "socket", input });
  return {
    con, model, dp, reply,
    run: async (line, input) => (await reply(line, input)).text,
    setup: async (...lines) => {
      for (const l of lines) {
        const r = await reply(l);
        if (!r.ok) throw new Error(`${l}: ${r.text}`);
      }
    },
  };
}

/** True when the data plane can run every scheduler named (others are still being written). */
export function hasSchedulers(model: ConfigModel, ...names: string[]): boolean {
  return names.every((n) => model.schedulerAvailable(n));
}
