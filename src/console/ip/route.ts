// ip route add|del PREFIX [via GW] [dev DEV] / ip route show

import type { Draft } from "../../config/draft.js";
import { fail } from "../../errors.js";
import { maxLen, networkOf, parsePrefix, type Prefix } from "../../config/addr.js";
import { compareIp, parseIp } from "../../keys.js";
import type { ConfigState } from "../../config/state.js";
import { valueAt, type FamilyFilter } from "./words.js";

function routeArgs(args: string[], fam: FamilyFilter): { p: Prefix; via?: { af: 4 | 6; addr: string }; dev?: string } {
  let prefix: string | undefined, viaText: string | undefined, dev: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "via") viaText = valueAt(args, i++);
    else if (a === "dev") dev = valueAt(args, i++);
    else if (a === "to") prefix = valueAt(args, i++);
    else if (prefix === undefined && (a === "default" || /[.:]/.test(a))) prefix = a;
    else fail("UNSUPPORTED_OPTION", `unsupported argument '${a}'`);
  }
  if (prefix === undefined) fail("MISSING_ARGUMENT", "missing route prefix");
  const via = viaText === undefined ? undefined : (() => { const g = parseIp(viaText); return { af: g.af, addr: g.text }; })();
  const af = fam ?? via?.af ?? 4;
  const p = prefix === "default" ? { af, addr: af === 4 ? "0.0.0.0" : "::", len: 0 } : parsePrefix(prefix);
  return { p, via, dev };
}

export function routeAdd(d: Draft, args: string[], fam: FamilyFilter): void {
  const r = routeArgs(args, fam);
  d.addRoute(r.p, r.via, r.dev);
}

export function routeDel(d: Draft, args: string[], fam: FamilyFilter): void {
  const r = routeArgs(args, fam);
  d.delRoute(r.p, r.via?.addr, r.dev);
}

const prefixText = (net: string, len: number) => (len === 0 ? "default" : `${net}/${len}`);

export function routeShow(st: ConfigState, args: string[], fam: FamilyFilter): string[] {
  if (args.length) fail("UNEXPECTED_ARGUMENT", `unexpected argument '${args[0]}'`);
  const af = fam ?? 4;
  const rows: { net: string; len: number; text: string }[] = [];
  for (const a of st.addrs) {
    if (a.af !== af || a.len === maxLen(af)) continue;
    const net = networkOf(af, a.addr, a.len);
    if (rows.some((r) => r.net === net && r.len === a.len)) continue;
    rows.push({
      net, len: a.len,
      text: af === 4 ? `${net}/${a.len} dev ${a.dev} proto kernel scope link src ${a.addr}` : `${net}/${a.len} dev ${a.dev} proto kernel metric 256 pref medium`,
    });
  }
  for (const r of st.routes) {
    if (r.af !== af) continue;
    const head = `${prefixText(r.net, r.len)}${r.via ? ` via ${r.via}` : ""} dev ${r.dev}${r.via ? "" : " scope link"}`;
    rows.push({ net: r.net, len: r.len, text: af === 4 ? head : `${head} metric 1024 pref medium` });
  }
  rows.sort((a, b) => compareIp(a.net, b.net) || a.len - b.len);
  return rows.map((r) => r.text);
}

export function routeConfig(st: ConfigState): string[] {
  return st.routes.map((r) => `ip route add ${r.len === 0 && r.af === 4 ? "default" : `${r.net}/${r.len}`}${r.via ? ` via ${r.via}` : ""} dev ${r.dev}`);
}
