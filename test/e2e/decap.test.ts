// The user-space IP-in-IP decapsulator (src/demo/decap.ts) on its own: crafted
// IPIP packets injected from the client's link on the shared segment (as the
// appliance would send them in VS/TUN) reach the real server's stack through
// the TAP, the server answers the client directly, the kernel stays quiet
// about the outer packet (no ICMP protocol unreachable), and a checksum left
// to offload (virtio_net_hdr NEEDS_CSUM) is completed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AgentClient, CAN_RUN, MAC, SKIP_REASON, Topology, rsAddr, script, type NsProcess,
} from "./lib/index.js";
import { decapsulate, fillL4Checksum, macBytes, parseIpv4 } from "../../src/demo/decap.js";
import { IPPROTO_IPIP, IPPROTO_TCP, IPPROTO_UDP, fromHex, hex, ip4, ipFrame, ipv4, onesSum, tcp, udp } from "../helpers/frames.js";
import { requireOrFail } from "../helpers/requires.js";

const VIP = "198.18.100.3";
const CLIENT = "198.18.0.10";
const LB = "198.19.0.1";

function inner(proto: "udp" | "tcp", sport: number, payload: Uint8Array, o: { flags?: string } = {}): Uint8Array {
  return proto === "udp"
    ? ipv4({ src: CLIENT, dst: VIP, proto: IPPROTO_UDP, id: 7, payload: udp({ sport, dport: 5300, payload }) })
    : ipv4({ src: CLIENT, dst: VIP, proto: IPPROTO_TCP, id: 8, payload: tcp({ sport, dport: 80, seq: 1000, flags: o.flags ?? "S", window: 64240 }) });
}

function ipip(pkt: Uint8Array, dst = rsAddr(0), ethDst = MAC.rs(0)): Uint8Array {
  return ipFrame({ ethSrc: MAC.clientSegment, ethDst }, ipv4({ src: LB, dst, proto: IPPROTO_IPIP, id: 99, payload: pkt, fillL4Checksum: false }));
}

describe("decapsulate()", () => {
  const ours = new Set([parseIpv4(rsAddr(0))]);
  const tapMac = macBytes("02:aa:bb:cc:dd:ee");
  it("strips the outer header and addresses the TAP", () => {
    const pkt = inner("udp", 40000, new TextEncoder().encode("hello"));
    const r = decapsulate(ipip(pkt), ours, tapMac);
    expect("inner" in r).toBe(true);
    const out = (r as { inner: Uint8Array }).inner;
    expect(hex(out.subarray(0, 6))).toBe("02aabbccddee");
    expect(hex(out.subarray(12, 14))).toBe("0800");
    expect(hex(out.subarray(14))).toBe(hex(pkt));
  });
  it("skips what is not IP-in-IP for us", () => {
    const pkt = inner("udp", 40000, new Uint8Array(4));
    expect(decapsulate(ipFrame({ ethSrc: MAC.client, ethDst: MAC.rs(0) }, pkt), ours, tapMac)).toEqual({ skip: "not_ipip" });
    expect(decapsulate(ipip(pkt, rsAddr(1)), ours, tapMac)).toEqual({ skip: "not_ours" });
    const frag = ipFrame({ ethSrc: MAC.client, ethDst: MAC.rs(0) }, ipv4({ src: LB, dst: rsAddr(0), proto: IPPROTO_IPIP, mf: true, payload: pkt, fillL4Checksum: false }));
    expect(decapsulate(frag, ours, tapMac)).toEqual({ skip: "fragment" });
    expect(decapsulate(ipip(pkt).subarray(0, 40), ours, tapMac)).toEqual({ skip: "truncated" });
    expect(decapsulate(new Uint8Array(20), ours, tapMac)).toEqual({ skip: "short" });
  });
  it("completes a TCP/UDP checksum left to offload", () => {
    for (const pkt of [inner("udp", 40001, new Uint8Array(33).fill(7)), inner("tcp", 40002, new Uint8Array(0))]) {
      const good = hex(pkt);
      const broken = pkt.slice();
      const off = 20 + (broken[9] === IPPROTO_TCP ? 16 : 6);
      broken[off] = 0x12;
      broken[off + 1] = 0x34;
      fillL4Checksum(broken);
      expect(hex(broken)).toBe(good);
    }
  });
});

describe.skipIf(requireOrFail(CAN_RUN, SKIP_REASON))(`decapsulator in a real-server namespace (${SKIP_REASON})`, () => {
  let topo: Topology;
  let agent: AgentClient;
  let decap: NsProcess;
  const stats: Record<string, unknown>[] = [];

  beforeAll(async () => {
    topo = Topology.create({ realServers: 2 });
    topo.addRsVip(VIP, [0]);
    await topo.spawnScript(topo.ns.rs[0], script("servers"), ["--name", "rs1", "--udp-port", "5300", "--udp-addr", `${rsAddr(0)},${VIP}`], { label: "rs1" });
    decap = await topo.spawnScript(topo.ns.rs[0], script("decap"), ["--dev", "eth0", "--addr", rsAddr(0)], { label: "decap" });
    decap.onLine((l) => { if (l.startsWith("stats ")) stats.push(JSON.parse(l.slice(6))); });
    agent = new AgentClient(await topo.spawnScript(topo.ns.client, script("agent"), [], { label: "agent" }));
  });

  afterAll(() => {
    topo?.destroy();
    topo?.assertClean();
  });

  it("runs with its TAP up and the nft rule that keeps the kernel quiet", () => {
    expect(decap.info).toMatchObject({ dev: "eth0", tap: "decap0", nft: true });
    expect(topo.ip(topo.ns.rs[0], "-br", "link", "show", "decap0")).toMatch(/UP|UNKNOWN/);
    expect(topo.exec(topo.ns.rs[0], ["nft", "list", "table", "ip", "weirdecap"])).toMatch(/ip protocol (4|ipencap) drop/);
  });

  it("delivers a tunnelled UDP datagram to the VIP; the reply goes straight to the client; no ICMP error", async () => {
    const sock = await agent.call<{ handle: number }>("udpBind", { addr: CLIENT, port: 40000 });
    const cap = await agent.call<{ handle: number }>("captureStart", { dev: "c1" });
    const payload = new TextEncoder().encode("through the tunnel");
    await agent.call("sendFrame", { dev: "c1", frame: hex(ipip(inner("udp", 40000, payload))) });
    const got = await agent.call<{ data: string; from: string; port: number } | null>("udpRecv", { handle: sock.handle, timeoutMs: 3000 });
    await new Promise((r) => setTimeout(r, 200));
    const frames = await agent.call<string[]>("captureStop", { handle: cap.handle });
    expect(got).not.toBeNull();
    expect(Buffer.from(got!.data, "hex").toString()).toBe("rs1 through the tunnel");
    expect(got).toMatchObject({ from: VIP, port: 5300 });
    const fromRs = frames.map(fromHex).filter((f) => f[12] === 0x08 && f[13] === 0 && hex(f.subarray(26, 30)) === hex(ip4(rsAddr(0))));
    expect(fromRs.filter((f) => f[23] === 1 && f[34] === 3)).toEqual([]); // ICMP destination unreachable
    await agent.call("udpClose", { handle: sock.handle });
  });

  it("completes an inner checksum left to offload (NEEDS_CSUM through a vnet header)", async () => {
    const sock = await agent.call<{ handle: number }>("udpBind", { addr: CLIENT, port: 40001 });
    const pkt = inner("udp", 40001, new TextEncoder().encode("partial checksum")).slice();
    // Leave only the folded pseudo-header sum in the UDP checksum, as a stack with offload does.
    const len = pkt.length - 20;
    const pseudo = onesSum(new Uint8Array([...pkt.subarray(12, 20), 0, IPPROTO_UDP, len >> 8, len & 0xff]));
    pkt[26] = pseudo >> 8;
    pkt[27] = pseudo & 0xff;
    const csumStart = 14 + 20 + 20;
    const vnet = new Uint8Array(10);
    vnet[0] = 1; // NEEDS_CSUM
    vnet[6] = csumStart & 0xff;
    vnet[7] = csumStart >> 8;
    vnet[8] = 6;
    await agent.call("sendFrame", { dev: "c1", frame: hex(ipip(pkt)), vnet: hex(vnet) });
    const got = await agent.call<{ data: string } | null>("udpRecv", { handle: sock.handle, timeoutMs: 3000 });
    expect(got && Buffer.from(got.data, "hex").toString()).toBe("rs1 partial checksum");
    await agent.call("udpClose", { handle: sock.handle });
  });

  it("delivers a tunnelled TCP SYN; the SYN-ACK comes from the VIP over the shared segment", async () => {
    const cap = await agent.call<{ handle: number }>("captureStart", { dev: "c1" });
    await agent.call("sendFrame", { dev: "c1", frame: hex(ipip(inner("tcp", 40002, new Uint8Array(0)))) });
    await new Promise((r) => setTimeout(r, 500));
    const frames = (await agent.call<string[]>("captureStop", { handle: cap.handle })).map(fromHex);
    const synAck = frames.find((f) => f[23] === IPPROTO_TCP && hex(f.subarray(26, 30)) === hex(ip4(VIP)) && ((f[34] << 8) | f[35]) === 80 && (f[47] & 0x12) === 0x12);
    expect(synAck, `frames seen: ${frames.length}`).toBeDefined();
    expect(hex(synAck!.subarray(30, 34))).toBe(hex(ip4(CLIENT)));
    expect(hex(synAck!.subarray(0, 6))).toBe(hex(macBytes(MAC.clientSegment)));
  });

  it("leaves what is not for it alone and counts it", async () => {
    await agent.call("sendFrame", { dev: "c1", frame: hex(ipip(inner("udp", 40003, new Uint8Array(3)), rsAddr(1))) });
    await new Promise((r) => setTimeout(r, 1300));
    const last = stats.at(-1) as { decapsulated: number; skipped: Record<string, number> };
    expect(last.decapsulated).toBeGreaterThanOrEqual(3);
    expect(last.skipped.not_ours).toBeGreaterThanOrEqual(1);
  });

  it("removes its nft table and TAP on SIGTERM", async () => {
    await decap.stop();
    expect(topo.exec(topo.ns.rs[0], ["nft", "list", "tables"])).not.toContain("weirdecap");
    expect(topo.ip(topo.ns.rs[0], "-br", "link")).not.toContain("decap0");
  });
});
