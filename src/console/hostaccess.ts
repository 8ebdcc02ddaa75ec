// `host-access`: which new connections the appliance's own kernel stack takes
// from the data links (src/dataplane/hostguard.ts enforces it). By default
// none: consoles, metrics and anything else listening on the host are for the
// management side only; replies to the appliance's own connections (health
// checks) and ICMP always pass.
//
//   host-access [show]
//   host-access allow tcp|udp PORT[-PORT] [dev DEV]
//   host-access del tcp|udp PORT[-PORT] [dev DEV]

import { ruleText, sameRule, type HostAccessRule } from "../dataplane/hostguard.js";
import type { CommandHandler } from "./registry.js";
import { err, ok } from "./types.js";

const DEV_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

function parsePort(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** The words after allow/del, as a rule; a string is the error. */
export function parseHostRule(args: string[]): HostAccessRule | string {
  const [proto, ports, ...rest] = args;
  if (proto !== "tcp" && proto !== "udp") return proto ? `protocol must be tcp or udp, not '${proto}'` : "missing protocol (tcp or udp)";
  if (!ports) return "missing port";
  const [a, b, more] = ports.split("-");
  const port = parsePort(a);
  const to = b === undefined ? undefined : parsePort(b);
  if (port === undefined || more !== undefined || (b !== undefined && (to === undefined || to <= port))) {
    return `bad port '${ports}' (PORT or FROM-TO, 1 to 65535)`;
  }
  let dev: string | undefined;
  if (rest.length) {
    if (rest[0] !== "dev") return `unexpected argument '${rest[0]}'`;
    if (!rest[1] || !DEV_NAME.test(rest[1])) return rest[1] ? `bad device name '${rest[1]}'` : "dev needs a device name";
    if (rest.length > 2) return `unexpected argument '${rest[2]}'`;
    dev = rest[1];
  }
  return { proto, port, ...(to !== undefined ? { to } : {}), ...(dev ? { dev } : {}) };
}

/** apply puts the rules in force (throws if it cannot: then nothing changes). */
export function hostAccess(apply: (rules: readonly HostAccessRule[]) => Promise<void>): CommandHandler {
  let rules: HostAccessRule[] = [];
  const show = () =>
    rules.length === 0
      ? "data links: no new connections to the appliance itself (replies to its own connections and ICMP pass)"
      : ["data links: new connections to the appliance itself only on:", ...rules.map((r) => `  ${ruleText(r)}`)].join("\n");
  return {
    help: "host-access [show] | host-access allow|del tcp|udp PORT[-PORT] [dev DEV] — new connections from the data links to the appliance itself",
    runningConfig: () => rules.map((r) => `host-access allow ${ruleText(r)}`),
    // A config file that fails half-way puts the openings back as they were.
    checkpoint() {
      const saved = rules;
      return async () => {
        await apply(saved);
        rules = saved;
      };
    },
    async execute(args) {
      const [verb, ...rest] = args;
      if (verb === undefined || verb === "show") {
        if (rest.length) return err(`unexpected argument '${rest[0]}'`);
        return ok(show());
      }
      if (verb !== "allow" && verb !== "del") return err(`host-access knows 'allow', 'del' and 'show', not '${verb}'`);
      const r = parseHostRule(rest);
      if (typeof r === "string") return err(`host-access ${verb}: ${r}`);
      const has = rules.some((x) => sameRule(x, r));
      if (verb === "allow" && has) return ok();
      if (verb === "del" && !has) return err(`host-access del: no such opening (${ruleText(r)})`);
      const next = verb === "allow" ? [...rules, r] : rules.filter((x) => !sameRule(x, r));
      try {
        await apply(next);
      } catch (e) {
        return err(`host-access ${verb}: ${(e as Error).message}`);
      }
      rules = next;
      return ok();
    },
  };
}
