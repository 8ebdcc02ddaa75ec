// ipvsadm's output layouts, column for column (ipvsadm.c print_title,
// print_service_entry, print_largenum, list_conn, list_timeout): scripts that
// parse ipvsadm output keep working. Without -n ports are printed by name, as
// ipvsadm's getservbyport does (portnames.ts); addresses are always numeric
// (the appliance looks up no host names, as ipvsadm does when they have none).

import type { ConnEntry, Counters, FwdName } from "../../dataplane/dataplane.js";
import { lenToMask, maxLen } from "../../config/addr.js";
import { hostPort, portProto, svcKeyOption, type SvcKey } from "../../keys.js";
import { portName } from "../../config/portnames.js";
import { schedFlagNames } from "../../config/state.js";
import type { ListFormat } from "./parse.js";

export interface Rates { cps: bigint; inpps: bigint; outpps: bigint; inbps: bigint; outbps: bigint; }
export const NO_RATES: Rates = { cps: 0n, inpps: 0n, outpps: 0n, inbps: 0n, outbps: 0n };

/** A real server as -S writes it. */
export interface RuleDest { af: 4 | 6; addr: string; port: number; fwd: FwdName; weight: number; uThreshold: number; lThreshold: number; }

/** A service as -S writes it. */
export interface RuleService { key: SvcKey; scheduler: string; flags: number; persistent: number; netmask: number; onePacket: boolean; dests: RuleDest[]; }

export interface ListDest extends RuleDest { active: number; inact: number; persist: number; stats: Counters; rates: Rates; }

export interface ListService extends RuleService { stats: Counters; rates: Rates; dests: ListDest[]; }

export const IPVS_VERSION = "1.2.1";

const FWD_NAME: Record<FwdName, string> = { nat: "Masq", tun: "Tunnel", dr: "Route" };
const FWD_SWITCH: Record<FwdName, string> = { nat: "-m", tun: "-i", dr: "-g" };

const left = (s: string | number | bigint, w: number) => String(s).padEnd(w);
const right = (s: string | number | bigint, w: number) => String(s).padStart(w);

/** print_largenum: 9 columns, K/M/G/T above 100 million unless --exact. */
export function largenum(i: bigint, exact: boolean): string {
  if (exact) {
    const s = i.toString();
    return right(s, s.length <= 8 ? 9 : s.length + 1);
  }
  if (i < 100000000n) return right(i, 9);
  if (i < 1000000000n) return `${right(i / 1000n, 8)}K`;
  if (i < 100000000000n) return `${right(i / 1000000n, 8)}M`;
  if (i < 100000000000000n) return `${right(i / 1000000000n, 8)}G`;
  return `${right(i / 1000000000000n, 8)}T`;
}

export function title(f: ListFormat): string[] {
  const cols = (names: string[]) => `${left("Prot LocalAddress:Port", 33)} ${names.map((n) => right(n, 8)).join(" ")}`;
  if (f.stats) return [cols(["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"]), "  -> RemoteAddress:Port"];
  if (f.rate) return [cols(["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"]), "  -> RemoteAddress:Port"];
  if (f.thresholds) {
    return [`${left("Prot LocalAddress:Port", 33)} ${left("Uthreshold", 10)} ${left("Lthreshold", 10)} ${left("ActiveConn", 10)} ${left("InActConn", 10)}`, "  -> RemoteAddress:Port"];
  }
  if (f.persistentConn) {
    return [`${left("Prot LocalAddress:Port", 33)} ${left("Weight", 9)} ${left("PersistConn", 11)} ${left("ActiveConn", 10)} ${left("InActConn", 10)}`, "  -> RemoteAddress:Port"];
  }
  return ["Prot LocalAddress:Port Scheduler Flags", "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"];
}

/** ADDR:PORT as ipvsadm's addrport_to_anyname prints it: the port by name unless numeric. */
function endpoint(addr: string, port: number, proto: string, numeric: boolean): string {
  const name = numeric || (proto !== "tcp" && proto !== "udp") ? null : portName(port, proto);
  return hostPort(addr, name ?? port);
}

/** "-t ADDR:PORT", "-f 1": the service as -S writes it. */
function svcOption(k: SvcKey, numeric: boolean): string {
  if (k.kind === "fwmark" || numeric) return svcKeyOption(k);
  return `${k.kind === "tcp" ? "-t" : "-u"} ${endpoint(k.addr, k.port, k.kind, false)}`;
}

function svcName(k: SvcKey, numeric: boolean): string {
  if (k.kind === "fwmark") return k.af === 6 ? `FWM  ${k.mark} IPv6` : `FWM  ${k.mark}`;
  const s = `${k.kind.toUpperCase()}  ${endpoint(k.addr, k.port, k.kind, numeric)}`;
  return k.af === 6 ? s : s.slice(0, 33);
}

function persistence(s: RuleService, word: string, maskWord: string): string {
  if (!s.persistent) return "";
  let out = ` ${word} ${s.persistent}`;
  if (s.netmask !== maxLen(s.key.af)) out += ` ${maskWord} ${s.key.af === 4 ? lenToMask(s.netmask) : s.netmask}`;
  return out;
}

/** One service and its real servers in a listing layout (not -S). */
export function serviceEntry(s: ListService, f: ListFormat): string[] {
  const name = svcName(s.key, f.numeric);
  const out: string[] = [];
  const ex = f.exact;
  const five = (c: Counters | Rates, keys: string[]) => keys.map((k) => largenum((c as unknown as Record<string, bigint>)[k], ex)).join("");
  if (f.stats) out.push(left(name, 33) + five(s.stats, ["conns", "inpkts", "outpkts", "inbytes", "outbytes"]));
  else if (f.rate) out.push(left(name, 33) + five(s.rates, ["cps", "inpps", "outpps", "inbps", "outbps"]));
  else {
    const flags = schedFlagNames(s.scheduler, s.flags);
    out.push(`${name} ${s.scheduler}${flags.length ? ` (${flags.join(",")})` : ""}${persistence(s, "persistent", "mask")}${s.onePacket ? " ops" : ""}`);
  }
  for (const d of s.dests) {
    let dname = endpoint(d.addr, d.port, portProto(s.key), f.numeric);
    if (d.af !== 6) dname = dname.slice(0, 28);
    if (f.stats) out.push(`  -> ${left(dname, 28)}${five(d.stats, ["conns", "inpkts", "outpkts", "inbytes", "outbytes"])}`);
    else if (f.rate) {
      out.push(`  -> ${left(dname, 28)} ${right(d.rates.cps, 8)} ${right(d.rates.inpps, 8)} ${right(d.rates.outpps, 8)}${largenum(d.rates.inbps, ex)}${largenum(d.rates.outbps, ex)}`);
    } else if (f.thresholds) {
      out.push(`  -> ${left(dname, 28)} ${left(d.uThreshold, 10)} ${left(d.lThreshold, 10)} ${left(d.active, 10)} ${left(d.inact, 10)}`);
    } else if (f.persistentConn) {
      out.push(`  -> ${left(dname, 28)} ${left(d.weight, 9)} ${left(d.persist, 11)} ${left(d.active, 10)} ${left(d.inact, 10)}`);
    } else {
      out.push(`  -> ${left(dname, 28)} ${left(FWD_NAME[d.fwd], 7)} ${left(d.weight, 6)} ${left(d.active, 10)} ${left(d.inact, 10)}`);
    }
  }
  return out;
}

/** ipvsadm -L: the version line, the title and every service. */
export function listAll(size: number, services: ListService[], f: ListFormat): string[] {
  return [`IP Virtual Server version ${IPVS_VERSION} (size=${size})`, ...title(f), ...services.flatMap((s) => serviceEntry(s, f))];
}

/**
 * A service's -A line and -a lines as ipvsadm -S writes them, options in
 * print_service_entry's order (-s, -p, -M, -o, -b last); thresholds added
 * when set, so -R restores them.
 */
export function saveRules(s: RuleService, numeric: boolean): string[] {
  const name = svcOption(s.key, numeric);
  const flags = schedFlagNames(s.scheduler, s.flags);
  const out = [`-A ${name} -s ${s.scheduler}${persistence(s, "-p", "-M")}${s.onePacket ? " -o" : ""}${flags.length ? ` -b ${flags.join(",")}` : ""}`];
  for (const d of s.dests) {
    let line = `-a ${name} -r ${endpoint(d.addr, d.port, portProto(s.key), numeric)} ${FWD_SWITCH[d.fwd]} -w ${d.weight}`;
    if (d.uThreshold) line += ` -x ${d.uThreshold}`;
    if (d.lThreshold) line += ` -y ${d.lThreshold}`;
    out.push(line);
  }
  return out;
}

/** ipvsadm -L -c. */
export function listConnections(conns: ConnEntry[], numeric: boolean): string[] {
  const out = ["IPVS connection entries", `pro expire ${left("state", 11)} ${left("source", 18)} ${left("virtual", 18)} destination`];
  for (const c of conns) {
    const secs = Math.floor(c.expiresMs / 1000);
    const expire = `${String(Math.floor(secs / 60)).padStart(2, "0")}:${String(secs % 60).padStart(2, "0")}`;
    const at = (addr: string, port: number) => endpoint(addr, port, c.proto, numeric);
    out.push(`${left(c.proto.toUpperCase(), 3)} ${left(expire, 6)} ${left(c.state, 11)} ${left(at(c.caddr, c.cport), 18)} ${left(at(c.vaddr, c.vport), 18)} ${at(c.daddr, c.dport)}`);
  }
  return out;
}

export function timeoutLine(t: { tcp: number; tcpfin: number; udp: number }): string {
  return `Timeout (tcp tcpfin udp): ${t.tcp} ${t.tcpfin} ${t.udp}`;
}
