// Service and real-server keys: canonical text, parsed from and printed as
// ipvsadm's options (-t/-u ADDR:PORT, -f MARK, -r ADDR[:PORT]).
//
//   -t 198.18.100.1:80      ↔ "tcp:198.18.100.1:80"
//   -u [2001:db8::1]:53     ↔ "udp:[2001:db8::1]:53"
//   -f 7                    ↔ "fwm:7"      (-f 7 -6 ↔ "fwm6:7")
//   -r 198.19.0.11[:80]     ↔ "198.19.0.11:80" (the port defaults to the service's)

import ipaddr from "ipaddr.js";
import { KeyError } from "../errors.js";

export type ServiceFields =
  | { proto: "tcp" | "udp"; addr: string; port: number }
  | { fwmark: number; af: 4 | 6 };

/** Canonical address text (RFC 5952 for IPv6), or null when not an address. */
export function canonicalAddr(text: string): { addr: string; af: 4 | 6 } | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return { addr: ipaddr.IPv4.parse(text).toString(), af: 4 };
  if (text.includes(":") && ipaddr.IPv6.isValid(text) && !text.includes("%")) {
    return { addr: ipaddr.IPv6.parse(text).toString(), af: 6 };
  }
  return null;
}

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new KeyError("WEIR_ERR_BAD_PORT", `bad port in ${what}`);
  return Number(text);
}

/** "A.B.C.D[:P]" or "[V6][:P]" → address and port (null when absent). */
export function parseHostPort(text: string): { addr: string; af: 4 | 6; port: number | null } {
  let host = text;
  let port: number | null = null;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (v6) {
    host = v6[1];
    if (v6[2] !== undefined) port = parsePort(v6[2], text);
  } else if (text.split(":").length === 2) {
    const i = text.indexOf(":");
    host = text.slice(0, i);
    port = parsePort(text.slice(i + 1), text);
  }
  const a = canonicalAddr(host);
  if (!a) throw new KeyError("WEIR_ERR_BAD_ADDRESS", `not an address: ${text}`);
  return { ...a, port };
}

export function hostPort(addr: string, port: number): string {
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** ipvsadm's service option (-t, -u, -f) and value → service key. */
export function parseServiceOption(flag: string, value: string, ipv6 = false): string {
  if (flag === "-f" || flag === "--fwmark-service") {
    if (!/^\d{1,10}$/.test(value) || Number(value) < 1 || Number(value) > 0xffffffff) {
      throw new KeyError("WEIR_ERR_BAD_FWMARK", `bad firewall mark: ${value}`);
    }
    return `${ipv6 ? "fwm6" : "fwm"}:${Number(value)}`;
  }
  const proto = flag === "-t" || flag === "--tcp-service" ? "tcp" : flag === "-u" || flag === "--udp-service" ? "udp" : null;
  if (!proto) throw new KeyError("WEIR_ERR_BAD_SERVICE", `not a service option: ${flag}`);
  const hp = parseHostPort(value);
  if (hp.port === null || hp.port === 0) throw new KeyError("WEIR_ERR_BAD_PORT", `service needs a port: ${value}`);
  return `${proto}:${hostPort(hp.addr, hp.port)}`;
}

export function serviceFields(key: string): ServiceFields {
  const i = key.indexOf(":");
  const kind = key.slice(0, i);
  const rest = key.slice(i + 1);
  if (kind === "fwm" || kind === "fwm6") return { fwmark: Number(rest), af: kind === "fwm6" ? 6 : 4 };
  const hp = parseHostPort(rest);
  return { proto: kind as "tcp" | "udp", addr: hp.addr, port: hp.port ?? 0 };
}

/** Service key → ipvsadm options ("-t 198.18.100.1:80", "-f 7 -6"). */
export function formatServiceOption(key: string): string {
  const f = serviceFields(key);
  if ("fwmark" in f) return f.af === 6 ? `-f ${f.fwmark} -6` : `-f ${f.fwmark}`;
  return `${f.proto === "tcp" ? "-t" : "-u"} ${hostPort(f.addr, f.port)}`;
}

/** Real-server text → dest key; the port defaults to the service's (0 for fwmark). */
export function parseDest(text: string, serviceKey: string): string {
  const hp = parseHostPort(text);
  const f = serviceFields(serviceKey);
  return hostPort(hp.addr, hp.port ?? ("fwmark" in f ? 0 : f.port));
}

export function destFields(key: string): { addr: string; port: number } {
  const hp = parseHostPort(key);
  return { addr: hp.addr, port: hp.port ?? 0 };
}
