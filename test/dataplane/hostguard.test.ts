// The host guard's nftables script (checked by the real nft in check mode)
// and the `host-access` word that drives it.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { guardScript, HostGuard, type HostAccessRule } from "../../src/dataplane/hostguard.js";
import { hostAccess, parseHostRule } from "../../src/console/hostaccess.js";
import { requireOrFail } from "../helpers/requires.js";

const haveNft = (() => {
  try { execFileSync("nft", ["--version"], { stdio: "ignore" }); return true; } catch { return false; }
})();
const isRoot = process.getuid?.() === 0;

describe("guardScript", () => {
  const taps = new Map([["eth0", "weir-eth0"], ["eth1", "weir-eth1"]]);
  const rules: HostAccessRule[] = [{ proto: "tcp", port: 22, dev: "eth0" }, { proto: "udp", port: 5000, to: 5010 }, { proto: "tcp", port: 80, dev: "eth9" }];
  const s = guardScript("weir_1", taps, rules);

  it("guards only the TAPs, lets replies and ICMP through, and refuses the rest as closed ports", () => {
    expect(s).toContain('iifname != { "weir-eth0", "weir-eth1" } accept');
    expect(s).toContain("ct state established,related accept");
    expect(s).toContain("meta l4proto { 1, 58 } accept");
    expect(s).toMatch(/reject with tcp reset\n\s+reject\n/);
  });

  it("opens the operator's ports, per link or on all, and skips links that are not attached", () => {
    expect(s).toContain('iifname "weir-eth0" tcp dport 22 accept');
    expect(s).toContain("    udp dport 5000-5010 accept");
    expect(s).not.toContain("dport 80");
    // Openings come before the final rejects.
    expect(s.indexOf("dport 22")).toBeLessThan(s.indexOf("reject"));
  });

  it("is one transaction that replaces the table, and with no TAPs just removes it", () => {
    expect(s.startsWith("table inet weir_1 {}\ndelete table inet weir_1\ntable inet weir_1 {")).toBe(true);
    expect(guardScript("weir_1", new Map(), rules)).toBe("table inet weir_1 {}\ndelete table inet weir_1\n");
  });

  it.skipIf(requireOrFail(haveNft && isRoot, "nft (nftables) as root checks the script"))("is accepted by nft, even with no /etc/protocols (the image has none)", () => {
    // -c: parse and check against the kernel without committing anything; in
    // a mount namespace of its own, /etc/protocols hidden, as in the image.
    execFileSync("unshare", ["-m", "sh", "-c", "mount --bind /dev/null /etc/protocols && nft -c -f -"], { input: s });
  });
});

describe("HostGuard", () => {
  it("makes the table when the first TAP comes, keeps rules across TAPs, removes it at the end", async () => {
    const scripts: string[] = [];
    const g = new HostGuard("weir_2", async (x) => { scripts.push(x); });
    await g.setRules([{ proto: "tcp", port: 22 }]);
    expect(scripts).toEqual([]); // nothing attached: nothing to guard yet
    await g.addTap("eth0", "weir-eth0");
    expect(scripts.at(-1)).toContain("tcp dport 22 accept");
    await g.removeTap("eth0");
    expect(scripts.at(-1)).toBe("table inet weir_2 {}\ndelete table inet weir_2\n");
    await g.drop();
    expect(scripts.length).toBe(2);
  });

  it("keeps the old rules in force when nft refuses new ones", async () => {
    let fail = false;
    const scripts: string[] = [];
    const g = new HostGuard("weir_3", async (x) => { if (fail) throw new Error("nft: no"); scripts.push(x); });
    await g.addTap("eth0", "weir-eth0");
    fail = true;
    await expect(g.setRules([{ proto: "tcp", port: 22 }])).rejects.toThrow(/nft/);
    fail = false;
    await g.addTap("eth1", "weir-eth1");
    expect(scripts.at(-1)).not.toContain("dport 22");
  });
});

describe("host-access", () => {
  it("parses PROTO PORT[-PORT] [dev DEV] and refuses the rest with a reason", () => {
    expect(parseHostRule(["tcp", "22"])).toEqual({ proto: "tcp", port: 22 });
    expect(parseHostRule(["udp", "5000-5010", "dev", "eth1"])).toEqual({ proto: "udp", port: 5000, to: 5010, dev: "eth1" });
    for (const bad of [[], ["icmp", "1"], ["tcp"], ["tcp", "0"], ["tcp", "65536"], ["tcp", "22-22"], ["tcp", "30-20"], ["tcp", "1-2-3"], ["tcp", "x"],
      ["tcp", "22", "dev"], ["tcp", "22", "dev", "a b"], ["tcp", "22", "via", "x"], ["tcp", "22", "dev", "eth0", "more"]]) {
      expect(typeof parseHostRule(bad), bad.join(" ")).toBe("string");
    }
  });

  it("applies each change, shows and saves the openings, and changes nothing on an error", async () => {
    const applied: string[][] = [];
    let fail = false;
    const w = hostAccess(async (rules) => { if (fail) throw new Error("nft said no"); applied.push(rules.map((r) => `${r.proto}${r.port}`)); });
    const ctx = { source: "socket" as const };
    expect((await w.execute([], ctx)).text).toMatch(/no new connections/);
    expect(await w.execute(["allow", "tcp", "22", "dev", "eth0"], ctx)).toEqual({ ok: true, text: "" });
    expect(await w.execute(["allow", "udp", "53"], ctx)).toEqual({ ok: true, text: "" });
    expect(w.runningConfig!()).toEqual(["host-access allow tcp 22 dev eth0", "host-access allow udp 53"]);
    expect((await w.execute(["show"], ctx)).text).toContain("tcp 22 dev eth0");
    expect((await w.execute(["del", "tcp", "22"], ctx)).text).toMatch(/^error: host-access del: no such opening/);
    fail = true;
    expect((await w.execute(["del", "udp", "53"], ctx)).text).toBe("error: host-access del: nft said no");
    expect(w.runningConfig!()).toHaveLength(2);
    fail = false;
    expect((await w.execute(["deny", "tcp", "22"], ctx)).ok).toBe(false);
    expect(await w.execute(["del", "udp", "53"], ctx)).toEqual({ ok: true, text: "" });
    expect(applied).toEqual([["tcp22"], ["tcp22", "udp53"], ["tcp22"]]);
  });
});

describe("host-access under a config load", () => {
  it("a checkpoint puts the openings back after a failed load", async () => {
    const applied: number[] = [];
    const w = hostAccess(async (rules) => { applied.push(rules.length); });
    const ctx = { source: "config" as const };
    await w.execute(["allow", "tcp", "22"], ctx);
    const undo = w.checkpoint!();
    await w.execute(["allow", "tcp", "80"], ctx);
    await undo();
    expect(w.runningConfig!()).toEqual(["host-access allow tcp 22"]);
    expect(applied).toEqual([1, 2, 1]);
  });
});
