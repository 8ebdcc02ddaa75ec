// VRRP packet I/O (src/dataplane/vrrpio.ts) on a real link: a veth pair
// between two namespaces, VrrpLink on one end (test/vrrp/vrrplink.mjs), raw
// frames in and out of the other through the addon's rings
// (test/vrrp/pktio.mjs). Proves, through the kernel's AF_PACKET and the
// socket filter:
//   - of adverts (v3/v2 IPv4, v3 IPv6, unicast, one with an 802.1Q tag)
//     mixed with UDP, TCP, ICMP, ICMPv6, ARP and the kernel's own traffic
//     (ping, ARP, IPv6 neighbour discovery), only the adverts arrive, in
//     order, each decoding (decodeFrame) to the advert sent, the tagged one
//     untagged with its VLAN id;
//   - VrrpLink.send puts whole frames on the link that the peer receives
//     byte for byte; with the link down a send fails and is counted, the
//     socket error is reported, and after the link comes back up both
//     directions work again;
//   - a keepalived's adverts arrive and decode (keepalived missing: skipped, or failed under CI=true);
//   - close() releases both sockets (none left in /proc/net/packet), and an
//     unknown link is WEIR_ERR_NO_DEVICE.
// Root only; namespaces wvio<pid>a / wvio<pid>b, addresses from 198.18.0.0/15;
// the processes started here are ended by PID.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { haveCommand, run, tryRun } from "../../src/demo/sys.js";
import { requireOrFail } from "../helpers/requires.js";
import { JsonLinesProc } from "../helpers/jsonlines.js";
import { Keepalived } from "../helpers/keepalived.js";
import { arp, icmp, ipFrame, ipv4, ipv6, tcp4Frame, udp4Frame, udp6Frame, tagged as tag } from "../helpers/frames.js";
import { buildFrame, decodeFrame, macText, type Advert } from "../../src/vrrp/packet.js";
import { VrrpLink } from "../../src/dataplane/vrrpio.js";
import { until as pollUntil } from "./lib/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;
const CAN_RUN = IS_ROOT && haveCommand("ip") && haveCommand("ping");
const WHY = "the VRRP packet I/O test needs root, ip (iproute2) and ping (iputils-ping)";

const NS_A = `wvio${process.pid}a`; // VrrpLink's
const NS_B = `wvio${process.pid}b`; // the peer's
const ADDR_A = "198.18.0.1", ADDR_B = "198.18.0.2";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until: typeof pollUntil = (what, fn, timeoutMs = 5000, everyMs = 20) => pollUntil(what, fn, timeoutMs, everyMs);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));

// Commands: run() throws with the command's stderr; tryRun() is for cleanup of what may not exist.
const sh = (argv: string[]) => run(argv, { timeoutMs: 10000 });
const shQuiet = (argv: string[]) => { tryRun(argv, { timeoutMs: 10000 }); };


/** vrrplink.mjs or pktio.mjs in a namespace (JSON lines). */
class Helper extends JsonLinesProc {
  static start(ns: string, script: string, dev: string): Promise<Helper> {
    return Helper.launch(ns, path.join(ROOT, "test", "vrrp", script), [dev]);
  }

  /** Frames seen (lines with hex) from index `from`. */
  frames(from = 0): { t: number; vlan?: number | null; hex: string }[] {
    return this.lines.slice(from).filter((l) => typeof l.hex === "string") as { t: number; vlan?: number | null; hex: string }[];
  }
}

/** AF_PACKET sockets in a namespace bound to ifindex (/proc/net/packet: sk RefCnt Type Proto Iface …). */
function packetSockets(ns: string, ifindex: number): number {
  return sh(["ip", "netns", "exec", ns, "cat", "/proc/net/packet"]).split("\n").slice(1)
    .filter((l) => l.trim() && Number(l.trim().split(/\s+/)[4]) === ifindex).length;
}

describe.skipIf(requireOrFail(CAN_RUN, WHY))("VrrpLink on a veth between namespaces", () => {
  let ours: Helper; // VrrpLink in NS_A
  let peer: Helper; // pktio in NS_B
  let macA = "", macB = "";
  let ifindexA = 0;
  const DEV = "eth0";

  beforeAll(async () => {
    sh(["ip", "netns", "add", NS_A]);
    sh(["ip", "netns", "add", NS_B]);
    sh(["ip", "link", "add", `wvio${process.pid}x`, "netns", NS_A, "type", "veth", "peer", "name", `wvio${process.pid}y`, "netns", NS_B]);
    for (const [ns, dev, addr] of [[NS_A, `wvio${process.pid}x`, ADDR_A], [NS_B, `wvio${process.pid}y`, ADDR_B]]) {
      sh(["ip", "-n", ns, "link", "set", dev, "name", DEV]);
      sh(["ip", "-n", ns, "addr", "add", `${addr}/24`, "dev", DEV]);
      sh(["ip", "-n", ns, "link", "set", DEV, "up"]);
      sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    const info = JSON.parse(sh(["ip", "-n", NS_A, "-j", "link", "show", DEV]))[0];
    ifindexA = info.ifindex;
    ours = await Helper.start(NS_A, "vrrplink.mjs", DEV);
    peer = await Helper.start(NS_B, "pktio.mjs", DEV);
    macA = String(ours.ready.mac);
    macB = String(peer.ready.mac);
    expect(macA).toBe(info.address);
  });

  afterAll(() => {
    ours?.close();
    peer?.close();
    shQuiet(["ip", "netns", "del", NS_A]);
    shQuiet(["ip", "netns", "del", NS_B]);
    expect(sh(["ip", "netns", "list"]).includes(`wvio${process.pid}`)).toBe(false);
  });

  const v3: Advert = { version: 3, family: 4, vrid: 51, priority: 150, intervalCs: 100, addresses: ["198.18.1.1", "198.18.1.2"] };
  const v2: Advert = { version: 2, family: 4, vrid: 52, priority: 100, intervalCs: 100, addresses: ["198.18.1.3"] };
  const v3six: Advert = { version: 3, family: 6, vrid: 53, priority: 200, intervalCs: 10, addresses: ["2001:db8::1"] };

  it("only VRRP arrives: each advert decodes to the one sent, the tagged one with its VLAN id", async () => {
    const from = ours.lines.length;
    // The kernels' own traffic first: ARP, ICMP echo, IPv6 neighbour discovery.
    sh(["ip", "netns", "exec", NS_B, "ping", "-c", "2", "-i", "0.2", "-W", "1", ADDR_A]);
    const l2 = { ethSrc: macB, ethDst: macA };
    const noise = [
      udp4Frame({ ...l2, src: ADDR_B, dst: ADDR_A, sport: 40000, dport: 53, payload: new Uint8Array(20).fill(112) }),
      tcp4Frame({ ...l2, src: ADDR_B, dst: ADDR_A, sport: 40001, dport: 80, flags: "S" }),
      udp6Frame({ ...l2, src: "2001:db8::2", dst: "2001:db8::1", sport: 112, dport: 112 }),
      ipFrame(l2, ipv4({ src: ADDR_B, dst: ADDR_A, proto: 1, payload: icmp({ type: 8, rest: 0x00010001 }) })),
      ipFrame(l2, ipv6({ src: "fe80::2", dst: "ff02::1", nextHeader: 58, hopLimit: 255, payload: icmp({ type: 136, body: new Uint8Array(16) }) })),
      arp({ op: 1, sha: macB, spa: ADDR_B, tpa: "198.18.0.99" }),
      arp({ op: 2, sha: macB, spa: ADDR_B, tha: macA, tpa: ADDR_A }),
    ];
    const sent: { frame: Uint8Array; advert: Advert; vlan: number | null }[] = [
      { frame: buildFrame(v3, { src: ADDR_B, srcMac: macB }), advert: v3, vlan: null },
      { frame: buildFrame(v2, { src: ADDR_B, srcMac: macB }), advert: v2, vlan: null },
      { frame: buildFrame(v3six, { src: "fe80::2", srcMac: macB }), advert: v3six, vlan: null },
      { frame: buildFrame(v3, { src: ADDR_B, dst: ADDR_A, srcMac: macB, dstMac: macA }), advert: v3, vlan: null },
      { frame: buildFrame({ ...v3, vrid: 54 }, { src: ADDR_B, srcMac: macB }), advert: { ...v3, vrid: 54 }, vlan: 10 },
    ];
    // Interleaved: noise, advert, noise, …
    for (let i = 0; i < noise.length; i++) {
      const out = [noise[i]];
      const s = sent[i];
      if (s) out.push(s.vlan === null ? s.frame : tag(s.frame, s.vlan));
      await peer.cmd({ send: out.map(hex) });
    }
    // A last advert as the marker: everything before it has been through the filter.
    const marker = buildFrame({ ...v3, vrid: 255 }, { src: ADDR_B, srcMac: macB });
    await peer.cmd({ send: [hex(marker)] });
    await until("the marker advert", () => ours.frames(from).some((f) => f.hex === hex(marker)));
    await sleep(100);

    const got = ours.frames(from);
    expect(got.map((f) => f.hex)).toEqual([...sent.map((s) => hex(s.frame)), hex(marker)]);
    expect(got.map((f) => f.vlan)).toEqual([...sent.map((s) => s.vlan), null]);
    sent.forEach((s, i) => {
      const d = decodeFrame(unhex(got[i].hex));
      expect(d.ok).toBe(true);
      if (!d.ok) return;
      expect(d.advert).toEqual(s.advert);
      expect(d.srcMac).toBe(macB);
      expect(d.ttl).toBe(255);
    });
    // at: the VRRP scheduler's clock (µs), increasing
    for (let i = 1; i < got.length; i++) expect(got[i].t).toBeGreaterThanOrEqual(got[i - 1].t);
    const st = (await ours.cmd({ stats: true })).stats as Record<string, unknown>;
    expect(st).toMatchObject({ rxFrames: sent.length + 1, rxTruncated: 0, rxRingDrops: 0, linkErrors: 0 });
  });

  it("send: the peer receives the frames byte for byte", async () => {
    const frames = [
      buildFrame(v3, { src: ADDR_A, srcMac: macA, id: 1 }),
      buildFrame(v3six, { src: "fe80::1", srcMac: macA }),
      buildFrame(v2, { src: ADDR_A, dst: ADDR_B, srcMac: macA, dstMac: macB }),
    ];
    const before = (await ours.cmd({ stats: true })).stats as Record<string, number>;
    const from = peer.lines.length;
    const r = await ours.cmd({ send: frames.map(hex) });
    expect(r.sent).toEqual([true, true, true]);
    await until("our adverts at the peer", () => peer.frames(from).filter((f) => macText(unhex(f.hex).subarray(6, 12)) === macA).length >= 3);
    const seen = peer.frames(from).filter((f) => macText(unhex(f.hex).subarray(6, 12)) === macA).map((f) => f.hex);
    expect(seen).toEqual(frames.map(hex));
    for (const h of seen) expect(decodeFrame(unhex(h)).ok).toBe(true);
    const after = (await ours.cmd({ stats: true })).stats as Record<string, number>;
    expect(after.txFrames - before.txFrames).toBe(3);
    expect(after.txFailures).toBe(before.txFailures);
    // Our own adverts do not come back to us.
    expect(after.rxFrames).toBe(before.rxFrames);
  });

  it("link down: a send fails and is counted, the error is reported; up again, both directions work", async () => {
    const advert = buildFrame(v3, { src: ADDR_A, srcMac: macA });
    const from = ours.lines.length;
    sh(["ip", "-n", NS_A, "link", "set", DEV, "down"]);
    const r = await ours.cmd({ send: [hex(advert)] });
    expect(r.sent).toEqual([false]);
    let st = (await ours.cmd({ stats: true })).stats as Record<string, unknown>;
    expect(st).toMatchObject({ txFailures: 1, lastError: "ENETDOWN" });
    await until("ENETDOWN reported", () => ours.lines.slice(from).some((l) => l.linkError === "ENETDOWN"));

    sh(["ip", "-n", NS_A, "link", "set", DEV, "up"]);
    const peerFrom = peer.lines.length;
    await until("a send after the link came back", async () => {
      const s = await ours.cmd({ send: [hex(advert)] });
      return (s.sent as boolean[])[0];
    }, 5000, 100);
    await until("our advert at the peer", () => peer.frames(peerFrom).some((f) => f.hex === hex(advert)));
    const back = buildFrame({ ...v3, vrid: 99 }, { src: ADDR_B, srcMac: macB });
    const ourFrom = ours.lines.length;
    await peer.cmd({ send: [hex(back)] });
    await until("the peer's advert after the link came back", () => ours.frames(ourFrom).some((f) => f.hex === hex(back)));
    st = (await ours.cmd({ stats: true })).stats as Record<string, unknown>;
    expect(st.txFailures).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(requireOrFail(haveCommand("keepalived"), "keepalived (Debian keepalived; scripts/install-test-deps.sh)"))("a keepalived's adverts arrive and decode", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "weir-vrrpio-"));
    const from = ours.lines.length;
    const ka = Keepalived.launch(NS_B, dir, { iface: DEV, vrid: 77, priority: 120, advertInt: "0.1", version: 3, vips: ["198.18.2.1/32"] });
    try {
      const adverts = await until("keepalived's adverts", () => {
        const a = ours.frames(from).map((f) => decodeFrame(unhex(f.hex))).filter((d) => d.ok && d.advert.vrid === 77);
        return a.length >= 3 && a;
      }, 15000);
      for (const d of adverts) {
        expect(d).toMatchObject({ ok: true, srcMac: macB, src: ADDR_B, ttl: 255, advert: { version: 3, family: 4, vrid: 77, priority: 120, intervalCs: 10, addresses: ["198.18.2.1"] } });
      }
    } finally {
      await ka.stop();
      shQuiet(["ip", "-n", NS_B, "addr", "del", "198.18.2.1/32", "dev", DEV]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("close releases both sockets; an unknown link is WEIR_ERR_NO_DEVICE", async () => {
    expect(packetSockets(NS_A, ifindexA)).toBe(2);
    const r = await ours.cmd({ close: true });
    expect(r.afterClose).toBe("WEIR_ERR_IO_STOPPED");
    await until("no AF_PACKET socket left on the link", () => packetSockets(NS_A, ifindexA) === 0);
    await expect(VrrpLink.open(`wvio${process.pid}none`, { onFrame: () => {} })).rejects.toMatchObject({ code: "WEIR_ERR_NO_DEVICE" });
  });
});
