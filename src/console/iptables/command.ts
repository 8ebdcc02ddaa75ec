// The `iptables` word: the mangle table's PREROUTING chain of MARK rules,
// which feeds firewall-mark services (ipvsadm -f).

import type { Draft } from "../../config/draft.js";
import { fail } from "../../errors.js";
import type { ConsoleEnv } from "../env.js";
import type { CommandHandler } from "../registry.js";
import { ok, type Reply } from "../types.js";
import { chainHeader, parseRule, ruleLine, ruleSpec } from "./rule.js";

const CHAINS = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

type Op =
  | { cmd: "A" | "I" | "D"; rule?: ReturnType<typeof parseRule>; index?: number }
  | { cmd: "F" }
  | { cmd: "L" | "S"; chain?: string; numeric: boolean };

function parse(args: string[]): Op {
  let table = "filter";
  let numeric = false;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-t" || a === "--table") {
      if (args[i + 1] === undefined) fail("MISSING_ARGUMENT", `missing argument for ${a}`);
      table = args[++i];
    } else if (a === "-n" || a === "--numeric") numeric = true;
    else rest.push(a);
  }
  if (table !== "mangle") fail("UNSUPPORTED_TABLE", `table '${table}' is not supported (only -t mangle)`);
  const [c, chain, ...spec] = rest;
  const cmds: Record<string, string> = {
    "-A": "A", "--append": "A", "-I": "I", "--insert": "I", "-D": "D", "--delete": "D",
    "-F": "F", "--flush": "F", "-L": "L", "--list": "L", "-S": "S", "--list-rules": "S",
  };
  const cmd = cmds[c];
  if (!cmd) fail(c === undefined ? "NO_COMMAND" : "UNSUPPORTED_OPTION", c === undefined ? "no command given (-A -I -D -F -L -S)" : `unsupported option '${c}'`);
  if (cmd === "L" || cmd === "S" || cmd === "F") {
    if (chain !== undefined && !CHAINS.includes(chain)) fail("NO_SUCH_CHAIN", `no chain '${chain}' in table mangle`);
    if (spec.length) fail("UNEXPECTED_ARGUMENT", `unexpected argument '${spec[0]}'`);
    if (cmd === "F") return { cmd };
    return { cmd: cmd as "L" | "S", chain, numeric };
  }
  if (chain === undefined) fail("MISSING_ARGUMENT", `${c} needs a chain`);
  if (chain !== "PREROUTING") fail("UNSUPPORTED_CHAIN", `chain '${chain}' is not supported (only PREROUTING)`);
  if (cmd === "D" && spec.length === 1 && /^\d+$/.test(spec[0])) return { cmd: "D", index: Number(spec[0]) - 1 };
  if (cmd === "I" && /^\d+$/.test(spec[0] ?? "")) {
    const index = Number(spec[0]) - 1;
    if (index < 0) fail("BAD_INDEX", `invalid rule number '${spec[0]}'`);
    return { cmd: "I", index, rule: parseRule(spec.slice(1)) };
  }
  return { cmd: cmd as "A" | "I" | "D", rule: parseRule(spec) };
}

function stageOp(op: Op, d: Draft): void {
  switch (op.cmd) {
    case "A": d.insertMark(op.rule!); return;
    case "I": d.insertMark(op.rule!, op.index ?? 0); return;
    case "D": if (op.rule) d.deleteMark(op.rule); else d.deleteMarkAt(op.index!); return;
    case "F": d.flushMarks(); return;
  }
}

export class IptablesCommand implements CommandHandler {
  readonly help = "iptables -t mangle -A|-I|-D PREROUTING [-d ADDR[/LEN]] [-p tcp|udp] [--dport PORT[:PORT]] -j MARK --set-mark N; -F; -L [-n]; -S — firewall marks for ipvsadm -f";

  constructor(private readonly env: ConsoleEnv) {}

  stage(args: string[], d: Draft): void {
    const op = parse(args);
    if (op.cmd !== "L" && op.cmd !== "S") stageOp(op, d);
  }

  runningConfig(): string[] {
    return this.env.model.state.marks.map((r) => `iptables -t mangle ${ruleSpec(r)}`);
  }

  async execute(args: string[]): Promise<Reply> {
    const op = parse(args);
    const marks = this.env.model.state.marks;
    if (op.cmd === "L") {
      const out: string[] = [];
      for (const chain of op.chain ? [op.chain] : CHAINS) {
        if (out.length) out.push("");
        out.push(...chainHeader(chain));
        if (chain === "PREROUTING") out.push(...marks.map((r) => ruleLine(r, op.numeric)));
      }
      return ok(out.join("\n"));
    }
    if (op.cmd === "S") {
      const out: string[] = [];
      for (const chain of op.chain ? [op.chain] : CHAINS) {
        out.push(`-P ${chain} ACCEPT`);
      }
      if (!op.chain || op.chain === "PREROUTING") out.push(...marks.map(ruleSpec));
      return ok(out.join("\n"));
    }
    await this.env.model.change((d) => stageOp(op, d));
    return ok();
  }
}
