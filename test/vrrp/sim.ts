// A simulated network for the VRRP state machines: nodes with named links
// (every node's link of the same name is on one L2 segment), a virtual clock
// and a fixed one-way latency. Adverts go out as real frames (packet.ts's
// buildFrame) and come in through decodeFrame, so the codec and the machines
// are exercised together. A node can crash (it goes silent: no priority 0),
// have a link cut (frames stop both ways; carrier loss is reported to its
// machines after a detection delay) and restored.
import { VirtualClock } from "../../src/vrrp/clock.js";
import { Machine, type Action, type InstanceConfig, type Transition } from "../../src/vrrp/machine.js";
import { buildAnnouncement, buildFrame, decodeFrame, type RejectReason } from "../../src/vrrp/packet.js";

export interface Link {
  mac: string;
  addr: string;
}

export interface Sent {
  at: number;
  node: string;
  link: string;
  frame: Uint8Array;
  kind: "advert" | "announce";
  /** Advert priority, or the announced address. */
  what: string;
}

export class Sim {
  readonly clock = new VirtualClock();
  readonly nodes: Node[] = [];
  readonly sent: Sent[] = [];
  constructor(readonly latencyUs = 50) {}

  node(name: string, links: Record<string, Link>): Node {
    const n = new Node(this, name, links);
    this.nodes.push(n);
    return n;
  }

  run(untilUs: number): void {
    this.clock.runUntil(untilUs);
  }

  /** Queues delivery of a frame sent by `from` on `link` to every other live node up on the segment. */
  send(from: Node, link: string, frame: Uint8Array): void {
    if (!from.alive || !from.up.has(link)) return;
    this.clock.at(this.clock.now() + this.latencyUs, () => {
      for (const n of this.nodes) if (n !== from && n.alive && n.up.has(link) && from.up.has(link)) n.receive(link, frame);
    });
  }

  /** Where addr lives on a segment (the unicast next hop's MAC). */
  macOf(link: string, addr: string): string {
    const n = this.nodes.find((x) => x.links[link]?.addr === addr);
    if (!n) throw new Error(`no node has ${addr} on ${link}`);
    return n.links[link].mac;
  }
}

export class Node {
  readonly machines: Machine[] = [];
  readonly transitions: Transition[] = [];
  readonly owned = new Set<string>();
  /** Rejections on receipt, by the codec or by an instance. */
  readonly rejects: { at: number; reason: RejectReason; instance?: string }[] = [];
  readonly up: Set<string>;
  alive = true;
  private ipId = 0;

  constructor(readonly sim: Sim, readonly name: string, readonly links: Record<string, Link>) {
    this.up = new Set(Object.keys(links));
  }

  /** An instance on this node; primary defaults to the node's address on the instance's link. */
  add(cfg: Omit<InstanceConfig, "primary"> & { primary?: string }): Machine {
    const m = new Machine({ ...cfg, primary: cfg.primary ?? this.links[cfg.interface].addr }, this.sim.clock, (a) => this.act(m, a));
    this.machines.push(m);
    return m;
  }

  get(name: string): Machine {
    const m = this.machines.find((x) => x.name === name);
    if (!m) throw new Error(`${this.name} has no instance ${name}`);
    return m;
  }

  /** The process dies: nothing more goes out, nothing comes in, the addresses are gone. */
  crash(): void {
    this.alive = false;
    this.owned.clear();
  }

  /** The link is cut (both ways); the machines hear of it after detectUs. */
  cut(link: string, detectUs = 0): void {
    this.up.delete(link);
    this.later(detectUs, () => this.machines.forEach((m) => m.linkDown(link)));
  }

  restore(link: string, detectUs = 0): void {
    this.up.add(link);
    this.later(detectUs, () => this.machines.forEach((m) => m.linkUp(link)));
  }

  private later(us: number, fn: () => void): void {
    if (us === 0) fn();
    else this.sim.clock.at(this.sim.clock.now() + us, fn);
  }

  /** Transitions of one instance to `to`, optionally after a time. */
  into(instance: string, to: string, after = -1): Transition[] {
    return this.transitions.filter((t) => t.instance === instance && t.to === to && t.at > after);
  }

  private act(m: Machine, a: Action): void {
    if (a.kind === "transition") {
      this.transitions.push(a.transition);
      return;
    }
    if (!this.alive) return;
    const link = m.cfg.interface;
    const l = this.links[link];
    if (a.kind === "own") a.addresses.forEach((x) => this.owned.add(x));
    else if (a.kind === "release") a.addresses.forEach((x) => this.owned.delete(x));
    else if (a.kind === "announce") {
      for (let i = 0; i < a.repeat; i++) {
        for (const addr of a.addresses) {
          const frame = buildAnnouncement(l.mac, addr);
          this.sim.sent.push({ at: this.sim.clock.now(), node: this.name, link, frame, kind: "announce", what: addr });
          this.sim.send(this, link, frame);
        }
      }
    } else {
      for (const to of a.to) {
        const unicast = to !== "224.0.0.18" && to !== "ff02::12";
        const frame = buildFrame(a.advert, {
          srcMac: l.mac, src: m.cfg.primary, dst: to, dstMac: unicast ? this.sim.macOf(link, to) : undefined, id: ++this.ipId,
        });
        if (this.up.has(link)) this.sim.sent.push({ at: this.sim.clock.now(), node: this.name, link, frame, kind: "advert", what: String(a.advert.priority) });
        this.sim.send(this, link, frame);
      }
    }
  }

  receive(link: string, frame: Uint8Array): void {
    if (frame[12] === 0x08 && frame[13] === 0x06) return; // gratuitous ARP
    if (frame[12] === 0x86 && frame[13] === 0xdd && frame[14 + 6] === 58) return; // neighbour advertisement
    const d = decodeFrame(frame, { isLocal: (a) => a === this.links[link].addr });
    const at = this.sim.clock.now();
    if (!d.ok) {
      this.rejects.push({ at, reason: d.reason });
      return;
    }
    const ms = this.machines.filter((m) => m.cfg.interface === link && m.cfg.vrid === d.advert.vrid && m.cfg.family === d.advert.family);
    if (ms.length === 0) this.rejects.push({ at, reason: "unknown_vrid" });
    for (const m of ms) {
      const why = m.receive(d.advert, d.src);
      if (why) this.rejects.push({ at, reason: why, instance: m.name });
    }
  }
}
