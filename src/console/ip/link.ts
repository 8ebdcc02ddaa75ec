// ip link show [DEV] / ip link set DEV up|down|mtu N|address MAC …

import type { Draft } from "../../config/draft.js";
import { fail } from "../../errors.js";
import type { ConfigState, LinkConf } from "../../config/state.js";
import { intIn } from "../../keys.js";
import { matches, valueAt } from "./words.js";

export function linkFlags(l: LinkConf): string {
  return l.up ? "<BROADCAST,MULTICAST,UP,LOWER_UP>" : "<BROADCAST,MULTICAST>";
}

/** The two lines iproute2 prints for a link; `mode` only in `ip link`. */
export function linkHeader(l: LinkConf, withMode: boolean): string[] {
  return [
    `${l.id + 1}: ${l.name}: ${linkFlags(l)} mtu ${l.mtu} state ${l.up ? "UP" : "DOWN"}${withMode ? " mode DEFAULT" : ""} group default`,
    `    link/ether ${l.mac} brd ff:ff:ff:ff:ff:ff`,
  ];
}

export function sortedLinks(st: ConfigState): LinkConf[] {
  return [...st.links.values()].sort((a, b) => a.id - b.id);
}

/** `[dev] DEV` at args[i]: the name and the next index. */
export function devArg(args: string[], i: number): [string, number] {
  if (args[i] === "dev") return [valueAt(args, i), i + 2];
  if (args[i] === undefined) fail("MISSING_ARGUMENT", "missing device name");
  return [args[i], i + 1];
}

export function linkShow(st: ConfigState, args: string[]): string[] {
  let only: string | undefined;
  if (args.length) {
    const [dev, next] = devArg(args, 0);
    if (args[next] !== undefined) fail("UNEXPECTED_ARGUMENT", `unexpected argument '${args[next]}'`);
    if (!st.links.has(dev)) fail("NO_SUCH_DEVICE", `device '${dev}' does not exist`);
    only = dev;
  }
  return sortedLinks(st).filter((l) => !only || l.name === only).flatMap((l) => linkHeader(l, true));
}

export function linkSet(d: Draft, args: string[]): void {
  const [dev, start] = devArg(args, 0);
  const s: { up?: boolean; mtu?: number; mac?: string } = {};
  for (let i = start; i < args.length; i++) {
    const a = args[i];
    if (a === "up" || a === "down") s.up = a === "up";
    else if (matches(a, "mtu")) {
      const v = valueAt(args, i++);
      const n = intIn(v, 0, 0xffffffff);
      if (n === null) fail("BAD_MTU", `invalid mtu '${v}'`);
      s.mtu = n;
    } else if (matches(a, "address")) s.mac = valueAt(args, i++);
    else fail("UNSUPPORTED_OPTION", `unsupported argument '${a}' (up, down, mtu N, address MAC)`);
  }
  if (s.up === undefined && s.mtu === undefined && s.mac === undefined) fail("MISSING_ARGUMENT", `nothing to set on ${dev} (up, down, mtu N, address MAC)`);
  d.linkSet(dev, s);
}

/**
 * `show stats` lines of the attached links' state as the kernel has it: a
 * link set down from outside ("down") or without a carrier ("no-carrier")
 * stays attached and configured up, and frames resume when it is "up".
 */
export function linkStateLines(links: readonly { dev: string; state?: string; downs?: number }[]): string[] {
  return links.filter((l) => l.state !== undefined).map((l) => `link ${l.dev} state ${l.state} downs ${l.downs ?? 0}`);
}

export function linkConfig(st: ConfigState): string[] {
  return sortedLinks(st).map((l) => {
    const w = [`ip link set ${l.name}`];
    if (l.macSet) w.push(`address ${l.mac}`);
    if (l.mtuSet) w.push(`mtu ${l.mtu}`);
    w.push(l.up ? "up" : "down");
    return w.join(" ");
  });
}
