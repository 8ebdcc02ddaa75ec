// The words of `health add` and `health sorry`: tokens → spec and spec →
// tokens (the canonical line that running-config prints). Parsing either
// returns a complete, validated value or throws a HealthSyntaxError naming
// the offending token.
//
//   health add SERVICE -r RS TYPE [TYPE-OPTIONS] [OPTIONS]
//     SERVICE   -t ADDR:PORT | -u ADDR:PORT | -f MARK [-6]   (read as ipvsadm reads them: keys.ts)
//     TYPE      tcp
//             | http path PATH [status CODE] [digest MD5HEX] [host NAME]
//             | udp [payload HEX] [expect HEX]
//             | script CMD [ARG…] [--]     (arguments run to the end or to "--")
//     OPTIONS   [connect-ip ADDR] [connect-port PORT] [bind ADDR]
//               [interval T] [timeout T] [rise N] [fall N] [inhibit|remove] [alpha]
//     T         seconds ("5", "0.5", "5s") or milliseconds ("100ms")
//   health sorry SERVICE RS [-g|-m|-i]

import { quoteWord } from "../config/save.js";
import { HealthSyntaxError, KeyError } from "../errors.js";
import { destId, parseDestId, parseHostPort, parseServiceValue, parseSvcKey, portProto, serviceId, svcKeyOption, tryIp } from "../keys.js";
import { CHECK_DEFAULTS, type CheckKind, type CheckSpec, type FwdName, type SorryServer } from "./types.js";

const fail = (msg: string): never => { throw new HealthSyntaxError(msg); };
const q = (tok: string) => JSON.stringify(tok);

// ---------------------------------------------------------------- values

const MAX_MS = 24 * 3600 * 1000;

export function parseDuration(tok: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(tok);
  const ms = m ? Math.round(Number(m[1]) * (m[2] === "ms" ? 1 : 1000)) : NaN;
  if (!(ms >= 1 && ms <= MAX_MS)) fail(`bad ${what} ${q(tok)} (seconds like 5 or 0.5, or milliseconds like 100ms)`);
  return ms;
}

export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? String(ms / 1000) : `${ms}ms`;
}

function parseInt_(tok: string, what: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(tok) || Number(tok) < min || Number(tok) > max) fail(`bad ${what} ${q(tok)} (${min}..${max})`);
  return Number(tok);
}

function parseHex(tok: string, what: string, maxBytes: number): string {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(tok) || tok.length / 2 > maxBytes) {
    fail(`bad ${what} ${q(tok)} (hex bytes, at most ${maxBytes})`);
  }
  return tok.toLowerCase();
}

function parseAddrTok(tok: string, what: string): string {
  const a = tryIp(tok);
  if (!a) fail(`bad ${what} ${q(tok)} (an IPv4 or IPv6 address)`);
  return a!.text;
}

/** Quotes a token for the console's word splitter when it would not survive as is (config/save.ts). */
export const quoteToken = quoteWord;

// ---------------------------------------------------------------- service and real server

interface Cursor { toks: string[]; i: number; }

function next(c: Cursor, after: string, what: string): string {
  const t = c.toks[c.i++];
  if (t === undefined) fail(`${q(after)} needs ${what}`);
  return t;
}

// A Map, not an object: `t in {…}` is true for "toString" and "constructor" too.
const FWD_FLAGS = new Map<string, FwdName>([
  ["-g", "dr"], ["--gatewaying", "dr"], ["-m", "nat"], ["--masquerading", "nat"], ["-i", "tun"], ["--ipip", "tun"],
]);
const FWD_OPTION: Record<FwdName, string> = { dr: "-g", nat: "-m", tun: "-i" };

const SERVICE_KIND = new Map<string, "tcp" | "udp" | "fwmark">([
  ["-t", "tcp"], ["--tcp-service", "tcp"], ["-u", "udp"], ["--udp-service", "udp"], ["-f", "fwmark"], ["--fwmark-service", "fwmark"],
]);

/** What the key parser found wrong in tok, in health's own words (its replies kept them; ipvsadm's are keys.ts's). */
function keyProblem(e: unknown, tok: string): string {
  if (!(e instanceof KeyError)) throw e;
  if (e.code === "WEIR_ERR_BAD_FWMARK") return `bad firewall mark: ${tok}`;
  if (e.code === "WEIR_ERR_BAD_PORT") return `bad port in ${tok}`;
  return `not an address: ${tok}`;
}

/** Reads a service option at the cursor (the flag already consumed as `flag`): its serviceId. */
function readService(c: Cursor, flag: string): string {
  const value = next(c, flag, "a service address");
  const kind = SERVICE_KIND.get(flag)!;
  let v6 = false;
  if (kind === "fwmark" && c.toks[c.i] === "-6") { v6 = true; c.i++; }
  let k;
  try {
    k = parseServiceValue(kind, value, v6);
  } catch (e) {
    return fail(`bad service ${q(value)}: ${keyProblem(e, value)}`);
  }
  // ipvsadm takes port 0 for a persistent service; a check needs a port to name one.
  if (k.kind !== "fwmark" && k.port === 0) fail(`bad service ${q(value)}: service needs a port: ${value}`);
  return serviceId(k);
}

/** The real server's destId; its port defaults to the service's (0 for fwmark), names as ipvsadm reads them. */
function toDest(tok: string, service: string): string {
  const k = parseSvcKey(service);
  try {
    const a = parseHostPort(tok, portProto(k));
    return destId({ addr: a.addr, port: a.port ?? (k.kind === "fwmark" ? 0 : k.port) });
  } catch (e) {
    return fail(`bad real server ${q(tok)}: ${keyProblem(e, tok)}`);
  }
}

// ---------------------------------------------------------------- health add

const TYPES = new Set(["tcp", "http", "udp", "script"]);

/** Parses the words after `health add`. */
export function parseAdd(toks: string[]): CheckSpec {
  const c: Cursor = { toks, i: 0 };
  let service: string | undefined;
  let destTok: string | undefined;
  let check: CheckKind | undefined;
  const seen = new Set<string>();
  const once = (word: string) => { if (seen.has(word)) fail(`duplicate ${q(word)}`); seen.add(word); };
  const o: Partial<CheckSpec> = {};

  while (c.i < toks.length) {
    const t = toks[c.i++];
    if (SERVICE_KIND.has(t)) { if (service) fail(`duplicate service ${q(t)}`); service = readService(c, t); continue; }
    if (t === "-r" || t === "--real-server") { if (destTok) fail(`duplicate ${q(t)}`); destTok = next(c, t, "a real server"); continue; }
    if (TYPES.has(t)) {
      if (check) fail(`second check type ${q(t)}`);
      if (t === "tcp") check = { type: "tcp" };
      else if (t === "http") check = { type: "http", path: "", status: CHECK_DEFAULTS.httpStatus };
      else if (t === "udp") check = { type: "udp", payload: "" };
      else {
        const command = next(c, t, "a command");
        const args: string[] = [];
        while (c.i < toks.length && toks[c.i] !== "--") args.push(toks[c.i++]);
        if (toks[c.i] === "--") c.i++;
        check = { type: "script", command, args };
      }
      continue;
    }
    switch (t) {
      case "connect-ip": once(t); o.connectIp = parseAddrTok(next(c, t, "an address"), t); continue;
      case "connect-port": once(t); o.connectPort = parseInt_(next(c, t, "a port"), t, 1, 65535); continue;
      case "bind": once(t); o.bind = parseAddrTok(next(c, t, "an address"), t); continue;
      case "interval": once(t); o.intervalMs = parseDuration(next(c, t, "a time"), t); continue;
      case "timeout": once(t); o.timeoutMs = parseDuration(next(c, t, "a time"), t); continue;
      case "rise": once(t); o.rise = parseInt_(next(c, t, "a count"), t, 1, 1000); continue;
      case "fall": once(t); o.fall = parseInt_(next(c, t, "a count"), t, 1, 1000); continue;
      case "inhibit": case "remove": once("inhibit|remove"); o.mode = t; continue;
      case "alpha": once(t); o.alpha = true; continue;
    }
    if (check?.type === "http") {
      switch (t) {
        case "path": {
          once(t);
          const p = next(c, t, "a path");
          if (!/^\/[\x21-\x7e]*$/.test(p)) fail(`bad path ${q(p)} (starts with "/", no spaces)`);
          check.path = p;
          continue;
        }
        case "status": once(t); check.status = parseInt_(next(c, t, "a status code"), t, 100, 599); continue;
        case "digest": {
          once(t);
          const d = next(c, t, "an MD5 digest");
          if (!/^[0-9a-fA-F]{32}$/.test(d)) fail(`bad digest ${q(d)} (32 hex digits, an MD5)`);
          check.digest = d.toLowerCase();
          continue;
        }
        case "host": {
          once(t);
          const h = next(c, t, "a host name");
          if (!/^[A-Za-z0-9.\-_:[\]]+$/.test(h)) fail(`bad host ${q(h)}`);
          check.host = h;
          continue;
        }
      }
    }
    if (check?.type === "udp") {
      switch (t) {
        case "payload": once(t); check.payload = parseHex(next(c, t, "hex bytes"), t, 1472); continue;
        case "expect": once(t); check.expect = parseHex(next(c, t, "hex bytes"), t, 1472); continue;
      }
    }
    fail(`unknown word ${q(t)}`);
  }

  if (!service) return fail("missing service (-t, -u or -f)");
  if (destTok === undefined) return fail("missing real server (-r)");
  if (!check) return fail("missing check type (tcp, http, udp or script)");
  if (check.type === "http" && !check.path) fail(`"http" needs "path"`);
  if (check.type === "udp" && check.expect === "") fail(`bad expect "" (at least one byte)`);
  const dest = toDest(destTok, service);
  if (check.type !== "script" && o.connectPort === undefined && parseDestId(dest).port === 0) {
    fail(`real server ${q(destTok)} has no port: give "connect-port"`);
  }
  return {
    service,
    dest,
    check,
    ...(o.connectIp !== undefined && { connectIp: o.connectIp }),
    ...(o.connectPort !== undefined && { connectPort: o.connectPort }),
    ...(o.bind !== undefined && { bind: o.bind }),
    intervalMs: o.intervalMs ?? CHECK_DEFAULTS.intervalMs,
    timeoutMs: o.timeoutMs ?? CHECK_DEFAULTS.timeoutMs,
    rise: o.rise ?? CHECK_DEFAULTS.rise,
    fall: o.fall ?? CHECK_DEFAULTS.fall,
    alpha: o.alpha ?? CHECK_DEFAULTS.alpha,
    mode: o.mode ?? CHECK_DEFAULTS.mode,
  };
}

/** The service and real server words of a check ("-t 198.18.100.1:80 -r 198.19.0.11:80"). */
export function formatPair(service: string, dest: string): string {
  return `${svcKeyOption(service)} -r ${dest}`;
}

/** The canonical `health add` line for a spec; parseAdd of its words gives the spec back. */
export function formatAdd(s: CheckSpec): string {
  const common: string[] = [];
  if (s.connectIp !== undefined) common.push("connect-ip", s.connectIp);
  if (s.connectPort !== undefined) common.push("connect-port", String(s.connectPort));
  if (s.bind !== undefined) common.push("bind", s.bind);
  common.push(
    "interval", formatDuration(s.intervalMs), "timeout", formatDuration(s.timeoutMs),
    "rise", String(s.rise), "fall", String(s.fall), s.mode,
  );
  if (s.alpha) common.push("alpha");
  const c = s.check;
  let words: string[];
  switch (c.type) {
    case "tcp": words = ["tcp", ...common]; break;
    case "http":
      words = ["http", "path", c.path, "status", String(c.status)];
      if (c.digest) words.push("digest", c.digest);
      if (c.host) words.push("host", c.host);
      words.push(...common);
      break;
    case "udp":
      words = ["udp"];
      if (c.payload) words.push("payload", c.payload);
      if (c.expect) words.push("expect", c.expect);
      words.push(...common);
      break;
    case "script":
      // Arguments run to the end of the line, so the options go first.
      words = [...common, "script", c.command, ...c.args];
      break;
  }
  return `health add ${formatPair(s.service, s.dest)} ${words.map(quoteToken).join(" ")}`;
}

// ---------------------------------------------------------------- health del / sorry

/** Parses "SERVICE -r RS" (the words after `health del`). */
export function parseDel(toks: string[]): { service: string; dest: string } {
  const c: Cursor = { toks, i: 0 };
  let service: string | undefined;
  let destTok: string | undefined;
  while (c.i < toks.length) {
    const t = toks[c.i++];
    if (SERVICE_KIND.has(t)) { if (service) fail(`duplicate service ${q(t)}`); service = readService(c, t); continue; }
    if (t === "-r" || t === "--real-server") { if (destTok) fail(`duplicate ${q(t)}`); destTok = next(c, t, "a real server"); continue; }
    fail(`unknown word ${q(t)}`);
  }
  if (!service) return fail("missing service (-t, -u or -f)");
  if (destTok === undefined) return fail("missing real server (-r)");
  return { service, dest: toDest(destTok, service) };
}

/** Parses "SERVICE RS [-g|-m|-i]" (the words after `health sorry`); -g (DR) is the default, as in ipvsadm. */
export function parseSorry(toks: string[]): { service: string; sorry: SorryServer } {
  const c: Cursor = { toks, i: 0 };
  let service: string | undefined;
  let destTok: string | undefined;
  let fwd: FwdName | undefined;
  while (c.i < toks.length) {
    const t = toks[c.i++];
    if (SERVICE_KIND.has(t)) { if (service) fail(`duplicate service ${q(t)}`); service = readService(c, t); continue; }
    if (FWD_FLAGS.has(t)) { if (fwd) fail(`duplicate forwarding method ${q(t)}`); fwd = FWD_FLAGS.get(t); continue; }
    if (t === "-r" || t === "--real-server") { if (destTok) fail(`duplicate ${q(t)}`); destTok = next(c, t, "a sorry server"); continue; }
    if (!t.startsWith("-") && destTok === undefined) { destTok = t; continue; }
    fail(`unknown word ${q(t)}`);
  }
  if (!service) return fail("missing service (-t, -u or -f)");
  if (destTok === undefined) return fail("missing sorry server address");
  const dest = toDest(destTok, service);
  if (parseDestId(dest).port === 0 && !service.startsWith("fwm")) fail(`bad sorry server ${q(destTok)}`);
  return { service, sorry: { dest, fwd: fwd ?? "dr" } };
}

/** Parses "SERVICE" (the words after `health sorry del`). */
export function parseService(toks: string[]): string {
  const c: Cursor = { toks, i: 0 };
  let service: string | undefined;
  while (c.i < toks.length) {
    const t = toks[c.i++];
    if (SERVICE_KIND.has(t)) { if (service) fail(`duplicate service ${q(t)}`); service = readService(c, t); continue; }
    fail(`unknown word ${q(t)}`);
  }
  if (!service) return fail("missing service (-t, -u or -f)");
  return service;
}

export function formatSorry(service: string, sorry: SorryServer): string {
  return `health sorry ${svcKeyOption(service)} ${sorry.dest} ${FWD_OPTION[sorry.fwd]}`;
}

export function formatFwd(fwd: FwdName): string { return FWD_OPTION[fwd]; }
