// The console interpreter: one language for the serial console, the control
// socket, the WebSocket console and config files (CONTRACTS.md). Words live
// in a registry; other modules add theirs with register().

import type { ConfigModel } from "../config/model.js";
import { WeirError } from "../errors.js";
import { logger, type Logger } from "../log.js";
import { exit, help, runningConfig, save, showRunningConfig, showStats } from "./appliance.js";
import type { ConsoleEnv, RateSource } from "./env.js";
import { IpCommand } from "./ip/command.js";
import { IptablesCommand } from "./iptables/command.js";
import { IpvsadmCommand } from "./ipvsadm/command.js";
import { Estimator } from "../metrics/estimator.js";
import { loadConfigFile, loadConfigText, type LoadResult } from "./loader.js";
import { Registry, type CommandHandler } from "./registry.js";
import { tokenize } from "./tokenize.js";
import { err, ok, type CommandContext, type Interpreter, type Reply } from "./types.js";

export interface ConsoleOptions {
  model: ConfigModel;
  /** The file `save` writes (and `weir run --config` loads). */
  configPath?: string;
  /** The data-plane clock (ms) that batches run with; default: performance.now(). */
  now?: () => number;
  /** Rates for ipvsadm -L --rate; default: an estimator of its own, started on first use. */
  rates?: RateSource;
  log?: Logger;
  /**
   * Awaited after every line before its reply: with data-plane workers, until
   * each has applied the change, so a command's effect is in force on every
   * worker when its reply comes (replica/pool.ts synced()).
   */
  settled?: () => Promise<void>;
}

export class ConsoleInterpreter implements Interpreter {
  readonly registry = new Registry();
  readonly env: ConsoleEnv;
  private readonly log: Logger;
  private readonly settled?: () => Promise<void>;

  constructor(opts: ConsoleOptions) {
    this.log = opts.log ?? logger("console");
    this.settled = opts.settled;
    const env: ConsoleEnv = {
      model: opts.model,
      now: opts.now ?? (() => Math.floor(performance.now())),
      rates: opts.rates ?? new Estimator({ source: opts.model.dp, targets: () => opts.model.targets(), log: this.log }),
    };
    this.env = env;
    const r = this.registry;
    // Core words first: running-config prints in registration order.
    r.register("ip", new IpCommand(env));
    r.register("iptables", new IptablesCommand(env));
    r.register("ipvsadm", new IpvsadmCommand(env));
    r.register("show running-config", showRunningConfig(r));
    r.register("show stats", showStats(env));
    r.register("save", save(r, opts.configPath));
    r.register("help", help(r));
    r.register("exit", exit);
  }

  get model(): ConfigModel { return this.env.model; }

  /** Adds a word (one or more tokens, e.g. "health" or "show health"). */
  register(word: string, handler: CommandHandler): void { this.registry.register(word, handler); }

  commands(): string[] { return this.registry.list().map(([w]) => w); }

  runningConfig(): string[] { return runningConfig(this.registry); }

  async execute(line: string, ctx: CommandContext): Promise<Reply> {
    try {
      const tokens = tokenize(line);
      if (tokens.length === 0) return ok();
      const found = this.registry.resolve(tokens);
      if (!found) {
        const near = this.commands().some((w) => w.startsWith(`${tokens[0]} `));
        return err(`unknown command '${near ? tokens.slice(0, 2).join(" ") : tokens[0]}' (try help)`);
      }
      const reply = await found.handler.execute(found.args, ctx);
      await this.settled?.();
      this.log.debug({ source: ctx.source, line, ok: reply.ok }, "console line");
      return reply.ok ? reply : oneLine(reply);
    } catch (e) {
      // Every error a person can cause is a WeirError (errors.ts: keys, health,
      // configuration, data plane): its message is the reply. Anything else is a bug.
      if (e instanceof WeirError) {
        this.log.info({ source: ctx.source, line, code: e.code }, e.message);
        return oneLine(err(e.message));
      }
      this.log.error({ source: ctx.source, line, err: e }, "console command failed");
      return oneLine(err(`internal error: ${(e as Error).message ?? String(e)}`));
    }
  }

  /** Replays a config file as one change; on error the running state stays as it was. */
  loadConfig(path: string): Promise<LoadResult> { return loadConfigFile(this.registry, this.env.model, path); }
  loadConfigText(text: string, name: string): Promise<LoadResult> { return loadConfigText(this.registry, this.env.model, text, name); }

  /** Stops background work (the rate estimator). */
  close(): void { this.env.rates.stop?.(); }
}

function oneLine(r: Reply): Reply {
  const text = r.text.split("\n")[0];
  return { ok: false, text: text.startsWith("error: ") ? text : `error: ${text}` };
}
