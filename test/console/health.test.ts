// The model's face to health checking: real servers down (inhibit: weight 0;
// remove: out of the data plane), sorry servers, and the services() snapshot.
// running-config (and -S) always shows the configured state; -L what runs.

import { describe, expect, it } from "vitest";
import { makeConsole, type TestConsole } from "./helpers.js";
import { fromClient, syn, topology } from "./fixture.js";

const SVC = "tcp:198.18.100.1:80";

async function pool(): Promise<TestConsole> {
  const t = await makeConsole();
  await topology(t);
  await t.setup(
    "ipvsadm -A -t 198.18.100.1:80 -s rr",
    "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m -w 3",
    "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12 -m -w 2",
  );
  return t;
}

const dests = async (t: TestConsole) => (await t.run("ipvsadm -L -n")).split("\n").slice(4);

describe("setDestHealth", () => {
  it("inhibit: weight 0 while down, the configured weight kept and restored", async () => {
    const t = await pool();
    const saved = await t.run("show running-config");
    t.model.setDestHealth(SVC, "198.19.0.11:80", false, "inhibit");
    expect(await dests(t)).toEqual([
      "  -> 198.19.0.11:80               Masq    0      0          0         ",
      "  -> 198.19.0.12:80               Masq    2      0          0         ",
    ]);
    expect(await t.run("show running-config")).toBe(saved);
    // New connections avoid it.
    fromClient(t, [syn(80, 41000), syn(80, 41001), syn(80, 41002)]);
    expect((await t.run("ipvsadm -Lcn")).split("\n").slice(2).map((l) => l.split(/\s+/)[5])).toEqual(["198.19.0.12:80", "198.19.0.12:80", "198.19.0.12:80"]);
    expect(t.model.services()[0].dests.map((d) => [d.key, d.weight, d.effectiveWeight, d.health, d.inDataPlane])).toEqual([
      ["198.19.0.11:80", 3, 0, "down", true],
      ["198.19.0.12:80", 2, 2, "up", true],
    ]);
    t.model.setDestHealth(SVC, "198.19.0.11:80", true);
    expect((await dests(t))[0]).toBe("  -> 198.19.0.11:80               Masq    3      0          0         ");
  });

  it("remove: out of the data plane while down, back when up", async () => {
    const t = await pool();
    t.model.setDestHealth("-t 198.18.100.1:80", "198.19.0.12", false, "remove");
    expect(await dests(t)).toEqual(["  -> 198.19.0.11:80               Masq    3      0          0         "]);
    expect((await t.run("ipvsadm -S")).split("\n")).toHaveLength(3);
    expect(t.model.services()[0].dests[1]).toMatchObject({ health: "down", inDataPlane: false, effectiveWeight: 0, weight: 2 });
    // Editing a down server keeps it out, with the new weight waiting.
    await t.setup("ipvsadm -e -t 198.18.100.1:80 -r 198.19.0.12 -m -w 7");
    expect(await dests(t)).toHaveLength(1);
    t.model.setDestHealth(SVC, "198.19.0.12:80", true, "remove");
    expect((await dests(t))[1]).toBe("  -> 198.19.0.12:80               Masq    7      0          0         ");
  });

  it("refuses unknown services and real servers", async () => {
    const t = await pool();
    expect(() => t.model.setDestHealth("tcp:198.18.100.9:80", "198.19.0.11:80", false)).toThrow("no such service: tcp:198.18.100.9:80");
    expect(() => t.model.setDestHealth(SVC, "198.19.0.13:80", false)).toThrow("no such real server: 198.19.0.13:80 in -t 198.18.100.1:80");
    expect(t.model.destKeys(SVC)).toEqual(["198.19.0.11:80", "198.19.0.12:80"]);
    expect(t.model.destKeys("fwm:9")).toBeUndefined();
  });

  it("forgets health state with the real server", async () => {
    const t = await pool();
    t.model.setDestHealth(SVC, "198.19.0.12:80", false, "remove");
    await t.setup("ipvsadm -d -t 198.18.100.1:80 -r 198.19.0.12", "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12 -m");
    expect((await dests(t))[1]).toBe("  -> 198.19.0.12:80               Masq    1      0          0         ");
  });
});

describe("sorry server", () => {
  it("joins the data plane while no real server is up, and leaves when one is", async () => {
    const t = await pool();
    t.model.setSorryServer(SVC, { dest: "198.19.0.13:8080", fwd: "nat" });
    expect(await dests(t)).toHaveLength(2);
    expect(t.model.services()[0].sorry).toEqual({ key: "198.19.0.13:8080", addr: "198.19.0.13", port: 8080, fwd: "nat", weight: 1, active: false });
    t.model.setDestHealth(SVC, "198.19.0.11:80", false, "remove");
    t.model.setDestHealth(SVC, "198.19.0.12:80", false, "inhibit");
    expect(await dests(t)).toEqual([
      "  -> 198.19.0.12:80               Masq    0      0          0         ",
      "  -> 198.19.0.13:8080             Masq    1      0          0         ",
    ]);
    expect(t.model.services()[0].sorry?.active).toBe(true);
    fromClient(t, [syn(80, 42000)]);
    expect((await t.run("ipvsadm -Lcn")).split("\n")[2]).toContain("198.19.0.13:8080");
    expect(t.model.sorryServer(SVC)).toEqual({ dest: "198.19.0.13:8080", fwd: "nat", weight: 1 });
    t.model.setDestHealth(SVC, "198.19.0.12:80", true);
    expect(await dests(t)).toEqual(["  -> 198.19.0.12:80               Masq    2      0          0         "]);
    t.model.setSorryServer(SVC, null);
    expect(t.model.services()[0].sorry).toBeNull();
    // Never in the configuration.
    expect(await t.run("show running-config")).not.toContain("198.19.0.13");
  });

  it("is checked as a real server would be", async () => {
    const t = await pool();
    expect(() => t.model.setSorryServer(SVC, { dest: "198.19.0.11:80", fwd: "dr" })).toThrow("sorry server 198.19.0.11:80 is a real server of -t 198.18.100.1:80");
    expect(() => t.model.setSorryServer(SVC, { dest: "[2001:db8::1]:80" })).toThrow("is not of the address family");
    expect(() => t.model.setSorryServer("udp:198.18.100.1:80", { dest: "198.19.0.13:80" })).toThrow("no such service");
    t.model.setSorryServer(SVC, { dest: "198.19.0.13" });
    expect(await t.run("ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.13 -g")).toBe("error: real server 198.19.0.13:80 is the sorry server of -t 198.18.100.1:80");
  });
});

describe("services()", () => {
  it("gives key, label, scheduler, flags, persistence and real servers", async () => {
    const t = await makeConsole();
    await t.setup("ipvsadm -A -f 5 -s sh -b sh-port -p 120", "ipvsadm -a -f 5 -r 198.19.0.11 -g -w 4");
    expect(t.model.services()).toEqual([{
      key: "fwm:5", label: "FWM 5", option: "-f 5", dpKey: { fwmark: 5, af: 4 }, scheduler: "sh", flags: ["sh-port"],
      persistent: 120, netmask: 32, onePacket: false, sorry: null,
      dests: [{ key: "198.19.0.11:0", af: 4, addr: "198.19.0.11", port: 0, fwd: "dr", weight: 4, effectiveWeight: 4, health: "up", inDataPlane: true, uThreshold: 0, lThreshold: 0 }],
    }]);
    const [s] = t.model.services();
    expect(t.dp.serviceStats(s.dpKey).conns).toBe(0n);
  });
});
