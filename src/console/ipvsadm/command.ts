// The `ipvsadm` word: changes go to the model (one commit per line, one for
// a whole -R), listings read the data plane.

import type { Draft } from "../../config/draft.js";
import { fail, WeirError } from "../../errors.js";
import { compareDest, compareSvc as compareSvcKeys, serviceId, svcKeyOption, toDpKey, type SvcKey } from "../../keys.js";
import { DEFAULT_SCHEDULER, DEFAULT_TIMEOUTS, SCHEDULERS, type ServiceConf } from "../../config/state.js";
import type { DpService } from "../../config/dpsync.js";
import type { ConsoleEnv } from "../env.js";
import type { CommandHandler } from "../registry.js";
import { tokenize } from "../tokenize.js";
import { ok, type Reply } from "../types.js";
import { listAll, listConnections, saveRules, serviceEntry, timeoutLine, title, type ListDest, type ListService, type Rates, type RuleService } from "./format.js";
import { parseIpvsadm, type Parsed } from "./parse.js";
import { Yielder } from "../../util/yield.js";

const CHANGES = new Set(["A", "E", "D", "C", "a", "e", "d", "set"]);

/** Applies one parsed change to a draft. */
function stageParsed(p: Parsed, d: Draft): void {
  const svc = p.svc!;
  // Spelled out rather than spread: a spread here cost ~2.7 µs a line in a 110 k-line -R.
  const dest = () => {
    const a = p.dest!;
    return { af: a.af, addr: a.addr, port: a.port, fwd: p.fwd, weight: p.weight, uThreshold: p.uThreshold, lThreshold: p.lThreshold };
  };
  switch (p.cmd) {
    case "A":
    case "E": {
      const s = { key: svc, scheduler: p.scheduler, flags: p.schedFlags, persistent: p.persistent, netmask: p.netmask, onePacket: p.onePacket };
      if (p.cmd === "A") d.addService(s); else d.editService(s);
      return;
    }
    case "D": d.deleteService(svc); return;
    case "C": d.clearServices(); return;
    case "a": d.addDest(svc, dest()); return;
    case "e": d.editDest(svc, dest()); return;
    case "d": d.deleteDest(svc, dest()); return;
    case "set": d.setTimeouts(p.timeouts!); return;
  }
}

/**
 * ipvsadm -R: each line of input is an ipvsadm command line, as ipvsadm's
 * restore_table reads it. The changes become one change; the rest (-Z,
 * listings, -S, -h, -v) are returned, checked against the table as it stands
 * at their line, to run once the change is in force. A big input is staged in
 * slices, with event-loop turns between them, so forwarding goes on meanwhile.
 */
async function stageRestore(input: string, d: Draft): Promise<Parsed[]> {
  const lines = input.split(/\r?\n/);
  const pause = new Yielder();
  const after: Parsed[] = [];
  for (let i = 0; i < lines.length; i++) {
    try {
      let words = tokenize(lines[i]);
      if (words[0] === "ipvsadm") words = words.slice(1);
      if (words.length === 0) continue;
      const p = parseIpvsadm(words);
      if (CHANGES.has(p.cmd)) {
        stageParsed(p, d);
      } else {
        if (p.cmd === "R") fail("NESTED_RESTORE", "-R cannot be used inside -R input");
        if (p.svc && !d.services.has(serviceId(p.svc))) fail("NO_SUCH_SERVICE", `no such service: ${svcKeyOption(p.svc)}`);
        after.push(p);
      }
    } catch (e) {
      if (e instanceof WeirError) throw new WeirError(e.code, `line ${i + 1}: ${e.message}`);
      throw e;
    }
    if (pause.due()) await pause.next();
  }
  return after;
}

function bits(names: string[] | undefined): number {
  return (names ?? []).reduce((b, n) => b | (1 << (Number(n.slice(-1)) - 1)), 0);
}

function ruleService(s: ServiceConf): RuleService {
  return {
    key: s.key, scheduler: s.scheduler, flags: s.flags, persistent: s.persistent, netmask: s.netmask, onePacket: s.onePacket,
    dests: [...s.dests.values()].sort(compareDest),
  };
}

/** The configured services as ipvsadm -S lines (-S -n when numeric). */
export function saveLines(services: Iterable<ServiceConf>, compare: (a: SvcKey, b: SvcKey) => number, numeric = true): string[] {
  return [...services].sort((a, b) => compare(a.key, b.key)).flatMap((s) => saveRules(ruleService(s), numeric));
}

export class IpvsadmCommand implements CommandHandler {
  readonly help = "ipvsadm ARGS — virtual services and real servers, as ipvsadm(8): -A -E -D -C -a -e -d -L -Z -S -R --set (ipvsadm -h for options)";

  constructor(private readonly env: ConsoleEnv) {}

  stage(args: string[], d: Draft): void {
    const p = parseIpvsadm(args);
    if (p.cmd === "R") fail("NO_INPUT", "ipvsadm -R reads rules from attached input, not from a config file");
    if (CHANGES.has(p.cmd)) stageParsed(p, d);
  }

  runningConfig(): string[] {
    const st = this.env.model.state;
    const t = st.timeouts;
    const out: string[] = [];
    if (t.tcp !== DEFAULT_TIMEOUTS.tcp || t.tcpfin !== DEFAULT_TIMEOUTS.tcpfin || t.udp !== DEFAULT_TIMEOUTS.udp) {
      out.push(`ipvsadm --set ${t.tcp} ${t.tcpfin} ${t.udp}`);
    }
    return [...out, ...this.save(true).map((l) => `ipvsadm ${l}`)];
  }

  private save(numeric: boolean): string[] {
    return saveLines(this.env.model.state.services.values(), compareSvcKeys, numeric);
  }

  async execute(args: string[], ctx: { input?: string }): Promise<Reply> {
    const p = parseIpvsadm(args);
    const model = this.env.model;
    if (CHANGES.has(p.cmd)) {
      await model.change((d) => stageParsed(p, d));
      return ok();
    }
    if (p.cmd !== "R") return ok(await this.query(p));
    let after: Parsed[] = [];
    await model.change(async (d) => { after = await stageRestore(ctx.input ?? "", d); });
    const out: string[] = [];
    for (const q of after) {
      // A service a later line deleted has nothing left to zero or list.
      if (q.svc && !model.state.services.has(serviceId(q.svc))) continue;
      const text = await this.query(q);
      if (text !== "") out.push(text);
    }
    return ok(out.join("\n"));
  }

  /** The commands that change nothing: -L, -S, -Z, -h, -v. */
  private async query(p: Parsed): Promise<string> {
    switch (p.cmd) {
      case "S":
        return this.save(p.format.numeric).join("\n");
      case "Z":
        if (p.svc) this.findView(p.svc);
        this.env.model.dp.zeroStats(p.svc ? toDpKey(p.svc) : undefined);
        return "";
      case "h":
        return USAGE;
      case "v":
        return "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)";
      default:
        return (await this.list(p)).join("\n");
    }
  }

  private findView(k: SvcKey): DpService {
    const v = this.env.model.dataPlaneServices(false).find((s) => serviceId(s.key) === serviceId(k));
    if (!v) fail("NO_SUCH_SERVICE", `no such service: ${svcKeyOption(k)}`);
    return v;
  }

  private async list(p: Parsed): Promise<string[]> {
    const { model } = this.env;
    if (p.connections) return listConnections(await model.dp.allConnections(this.env.now()), p.format.numeric);
    if (p.timeout) return [timeoutLine(model.dp.getTimeouts())];
    if (p.daemon) return [];
    if (p.format.rate) this.env.rates.start?.();
    if (p.svc) return [...title(p.format), ...serviceEntry(this.listService(this.findView(p.svc), p.format.nosort), p.format)];
    // 10 k services × 10 real servers take ~1 s to read: in slices, so forwarding goes on.
    const pause = new Yielder();
    const all: ListService[] = [];
    for (const v of model.dataPlaneServices(!p.format.nosort)) {
      // A change committed between two slices may have removed this service: it is left out.
      if (!model.state.services.has(serviceId(v.key))) continue;
      try {
        all.push(this.listService(v, p.format.nosort));
      } catch (e) {
        if (!(e instanceof WeirError)) throw e;
      }
      if (pause.due()) await pause.next();
    }
    return listAll(model.dp.connTableSize(), all, p.format);
  }

  private listService(v: DpService, nosort: boolean): ListService {
    const { model, rates } = this.env;
    const k = serviceId(v.key);
    const conf = model.state.services.get(k)!;
    const key = toDpKey(v.key);
    const dests: ListDest[] = [...v.dests.values()].map(({ spec }) => {
      const st = model.dp.destStats(key, spec);
      const af = spec.addr.includes(":") ? 6 : 4;
      return {
        af, addr: spec.addr, port: spec.port ?? 0, fwd: spec.fwd, weight: spec.weight ?? 1,
        uThreshold: spec.upperThreshold ?? 0, lThreshold: spec.lowerThreshold ?? 0,
        active: st.activeconns, inact: st.inactconns, persist: st.persistconns, stats: st,
        rates: big(rates.rates(key, spec)),
      };
    });
    if (!nosort) dests.sort(compareDest);
    return {
      key: v.key, scheduler: v.spec.scheduler, flags: bits(v.spec.schedFlags), persistent: conf.persistent, netmask: conf.netmask,
      onePacket: conf.onePacket, stats: model.dp.serviceStats(key), rates: big(rates.rates(key)), dests,
    };
  }
}

const big = (r: Record<keyof Rates, number>): Rates => ({
  cps: BigInt(r.cps), inpps: BigInt(r.inpps), outpps: BigInt(r.outpps), inbps: BigInt(r.inbps), outbps: BigInt(r.outbps),
});

const USAGE = `ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)
Usage:
  ipvsadm -A|E virtual-service [-s scheduler] [-b sched-flags] [-p [timeout]] [-M netmask] [-o]
  ipvsadm -D virtual-service
  ipvsadm -C
  ipvsadm -R
  ipvsadm -S [-n]
  ipvsadm -a|e virtual-service -r server-address [options]
  ipvsadm -d virtual-service -r server-address
  ipvsadm -L|l [virtual-service] [options]
  ipvsadm -Z [virtual-service]
  ipvsadm --set tcp tcpfin udp
  ipvsadm -h

Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from the attached input
  --save            -S        save rules
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of ${SCHEDULERS.join("|")},
                                      the default scheduler is ${DEFAULT_SCHEDULER}.
  --sched-flags  -b flags             scheduler flags (comma-separated)
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports`;
