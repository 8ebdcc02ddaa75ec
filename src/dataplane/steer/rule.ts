// The steering rule: which data-plane worker owns a received frame. Each
// worker's AF_PACKET socket gets a classic BPF filter (SO_ATTACH_FILTER)
// accepting only the frames it owns (program.ts), so the filters of workers
// 0..N-1 partition the traffic; model.ts is the same rule in plain TS, the
// reference the tests hold the program to. This file states the rule and
// holds what the two share: the spec, the rule's constants, the NAT real
// servers parsed.
//
// The rule, in order:
//   - ARP reply, IPv6 neighbour advertisement → "all" (every worker and the
//     supervisor's socket, member -1: all of them keep neighbour caches).
//   - Other ARP, ICMPv6 133..137, non-IP ethertypes → worker 0.
//   - IPv4/IPv6 → hash(client address [, client port]) % workers, where the
//     client is the destination of a frame from a NAT real server (a reply)
//     and the source otherwise, so both directions of a NAT connection meet.
//   - ICMP errors: ICMPv4 3, 4, 5, 11, 12 in an unfragmented IPv4 packet,
//     ICMPv6 1..4 directly after the IPv6 header. They go by the packet they
//     quote after the 8-byte ICMP header, one the appliance sent or forwarded,
//     so that an error (path MTU discovery!) reaches the worker that holds the
//     connection: the client is its source when its destination is a NAT real
//     server (a forwarded client → real server packet), else its destination
//     (a reply VIP → client, from us or a DR real server), with the port as
//     for any packet (below). A quote of the other family, or one that ends
//     inside its fixed IP header (20 / 40 bytes): the error goes by its own
//     addresses like any other ICMP packet.
//   - Truncated frames (shorter than the headers the rule reads) → worker 0.
//     The program checks the length before every load instead of letting an
//     out-of-bounds load drop the frame: nothing is silently lost, and the
//     model never has to answer "none".
//
// The hash (all u32, wrapping; K1 = 0x9E3779B1, K2 = 0x85EBCA6B, K3 = 0xC2B2AE35):
//   a = IPv4 address, or for IPv6 the fold ((w0*K1 ^ w1)*K1 ^ w2)*K1 ^ w3 of
//       its big-endian words;
//   h = a*K1; h ^= h>>>15; h ^= port*K2; h ^= h>>>13; h *= K3; h ^= h>>>16;
//   owner = h % workers.
// port is the client's TCP/UDP port, or 0 when byAddressOnly, for other
// protocols, IPv4 fragments (first ones too, so that a datagram's fragments
// meet on one worker, which reassembles them) and IPv6 with extension headers
// (its fragments likewise); of a quoted packet the same, and 0 too when the
// quote ends before its ports (a frame of its own is truncated then: worker 0).

import { WeirError } from "../errors.js";
import { parseAddr } from "../addr.js";

export interface SteerSpec {
  /** Number of workers, 1..64. */
  workers: number;
  /** This socket's worker index 0..workers-1, or -1: the supervisor's own socket, which takes only the "all" frames. */
  member: number;
  /** Addresses (IPv4 dotted or IPv6 text) of real servers reached by NAT: frames FROM them are NAT replies. */
  natReals: string[];
  /** true: steer by client address only (persistence / firewall-mark services exist); false: client address and port. */
  byAddressOnly: boolean;
}

export const K1 = 0x9e3779b1, K2 = 0x85ebca6b, K3 = 0xc2b2ae35;

export const ETH_IP = 0x0800, ETH_ARP = 0x0806, ETH_IPV6 = 0x86dd, ETH_8021Q = 0x8100, ETH_8021AD = 0x88a8;
export const ND_NA = 136;
export const ICMP4_ERRORS = [3, 4, 5, 11, 12]; // dest unreachable, source quench, redirect, time exceeded, parameter problem

/** The NAT reals of a spec by family (IPv4 sorted, IPv6 as word quads), with sets for lookups. */
export interface Reals { v4: number[]; v6: Uint32Array[]; v6keys: Set<string>; v4set: Set<number>; count: number }

const cache = new Map<string, Reals>(); // a few recent natReals lists: the model runs per frame

/** natReals split by family: IPv4 as sorted unique u32, IPv6 as unique word quads. */
export function reals(list: string[]): Reals {
  const key = list.join(",");
  const hit = cache.get(key);
  if (hit) return hit;
  const v4set = new Set<number>();
  const v6 = new Map<string, Uint32Array>();
  for (const text of list) {
    const { af, bytes } = parseAddr(text);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (af === 4) v4set.add(dv.getUint32(0));
    else v6.set(v6key(dv, 0), Uint32Array.from([0, 4, 8, 12], (o) => dv.getUint32(o)));
  }
  const r: Reals = {
    v4: [...v4set].sort((a, b) => a - b), v4set,
    v6: [...v6.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3]), v6keys: new Set(v6.keys()),
    count: v4set.size + v6.size,
  };
  if (cache.size >= 8) cache.delete(cache.keys().next().value!);
  cache.set(key, r);
  return r;
}

/** The key of the IPv6 address at dv[at..at+16] in Reals.v6keys. */
export function v6key(dv: DataView, at: number): string {
  return [0, 4, 8, 12].map((o) => dv.getUint32(at + o).toString(16)).join(":");
}

export function checkWorkers(workers: number): void {
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    throw new WeirError("WEIR_ERR_STEER", `workers must be 1..64, not ${workers}`);
  }
}
