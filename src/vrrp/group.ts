// A sync group (keepalived's vrrp_sync_group): VRRP instances that change
// state together, e.g. the client-side VIP of a NAT setup and the real
// servers' default gateway, which are useless one without the other. The
// rules, as keepalived's vrrp_sync.c applies them:
//   - FAULT: one member's tracked link down holds every other member in
//     FAULT too (a master among them sends priority 0 and releases); the
//     group leaves FAULT when no member has a link down.
//   - BACKUP: a member that loses MASTER to a better peer takes the other
//     masters with it.
//   - MASTER: a member whose timer says "become master" waits until every
//     other member is MASTER or waiting too ("prefer backup to avoid
//     thrashing"); the last one to get there takes the waiting ones along.
// The members stay ordinary Machines (machine.ts): the group only sets their
// gate, holds and forced moves.

import { WeirError } from "../errors.js";
import type { Machine, State, Transition } from "./machine.js";

function bad(message: string): never {
  throw new WeirError("WEIR_ERR_BAD_SYNC_GROUP", message);
}

export class SyncGroup {
  private readonly unobserve: (() => void)[] = [];

  constructor(readonly name: string, readonly members: readonly Machine[]) {
    if (!name || /\s/.test(name)) bad(`sync group name '${name}': a non-empty word`);
    if (members.length < 2) bad(`vrrp sync_group ${name}: needs two instances or more, has ${members.length}`);
    const names = new Set<string>();
    for (const m of members) {
      if (names.has(m.name)) bad(`vrrp sync_group ${name}: instance ${m.name} given twice`);
      names.add(m.name);
      if (m.group !== null) bad(`vrrp sync_group ${name}: instance ${m.name} is already in sync group ${m.group}`);
    }
    for (const m of members) {
      m.group = name;
      m.gate = (x) => this.ready(x);
      this.unobserve.push(m.observe({ transition: (t, x) => this.moved(t, x), faults: () => this.refreshHolds() }));
    }
    this.refreshHolds();
  }

  /** The group's state: FAULT if any member is, MASTER when all are, INIT when all are, BACKUP otherwise. */
  get state(): State {
    const s = this.members.map((m) => m.state);
    if (s.includes("FAULT")) return "FAULT";
    if (s.every((x) => x === "MASTER")) return "MASTER";
    if (s.every((x) => x === "INIT")) return "INIT";
    return "BACKUP";
  }

  /** Takes the group apart (`vrrp del`): members keep their state and go on alone. */
  detach(): void {
    for (const u of this.unobserve.splice(0)) u();
    for (const m of this.members) {
      m.gate = null;
      m.group = null;
      m.setHold(null);
    }
  }

  /** May m become master now: every other member is MASTER already or waiting to be. */
  private ready(m: Machine): boolean {
    return this.members.every((x) => x === m || x.state === "MASTER" || (x.state === "BACKUP" && x.waitingForGroup));
  }

  private moved(t: Transition, m: Machine): void {
    if (t.to === "MASTER") {
      for (const x of this.members) if (x !== m) x.forceMaster(`sync group ${this.name}: ${m.name} became MASTER (${t.reason})`);
    } else if (t.from === "MASTER" && t.to === "BACKUP") {
      for (const x of this.members) if (x !== m) x.forceBackup(`sync group ${this.name}: ${m.name} became BACKUP (${t.reason})`);
    }
  }

  /** Holds each member in FAULT while another member has a tracked link down. */
  private refreshHolds(): void {
    for (const m of this.members) {
      const culprit = this.members.find((x) => x !== m && x.ownFault);
      m.setHold(culprit ? `sync group ${this.name}: ${culprit.name}'s link ${culprit.status().linksDown.join(", ")} down` : null);
    }
  }
}
