// User-space IP-in-IP decapsulator for a real server (this kernel has no ipip
// module), run inside the real server's namespace:
//
//   node dist/demo/decap.js --dev eth0 --addr 198.19.0.11 [--tap decap0] [--no-nft]
//
// Reads frames on DEV through an AF_PACKET ring (the addon), takes IPv4
// protocol-4 packets addressed to one of the --addr addresses, strips the
// outer header and writes the inner packet into a TAP device of this
// namespace with an Ethernet header addressed to the TAP's own MAC, so the
// kernel receives it (a VIP held on lo) and answers straight to the client.
// The outer packet still reaches this kernel too, which would answer it with
// ICMP protocol unreachable: an nft table `ip weirdecap` drops protocol 4 on
// input (AF_PACKET sees the frame before that hook), removed on exit.
// A TCP/UDP checksum left to offload (TP_STATUS_CSUMNOTREADY) is completed here.
// Prints `ready {…}` when running and a `stats {…}` line each second counters change.

import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { execFileSync } from "node:child_process";
import * as native from "../../native/index.js";
import { RxRing } from "./rings.js";

export const NFT_TABLE = "weirdecap";

export type DecapResult =
  | { inner: Uint8Array }
  | { skip: "short" | "not_ipv4" | "not_ipip" | "not_ours" | "fragment" | "truncated" | "bad_inner" };

export function parseIpv4(s: string): number {
  const p = s.split(".").map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 address '${s}'`);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function be16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function sum16(b: Uint8Array, start: number, end: number, acc = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (i < end) acc += b[i] << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** Recomputes the TCP/UDP checksum of an IPv4 packet in place (unfragmented packets only). */
export function fillL4Checksum(pkt: Uint8Array): void {
  const ihl = (pkt[0] & 0x0f) * 4;
  const total = be16(pkt, 2);
  const proto = pkt[9];
  if ((be16(pkt, 6) & 0x3fff) !== 0) return;
  const off = proto === 6 ? 16 : proto === 17 ? 6 : -1;
  if (off < 0 || total < ihl + off + 2 || total > pkt.length) return;
  const l4len = total - ihl;
  pkt[ihl + off] = 0;
  pkt[ihl + off + 1] = 0;
  let acc = sum16(pkt, 12, 20) + proto + l4len;
  acc = sum16(pkt, ihl, total, acc);
  let c = ~fold(acc) & 0xffff;
  if (proto === 17 && c === 0) c = 0xffff;
  pkt[ihl + off] = c >> 8;
  pkt[ihl + off + 1] = c & 0xff;
}

/**
 * One received frame → the frame to write into the TAP (Ethernet to tapMac),
 * or why it is not ours. csumNotReady: the inner TCP/UDP checksum was left to
 * offload and is completed here.
 */
export function decapsulate(frame: Uint8Array, addrs: ReadonlySet<number>, tapMac: Uint8Array, csumNotReady = false): DecapResult {
  if (frame.length < 14 + 20) return { skip: "short" };
  if (be16(frame, 12) !== 0x0800) return { skip: "not_ipv4" };
  const ip = 14;
  if (frame[ip] >> 4 !== 4) return { skip: "not_ipv4" };
  const ihl = (frame[ip] & 0x0f) * 4;
  if (ihl < 20 || frame.length < ip + ihl) return { skip: "short" };
  if (frame[ip + 9] !== 4) return { skip: "not_ipip" };
  if (!addrs.has(be32(frame, ip + 16))) return { skip: "not_ours" };
  if ((be16(frame, ip + 6) & 0x3fff) !== 0) return { skip: "fragment" };
  const total = be16(frame, ip + 2);
  if (total < ihl + 20 || ip + total > frame.length) return { skip: "truncated" };
  const innerStart = ip + ihl;
  const innerLen = total - ihl;
  if (frame[innerStart] >> 4 !== 4 || be16(frame, innerStart + 2) !== innerLen) return { skip: "bad_inner" };
  const out = new Uint8Array(14 + innerLen);
  out.set(tapMac, 0);
  out.set(frame.subarray(6, 12), 6);
  out[12] = 0x08;
  out[13] = 0x00;
  out.set(frame.subarray(innerStart, innerStart + innerLen), 14);
  if (csumNotReady) fillL4Checksum(out.subarray(14));
  return { inner: out };
}

export function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(":").map((h) => parseInt(h, 16)));
}

function nft(input: string): void {
  execFileSync("nft", ["-f", "-"], { input, stdio: ["pipe", "ignore", "pipe"], timeout: 10000 });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dev: { type: "string", default: "eth0" },
      addr: { type: "string", multiple: true },
      tap: { type: "string", default: "decap0" },
      "no-nft": { type: "boolean", default: false },
      tag: { type: "string" },
    },
  });
  const addrs = new Set((values.addr ?? []).flatMap((a) => a.split(",")).filter(Boolean).map(parseIpv4));
  if (!addrs.size) throw new Error("--addr is required (the real server's address)");
  const dev = values.dev!;

  const tap = native.tapOpen(values.tap!);
  execFileSync("ip", ["link", "set", "dev", tap.name, "mtu", "65521", "up"], { stdio: ["ignore", "ignore", "pipe"], timeout: 10000 });
  const tapMac = macBytes(native.linkInfo(tap.name).mac);
  let nftAdded = false;
  if (!values["no-nft"]) {
    nft(`table ip ${NFT_TABLE} {\n chain input {\n  type filter hook input priority -10; policy accept;\n  ip protocol 4 drop\n }\n}\n`);
    nftAdded = true;
  }
  const rx = new RxRing(dev, { slotSize: 1 << 17, slots: 32 });
  const stats = { frames: 0, decapsulated: 0, csumCompleted: 0, tapFull: 0, skipped: {} as Record<string, number> };
  let running = true;
  let lastStats = "";

  const cleanup = () => {
    running = false;
    try { rx.close(); } catch { /* closed */ }
    try { native.tapClose(tap.handle); } catch { /* closed */ }
    if (nftAdded) {
      nftAdded = false;
      try { nft(`delete table ip ${NFT_TABLE}\n`); } catch { /* namespace going away */ }
    }
  };
  const stop = () => {
    cleanup();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  process.once("exit", cleanup);

  const statTimer = setInterval(() => {
    const s = JSON.stringify(stats);
    if (s !== lastStats) {
      lastStats = s;
      process.stdout.write(`stats ${s}\n`);
    }
  }, 1000);
  statTimer.unref();

  process.stdout.write(`ready ${JSON.stringify({ dev, tap: tap.name, tapMac: native.linkInfo(tap.name).mac, nft: !values["no-nft"], pid: process.pid })}\n`);

  while (running) {
    const n = rx.drain(({ frame, status }) => {
      stats.frames++;
      const notReady = (status & native.TP_STATUS.CSUMNOTREADY) !== 0;
      const r = decapsulate(frame, addrs, tapMac, notReady);
      if ("skip" in r) {
        stats.skipped[r.skip] = (stats.skipped[r.skip] ?? 0) + 1;
        return;
      }
      if (notReady) stats.csumCompleted++;
      if (native.tapWrite(tap.handle, r.inner) > 0) stats.decapsulated++;
      else stats.tapFull++;
    }, 256);
    if (n === 0 && running) await native.pollAsync([rx.handle], 250);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`decap: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
