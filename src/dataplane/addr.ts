// Address text ↔ bytes for the control calls (ipaddr.js does the parsing).

import ipaddr from "ipaddr.js";
import { WeirError } from "./errors.js";

export type Family = 4 | 6;

export interface ParsedAddr { af: Family; bytes: Uint8Array; }

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseAddr(text: string): ParsedAddr {
  // Plain dotted quads (nearly every address in a big ipvsadm -R) skip the
  // general parser and its garbage.
  const m = DOTTED_QUAD.exec(text);
  if (m) return { af: 4, bytes: Uint8Array.of(+m[1], +m[2], +m[3], +m[4]) };
  if (!ipaddr.isValid(text)) throw new WeirError("WEIR_ERR_BAD_ADDRESS", `not an IP address: ${text}`);
  const a = ipaddr.parse(text);
  return { af: a.kind() === "ipv4" ? 4 : 6, bytes: Uint8Array.from(a.toByteArray()) };
}

export function formatAddr(af: Family, bytes: Uint8Array): string {
  if (af === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  return ipaddr.fromByteArray(Array.from(bytes.subarray(0, 16))).toString();
}

export function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-f]{2})(?::([0-9a-f]{2})){5}$/i.test(text) ? text.split(":") : null;
  if (!m) throw new WeirError("WEIR_ERR_BAD_MAC", `not a MAC address: ${text}`);
  return Uint8Array.from(m.map((h) => parseInt(h, 16)));
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(":");
}
