// ipvsadm(8)'s command line: the same options, bundling (-Ln), long forms
// (--add-service, --weight=3) and the same command/option rules as its
// generic_opt_check table, with errors that name the offending token.

import type { FwdName } from "../../dataplane/dataplane.js";
import { maskToLen } from "../../config/addr.js";
import { fail } from "../../errors.js";
import { intIn, parseHostPort, parseServiceValue, tryIp, type AddrPort, type SvcKey } from "../../keys.js";
import { DEFAULT_PERSISTENCE, DEFAULT_SCHEDULER, MAX_PERSISTENCE, MAX_TIMEOUT, SCHEDULERS } from "../../config/state.js";
import { own } from "../../util/own.js";

export type Cmd = "A" | "E" | "D" | "C" | "L" | "a" | "e" | "d" | "set" | "R" | "S" | "Z" | "h" | "v";

type Opt =
  | "n" | "c" | "svc" | "s" | "p" | "M" | "r" | "fwd" | "w" | "x" | "y" | "timeout" | "daemon"
  | "stats" | "rate" | "thresholds" | "pc" | "sort" | "nosort" | "exact" | "o" | "b" | "6"
  // The sync daemon's options: known, so that they are refused as ipvsadm refuses them.
  | "mcast-interface" | "syncid" | "mcast-group" | "mcast-port" | "mcast-ttl" | "sync-maxlen";

interface OptDef { cmd?: Cmd; opt?: Opt; arg: "none" | "required" | "optional"; key: string; }

const SHORT: Record<string, OptDef> = {
  A: { cmd: "A", arg: "none", key: "A" }, E: { cmd: "E", arg: "none", key: "E" }, D: { cmd: "D", arg: "none", key: "D" },
  C: { cmd: "C", arg: "none", key: "C" }, L: { cmd: "L", arg: "none", key: "L" }, l: { cmd: "L", arg: "none", key: "l" },
  Z: { cmd: "Z", arg: "none", key: "Z" }, a: { cmd: "a", arg: "none", key: "a" }, e: { cmd: "e", arg: "none", key: "e" },
  d: { cmd: "d", arg: "none", key: "d" }, R: { cmd: "R", arg: "none", key: "R" }, S: { cmd: "S", arg: "none", key: "S" },
  h: { cmd: "h", arg: "none", key: "h" }, v: { cmd: "v", arg: "none", key: "v" },
  t: { opt: "svc", arg: "required", key: "t" }, u: { opt: "svc", arg: "required", key: "u" }, f: { opt: "svc", arg: "required", key: "f" },
  s: { opt: "s", arg: "required", key: "s" }, p: { opt: "p", arg: "optional", key: "p" }, M: { opt: "M", arg: "required", key: "M" },
  r: { opt: "r", arg: "required", key: "r" }, m: { opt: "fwd", arg: "none", key: "m" }, i: { opt: "fwd", arg: "none", key: "i" },
  g: { opt: "fwd", arg: "none", key: "g" }, w: { opt: "w", arg: "required", key: "w" }, x: { opt: "x", arg: "required", key: "x" },
  y: { opt: "y", arg: "required", key: "y" }, n: { opt: "n", arg: "none", key: "n" }, c: { opt: "c", arg: "none", key: "c" },
  X: { opt: "exact", arg: "none", key: "X" }, "6": { opt: "6", arg: "none", key: "6" }, o: { opt: "o", arg: "none", key: "o" },
  b: { opt: "b", arg: "required", key: "b" },
};

const LONG: Record<string, OptDef> = {
  "add-service": SHORT.A, "edit-service": SHORT.E, "delete-service": SHORT.D, clear: SHORT.C, list: SHORT.L, zero: SHORT.Z,
  "add-server": SHORT.a, "edit-server": SHORT.e, "delete-server": SHORT.d, restore: SHORT.R, save: SHORT.S,
  help: SHORT.h, version: SHORT.v, set: { cmd: "set", arg: "none", key: "set" },
  "tcp-service": SHORT.t, "udp-service": SHORT.u, "fwmark-service": SHORT.f, scheduler: SHORT.s, persistent: SHORT.p,
  netmask: SHORT.M, "real-server": SHORT.r, masquerading: SHORT.m, ipip: SHORT.i, gatewaying: SHORT.g, weight: SHORT.w,
  "u-threshold": SHORT.x, "l-threshold": SHORT.y, numeric: SHORT.n, connection: SHORT.c, exact: SHORT.X, ipv6: SHORT["6"],
  ops: SHORT.o, "sched-flags": SHORT.b,
  timeout: { opt: "timeout", arg: "none", key: "timeout" }, daemon: { opt: "daemon", arg: "none", key: "daemon" },
  stats: { opt: "stats", arg: "none", key: "stats" }, rate: { opt: "rate", arg: "none", key: "rate" },
  thresholds: { opt: "thresholds", arg: "none", key: "thresholds" }, "persistent-conn": { opt: "pc", arg: "none", key: "persistent-conn" },
  sort: { opt: "sort", arg: "none", key: "sort" }, nosort: { opt: "nosort", arg: "none", key: "nosort" },
  ...Object.fromEntries((["mcast-interface", "syncid", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen"] as const)
    .map((o) => [o, { opt: o, arg: "required", key: o } satisfies OptDef])),
};

/** ipvsadm's connection-sync commands: configured with lvs_sync_daemon instead (CONTRACTS.md). */
const DAEMON = /^--(start|stop)-daemon(=|$)/;

/** An unknown option; but a line with --start-daemon or --stop-daemon is answered about those. */
function unknownOption(argv: string[], message: string): never {
  const daemon = argv.find((w) => DAEMON.test(w));
  if (daemon) {
    fail("NOT_AVAILABLE", `ipvsadm ${daemon.split("=")[0]}: connection sync is configured with lvs_sync_daemon (not available yet)`);
  }
  fail("UNKNOWN_OPTION", message);
}

/** Allowed options per command: '+' required, ' ' optional, '1' at most one of the '1's. */
const TABLE: Partial<Record<Cmd, Partial<Record<Opt, "+" | " " | "1">>>> = {
  A: { svc: "+", s: " ", p: " ", M: " ", o: " ", b: " ", "6": " " },
  E: { svc: "+", s: " ", p: " ", M: " ", o: " ", b: " ", "6": " " },
  D: { svc: "+", "6": " " },
  C: {},
  L: { n: " ", c: "1", svc: "1", timeout: "1", daemon: "1", stats: " ", rate: " ", thresholds: " ", pc: " ", sort: " ", nosort: " ", exact: " ", "6": " " },
  a: { svc: "+", r: "+", fwd: " ", w: " ", x: " ", y: " ", "6": " " },
  e: { svc: "+", r: "+", fwd: " ", w: " ", x: " ", y: " ", "6": " " },
  d: { svc: "+", r: "+", "6": " " },
  set: {},
  R: {},
  S: { n: " " },
  Z: { svc: " ", "6": " " },
  h: {},
  v: {},
};

const REQUIRED = Object.fromEntries(Object.entries(TABLE).map(([c, opts]) =>
  [c, Object.entries(opts).filter(([, r]) => r === "+").map(([o]) => o as Opt)])) as Record<Cmd, Opt[]>;

const CMD_NAME: Record<Cmd, string> = {
  A: "-A", E: "-E", D: "-D", C: "-C", L: "-L", a: "-a", e: "-e", d: "-d", set: "--set", R: "-R", S: "-S", Z: "-Z", h: "-h", v: "-v",
};

export interface ListFormat {
  numeric: boolean; stats: boolean; rate: boolean; thresholds: boolean; persistentConn: boolean; nosort: boolean; exact: boolean;
}

export interface Parsed {
  cmd: Cmd;
  svc?: SvcKey;
  scheduler: string;
  schedFlags: number;
  persistent: number;
  netmask?: number;
  onePacket: boolean;
  dest?: AddrPort;
  fwd: FwdName;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  connections: boolean;
  timeout: boolean;
  daemon: boolean;
  format: ListFormat;
  timeouts?: { tcp: number; tcpfin: number; udp: number };
}

const FLAG_BITS: Record<string, { bit: number; sched?: string }> = {
  "flag-1": { bit: 1 }, "flag-2": { bit: 2 }, "flag-3": { bit: 4 },
  "sh-fallback": { bit: 1, sched: "sh" }, "sh-port": { bit: 2, sched: "sh" },
  "mh-fallback": { bit: 1, sched: "mh" }, "mh-port": { bit: 2, sched: "mh" },
};

interface Given { def: OptDef; token: string; value?: string; }

/** Splits argv into options (with their values) and plain arguments. */
function scan(argv: string[]): { given: Given[]; plain: string[] } {
  const given: Given[] = [];
  const plain: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    const takeNext = (def: OptDef, shown: string): string | undefined => {
      const next = argv[i + 1];
      if (def.arg === "required") {
        if (next === undefined) fail("MISSING_ARGUMENT", `missing argument for ${shown}`);
        i++;
        return next;
      }
      if (def.arg === "optional" && next !== undefined && !next.startsWith("-")) { i++; return next; }
      return undefined;
    };
    if (tok.startsWith("--") && tok.length > 2) {
      const eq = tok.indexOf("=");
      const name = eq < 0 ? tok.slice(2) : tok.slice(2, eq);
      const def = own(LONG, name);
      if (!def) unknownOption(argv, `unknown option '${tok}'`);
      if (eq >= 0) {
        if (def.arg === "none") fail("UNEXPECTED_ARGUMENT", `option '--${name}' takes no argument`);
        given.push({ def, token: `--${name}`, value: tok.slice(eq + 1) });
      } else {
        given.push({ def, token: tok, value: def.arg === "none" ? undefined : takeNext(def, tok) });
      }
    } else if (tok.startsWith("-") && tok.length > 1) {
      for (let j = 1; j < tok.length; j++) {
        const def = own(SHORT, tok[j]);
        if (!def) unknownOption(argv, `unknown option '-${tok[j]}'${tok.length > 2 ? ` in '${tok}'` : ""}`);
        const shown = `-${tok[j]}`;
        if (def.arg === "none") { given.push({ def, token: shown }); continue; }
        const rest = tok.slice(j + 1);
        given.push({ def, token: shown, value: rest !== "" ? rest : takeNext(def, shown) });
        break;
      }
    } else {
      plain.push(tok);
    }
  }
  return { given, plain };
}

function number(v: string, min: number, max: number, what: string): number {
  const n = intIn(v, min, max);
  if (n === null) fail("BAD_VALUE", `invalid ${what} '${v}' (${min}-${max})`);
  return n;
}

export function parseIpvsadm(argv: string[]): Parsed {
  const { given, plain } = scan(argv);
  let cmd: Cmd | undefined;
  let cmdTok = "";
  const seen = new Map<Opt, string>();
  const p: Parsed = {
    cmd: "L", scheduler: "", schedFlags: 0, persistent: 0, onePacket: false, fwd: "dr", weight: 1, uThreshold: 0, lThreshold: 0,
    connections: false, timeout: false, daemon: false,
    format: { numeric: false, stats: false, rate: false, thresholds: false, persistentConn: false, nosort: false, exact: false },
  };
  let svcKind: "t" | "u" | "f" | undefined;
  let svcText = "";
  let destText: string | undefined;
  let netmaskText: string | undefined;
  let flagsText: string | undefined;
  let v6 = false;
  for (const g of given) {
    if (g.def.cmd) {
      if (cmd !== undefined && !(cmd === g.def.cmd && cmd === "L")) fail("MULTIPLE_COMMANDS", `multiple commands: '${cmdTok}' and '${g.token}'`);
      cmd = g.def.cmd;
      cmdTok = g.token;
      continue;
    }
    const o = g.def.opt!;
    const before = seen.get(o);
    if (before === g.token) fail("DUPLICATE_OPTION", `option '${g.token}' given twice`);
    if (before) fail("DUPLICATE_OPTION", `option '${g.token}' conflicts with '${before}'`);
    seen.set(o, g.token);
    const v = g.value!;
    switch (o) {
      case "svc": svcKind = g.def.key as "t" | "u" | "f"; svcText = v; break;
      case "s":
        if (!(SCHEDULERS as readonly string[]).includes(v)) fail("UNKNOWN_SCHEDULER", `unknown scheduler '${v}'`);
        p.scheduler = v;
        break;
      case "p": p.persistent = v === undefined ? DEFAULT_PERSISTENCE : number(v, 1, MAX_PERSISTENCE, "persistence timeout"); break;
      case "M": netmaskText = v; break;
      case "r": destText = v; break;
      case "fwd": p.fwd = g.def.key === "m" ? "nat" : g.def.key === "i" ? "tun" : "dr"; break;
      case "w": p.weight = number(v, 0, 65535, "weight"); break;
      case "x": p.uThreshold = number(v, 0, 0x7fffffff, "upper threshold"); break;
      case "y": p.lThreshold = number(v, 0, 0x7fffffff, "lower threshold"); break;
      case "n": p.format.numeric = true; break;
      case "c": p.connections = true; break;
      case "timeout": p.timeout = true; break;
      case "daemon": p.daemon = true; break;
      case "stats": p.format.stats = true; break;
      case "rate": p.format.rate = true; break;
      case "thresholds": p.format.thresholds = true; break;
      case "pc": p.format.persistentConn = true; break;
      case "nosort": p.format.nosort = true; break;
      case "sort": break;
      case "exact": p.format.exact = true; break;
      case "o": p.onePacket = true; break;
      case "b": flagsText = v; break;
      case "6": v6 = true; break;
    }
  }
  if (cmd === undefined) {
    if (given.length === 0 && plain.length === 0) cmd = "L";
    else fail("NO_COMMAND", `no command given (one of -A -E -D -C -a -e -d -L -Z -S -R --set) in '${argv.join(" ")}'`);
  }
  p.cmd = cmd;

  // The command/option table, as ipvsadm's generic_opt_check.
  const allowed = TABLE[cmd]!;
  let exclusive: string | undefined;
  for (const [o, tok] of seen) {
    const rule = allowed[o];
    if (rule === undefined) fail("ILLEGAL_OPTION", `option '${tok}' cannot be used with ${cmdTok}`);
    if (rule === "1") {
      if (exclusive) fail("CONFLICT", `option '${tok}' conflicts with '${exclusive}' in ${cmdTok}`);
      exclusive = tok;
    }
  }
  for (const o of REQUIRED[cmd]) {
    if (seen.has(o)) continue;
    fail("MISSING_OPTION", o === "svc" ? `${cmdTok} needs a service (-t, -u or -f)` : `${cmdTok} needs a real server (-r)`);
  }
  if (cmd === "L" && (p.connections || p.timeout || p.daemon) && (p.format.stats || p.format.rate || p.format.thresholds || p.format.persistentConn)) {
    fail("CONFLICT", `options conflict in ${cmdTok}: ${[...seen.values()].join(" ")}`);
  }

  // Positional arguments: only --set takes them.
  if (cmd === "set") {
    if (plain.length < 3) fail("MISSING_ARGUMENT", "--set needs 3 timeout values: tcp tcpfin udp");
    const [tcp, tcpfin, udp] = plain.slice(0, 3).map((v, i) => number(v, 0, MAX_TIMEOUT, ["tcp timeout", "tcpfin timeout", "udp timeout"][i]));
    p.timeouts = { tcp, tcpfin, udp };
    plain.splice(0, 3);
  }
  if (plain.length) fail("UNEXPECTED_ARGUMENT", `unexpected argument '${plain[0]}'`);

  if (v6 && svcKind !== "f") fail("ILLEGAL_OPTION", "option '-6' goes with -f only");
  if (svcKind) p.svc = parseServiceValue(svcKind === "f" ? "fwmark" : svcKind === "t" ? "tcp" : "udp", svcText, v6);
  // A real server's port name is the service's protocol's (TCP for -f, as ipvsadm).
  if (destText !== undefined) p.dest = parseHostPort(destText, svcKind === "u" ? "udp" : "tcp");

  if (cmd === "A" || cmd === "E") {
    if (!p.scheduler) p.scheduler = DEFAULT_SCHEDULER;
    if (netmaskText !== undefined) {
      if (p.svc!.af === 6) p.netmask = number(netmaskText, 1, 128, "netmask");
      else {
        // Any contiguous mask, 0.0.0.0 included (ipvsadm takes any dotted quad; the
        // data plane keeps a prefix, so a non-contiguous one is refused, saying why).
        const len = maskToLen(netmaskText);
        if (len === null) {
          const why = tryIp(netmaskText)?.af === 4 ? " (not contiguous: persistence groups clients by prefix)" : "";
          fail("BAD_NETMASK", `invalid netmask '${netmaskText}'${why}`);
        }
        p.netmask = len;
      }
    }
    if (flagsText !== undefined) {
      for (const f of flagsText.split(",")) {
        const d = own(FLAG_BITS, f);
        if (!d) fail("BAD_SCHED_FLAG", `invalid scheduler flag '${f}'`);
        if (d.sched && d.sched !== p.scheduler) fail("BAD_SCHED_FLAG", `scheduler flag '${f}' does not go with scheduler '${p.scheduler}'`);
        p.schedFlags |= d.bit;
      }
    }
  }
  return p;
}

export function cmdName(c: Cmd): string { return CMD_NAME[c]; }
