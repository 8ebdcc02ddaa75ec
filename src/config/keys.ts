// Virtual-service and real-server identities: how they are written
// ("TCP 198.18.100.1:80", "FWM 1", "198.19.0.11:80"), parsed back, ordered
// (as libipvs sorts them for listings) and handed to the data plane.

import type { ServiceKey } from "../dataplane/dataplane.js";
import { addrPort, compareIp, intIn, parseIp, type Family } from "./addr.js";
import { fail } from "../errors.js";

export type SvcKey =
  | { kind: "tcp" | "udp"; af: Family; addr: string; port: number }
  | { kind: "fwmark"; af: Family; mark: number };

/** The service as ipvsadm lists it, single-spaced: "TCP 198.18.100.1:80", "FWM 1", "FWM 1 IPv6". */
export function svcKeyText(k: SvcKey): string {
  if (k.kind === "fwmark") return k.af === 6 ? `FWM ${k.mark} IPv6` : `FWM ${k.mark}`;
  return `${k.kind.toUpperCase()} ${addrPort(k.af, k.addr, k.port)}`;
}

/**
 * The service as a map key, the form health checks use:
 * "tcp:198.18.100.1:80", "udp:[2001:db8::1]:53", "fwm:7", "fwm6:7".
 */
export function svcKeyId(k: SvcKey): string {
  if (k.kind === "fwmark") return `${k.af === 6 ? "fwm6" : "fwm"}:${k.mark}`;
  return `${k.kind}:${addrPort(k.af, k.addr, k.port)}`;
}

/** The service as ipvsadm options: "-t 198.18.100.1:80", "-f 1", "-f 1 -6". */
export function svcKeyOption(k: SvcKey): string {
  if (k.kind === "fwmark") return k.af === 6 ? `-f ${k.mark} -6` : `-f ${k.mark}`;
  return `${k.kind === "tcp" ? "-t" : "-u"} ${addrPort(k.af, k.addr, k.port)}`;
}

export function destKeyText(af: Family, addr: string, port: number): string { return addrPort(af, addr, port); }

export function toDpKey(k: SvcKey): ServiceKey {
  return k.kind === "fwmark" ? { fwmark: k.mark, af: k.af } : { proto: k.kind, addr: k.addr, port: k.port };
}

const MARK_MAX = 0xffffffff;

export function parseMark(text: string): number {
  const m = intIn(text, 1, MARK_MAX);
  if (m === null) fail("BAD_FWMARK", `invalid fwmark value '${text}'`);
  return m;
}

/**
 * Parses ipvsadm's host[:port] / [v6]:port. Port absent → null port.
 * `opt` is the option it follows, for the error text.
 */
export function parseAddrPort(text: string): { af: Family; addr: string; port: number | null } {
  let host = text, portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || (close !== text.length - 1 && text[close + 1] !== ":")) fail("BAD_ADDRESS", `invalid address '${text}'`);
    host = text.slice(1, close);
    if (close !== text.length - 1) portText = text.slice(close + 2);
  } else {
    const colon = text.indexOf(":");
    if (colon >= 0 && text.indexOf(":", colon + 1) < 0) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
  }
  const a = parseIp(host, text);
  if (portText === undefined) return { af: a.af, addr: a.text, port: null };
  const port = intIn(portText, 0, 65535);
  if (port === null) fail("BAD_PORT", `invalid port '${portText}' in '${text}'`);
  return { af: a.af, addr: a.text, port };
}

/**
 * Parses a service key written as svcKeyId() ("tcp:198.18.100.1:80", "fwm6:7"),
 * as the listing shows it ("TCP 198.18.100.1:80", "FWM 1 IPv6") or as ipvsadm
 * options ("-t 198.18.100.1:80", "-f 1 -6").
 */
export function parseSvcKey(text: string): SvcKey {
  const id = /^(tcp|udp|fwm|fwm6):(.+)$/.exec(text.trim());
  if (id) {
    if (id[1] === "tcp" || id[1] === "udp") {
      const a = parseAddrPort(id[2]);
      return { kind: id[1], af: a.af, addr: a.addr, port: a.port ?? 0 };
    }
    return { kind: "fwmark", af: id[1] === "fwm6" ? 6 : 4, mark: parseMark(id[2]) };
  }
  const w = text.trim().split(/\s+/);
  const kind = w[0]?.toLowerCase();
  if ((kind === "tcp" || kind === "udp" || kind === "-t" || kind === "-u") && w.length === 2) {
    const a = parseAddrPort(w[1]);
    return { kind: kind === "tcp" || kind === "-t" ? "tcp" : "udp", af: a.af, addr: a.addr, port: a.port ?? 0 };
  }
  if ((kind === "fwm" || kind === "-f") && (w.length === 2 || (w.length === 3 && (w[2] === "-6" || w[2] === "IPv6")))) {
    return { kind: "fwmark", af: w.length === 3 ? 6 : 4, mark: parseMark(w[1]) };
  }
  fail("BAD_SERVICE", `invalid service '${text}'`);
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
