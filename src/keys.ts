// Services and real servers as text, and the address and host:port text they
// are made of: the one address normaliser (tryIp), the one host:port parser
// (parseHostPort) and one canonical key per kind, used as map keys by the
// configuration, the health checks, the replicas and the metrics' lookups:
//
//   service      "tcp:198.18.100.1:80"  "udp:[2001:db8::1]:53"  "fwm:7"  "fwm6:7"   serviceId()
//   real server  "198.19.0.11:80"  "[2001:db8::1]:80"                              destId()
//
// and the spellings people read and write: as ipvsadm lists a service
// ("TCP 198.18.100.1:80", "FWM 7 IPv6": svcKeyText) and as its options
// ("-t 198.18.100.1:80", "-f 7 -6": svcKeyOption); parseSvcKey reads all
// three. Services and real servers are ordered as libipvs sorts listings.
// Errors are KeyErrors (errors.ts) in ipvsadm's wording.

import ipaddr from "ipaddr.js";
import type { Family } from "./dataplane/addr.js";
import type { ServiceKey } from "./dataplane/dataplane.js";
import { portByName, type PortProto } from "./config/portnames.js";
import { KeyError } from "./errors.js";

export type { Family, PortProto };

// ---------------------------------------------------------------- addresses

export interface Ip { af: Family; text: string; bytes: number[]; }

/** Strict dotted quad (1-3 digits per part, each ≤ 255); null otherwise. */
function v4(text: string): number[] | null {
  const b = [0, 0, 0, 0];
  let part = 0, digits = 0, n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      if (++digits > 3 || n > 255) return null;
    } else if (c === 46 && digits > 0 && part < 3) {
      b[part++] = n; n = 0; digits = 0;
    } else return null;
  }
  if (part !== 3 || digits === 0) return null;
  b[3] = n;
  return b;
}

/**
 * The address normaliser: an IPv4 dotted quad or an IPv6 address (no zone)
 * as canonical text (RFC 5952 for IPv6) with its family and bytes; null when
 * it is not one. Strict: no host names, no inet_aton short forms.
 */
export function tryIp(text: string): Ip | null {
  const bytes = v4(text);
  if (bytes) return { af: 4, text: `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`, bytes };
  if (text.includes(":") && ipaddr.IPv6.isValid(text) && !text.includes("%")) {
    const a = ipaddr.IPv6.parse(text);
    return { af: 6, text: a.toString(), bytes: a.toByteArray() };
  }
  return null;
}

/** The canonical text of an address; the text as it is when it is not one. */
export function normalAddr(text: string): string {
  return tryIp(text)?.text ?? text;
}

/** Parses an address; `where` is the token it came from, for the error. */
export function parseIp(text: string, where = text): Ip {
  const a = tryIp(text);
  if (!a) throw new KeyError("WEIR_ERR_BAD_ADDRESS", where === text ? `invalid address '${text}'` : `invalid address '${text}' in '${where}'`);
  return a;
}

/** Orders addresses numerically (IPv4 before IPv6), as ipvsadm sorts them. */
export function compareIp(a: string, b: string): number {
  const x = parseIp(a), y = parseIp(b);
  if (x.af !== y.af) return x.af - y.af;
  for (let i = 0; i < x.bytes.length; i++) if (x.bytes[i] !== y.bytes[i]) return x.bytes[i] - y.bytes[i];
  return 0;
}

/** addr:port, an IPv6 address (text with a colon) in brackets as ipvsadm prints it; port may be a name. */
export function hostPort(addr: string, port: number | string): string {
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** A decimal integer in [min, max]; null otherwise (strtol-strict: digits only). */
export function intIn(text: string | undefined, min: number, max: number): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

// ---------------------------------------------------------------- host:port

/**
 * HOST[:PORT] or [HOST][:PORT] cut at the port's colon; no port → port
 * undefined. A HOST without brackets has at most one colon, else the whole
 * text is the host (a bare IPv6 address). Null when a bracket is not closed
 * or something other than ":PORT" follows it.
 */
export function splitHostPort(text: string): { host: string; port?: string } | null {
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || (close !== text.length - 1 && text[close + 1] !== ":")) return null;
    return close === text.length - 1 ? { host: text.slice(1, close) } : { host: text.slice(1, close), port: text.slice(close + 2) };
  }
  const colon = text.indexOf(":");
  if (colon >= 0 && text.indexOf(":", colon + 1) < 0) return { host: text.slice(0, colon), port: text.slice(colon + 1) };
  return { host: text };
}

export interface AddrPort { af: Family; addr: string; port: number | null; }

const HOST_NAME = /^(?=.*[A-Za-z])[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

/**
 * ADDR[:PORT] or [V6][:PORT] as ipvsadm's parse_service reads it; port null
 * when absent. With `names` (the protocol whose names apply) the port may be
 * a name (portnames.ts), and a host name is refused as one: the appliance
 * has no resolver of its own.
 */
export function parseHostPort(text: string, names?: PortProto): AddrPort {
  const hp = splitHostPort(text);
  // Nearly every line of a big -R is A.B.C.D:PORT, with no letter to look at.
  if (names && /[A-Za-z]/.test(text)) {
    const host = hp?.host ?? text;
    if (HOST_NAME.test(host) && tryIp(host) === null) {
      throw new KeyError("WEIR_ERR_BAD_ADDRESS", `host name '${host}' in '${text}' is not looked up here: give its address`);
    }
    if (hp?.port !== undefined && /^[A-Za-z]/.test(hp.port)) {
      const n = portByName(hp.port, names);
      if (n === null) throw new KeyError("WEIR_ERR_BAD_PORT", `unknown ${names} port name '${hp.port}' in '${text}'`);
      const a = parseIp(hp.host, text);
      return { af: a.af, addr: a.text, port: n };
    }
  }
  if (!hp) throw new KeyError("WEIR_ERR_BAD_ADDRESS", `invalid address '${text}'`);
  const a = parseIp(hp.host, text);
  if (hp.port === undefined) return { af: a.af, addr: a.text, port: null };
  const port = intIn(hp.port, 0, 65535);
  if (port === null) throw new KeyError("WEIR_ERR_BAD_PORT", `invalid port '${hp.port}' in '${text}'`);
  return { af: a.af, addr: a.text, port };
}

// ---------------------------------------------------------------- services and real servers

export type SvcKey =
  | { kind: "tcp" | "udp"; af: Family; addr: string; port: number }
  | { kind: "fwmark"; af: Family; mark: number };

const MARK_MAX = 0xffffffff;

export function parseMark(text: string): number {
  const m = intIn(text, 1, MARK_MAX);
  if (m === null) throw new KeyError("WEIR_ERR_BAD_FWMARK", `invalid fwmark value '${text}'`);
  return m;
}

/** The protocol whose port names a service's ports take: TCP for fwmark, as ipvsadm sets it. */
export function portProto(k: SvcKey): PortProto {
  return k.kind === "udp" ? "udp" : "tcp";
}

/** A service from an ipvsadm option's value: -t/-u ADDR:PORT (the port by number or name), -f MARK (-6: IPv6). */
export function parseServiceValue(kind: SvcKey["kind"], value: string, v6 = false): SvcKey {
  if (kind === "fwmark") return { kind, af: v6 ? 6 : 4, mark: parseMark(value) };
  const a = parseHostPort(value, kind);
  return { kind, af: a.af, addr: a.addr, port: a.port ?? 0 };
}

/**
 * The service's key: "tcp:198.18.100.1:80", "udp:[2001:db8::1]:53",
 * "fwm:7", "fwm6:7"; the address as given (keys hold canonical ones).
 */
export function serviceId(k: SvcKey | ServiceKey): string {
  if ("kind" in k) {
    if (k.kind === "fwmark") return `${k.af === 6 ? "fwm6" : "fwm"}:${k.mark}`;
    return `${k.kind}:${hostPort(k.addr, k.port)}`;
  }
  if ("fwmark" in k) return `${k.af === 6 ? "fwm6" : "fwm"}:${k.fwmark}`;
  return `${k.proto}:${hostPort(k.addr, k.port)}`;
}

/** A real server's key within its service: "198.19.0.11:80", "[2001:db8::1]:80" (no port: 0). */
export function destId(d: { addr: string; port?: number }): string {
  return hostPort(d.addr, d.port ?? 0);
}

/** A real server's key read back: address, family and port. */
export function parseDestId(id: string): { af: Family; addr: string; port: number } {
  const a = parseHostPort(id);
  return { af: a.af, addr: a.addr, port: a.port ?? 0 };
}

/** The service as ipvsadm lists it, single-spaced: "TCP 198.18.100.1:80", "FWM 1", "FWM 1 IPv6". */
export function svcKeyText(k: SvcKey): string {
  if (k.kind === "fwmark") return k.af === 6 ? `FWM ${k.mark} IPv6` : `FWM ${k.mark}`;
  return `${k.kind.toUpperCase()} ${hostPort(k.addr, k.port)}`;
}

/** The service as ipvsadm options: "-t 198.18.100.1:80", "-f 1", "-f 1 -6"; a key's text is read first. */
export function svcKeyOption(k: SvcKey | string): string {
  if (typeof k === "string") k = parseSvcKey(k);
  if (k.kind === "fwmark") return k.af === 6 ? `-f ${k.mark} -6` : `-f ${k.mark}`;
  return `${k.kind === "tcp" ? "-t" : "-u"} ${hostPort(k.addr, k.port)}`;
}

/** The data plane's form of the key. */
export function toDpKey(k: SvcKey): ServiceKey {
  return k.kind === "fwmark" ? { fwmark: k.mark, af: k.af } : { proto: k.kind, addr: k.addr, port: k.port };
}

/**
 * Parses a service written as serviceId() ("tcp:198.18.100.1:80", "fwm6:7"),
 * as the listing shows it ("TCP 198.18.100.1:80", "FWM 1 IPv6") or as ipvsadm
 * options ("-t 198.18.100.1:80", "-f 1 -6"); numeric ports only.
 */
export function parseSvcKey(text: string): SvcKey {
  const id = /^(tcp|udp|fwm|fwm6):(.+)$/.exec(text.trim());
  if (id) {
    if (id[1] === "tcp" || id[1] === "udp") {
      const a = parseHostPort(id[2]);
      return { kind: id[1], af: a.af, addr: a.addr, port: a.port ?? 0 };
    }
    return { kind: "fwmark", af: id[1] === "fwm6" ? 6 : 4, mark: parseMark(id[2]) };
  }
  const w = text.trim().split(/\s+/);
  const kind = w[0]?.toLowerCase();
  if ((kind === "tcp" || kind === "udp" || kind === "-t" || kind === "-u") && w.length === 2) {
    const a = parseHostPort(w[1]);
    return { kind: kind === "tcp" || kind === "-t" ? "tcp" : "udp", af: a.af, addr: a.addr, port: a.port ?? 0 };
  }
  if ((kind === "fwm" || kind === "-f") && (w.length === 2 || (w.length === 3 && (w[2] === "-6" || w[2] === "IPv6")))) {
    return { kind: "fwmark", af: w.length === 3 ? 6 : 4, mark: parseMark(w[1]) };
  }
  throw new KeyError("WEIR_ERR_BAD_SERVICE", `invalid service '${text}'`);
}

/** libipvs's ipvs_cmp_services: fwmark, family, protocol, address, port. */
export function compareSvc(a: SvcKey, b: SvcKey): number {
  const mark = (k: SvcKey) => (k.kind === "fwmark" ? k.mark : 0);
  if (mark(a) !== mark(b)) return mark(a) - mark(b);
  if (a.af !== b.af) return a.af - b.af;
  if (a.kind === "fwmark" || b.kind === "fwmark") return 0;
  const proto = (k: { kind: string }) => (k.kind === "tcp" ? 6 : 17);
  if (proto(a) !== proto(b)) return proto(a) - proto(b);
  return compareIp(a.addr, b.addr) || a.port - b.port;
}

/** libipvs's ipvs_cmp_dests: address, then port. */
export function compareDest(a: { addr: string; port: number }, b: { addr: string; port: number }): number {
  return compareIp(a.addr, b.addr) || a.port - b.port;
}
