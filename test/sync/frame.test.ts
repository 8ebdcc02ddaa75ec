// Sync frames (src/sync/frame.ts): the socket filter under the kernel-semantics
// interpreter (sync UDP in, everything else out, tags, fragments, random
// frames against a model) and the frame builder/parser.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { checkProgram, decodeProgram, runProgram } from "../helpers/cbpf.js";
import { ipFrame, ipv4, tagged, tcp4Frame, udp, udp4Frame, udp6Frame, verifyChecksums, l3Start } from "../helpers/frames.js";
import { buildSyncFrame, parseSyncFrame, syncFilter } from "../../src/sync/frame.js";
import { SYNC_PORT } from "../../src/sync/wire.js";

const MAC_A = "02:00:00:00:00:0a", MAC_B = "02:00:00:00:00:0b";
const prog = decodeProgram(syncFilter());
const accepts = (f: Uint8Array) => runProgram(prog, f) !== 0;
const l2 = { ethSrc: MAC_A, ethDst: "01:00:5e:00:00:51" };

/** The rule, plainly. */
function model(f: Uint8Array): boolean {
  const l3 = l3Start(f);
  if (!l3) return false;
  const { type, off } = l3;
  if (type !== 0x0800 || f.length < off + 20) return false;
  if (f[off + 9] !== 17) return false;
  if ((((f[off + 6] << 8) | f[off + 7]) & 0x3fff) !== 0) return false;
  const ihl = (f[off] & 0xf) * 4;
  if (f.length < off + ihl + 4) return false;
  return ((f[off + ihl + 2] << 8) | f[off + ihl + 3]) === SYNC_PORT;
}

describe("syncFilter", () => {
  it("is a valid program", () => {
    expect(() => checkProgram(prog)).not.toThrow();
  });

  it("takes sync frames, untagged or with one tag, and with IPv4 options", () => {
    const f = buildSyncFrame(new Uint8Array(60), { mac: MAC_A, addr: "198.18.0.1" });
    expect(accepts(f)).toBe(true);
    expect(accepts(tagged(f, 5))).toBe(true);
    const withOpts = ipFrame(l2, ipv4({ src: "198.18.0.1", dst: "224.0.0.81", proto: 17, options: Uint8Array.of(1, 1, 1, 1), payload: udp({ sport: 1, dport: SYNC_PORT }) }));
    expect(accepts(withOpts)).toBe(true);
  });

  it("refuses other UDP ports, TCP to the port, IPv6, fragments, short frames", () => {
    const o = { ...l2, src: "198.18.0.1", dst: "224.0.0.81" };
    expect(accepts(udp4Frame({ ...o, sport: SYNC_PORT, dport: 8849 }))).toBe(false);
    expect(accepts(tcp4Frame({ ...o, sport: 1, dport: SYNC_PORT, flags: "S" }))).toBe(false);
    expect(accepts(udp6Frame({ ...l2, src: "fe80::1", dst: "ff02::1", sport: 1, dport: SYNC_PORT }))).toBe(false);
    const frag = ipFrame(l2, ipv4({ src: "198.18.0.1", dst: "224.0.0.81", proto: 17, mf: true, payload: udp({ sport: 1, dport: SYNC_PORT }) }));
    expect(accepts(frag)).toBe(false);
    const later = ipFrame(l2, ipv4({ src: "198.18.0.1", dst: "224.0.0.81", proto: 17, fragOffset: 8, payload: udp({ sport: 1, dport: SYNC_PORT }) }));
    expect(accepts(later)).toBe(false);
    const f = buildSyncFrame(new Uint8Array(8), { mac: MAC_A, addr: "198.18.0.1" });
    for (let n = 0; n < 14 + 20 + 4; n++) expect(accepts(f.subarray(0, n))).toBe(false);
  });

  it("agrees with the model on random and mutated frames", () => {
    const base = buildSyncFrame(new Uint8Array(16), { mac: MAC_A, addr: "198.18.0.1" });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      expect(accepts(b)).toBe(model(b));
    }), { numRuns: 3000 });
    fc.assert(fc.property(fc.integer({ min: 0, max: 41 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (at, v, tag) => {
      const f = base.slice();
      f[at] = v;
      const g = tag ? tagged(f, 3) : f;
      expect(accepts(g)).toBe(model(g));
    }), { numRuns: 3000 });
  });
});

describe("sync frames", () => {
  it("builds UDP/IPv4 to 224.0.0.81:8848, TTL 1, from the link's address and MAC, with good checksums", () => {
    const payload = Uint8Array.from({ length: 100 }, (_, i) => i);
    const f = buildSyncFrame(payload, { mac: MAC_B, addr: "198.18.0.2" }, 77);
    expect(verifyChecksums(f)).toEqual([]);
    expect(Buffer.from(f.subarray(0, 6)).toString("hex")).toBe("01005e000051");
    expect(Buffer.from(f.subarray(6, 12)).toString("hex")).toBe("02000000000b");
    expect(f[14 + 8]).toBe(1); // TTL
    const r = parseSyncFrame(f);
    expect(r).toEqual({ ok: true, payload, src: "198.18.0.2" });
  });

  it("refuses a frame with a bad IP or UDP checksum, a wrong port, or cut short; never throws", () => {
    const f = buildSyncFrame(new Uint8Array(40).fill(7), { mac: MAC_B, addr: "198.18.0.2" });
    const badIp = f.slice(); badIp[14 + 10] ^= 1;
    expect(parseSyncFrame(badIp).ok).toBe(false);
    const badUdp = f.slice(); badUdp[f.length - 1] ^= 1;
    expect(parseSyncFrame(badUdp).ok).toBe(false);
    expect(parseSyncFrame(f, 9999).ok).toBe(false);
    for (let n = 0; n < f.length; n++) expect(parseSyncFrame(f.subarray(0, n)).ok).toBe(false);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => { parseSyncFrame(b); }), { numRuns: 2000 });
  });
});
