// `console-password`: the optional password of the serial console and the
// recovery shell (password.ts keeps its hash). Set and cleared on the serial
// console only, where it is asked for without echo; never on a command line.
//
//   console-password          says whether one is set
//   console-password set      asks for the new password twice
//   console-password clear    no password (a factory reset clears it too)

import { hashPassword, MAX_PASSWORD, readPasswordHash, writePasswordHash } from "./password.js";
import type { Logger } from "../log.js";
import type { CommandHandler } from "./registry.js";
import { err, ok } from "./types.js";

export function consolePassword(file: string): CommandHandler {
  return {
    help: "console-password [set|clear] — the serial console's and recovery shell's password (serial console only)",
    async execute(args, ctx) {
      const [verb, ...rest] = args;
      if (rest.length) return err(`unexpected argument '${rest[0]}'`);
      if (verb === undefined) return ok(`console password: ${readPasswordHash(file) ? "set" : "not set"}`);
      if (verb !== "set" && verb !== "clear") return err(`console-password knows 'set' and 'clear', not '${verb}'`);
      if (ctx.source !== "serial" || !ctx.ask) return err(`console-password ${verb} works on the serial console only`);
      if (verb === "clear") {
        writePasswordHash(file, undefined);
        return ok("console password cleared");
      }
      const first = await ctx.ask("New password: ", { secret: true });
      if (first === undefined) return err("console-password set: session ended, nothing changed");
      if (first === "") return err("console-password set: empty password (to have none: console-password clear)");
      if (first.length > MAX_PASSWORD) return err(`console-password set: longer than ${MAX_PASSWORD} characters`);
      if (/[\x00-\x1f\x7f]/.test(first)) return err("console-password set: control characters are not allowed");
      const again = await ctx.ask("Again: ", { secret: true });
      if (again !== first) return err("console-password set: the two entries differ, nothing changed");
      writePasswordHash(file, await hashPassword(first));
      return ok("console password set: it guards the serial console and the recovery shell");
    },
  };
}

/** The hash a serial session asks against; an unreadable file keeps the console locked (a hash nothing matches) rather than open. */
export function sessionPasswordHash(file: string, log: Logger): string | undefined {
  try {
    return readPasswordHash(file);
  } catch (e) {
    log.error({ err: e, file }, "console password file unreadable: the serial console stays locked");
    return "unreadable";
  }
}

/** Said on the banner while the console has no password (nothing when there is no password file option, or it is unreadable). */
export function passwordNotice(file: string | undefined): string[] {
  if (!file) return [];
  try {
    if (readPasswordHash(file) !== undefined) return [];
  } catch {
    return [];
  }
  return ["no console password: anyone on this line has the console (set one with 'console-password set')"];
}
