// Sync groups (src/vrrp/group.ts) in the simulated network (sim.ts): two
// directors, each with a client-side instance (eth0) and a server-side one
// (eth1) in one group, as a NAT pair needs them. The members move together:
// to MASTER only when all are ready, to BACKUP when one loses to a better
// peer, to FAULT when one loses a link; every time asserted from the RFC's
// formulas.
import { describe, expect, it } from "vitest";
import { SyncGroup } from "../../src/vrrp/group.js";
import { masterDownIntervalUs, skewTimeUs, type InstanceConfig } from "../../src/vrrp/machine.js";
import { WeirError } from "../../src/errors.js";
import { Sim, type Node } from "./sim.js";

const S = 1_000_000;
const LAT = 50;
const mdi = (p: number) => masterDownIntervalUs(3, p, 100);
const skew = (p: number) => skewTimeUs(3, p, 100);

function director(sim: Sim, name: string, n: number, priority: number, o: { group?: boolean; server?: Partial<InstanceConfig>; client?: Partial<InstanceConfig> } = {}) {
  const node = sim.node(name, {
    eth0: { mac: `02:00:00:00:00:0${n}`, addr: `198.18.0.${10 + n}` },
    eth1: { mac: `02:00:01:00:00:0${n}`, addr: `198.19.0.${10 + n}` },
  });
  const client = node.add({ name: "VI_C", interface: "eth0", vrid: 1, priority, addresses: ["198.18.100.1"], ...o.client });
  const server = node.add({ name: "VI_S", interface: "eth1", vrid: 2, priority, addresses: ["198.19.0.1"], ...o.server });
  const group = o.group === false ? null : new SyncGroup("G", [client, server]);
  return { node, client, server, group };
}

const states = (n: Node) => n.machines.map((m) => m.state).join(",");
const masterAt = (n: Node, inst: string, after = -1) => n.into(inst, "MASTER", after).map((t) => t.at);

describe("sync group", () => {
  it("both members become MASTER together; the peer's stay BACKUP", () => {
    const sim = new Sim(LAT);
    const a = director(sim, "A", 1, 150);
    const b = director(sim, "B", 2, 100);
    for (const m of [a.client, a.server, b.client, b.server]) m.start();
    sim.run(10 * S);
    expect(states(a.node)).toBe("MASTER,MASTER");
    expect(states(b.node)).toBe("BACKUP,BACKUP");
    // VI_C's timer fired first and waited for VI_S, whose timer fired at the same instant.
    expect(masterAt(a.node, "VI_C")).toEqual([mdi(150)]);
    expect(masterAt(a.node, "VI_S")).toEqual([mdi(150)]);
    expect(a.node.into("VI_C", "MASTER")[0].reason).toBe("sync_group");
    expect(a.node.into("VI_S", "MASTER")[0].reason).toBe("master_down");
    expect(a.group!.state).toBe("MASTER");
    expect(b.group!.state).toBe("BACKUP");
    expect([...a.node.owned].sort()).toEqual(["198.18.100.1", "198.19.0.1"]);
  });

  it("one member's link down: the whole group goes FAULT, the peer's group takes over together", () => {
    const sim = new Sim(LAT);
    const a = director(sim, "A", 1, 150);
    const b = director(sim, "B", 2, 100);
    for (const m of [a.client, a.server, b.client, b.server]) m.start();
    sim.run(10 * S);
    a.node.cut("eth1");
    // VI_S faults on its own link; VI_C is held in FAULT by the group and sends priority 0 on eth0.
    expect(states(a.node)).toBe("FAULT,FAULT");
    expect(a.node.transitions.filter((t) => t.to === "FAULT").map((t) => [t.instance, t.reason])).toEqual([["VI_C", "sync_group"], ["VI_S", "link_down"]]);
    expect(a.node.owned.size).toBe(0);
    expect(a.group!.state).toBe("FAULT");
    sim.run(30 * S);
    // B's VI_C heard priority 0 and was ready after Skew_Time, but waited for VI_S, which only
    // learns of the loss when A's eth1 adverts stop: Master_Down_Interval after the last one.
    const lastS = sim.sent.filter((s) => s.node === "A" && s.link === "eth1" && s.kind === "advert").at(-1)!.at + LAT;
    expect(b.client.status().stats.priorityZeroReceived).toBe(1);
    expect(masterAt(b.node, "VI_C")).toEqual([lastS + mdi(100)]);
    expect(masterAt(b.node, "VI_S")).toEqual([lastS + mdi(100)]);
    expect(lastS + mdi(100)).toBeGreaterThan(10 * S + LAT + skew(100));
    expect(b.group!.state).toBe("MASTER");
    // A's link back: its group leaves FAULT together and preempts together.
    a.node.restore("eth1");
    expect(states(a.node)).toBe("BACKUP,BACKUP");
    sim.run(60 * S);
    expect(masterAt(a.node, "VI_C", 30 * S)).toEqual([30 * S + mdi(150)]);
    expect(masterAt(a.node, "VI_S", 30 * S)).toEqual([30 * S + mdi(150)]);
    expect(states(b.node)).toBe("BACKUP,BACKUP");
  });

  it("a tracked link that both members watch: both send priority 0, the peer's group takes over after Skew_Time", () => {
    const sim = new Sim(LAT);
    const track = { trackInterfaces: ["eth2"] };
    const a = director(sim, "A", 1, 150, { client: track, server: track });
    const b = director(sim, "B", 2, 100);
    for (const m of [a.client, a.server, b.client, b.server]) m.start();
    sim.run(10 * S);
    for (const m of a.node.machines) m.linkDown("eth2");
    expect(states(a.node)).toBe("FAULT,FAULT");
    sim.run(20 * S);
    expect(masterAt(b.node, "VI_C")).toEqual([10 * S + LAT + skew(100)]);
    expect(masterAt(b.node, "VI_S")).toEqual([10 * S + LAT + skew(100)]);
  });

  it("one member loses MASTER to a better peer: the other follows to BACKUP, and waits for its partner", () => {
    const sim = new Sim(LAT);
    const b = director(sim, "B", 2, 100); // the group
    b.client.start();
    b.server.start();
    sim.run(20 * S);
    expect(states(b.node)).toBe("MASTER,MASTER");
    // A better peer on the client side only (no group there).
    const peer = sim.node("P", { eth0: { mac: "02:00:00:00:00:09", addr: "198.18.0.19" } });
    const p = peer.add({ name: "VI_C", interface: "eth0", vrid: 1, priority: 200, addresses: ["198.18.100.1"] });
    p.start();
    sim.run(40 * S);
    const t = 20 * S + mdi(200) + LAT;
    expect(b.node.into("VI_C", "BACKUP", 20 * S).map((x) => [x.at, x.reason])).toEqual([[t, "higher_priority"]]);
    expect(b.node.into("VI_S", "BACKUP", 20 * S).map((x) => [x.at, x.reason])).toEqual([[t, "sync_group"]]);
    expect(b.node.owned.size).toBe(0);
    // VI_S hears no master on eth1: its timer runs out, but VI_C has a live master, so it waits.
    expect(b.server.status()).toMatchObject({ state: "BACKUP", waitingForGroup: true });
    expect(masterAt(b.node, "VI_S", 20 * S)).toEqual([]);
    // The better peer dies: VI_C times out, VI_S is waiting, both go.
    peer.crash();
    sim.run(60 * S);
    const last = sim.sent.filter((s) => s.node === "P" && s.kind === "advert" && s.at < 40 * S).at(-1)!.at + LAT;
    expect(masterAt(b.node, "VI_C", 40 * S)).toEqual([last + mdi(100)]);
    expect(masterAt(b.node, "VI_S", 40 * S)).toEqual([last + mdi(100)]);
  });

  it("without a group the same instances move alone", () => {
    const sim = new Sim(LAT);
    const a = director(sim, "A", 1, 150, { group: false });
    const b = director(sim, "B", 2, 100, { group: false });
    for (const m of [a.client, a.server, b.client, b.server]) m.start();
    sim.run(10 * S);
    a.node.cut("eth1");
    sim.run(30 * S);
    expect(states(a.node)).toBe("MASTER,FAULT");
    expect(states(b.node)).toBe("BACKUP,MASTER");
  });

  it("detach: members go on alone, a hold is lifted", () => {
    const sim = new Sim(LAT);
    const a = director(sim, "A", 1, 150);
    a.client.start();
    a.server.start();
    a.node.cut("eth1");
    expect(states(a.node)).toBe("FAULT,FAULT");
    a.group!.detach();
    expect(a.client.group).toBeNull();
    expect(states(a.node)).toBe("BACKUP,FAULT");
    sim.run(10 * S);
    expect(states(a.node)).toBe("MASTER,FAULT");
  });

  it("refuses fewer than two members, a member twice, a member of another group", () => {
    const sim = new Sim(LAT);
    const a = director(sim, "A", 1, 150);
    const b = director(sim, "B", 2, 100, { group: false });
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as WeirError).code, (e as Error).message];
      }
      return null;
    };
    expect(err(() => new SyncGroup("H", [b.client]))).toEqual(["WEIR_ERR_BAD_SYNC_GROUP", "vrrp sync_group H: needs two instances or more, has 1"]);
    expect(err(() => new SyncGroup("H", [b.client, b.client]))?.[1]).toMatch(/given twice/);
    expect(err(() => new SyncGroup("H", [a.client, b.client]))?.[1]).toMatch(/already in sync group G/);
  });
});
