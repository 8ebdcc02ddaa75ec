// A stand-in for the console interpreter: enough behaviour to see every
// transport carry lines, attached input, multi-line and error replies.
//   echo WORDS     → ok WORDS
//   multi          → ok "one\ntwo\nthree"
//   ipvsadm -R     → ok "restored N rules" (N = non-empty lines of the input)
//   input          → ok the attached input verbatim (or "<none>")
//   slow MS        → ok "slept MS" after MS milliseconds
//   bad …          → error reply
//   anything else  → ok "ran: LINE"

import { PassThrough } from "node:stream";
import pino from "pino";
import type { CommandContext, Interpreter } from "../../../src/console/types.js";
import { err, ok } from "../../../src/console/types.js";

export interface FakeInterpreter extends Interpreter {
  calls: { line: string; ctx: CommandContext }[];
}

export function fakeInterpreter(): FakeInterpreter {
  const calls: { line: string; ctx: CommandContext }[] = [];
  return {
    calls,
    async execute(line, ctx) {
      calls.push({ line, ctx });
      const words = line.trim().split(/\s+/);
      if (words[0] === "bad") return err(`unknown word '${words[1] ?? ""}' at 1`);
      if (words[0] === "echo") return ok(words.slice(1).join(" "));
      if (words[0] === "multi") return ok("one\ntwo\nthree");
      if (words[0] === "input") return ok(ctx.input ?? "<none>");
      if (words[0] === "slow") {
        await new Promise((r) => setTimeout(r, Number(words[1])));
        return ok(`slept ${words[1]}`);
      }
      if (words[0] === "ipvsadm" && words.includes("-R")) {
        const n = (ctx.input ?? "").split("\n").filter((l) => l.trim() !== "").length;
        return ok(`restored ${n} rules`);
      }
      return ok(`ran: ${line}`);
    },
    commands: () => ["echo", "help", "ip addr show", "ip link show", "ipvsadm", "multi", "show running-config", "show stats"],
  };
}

/** A writable that keeps what was written. */
export function sink(): PassThrough & { text: () => string } {
  const s = new PassThrough() as PassThrough & { text: () => string };
  const parts: Buffer[] = [];
  s.on("data", (c: Buffer) => parts.push(c));
  s.text = () => Buffer.concat(parts).toString("utf8");
  return s;
}

/** A readable giving text then EOF, optionally claiming to be a TTY. */
export function source(text: string, isTTY = false): PassThrough & { isTTY?: boolean } {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (isTTY) s.isTTY = true;
  s.end(text);
  return s;
}

/** Logs nothing unless WEIR_TEST_LOG is set. */
export const quietLog = pino({ level: process.env.WEIR_TEST_LOG ?? "silent" });
