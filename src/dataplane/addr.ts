// Address text ↔ bytes for the control calls (ipaddr.js does the parsing).

import ipaddr from "ipaddr.js";
import { WeirError } from "./errors.js";

export type Family = 4 | 6;

export interface ParsedAddr { af: Family; bytes: Uint8Array; }

export function parseAddr(text: string): ParsedAddr {
  if (!ipaddr.isValid(text)) throw new WeirError("WEIR_ERR_BAD_ADDRESS", `not an IP address: ${text}`);
  const a = ipaddr.parse(text);
  return { af: a.kind() === "ipv4" ? 4 : 6, bytes: Uint8Array.from(a.toByteArray()) };
}

export function formatAddr(af: Family, bytes: Uint8Array): string {
  if (af === 4) return Array.from(bytes.subarray(0, 4)).join(".");
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
