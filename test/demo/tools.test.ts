// weir demo on a fresh machine: missing host tools are installed with
// apt-get (said first), or named with their package when that cannot work.
import { describe, expect, it } from "vitest";
import { DEMO_TOOLS, ensureTools } from "../../src/demo/tools.js";

describe("ensureTools", () => {
  it("does nothing when every tool is there", () => {
    const calls: string[][] = [];
    expect(ensureTools(DEMO_TOOLS, () => {}, () => true, (a) => { calls.push(a); return true; })).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it("says what it installs, then installs the missing packages (updating the lists when the first try fails)", () => {
    const installed = new Set(["ip", "apt-get"]);
    const said: string[] = [];
    const calls: string[][] = [];
    const apt = (a: string[]) => {
      calls.push(a);
      if (a[0] === "update") return true;
      if (calls.length === 1) return false; // no package lists yet
      installed.add("nft");
      return true;
    };
    expect(ensureTools(DEMO_TOOLS, (s) => said.push(s), (c) => installed.has(c), apt)).toBeUndefined();
    expect(said).toEqual([expect.stringMatching(/installing nftables with apt-get, for nft \(nftables:/)]);
    expect(calls.map((c) => c[0])).toEqual(["install", "update", "install"]);
    expect(calls[2]).toContain("nftables");
    expect(calls[2]).not.toContain("iproute2");
  });

  it("names the packages when there is no apt-get, or when it did not help", () => {
    expect(ensureTools(DEMO_TOOLS, () => {}, () => false, () => true)).toMatch(/missing ip \(iproute2.*nft \(nftables.*install iproute2 nftables/);
    expect(ensureTools(DEMO_TOOLS, () => {}, (c) => c === "apt-get", () => false)).toMatch(/did not provide ip, nft/);
  });
});
