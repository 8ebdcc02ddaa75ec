// The `vrrp` console word: parses a line (syntax.ts), checks it against the
// configuration (the link's addresses, other instances' VRIDs and virtual
// addresses), puts the virtual addresses in the config model (draft.ts
// setVips: in the data plane in standby from the start) and the instance in
// the runtime (runtime.ts). A line that fails changes nothing. Its lines in
// running-config come after ip's, so a config file replays addresses first.

import type { ConfigModel } from "../config/model.js";
import type { ConfigState } from "../config/state.js";
import type { CommandHandler } from "../console/registry.js";
import { ok } from "../console/types.js";
import { WeirError } from "../errors.js";
import { advertIntervalCs, type InstanceConfig } from "./machine.js";
import { linkLocalFromMac } from "./packet.js";
import type { VrrpRuntime } from "./runtime.js";
import { instanceLine, parseVrrp, syncGroupLine, type InstanceSpec } from "./syntax.js";

interface Entry { spec: InstanceSpec; cfg: InstanceConfig; line: string; }

function bad(message: string): never {
  throw new WeirError("WEIR_ERR_BAD_VRRP", message);
}

/** The machine's configuration of a spec; primary: the adverts' source on the link. */
export function instanceConfig(s: InstanceSpec, primary: string): InstanceConfig {
  return {
    name: s.name, interface: s.interface, version: s.version, vrid: s.vrid, priority: s.priority,
    intervalCs: advertIntervalCs(s.version, s.advertInt).cs,
    addresses: s.vips.map((p) => p.addr), primary,
    preempt: !s.nopreempt, preemptDelayUs: Math.round(s.preemptDelay * 1_000_000), startMaster: s.state === "MASTER",
    unicastPeers: s.unicastPeers, trackInterfaces: s.trackInterfaces, garpRepeat: s.garpMasterRepeat,
  };
}

/**
 * The adverts' source: unicast_src_ip, else for IPv4 the link's first
 * address (`ip addr`), for IPv6 the link-local address of its MAC (RFC 5798
 * §5.1.2.1: an IPv6 advert comes from the link-local address; keepalived
 * takes the interface's).
 */
function primaryOf(state: ConfigState, s: InstanceSpec): string {
  if (s.unicastSrcIp) return s.unicastSrcIp;
  const af = s.vips[0].af;
  const link = state.links.get(s.interface);
  if (af === 6 && link) return linkLocalFromMac(link.mac);
  const a = state.addrs.find((x) => x.dev === s.interface && x.af === af);
  if (a) return a.addr;
  return bad(`vrrp instance ${s.name}: ${s.interface} has no IPv${af} address for the adverts' source (ip addr add A/LEN dev ${s.interface} first, or unicast_src_ip A)`);
}

export function vrrpWords(runtime: VrrpRuntime, model: ConfigModel): CommandHandler {
  const entries = new Map<string, Entry>();

  async function setInstance(spec: InstanceSpec): Promise<void> {
    const old = entries.get(spec.name);
    if (runtime.hasGroup(spec.name)) bad(`vrrp instance ${spec.name}: the name is a sync group's`);
    // Checked against the links first (the link may be new: the draft makes it), nothing changed yet.
    const draft = model.draft();
    draft.setVips(spec.name, spec.interface, spec.vips);
    const cfg = instanceConfig(spec, primaryOf(draft.state(), spec));
    runtime.check(cfg);
    const line = instanceLine(spec);
    if (old && old.line === line && old.cfg.primary === cfg.primary) return; // the same line again: nothing to restart
    await model.change((d) => d.setVips(spec.name, spec.interface, spec.vips));
    try {
      runtime.upsert(cfg);
      entries.delete(spec.name);
      entries.set(spec.name, { spec, cfg, line });
    } catch (e) {
      await model.change((d) => d.setVips(spec.name, old?.spec.interface ?? spec.interface, old?.spec.vips ?? []));
      throw e;
    }
  }

  async function del(name: string): Promise<void> {
    if (runtime.hasGroup(name)) return runtime.removeGroup(name);
    const e = entries.get(name);
    if (!e) bad(`vrrp del: no instance or sync group '${name}'`);
    runtime.remove(name);
    entries.delete(name);
    await model.change((d) => d.setVips(name, e.spec.interface, []));
  }

  return {
    help: "vrrp instance NAME interface DEV virtual_router_id N priority P virtual_ipaddress A[/LEN] … [advert_int S] [version 2|3] [state MASTER|BACKUP] [nopreempt] [preempt_delay S] [unicast_src_ip A] [unicast_peer A …] [track_interface DEV …] [garp_master_repeat N] | vrrp sync_group NAME INSTANCE INSTANCE … | vrrp del NAME | vrrp show",
    runningConfig: () => [
      ...[...entries.values()].map((e) => e.line),
      ...runtime.groupList().map(([n, m]) => syncGroupLine(n, m)),
    ],
    // A config file that fails half-way puts the instances and groups back
    // (the loader then puts the configuration, virtual addresses included, back).
    checkpoint() {
      const saved = new Map(entries);
      const savedGroups = runtime.groupList();
      return () => {
        for (const [g] of runtime.groupList()) runtime.removeGroup(g);
        for (const [n, e] of [...entries]) {
          if (saved.get(n) === e) continue;
          runtime.remove(n);
          entries.delete(n);
        }
        for (const [n, e] of saved) {
          if (entries.get(n) === e) continue;
          try { runtime.upsert(e.cfg); } catch { continue; }
          entries.set(n, e);
        }
        for (const [g, m] of savedGroups) {
          try { runtime.setGroup(g, m); } catch { /* a member did not come back */ }
        }
      };
    },
    async execute(args) {
      const line = parseVrrp(args);
      switch (line.kind) {
        case "show": {
          const lines = runtime.showLines();
          return ok(lines.length ? lines.join("\n") : "no VRRP instances");
        }
        case "instance":
          await setInstance(line.spec);
          return ok();
        case "sync_group":
          runtime.setGroup(line.name, line.members);
          return ok();
        case "del":
          await del(line.name);
          return ok();
      }
    },
  };
}
