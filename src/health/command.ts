// The `health …` console words: add, del, sorry, sorry del, show, and the
// running-config lines that rebuild the checks and sorry servers exactly.
// An erroneous line replies with one "error: …" line and changes nothing.

import { ok, err, type CommandContext, type Reply } from "../console/types.js";
import { HealthActions } from "./actions.js";
import { HealthSyntaxError, formatAdd, formatPair, formatSorry, formatFwd, parseAdd, parseDel, parseService, parseSorry } from "./syntax.js";
import { formatServiceOption } from "./keys.js";
import type { HealthMonitor } from "./monitor.js";
import type { HealthTarget } from "./types.js";

export const HEALTH_HELP = [
  "health add SERVICE -r RS tcp [OPTIONS]",
  "health add SERVICE -r RS http path PATH [status CODE] [digest MD5HEX] [host NAME] [OPTIONS]",
  "health add SERVICE -r RS udp [payload HEX] [expect HEX] [OPTIONS]",
  "health add SERVICE -r RS [OPTIONS] script CMD [ARG...] [-- OPTIONS]",
  "health del SERVICE -r RS",
  "health sorry SERVICE RS [-g|-m|-i]",
  "health sorry del SERVICE",
  "health show [SERVICE]",
  "  SERVICE := -t ADDR:PORT | -u ADDR:PORT | -f MARK [-6]     RS := ADDR[:PORT]",
  "  OPTIONS := [connect-ip ADDR] [connect-port PORT] [bind ADDR] [interval T] [timeout T]",
  "             [rise N] [fall N] [inhibit|remove] [alpha]      T := seconds (5, 0.5) or 100ms",
  "  defaults: interval 5 timeout 3 rise 2 fall 3 inhibit; a real server starts up unless alpha",
].join("\n");

export interface HealthCommand {
  /** Runs the words after "health" (a leading "health" word is skipped too). */
  execute(args: string[], ctx: CommandContext): Promise<Reply>;
  /** `health add` lines (in the order added), then `health sorry` lines. */
  runningConfig(): string[];
  help: string;
  /** The glue between the monitor's transitions and the target. */
  actions: HealthActions;
}

export function healthCommand(monitor: HealthMonitor, target: HealthTarget): HealthCommand {
  const actions = new HealthActions(target, monitor);

  const requireDest = (service: string, dest: string, what: string) => {
    if (!target.destKeys) return;
    const known = target.destKeys(service);
    if (!known) throw new HealthSyntaxError(`${what}: no such service ${formatServiceOption(service)}`);
    if (!known.includes(dest)) throw new HealthSyntaxError(`${what}: no real server ${dest} in ${formatServiceOption(service)}`);
  };

  const requireService = (service: string, what: string) => {
    if (target.destKeys && !target.destKeys(service)) {
      throw new HealthSyntaxError(`${what}: no such service ${formatServiceOption(service)}`);
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
      lines.push(`${formatServiceOption(service)} sorry ${sorry.dest} ${formatFwd(sorry.fwd)} ${state}`);
    }
    return lines.join("\n");
  }

  async function run(args: string[]): Promise<Reply> {
    const [verb, ...rest] = args;
    switch (verb) {
      case "add": {
        const spec = parseAdd(rest);
        requireDest(spec.service, spec.dest, "health add");
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
          if (!actions.sorry(service)) return err(`health sorry del: no sorry server for ${formatServiceOption(service)}`);
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
      case "help": case undefined:
        return ok(HEALTH_HELP);
      default:
        return err(`health: unknown command ${JSON.stringify(verb)} (add, del, sorry, show)`);
    }
  }

  return {
    help: HEALTH_HELP,
    actions,
    async execute(args: string[], _ctx: CommandContext): Promise<Reply> {
      const words = args[0] === "health" ? args.slice(1) : args;
      try {
        return await run(words);
      } catch (e) {
        if (e instanceof HealthSyntaxError) {
          const verb = words[0] === "sorry" && words[1] === "del" ? "sorry del" : words[0];
          return err(e.message.startsWith("health") ? e.message : `health ${verb}: ${e.message}`);
        }
        const code = (e as { code?: string }).code;
        return err(`health ${words[0]}: ${e instanceof Error ? e.message : String(e)}${code ? ` (${code})` : ""}`);
      }
    },
    runningConfig(): string[] {
      return [
        ...monitor.specs().map(formatAdd),
        ...actions.sorries().map(({ service, sorry }) => formatSorry(service, sorry)),
      ];
    },
  };
}


