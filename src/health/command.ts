// The `health …` console words: add, del, sorry, sorry del, show, the
// script rules (script-user, script-dir, script-ws: policy.ts), and the
// running-config lines that rebuild the rules, checks and sorry servers
// exactly. An erroneous line replies with one "error: …" line and changes
// nothing. Script checks and the script rules are refused from the
// WebSocket console (the rules always; checks unless `script-ws allow`):
// a console token must not be a way to run code on the appliance.

import path from "node:path";
import { ok, err, type CommandContext, type Reply } from "../console/types.js";
import { logger } from "../log.js";
import { HealthSyntaxError, ScriptRefused } from "../errors.js";
import { HealthActions } from "./actions.js";
import { DEFAULT_SCRIPT_DIR, DEFAULT_SCRIPT_USERS } from "./policy.js";
import { ACCOUNT_NAME } from "./users.js";
import { formatAdd, formatPair, formatSorry, formatFwd, parseAdd, parseDel, parseService, parseSorry } from "./syntax.js";
import { svcKeyOption } from "../keys.js";
import type { HealthMonitor } from "./monitor.js";
import type { CheckSpec, HealthTarget } from "./types.js";

export const HEALTH_HELP = [
  "health add SERVICE -r RS tcp [OPTIONS]",
  "health add SERVICE -r RS http path PATH [status CODE] [digest MD5HEX] [host NAME] [OPTIONS]",
  "health add SERVICE -r RS udp [payload HEX] [expect HEX] [OPTIONS]",
  "health add SERVICE -r RS [OPTIONS] script CMD [ARG...] [-- OPTIONS]",
  "health del SERVICE -r RS",
  "health sorry SERVICE RS [-g|-m|-i]",
  "health sorry del SERVICE",
  "health show [SERVICE]",
  "health script-user [USER [GROUP] | default]   scripts run as USER (default: weir-script if it exists, else nobody)",
  "health script-dir [DIR | default]             scripts only from DIR, owned and writable by root alone (default " + DEFAULT_SCRIPT_DIR + ")",
  "health script-ws [allow | deny]               whether the WebSocket console may add script checks (default deny)",
  "  SERVICE := -t ADDR:PORT | -u ADDR:PORT | -f MARK [-6]     RS := ADDR[:PORT]",
  "  OPTIONS := [connect-ip ADDR] [connect-port PORT] [bind ADDR] [interval T] [timeout T]",
  "             [rise N] [fall N] [inhibit|remove] [alpha]      T := seconds (5, 0.5) or 100ms",
  "  defaults: interval 5 timeout 3 rise 2 fall 3 inhibit; a real server starts up unless alpha",
].join("\n");

export interface HealthCommand {
  /** Runs the words after "health" (a leading "health" word is skipped too). */
  execute(args: string[], ctx: CommandContext): Promise<Reply>;
  /** `health script-…` lines (when not default), `health add` lines (in the order added), then `health sorry` lines. */
  runningConfig(): string[];
  /** Before a config load: how to put the rules, checks and sorry servers back (loader.ts). */
  checkpoint(): () => Promise<void>;
  help: string;
  /** The glue between the monitor's transitions and the target. */
  actions: HealthActions;
}

const WS_RULES = "set on the serial console, the control socket or in the config file, not on the WebSocket console";
const WS_SCRIPT = "script checks are not accepted from the WebSocket console (allow with 'health script-ws allow' on the serial console or in the config file)";

export function healthCommand(monitor: HealthMonitor, target: HealthTarget): HealthCommand {
  const actions = new HealthActions(target, monitor);
  const scripts = monitor.scripts;
  const log = logger("health");

  const requireDest = (service: string, dest: string, what: string) => {
    if (!target.destKeys) return;
    const known = target.destKeys(service);
    if (!known) throw new HealthSyntaxError(`${what}: no such service ${svcKeyOption(service)}`);
    if (!known.includes(dest)) throw new HealthSyntaxError(`${what}: no real server ${dest} in ${svcKeyOption(service)}`);
  };

  const requireService = (service: string, what: string) => {
    if (target.destKeys && !target.destKeys(service)) {
      throw new HealthSyntaxError(`${what}: no such service ${svcKeyOption(service)}`);
    }
  };

  function show(filter?: string): string {
    const lines: string[] = [];
    for (const s of monitor.status(filter)) {
      let line = `${formatPair(s.service, s.dest)} ${s.type} ${s.up ? "up" : "down"} checks ${s.checks} failures ${s.failures} transitions ${s.transitions}`;
      if (s.lastError !== null) line += ` last-error ${JSON.stringify(s.lastError)}`;
      lines.push(line);
    }
    for (const { service, sorry } of actions.sorries()) {
      if (filter !== undefined && service !== filter) continue;
      const state = actions.isSorryEngaged(service) ? "engaged" : "idle";
      lines.push(`${svcKeyOption(service)} sorry ${sorry.dest} ${formatFwd(sorry.fwd)} ${state}`);
    }
    return lines.join("\n");
  }

  /**
   * Runs a script-rule check. On a console its refusal is the reply; a config
   * file's line is kept and the refusal logged (its runs fail until fixed),
   * so a script missing at boot does not cost the rest of the file.
   */
  async function vetted(ctx: CommandContext, what: string, check: () => Promise<unknown>): Promise<void> {
    try {
      await check();
    } catch (e) {
      if (!(e instanceof ScriptRefused) || ctx.source !== "config") throw e;
      log.warn({ reason: e.message }, `${what}: kept from the config file, but refused until fixed`);
    }
  }

  async function scriptRule(verb: string, rest: string[], ctx: CommandContext): Promise<Reply> {
    const s = scripts.settings;
    if (rest.length && ctx.source === "ws") return err(`health ${verb}: ${WS_RULES}`);
    switch (verb) {
      case "script-user": {
        if (!rest.length) return ok(await describeUser());
        if (rest.length === 1 && rest[0] === "default") { scripts.settings = { ...scripts.settings, user: null, group: null }; return ok(); }
        if (rest.length > 2) throw new HealthSyntaxError(`unknown word ${JSON.stringify(rest[2])}`);
        const [user, group = null] = rest;
        for (const n of rest) if (!ACCOUNT_NAME.test(n)) throw new HealthSyntaxError(`bad name ${JSON.stringify(n)} (a user or group name, or a number)`);
        await vetted(ctx, `health script-user ${rest.join(" ")}`, () => scripts.identity({ user, group }));
        scripts.settings = { ...scripts.settings, user, group };
        return ok();
      }
      case "script-dir": {
        if (!rest.length) return ok(`script-dir ${s.dir}${s.dir === DEFAULT_SCRIPT_DIR ? " (default)" : ""}`);
        if (rest.length > 1) throw new HealthSyntaxError(`unknown word ${JSON.stringify(rest[1])}`);
        if (rest[0] === "default") { scripts.settings = { ...scripts.settings, dir: DEFAULT_SCRIPT_DIR }; return ok(); }
        if (!path.isAbsolute(rest[0])) throw new HealthSyntaxError(`bad directory ${JSON.stringify(rest[0])} (an absolute path)`);
        const dir = path.normalize(rest[0]).replace(/(.)\/+$/, "$1");
        await vetted(ctx, `health script-dir ${dir}`, () => scripts.vetDir(dir));
        scripts.settings = { ...scripts.settings, dir };
        return ok();
      }
      default: { // script-ws
        if (!rest.length) return ok(`script-ws ${s.ws ? "allow" : "deny (default)"}`);
        const bad = rest.find((w, i) => i > 0 || (w !== "allow" && w !== "deny"));
        if (bad !== undefined) throw new HealthSyntaxError(`unknown word ${JSON.stringify(bad)} (allow or deny)`);
        scripts.settings = { ...s, ws: rest[0] === "allow" };
        return ok();
      }
    }
  }

  async function describeUser(): Promise<string> {
    const s = scripts.settings;
    const named = s.user === null ? `(default: ${DEFAULT_SCRIPT_USERS.join(", else ")})` : [s.user, ...(s.group !== null ? [s.group] : [])].join(" ");
    if (!scripts.canSwitchUser) return `script-user ${named}: not used, weir is not root (scripts run as uid ${scripts.selfUid})`;
    try {
      const who = (await scripts.identity())!;
      return `script-user ${named}: ${who.user} uid ${who.uid} gid ${who.gid}`;
    } catch (e) {
      if (e instanceof ScriptRefused) return `script-user ${named}: ${e.message}`;
      throw e;
    }
  }

  async function run(args: string[], ctx: CommandContext): Promise<Reply> {
    const [verb, ...rest] = args;
    switch (verb) {
      case "add": {
        const spec = parseAdd(rest);
        requireDest(spec.service, spec.dest, "health add");
        if (spec.check.type === "script") {
          if (ctx.source === "ws" && !scripts.settings.ws) return err(`health add: ${WS_SCRIPT}`);
          const { command } = spec.check;
          await vetted(ctx, `health add ${formatPair(spec.service, spec.dest)} script ${command}`, async () => {
            await scripts.vet(command);
            await scripts.identity();
          });
        }
        if (monitor.has(spec.service, spec.dest)) {
          return err(`health add: a check for ${formatPair(spec.service, spec.dest)} already exists`);
        }
        monitor.add(spec);
        await actions.reconcile(spec.service);
        return ok();
      }
      case "del": {
        const { service, dest } = parseDel(rest);
        const gone = monitor.remove(service, dest);
        if (!gone) return err(`health del: no check for ${formatPair(service, dest)}`);
        await actions.checkRemoved(service, dest, gone.up, gone.spec.mode);
        return ok();
      }
      case "sorry": {
        if (rest[0] === "del") {
          const service = parseService(rest.slice(1));
          if (!actions.sorry(service)) return err(`health sorry del: no sorry server for ${svcKeyOption(service)}`);
          await actions.setSorry(service, null);
          return ok();
        }
        const { service, sorry } = parseSorry(rest);
        requireService(service, "health sorry");
        await actions.setSorry(service, sorry);
        return ok();
      }
      case "show": {
        const filter = rest.length ? parseService(rest) : undefined;
        return ok(show(filter));
      }
      case "script-user": case "script-dir": case "script-ws":
        return scriptRule(verb, rest, ctx);
      case "help": case undefined:
        return ok(HEALTH_HELP);
      default:
        return err(`health: unknown command ${JSON.stringify(verb)} (add, del, sorry, show, script-user, script-dir, script-ws)`);
    }
  }

  /** Puts the script rules, checks and sorry servers back as they were (a config load that failed part way). */
  function checkpoint(): () => Promise<void> {
    const settings = { ...scripts.settings };
    const specs = monitor.specs();
    const sorries = actions.sorries();
    const key = (s: CheckSpec) => `${s.service} ${s.dest}`;
    return async () => {
      scripts.settings = settings;
      const had = new Map(specs.map((s) => [key(s), JSON.stringify(s)]));
      for (const s of monitor.specs()) {
        if (had.get(key(s)) === JSON.stringify(s)) continue;
        const gone = monitor.remove(s.service, s.dest);
        if (gone) await actions.checkRemoved(s.service, s.dest, gone.up, gone.spec.mode);
      }
      for (const s of specs) if (!monitor.has(s.service, s.dest)) monitor.add(s);
      const want = new Map(sorries.map((x) => [x.service, x.sorry]));
      for (const { service } of actions.sorries()) {
        if (!want.has(service)) await actions.setSorry(service, null).catch((e) => log.warn({ err: e, service }, "sorry server not put back"));
      }
      for (const [service, sorry] of want) {
        const now = actions.sorry(service);
        if (!now || now.dest !== sorry.dest || now.fwd !== sorry.fwd) {
          await actions.setSorry(service, sorry).catch((e) => log.warn({ err: e, service }, "sorry server not put back"));
        }
      }
    };
  }

  return {
    help: HEALTH_HELP,
    actions,
    checkpoint,
    async execute(args: string[], ctx: CommandContext): Promise<Reply> {
      const words = args[0] === "health" ? args.slice(1) : args;
      try {
        return await run(words, ctx);
      } catch (e) {
        if (e instanceof HealthSyntaxError || e instanceof ScriptRefused) {
          const verb = words[0] === "sorry" && words[1] === "del" ? "sorry del" : words[0];
          return err(e.message.startsWith("health") ? e.message : `health ${verb}: ${e.message}`);
        }
        const code = (e as { code?: string }).code;
        return err(`health ${words[0]}: ${e instanceof Error ? e.message : String(e)}${code ? ` (${code})` : ""}`);
      }
    },
    runningConfig(): string[] {
      return [
        ...scripts.runningConfig(),
        ...monitor.specs().map(formatAdd),
        ...actions.sorries().map(({ service, sorry }) => formatSorry(service, sorry)),
      ];
    },
  };
}


