// Big configuration changes share the main thread with packet I/O, so they
// are staged and applied in slices (src/util/yield.ts): the event loop
// gets turns meanwhile, packets keep seeing the old configuration until the
// commit swaps the new one in whole, a failure leaves the old one, and a
// health change that arrives mid-apply follows it instead of failing.

import { describe, expect, it } from "vitest";
import { makeAppliance, CLIENT, CLIENT_MAC, LB0_MAC, VIP } from "../helpers/appliance.js";
import { tcp4Frame } from "../helpers/frames.js";
import { ConfigModel } from "../../src/config/model.js";
import { ConsoleInterpreter } from "../../src/console/interpreter.js";
import { Yielder } from "../../src/util/yield.js";
import type { ServiceKey } from "../../src/dataplane/dataplane.js";

const TX = 1;
const SVC: ServiceKey = { proto: "tcp", addr: VIP, port: 80 };
const syn = (sport: number) => tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: VIP, sport, dport: 80, flags: "S", seq: 1 });

/** ipvsadm -R input: n services of 10 real servers each, plus VIP:80 → 198.19.0.11. */
function rules(n: number): string {
  const lines = [`-A -t ${VIP}:80 -s rr`, `-a -t ${VIP}:80 -r 198.19.0.11:80 -m`];
  for (let s = 0; s < n; s++) {
    const vip = `198.18.${110 + (s >> 8)}.${s & 255}:80`;
    lines.push(`-A -t ${vip} -s wrr`);
    for (let d = 0; d < 10; d++) lines.push(`-a -t ${vip} -r 198.19.${d}.${(s % 250) + 1}:80 -m -w ${1 + d}`);
  }
  return `${lines.join("\n")}\n`;
}

describe("configuration applied in slices", () => {
  it("a big ipvsadm -R gives the event loop turns; packets see the old config until the commit, then all of the new", async () => {
    const a = await makeAppliance();
    const model = new ConfigModel(a.dp);
    const it = new ConsoleInterpreter({ model });
    let turns = 0;
    const verdicts: number[] = [];
    let sport = 20000;
    // What the packet loop would do between slices: a batch with a SYN to VIP:80.
    const ticker = setInterval(() => { turns++; verdicts.push(a.send(syn(sport++), 0).verdict); }, 0);
    const r = await it.execute("ipvsadm -R", { source: "socket", input: rules(3000) });
    clearInterval(ticker);
    expect(r).toEqual({ ok: true, text: "" });
    expect(turns).toBeGreaterThan(5);
    // No service before the commit (not even the first one staged): every SYN mid-apply was not forwarded.
    expect(verdicts.every((v) => v !== TX)).toBe(true);
    expect(a.send(syn(sport++), 0).verdict).toBe(TX);
    expect(a.dp.serviceCount()).toBe(3001);
  });

  it("a failing line leaves the running configuration whole, whatever was staged before it", async () => {
    const a = await makeAppliance();
    const model = new ConfigModel(a.dp);
    const it = new ConsoleInterpreter({ model });
    expect((await it.execute("ipvsadm -A -t 198.18.99.9:80 -s rr", { source: "socket" })).ok).toBe(true);
    const r = await it.execute("ipvsadm -R", { source: "socket", input: `${rules(2000)}-a -t 198.18.99.1:80 -r 198.19.0.1:80\n` });
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/^error: line 22003: /);
    expect(a.dp.serviceCount()).toBe(1);
  });

  it("DataPlane.transactionChunked: live generation untouched until commit; transaction() refused meanwhile; abort keeps the old", async () => {
    const a = await makeAppliance();
    a.dp.transaction((tx) => { tx.addService(SVC, { scheduler: "rr" }); tx.addDest(SVC, { addr: "198.19.0.11", port: 80, fwd: "nat" }); });
    let midApply: number | undefined;
    let busyError = "";
    const pause = {
      done: 0,
      due: () => true,
      next: async () => {
        pause.done++;
        midApply ??= a.dp.serviceCount();
        try { a.dp.transaction(() => {}); } catch (e) { busyError = (e as Error).message; }
      },
    };
    const ops = Array.from({ length: 20 }, (_, i) => (tx: Parameters<Parameters<typeof a.dp.transaction>[0]>[0]) =>
      tx.addService({ proto: "tcp", addr: `198.18.120.${i}`, port: 80 }, { scheduler: "rr" }));
    await a.dp.transactionChunked(ops, pause);
    expect(pause.done).toBe(20);
    expect(midApply).toBe(1);
    expect(busyError).toMatch(/being applied/);
    expect(a.dp.serviceCount()).toBe(21);
    expect(a.dp.busy).toBe(false);

    const bad = [...ops.slice(0, 3).map((_, i) => (tx: Parameters<Parameters<typeof a.dp.transaction>[0]>[0]) =>
      tx.addService({ proto: "udp", addr: `198.18.121.${i}`, port: 53 }, { scheduler: "rr" })), ops[0]]; // the last one exists already
    await expect(a.dp.transactionChunked(bad, new Yielder(0))).rejects.toThrow();
    expect(a.dp.serviceCount()).toBe(21);
    expect(a.dp.busy).toBe(false);
  });

  it("a health change during a sliced apply is applied after it, not refused", async () => {
    const a = await makeAppliance();
    const model = new ConfigModel(a.dp);
    const it = new ConsoleInterpreter({ model });
    await it.execute("ipvsadm -R", { source: "socket", input: rules(10) });
    const apply = it.execute("ipvsadm -R", { source: "socket", input: rules(1500).split("\n").slice(2).map((l) => l.replace("198.18.1", "198.18.2")).join("\n") });
    // Wait until the data plane is inside the sliced transaction, then mark a real server down.
    for (let i = 0; i < 2000 && !a.dp.busy; i++) await new Promise((r) => setImmediate(r));
    expect(a.dp.busy).toBe(true);
    model.setDestHealth(`tcp:${VIP}:80`, "198.19.0.11:80", false);
    expect((await apply).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 10));
    const listing = await it.execute("ipvsadm -L -n", { source: "socket" });
    expect(listing.text).toMatch(/-> 198\.19\.0\.11:80\s+Masq\s+0\b/);
  });
});
