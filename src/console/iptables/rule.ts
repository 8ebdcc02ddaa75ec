// The small, exact subset of iptables that LVS setups use to mark packets for
// firewall-mark services, mapped onto the data plane's classifier:
//   -A|-D|-I PREROUTING [-d ADDR[/LEN]] [-p tcp|udp|all] [-m tcp|udp] [--dport PORT[:PORT]] -j MARK --set-mark N
// and its listing in iptables -L's columns.

import { parsePrefix } from "../../config/addr.js";
import { intIn } from "../../keys.js";
import { fail } from "../../errors.js";
import type { MarkRule } from "../../config/state.js";
import { own } from "../../util/own.js";

const ALIASES: Record<string, string> = {
  "-d": "-d", "--destination": "-d", "--dst": "-d",
  "-p": "-p", "--protocol": "-p", "-m": "-m", "--match": "-m",
  "--dport": "--dport", "--destination-port": "--dport", "-j": "-j", "--jump": "-j", "--set-mark": "--set-mark",
};

function parsePorts(text: string): [number, number] {
  const parts = text.split(":");
  const nums = parts.map((p) => intIn(p, 0, 65535));
  if (parts.length > 2 || nums.some((n) => n === null)) fail("BAD_PORT", `invalid port '${text}'`);
  const [lo, hi] = [nums[0]!, nums[parts.length - 1]!];
  if (lo > hi) fail("BAD_PORT", `invalid port range '${text}'`);
  return [lo, hi];
}

export function parseMarkValue(text: string): number {
  const n = /^0x[0-9a-f]{1,8}$/i.test(text) ? parseInt(text, 16) : intIn(text, 0, 0xffffffff);
  if (n === null || n === 0) fail("BAD_FWMARK", `invalid mark '${text}' (1-4294967295)`);
  return n;
}

/** Parses a rule specification (the tokens after the chain name). */
export function parseRule(tokens: string[]): MarkRule {
  let dst: string | undefined, proto: string | undefined, match: string | undefined, ports: [number, number] | undefined;
  let target: string | undefined, mark: number | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    const opt = own(ALIASES, tok);
    if (!opt) fail(tok.startsWith("-") || tok === "!" ? "UNSUPPORTED_OPTION" : "UNEXPECTED_ARGUMENT",
      tok.startsWith("-") || tok === "!" ? `unsupported option '${tok}'` : `unexpected argument '${tok}'`);
    const v = tokens[++i];
    if (v === undefined) fail("MISSING_ARGUMENT", `missing argument for ${tok}`);
    if (v === "!") fail("UNSUPPORTED_OPTION", `unsupported option '!' after ${tok}`);
    switch (opt) {
      case "-d": dst = v; break;
      case "-p":
        if (!["tcp", "udp", "all"].includes(v)) fail("BAD_PROTOCOL", `unsupported protocol '${v}' (tcp, udp or all)`);
        proto = v === "all" ? undefined : v;
        break;
      case "-m":
        if (v !== "tcp" && v !== "udp") fail("UNSUPPORTED_MATCH", `unsupported match '${v}' (tcp or udp)`);
        match = v;
        break;
      case "--dport": ports = parsePorts(v); break;
      case "-j":
        if (v !== "MARK") fail("UNSUPPORTED_TARGET", `unsupported target '${v}' (only MARK)`);
        target = v;
        break;
      case "--set-mark":
        if (target !== "MARK") fail("UNSUPPORTED_OPTION", "--set-mark needs -j MARK before it");
        mark = parseMarkValue(v);
        break;
    }
  }
  if (match && match !== proto) fail("UNSUPPORTED_MATCH", `match '-m ${match}' needs '-p ${match}'`);
  if (ports && !proto) fail("MISSING_OPTION", "--dport needs -p tcp or -p udp");
  if (target === undefined) fail("MISSING_OPTION", "the rule needs -j MARK --set-mark N");
  if (mark === undefined) fail("MISSING_OPTION", "-j MARK needs --set-mark N");
  const p = dst === undefined ? { af: 4 as const, addr: "0.0.0.0", len: 0 } : parsePrefix(dst);
  if (p.af !== 4) fail("ADDRESS_FAMILY", `'${dst}' is not an IPv4 address (iptables)`);
  return { af: 4, proto: proto as MarkRule["proto"], net: p.addr, len: p.len, ports, mark };
}

/** The rule as a console line that adds it again. */
export function ruleSpec(r: MarkRule): string {
  const w = ["-A PREROUTING"];
  if (r.len > 0) w.push(`-d ${r.net}/${r.len}`);
  if (r.proto) w.push(`-p ${r.proto}`);
  if (r.ports) w.push(`--dport ${r.ports[0] === r.ports[1] ? r.ports[0] : r.ports.join(":")}`);
  w.push(`-j MARK --set-mark ${r.mark}`);
  return w.join(" ");
}

/** iptables' print_header for a built-in chain (no counters, with the opt column). */
export function chainHeader(chain: string): string[] {
  return [`Chain ${chain} (policy ACCEPT)`, `${"target".padEnd(9)}  prot opt ${"source".padEnd(19)}  ${"destination".padEnd(19)} `];
}

/** iptables' print_firewall for one rule. */
export function ruleLine(r: MarkRule, numeric: boolean): string {
  const src = numeric ? "0.0.0.0/0" : "anywhere";
  const dst = r.len === 0 ? src : r.len === 32 ? r.net : `${r.net}/${r.len}`;
  let line = `${"MARK".padEnd(9)}  ${(r.proto ?? "all").padEnd(5)}--  ${src.padEnd(19)}  ${dst.padEnd(19)} `;
  if (r.ports && r.proto) {
    line += ` ${r.proto} ${r.ports[0] === r.ports[1] ? `dpt:${r.ports[0]}` : `dpts:${r.ports[0]}:${r.ports[1]}`}`;
  }
  return `${line} MARK set 0x${r.mark.toString(16)}`;
}
