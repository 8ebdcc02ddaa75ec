// The `vrrp …` console lines (CONTRACTS.md), in keepalived's keyword names:
// parsed into values here, printed back in one canonical form for
// `show running-config` (parse(print(x)) is x). Checks that need the rest of
// the configuration (the link's addresses, other instances) are words.ts's;
// the protocol's ranges are machine.ts's checkConfig, run on the result.
//
//   vrrp instance NAME interface DEV virtual_router_id N priority P
//        virtual_ipaddress A[/LEN] … [advert_int SECONDS] [version 2|3]
//        [state MASTER|BACKUP] [nopreempt] [preempt_delay SECONDS]
//        [unicast_src_ip A] [unicast_peer A …] [track_interface DEV …]
//        [garp_master_repeat N]
//   vrrp sync_group NAME INSTANCE INSTANCE …
//   vrrp del NAME
//   vrrp show

import { WeirError } from "../errors.js";
import { parsePrefix, type Prefix } from "../config/addr.js";
import { tryIp } from "../keys.js";

export interface InstanceSpec {
  name: string;
  interface: string;
  vrid: number;
  /** Default 100, as keepalived. */
  priority: number;
  vips: Prefix[];
  /** Seconds, as given (default 1). */
  advertInt: number;
  /** Default 3. */
  version: 2 | 3;
  /** keepalived's initial state (default BACKUP). */
  state: "MASTER" | "BACKUP";
  nopreempt: boolean;
  /** Seconds (default 0). */
  preemptDelay: number;
  unicastSrcIp?: string;
  unicastPeers: string[];
  trackInterfaces: string[];
  /** Default 5, as keepalived. */
  garpMasterRepeat: number;
}

export type VrrpLine =
  | { kind: "instance"; spec: InstanceSpec }
  | { kind: "sync_group"; name: string; members: string[] }
  | { kind: "del"; name: string }
  | { kind: "show" };

const KEYWORDS = new Set([
  "interface", "virtual_router_id", "priority", "virtual_ipaddress", "advert_int", "version", "state", "nopreempt",
  "preempt_delay", "unicast_src_ip", "unicast_peer", "track_interface", "garp_master_repeat",
]);
const LISTS = new Set(["virtual_ipaddress", "unicast_peer", "track_interface"]);
const FLAGS = new Set(["nopreempt"]);
const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

function bad(message: string): never {
  throw new WeirError("WEIR_ERR_BAD_VRRP", message);
}

function name(what: string, text: string | undefined): string {
  if (text === undefined) bad(`${what}: missing name`);
  if (!NAME.test(text) || KEYWORDS.has(text)) bad(`${what}: invalid name '${text}' (letters, digits, _ . : -, not a keyword)`);
  return text;
}

function integer(at: string, kw: string, text: string, lo: number, hi: number): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) < lo || Number(text) > hi) bad(`${at}: ${kw} '${text}' (an integer ${lo}-${hi})`);
  return Number(text);
}

function seconds(at: string, kw: string, text: string, lo: number, hi: number): number {
  if (!/^\d{1,4}(\.\d{1,6})?$/.test(text) || Number(text) < lo || Number(text) > hi) bad(`${at}: ${kw} '${text}' (seconds, ${lo}-${hi})`);
  return Number(text);
}

function address(at: string, kw: string, text: string): string {
  const a = tryIp(text);
  if (!a) bad(`${at}: ${kw} '${text}' is not an IP address`);
  return a.text;
}

/** Parses the tokens after `vrrp`. */
export function parseVrrp(args: string[]): VrrpLine {
  const [verb, ...rest] = args;
  switch (verb) {
    case "instance": return { kind: "instance", spec: parseInstance(rest) };
    case "sync_group": {
      const n = name("vrrp sync_group", rest[0]);
      const members = rest.slice(1).map((m) => name(`vrrp sync_group ${n}`, m));
      if (members.length < 2) bad(`vrrp sync_group ${n}: needs two instances or more`);
      if (new Set(members).size !== members.length) bad(`vrrp sync_group ${n}: an instance given twice`);
      return { kind: "sync_group", name: n, members };
    }
    case "del": {
      const n = name("vrrp del", rest[0]);
      if (rest.length > 1) bad(`vrrp del ${n}: unexpected argument '${rest[1]}'`);
      return { kind: "del", name: n };
    }
    case "show":
      if (rest.length) bad(`vrrp show: unexpected argument '${rest[0]}'`);
      return { kind: "show" };
    case undefined: bad("vrrp: instance, sync_group, del or show?");
    default: bad(`vrrp: unknown word '${verb}' (instance, sync_group, del, show)`);
  }
}

function parseInstance(args: string[]): InstanceSpec {
  const n = name("vrrp instance", args[0]);
  const at = `vrrp instance ${n}`;
  const seen = new Map<string, string[]>();
  for (let i = 1; i < args.length;) {
    const kw = args[i];
    if (!KEYWORDS.has(kw)) bad(`${at}: unknown keyword '${kw}'`);
    if (seen.has(kw)) bad(`${at}: ${kw} given twice`);
    i++;
    const vals: string[] = [];
    if (LISTS.has(kw)) {
      while (i < args.length && !KEYWORDS.has(args[i])) vals.push(args[i++]);
      if (vals.length === 0) bad(`${at}: ${kw} needs at least one value`);
    } else if (!FLAGS.has(kw)) {
      if (i >= args.length || KEYWORDS.has(args[i])) bad(`${at}: ${kw} needs a value`);
      vals.push(args[i++]);
    }
    seen.set(kw, vals);
  }
  const one = (kw: string) => seen.get(kw)?.[0];
  const dev = one("interface");
  if (dev === undefined) bad(`${at}: missing interface DEV`);
  if (!IFNAME.test(dev)) bad(`${at}: invalid interface name '${dev}'`);
  const vridText = one("virtual_router_id");
  if (vridText === undefined) bad(`${at}: missing virtual_router_id N`);
  const vips = seen.get("virtual_ipaddress");
  if (!vips) bad(`${at}: missing virtual_ipaddress A[/LEN] …`);
  const versionText = one("version") ?? "3";
  if (versionText !== "2" && versionText !== "3") bad(`${at}: version '${versionText}' (2 or 3)`);
  const state = one("state") ?? "BACKUP";
  if (state !== "MASTER" && state !== "BACKUP") bad(`${at}: state '${state}' (MASTER or BACKUP)`);
  const prefixes = vips.map((v) => {
    try {
      return parsePrefix(v);
    } catch {
      return bad(`${at}: virtual_ipaddress '${v}' is not an address (A or A/LEN)`);
    }
  });
  const tracks = seen.get("track_interface") ?? [];
  for (const t of tracks) if (!IFNAME.test(t)) bad(`${at}: invalid track_interface name '${t}'`);
  const spec: InstanceSpec = {
    name: n,
    interface: dev,
    vrid: integer(at, "virtual_router_id", vridText, 1, 255),
    priority: integer(at, "priority", one("priority") ?? "100", 1, 255),
    vips: prefixes,
    advertInt: seconds(at, "advert_int", one("advert_int") ?? "1", 0.01, 255),
    version: Number(versionText) as 2 | 3,
    state,
    nopreempt: seen.has("nopreempt"),
    preemptDelay: seconds(at, "preempt_delay", one("preempt_delay") ?? "0", 0, 1000),
    unicastPeers: (seen.get("unicast_peer") ?? []).map((p) => address(at, "unicast_peer", p)),
    trackInterfaces: [...new Set(tracks)],
    garpMasterRepeat: integer(at, "garp_master_repeat", one("garp_master_repeat") ?? "5", 0, 255),
  };
  const src = one("unicast_src_ip");
  if (src !== undefined) spec.unicastSrcIp = address(at, "unicast_src_ip", src);
  const af = prefixes[0].af;
  if (prefixes.some((p) => p.af !== af)) bad(`${at}: virtual_ipaddress mixes IPv4 and IPv6 (one family per instance, as keepalived)`);
  for (const a of [...spec.unicastPeers, ...(spec.unicastSrcIp ? [spec.unicastSrcIp] : [])]) {
    if (tryIp(a)!.af !== af) bad(`${at}: ${a} is not of the virtual addresses' family`);
  }
  if (spec.version === 2 && af === 6) bad(`${at}: version 2 is IPv4 only`);
  if (spec.version === 2 && !Number.isInteger(spec.advertInt)) bad(`${at}: advert_int '${one("advert_int")}' (whole seconds in version 2)`);
  if (spec.version === 3 && spec.advertInt > 40.95) bad(`${at}: advert_int '${one("advert_int")}' (0.01-40.95 s in version 3)`);
  if (spec.nopreempt && spec.state === "MASTER") bad(`${at}: nopreempt needs state BACKUP`);
  return spec;
}

const secondsText = (s: number) => String(s);

/** The canonical line of an instance: required keywords first, the rest only when not the default. */
export function instanceLine(s: InstanceSpec): string {
  const w = [
    "vrrp instance", s.name, "interface", s.interface, "virtual_router_id", String(s.vrid), "priority", String(s.priority),
    "virtual_ipaddress", ...s.vips.map((p) => `${p.addr}/${p.len}`),
    "advert_int", secondsText(s.advertInt), "version", String(s.version),
  ];
  if (s.state === "MASTER") w.push("state", "MASTER");
  if (s.nopreempt) w.push("nopreempt");
  if (s.preemptDelay > 0) w.push("preempt_delay", secondsText(s.preemptDelay));
  if (s.unicastSrcIp) w.push("unicast_src_ip", s.unicastSrcIp);
  if (s.unicastPeers.length) w.push("unicast_peer", ...s.unicastPeers);
  if (s.trackInterfaces.length) w.push("track_interface", ...s.trackInterfaces);
  if (s.garpMasterRepeat !== 5) w.push("garp_master_repeat", String(s.garpMasterRepeat));
  return w.join(" ");
}

export function syncGroupLine(name: string, members: readonly string[]): string {
  return ["vrrp sync_group", name, ...members].join(" ");
}
