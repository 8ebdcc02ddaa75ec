// What every transport does around the interpreter: run one line, never let
// an exception escape to the connection, and recognise `exit`, which each
// transport handles itself (it ends that session, not the appliance).

import type { CommandContext, Interpreter, Reply } from "../types.js";
import type { Logger } from "../../log.js";

/** True for the line that ends a console session. */
export function isExit(line: string): boolean {
  return line.trim() === "exit";
}

/**
 * Runs a line through the interpreter. An interpreter that throws (a bug)
 * yields an error reply, and the exception goes to the log, not the user.
 */
export async function executeLine(
  interpreter: Interpreter,
  line: string,
  ctx: CommandContext,
  log: Logger,
): Promise<Reply> {
  try {
    const r = await interpreter.execute(line, ctx);
    return { ok: r.ok, text: r.text };
  } catch (e) {
    log.error({ err: e, source: ctx.source }, "interpreter threw");
    return { ok: false, text: "error: internal error (see the appliance log)" };
  }
}
