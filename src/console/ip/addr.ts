// ip addr add|del A/LEN dev DEV / ip addr show [dev DEV]

import type { Draft } from "../../config/draft.js";
import { fail } from "../../errors.js";
import { parsePrefix } from "../../config/addr.js";
import type { ConfigState } from "../../config/state.js";
import { devArg, linkHeader, sortedLinks } from "./link.js";
import { valueAt, type FamilyFilter } from "./words.js";

/** A/LEN and dev DEV, in either order. */
function addrArgs(args: string[]): { text: string; dev: string } {
  let text: string | undefined, dev: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "dev") dev = valueAt(args, i++);
    else if (a === "local") text = valueAt(args, i++);
    else if (text === undefined && /^[0-9a-fA-F.:]+(\/\d+)?$/.test(a) && /[.:]/.test(a)) text = a;
    else fail("UNSUPPORTED_OPTION", `unsupported argument '${a}'`);
  }
  if (text === undefined) fail("MISSING_ARGUMENT", "missing address (A.B.C.D/LEN)");
  if (dev === undefined) fail("MISSING_ARGUMENT", `missing 'dev DEVICE' for ${text}`);
  return { text, dev };
}

export function addrAdd(d: Draft, args: string[]): void {
  const { text, dev } = addrArgs(args);
  d.addAddr(dev, parsePrefix(text));
}

export function addrDel(d: Draft, args: string[]): void {
  const { text, dev } = addrArgs(args);
  d.delAddr(dev, parsePrefix(text), text.includes("/"));
}

export function addrShow(st: ConfigState, args: string[], fam: FamilyFilter): string[] {
  let only: string | undefined;
  if (args.length) {
    const [dev, next] = devArg(args, 0);
    if (args[next] !== undefined) fail("UNEXPECTED_ARGUMENT", `unexpected argument '${args[next]}'`);
    if (!st.links.has(dev)) fail("NO_SUCH_DEVICE", `device '${dev}' does not exist`);
    only = dev;
  }
  const out: string[] = [];
  for (const l of sortedLinks(st)) {
    if (only && l.name !== only) continue;
    out.push(...linkHeader(l, false));
    const mine = st.addrs.filter((a) => a.dev === l.name);
    for (const af of [4, 6] as const) {
      if (fam && fam !== af) continue;
      for (const a of mine.filter((x) => x.af === af)) {
        out.push(af === 4 ? `    inet ${a.addr}/${a.len} scope global ${l.name}` : `    inet6 ${a.addr}/${a.len} scope global`);
        out.push("       valid_lft forever preferred_lft forever");
      }
    }
  }
  return out;
}

export function addrConfig(st: ConfigState): string[] {
  return st.addrs.map((a) => `ip addr add ${a.addr}/${a.len} dev ${a.dev}`);
}
