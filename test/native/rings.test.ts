// The native addon on real links: a veth pair in a network namespace of its
// own, TX rings and RX rings mapped into WebAssembly memory, fanout, poll,
// statistics, errors and TAP. Each scenario runs in a child process inside the
// namespace (test/native/ring-helper.mjs) and reports JSON.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { requireOrFail } from "../helpers/requires.js";

const helper = fileURLToPath(new URL("./ring-helper.mjs", import.meta.url));
const NS = `weirt${process.pid}`;
const A = "weira0"; // TX end
const B = "weirb0"; // RX end
const skipReason = process.getuid?.() !== 0 ? "needs root (network namespaces, AF_PACKET, TAP)" : "";

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** Runs one helper scenario in the namespace (as `nobody` when unprivileged) and returns its JSON. */
function scenario(name: string, args: Record<string, unknown> = {}, opts: { unprivileged?: boolean } = {}): Json {
  const drop = opts.unprivileged ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"] : [];
  const r = spawnSync("ip", ["netns", "exec", NS, ...drop, process.execPath, helper, name, JSON.stringify({ a: A, b: B, ...args })], {
    encoding: "utf8",
    timeout: 30_000,
  });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let out: Json;
  try {
    out = JSON.parse(line);
  } catch {
    throw new Error(`scenario ${name} gave no JSON (status ${r.status}, signal ${r.signal}): ${r.stdout}\n${r.stderr}`);
  }
  if (out.thrown) throw new Error(`scenario ${name} threw ${out.thrown.code ?? ""}: ${out.thrown.stack}\n${r.stderr}`);
  return out;
}

function cleanup() {
  try {
    ip("netns", "del", NS); // takes the veth pair (and any TAP) with it
  } catch {
    /* not there */
  }
}

describe.skipIf(requireOrFail(skipReason === "", skipReason))(`native addon on a veth pair${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  beforeAll(() => {
    expect(existsSync(new URL("../../native/index.js", import.meta.url)), "native/ is built by `npm run build:native`").toBe(true);
    cleanup();
    try {
      setup();
    } catch (e) {
      cleanup();
      throw e;
    }
  });

  function setup() {
    ip("netns", "add", NS);
    try {
      // Quiet links: no IPv6 DAD/RS/MLD chatter, so an idle link is really idle.
      execFileSync("ip", ["netns", "exec", NS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"], { stdio: "ignore" });
    } catch {
      /* no IPv6 in this kernel: quiet already */
    }
    ip("-n", NS, "link", "add", A, "type", "veth", "peer", "name", B);
    ip("-n", NS, "addr", "add", "198.18.0.1/24", "dev", A);
    ip("-n", NS, "addr", "add", "198.18.0.2/24", "dev", B);
    for (const dev of ["lo", A, B]) ip("-n", NS, "link", "set", dev, "up");
  }

  afterAll(() => {
    cleanup();
    expect(ip("netns", "list")).not.toContain(NS);
  });

  it("moves frames from a TX ring in Wasm memory to the peer's RX ring in Wasm memory, byte for byte", () => {
    const r = scenario("txrx", { n: 500 });
    expect(r.sent).toBe(500);
    expect(r.received).toBe(500);
    expect(r.matched).toBe(500); // length and every byte, frames of 60..1514 bytes
    expect(r.inOrder).toBe(true);
    expect(r.kicks).toBeLessThanOrEqual(Math.ceil(500 / 64) + 8); // one kick per batch, not per frame
    expect(r.stats).toEqual({ packets: 500, drops: 0, freezes: 0, error: null });
    expect(r.canariesIntact).toBe(true); // nothing outside the rings was touched
    expect(r.afterClose).toBe(true); // zero pages back after close, still writable
    expect(r.geometryRx).toMatchObject({ kind: "rx", version: 3, offset: 0, size: 1 << 21, blockSize: 1 << 16, blockCount: 32, frameSize: 2048 });
    expect(r.geometryTx).toMatchObject({ kind: "tx", version: 2, offset: 4 << 20, frameSize: 2048, frameCount: 256, dataOffset: 32 });
    expect(r.statusUnion & ~0x0f).toBe(0); // no VLAN/GSO flags on plain frames
  });

  it("does the same in a shared WebAssembly.Memory, and through a separate mapping (copy design)", () => {
    const shared = scenario("txrx", { n: 300, shared: true });
    expect([shared.received, shared.matched, shared.canariesIntact, shared.afterClose]).toEqual([300, 300, true, true]);
    const separate = scenario("txrx", { n: 300, separate: true });
    expect([separate.received, separate.matched]).toEqual([300, 300]);
    expect(separate.geometryRx.buffer).toBe(`ArrayBuffer(${1 << 21})`);
  });

  it("offers a TPACKET_V2 RX ring (one slot per frame) with the same bytes", () => {
    const r = scenario("txrx", { n: 300, version: 2 });
    expect([r.received, r.matched, r.inOrder]).toEqual([300, 300, true]);
    expect(r.geometryRx).toMatchObject({ kind: "rx", version: 2, frameCount: 1024 });
  });

  it("carries PACKET_VNET_HDR on a V3 RX ring and a V2 TX ring", () => {
    const r = scenario("txrx", { n: 200, vnet: true });
    expect([r.received, r.matched]).toEqual([200, 200]);
    expect(r.vnetHeaders).toEqual(["0,0,0,0,0,0,0,0,0,0"]); // no offload asked, none reported
    expect(r.macOffsets.length).toBe(1);
    expect(r.geometryRx.vnetHdr && r.geometryTx.vnetHdr).toBe(true);
  });

  it("hands checksum and TSO offloads through: partial checksum and a 4200-byte TCP GSO frame", () => {
    const r = scenario("offload");
    expect(r.txStatus).toEqual([0, 0]); // both TX slots sent and returned (no WRONG_FORMAT)
    const [udp, tcp] = r.rx;
    expect(udp).toMatchObject({ len: 200, wireLen: 200, same: true });
    expect(udp.status & 0x08).toBe(0x08); // TP_STATUS_CSUMNOTREADY
    expect(udp.vnet).toEqual([1, 0, 0, 0, 0, 0, 34, 0, 6, 0]); // NEEDS_CSUM, csum_start 34, csum_offset 6
    expect(tcp).toMatchObject({ len: 54 + 4200, wireLen: 54 + 4200, same: true }); // larger than the MTU, not truncated
    expect(tcp.status & 0x108).toBe(0x108); // CSUMNOTREADY | GSO_TCP
    expect(tcp.vnet).toEqual([1, 1, 54, 0, 1400 & 0xff, 1400 >> 8, 34, 0, 16, 0]); // TCPV4, hdr_len 54, gso_size 1400
    expect(r.plain.map((p: Json) => p.len)).toEqual([200, 4254]); // a socket without vnetHdr sees the flags only
    expect(r.plain[0].status & 0x08).toBe(0x08);
  });

  it("splits traffic across two RX sockets in a fanout group (hash and classic BPF)", () => {
    const hash = scenario("fanout", { mode: "hash", n: 400 });
    expect(hash.counts[0] + hash.counts[1]).toBe(400);
    expect(Math.min(...hash.counts)).toBeGreaterThan(40); // 100 flows: both members get a fair share
    const cbpf = scenario("fanout", { mode: "cbpf", n: 400 });
    expect(cbpf.counts).toEqual([200, 200]);
    expect(cbpf.parity).toEqual([[0], [1]]); // even destination ports → member 0, odd → member 1
    const ll = scenario("fanout", { mode: "cbpf", n: 100, linkLayer: true }); // SKF_LL_OFF reaches the Ethernet header
    expect(ll.counts).toEqual([50, 50]);
    expect(ll.parity).toEqual([[0], [1]]);
  });

  it("blocks in poll on an idle link without using CPU, and wakes on traffic (sync and async)", () => {
    const r = scenario("poll");
    expect(r.idle).toEqual([]);
    expect(r.idleMs).toBeGreaterThanOrEqual(290);
    expect(r.idleCpuMs).toBeLessThan(50); // slept in the kernel, did not spin
    expect(r.woke).toEqual([r.rx]);
    expect(r.wokeMs).toBeLessThan(2500); // the frame was sent 100 ms in; bound is loose on a shared machine
    expect(r.afterWake).toEqual([r.rx]);
  });

  it("counts drops and freezes in PACKET_STATISTICS, and the ring resumes once drained", () => {
    const r = scenario("overflow", { n: 300 });
    expect(r.full.packets).toBe(300); // tp_packets includes drops
    expect(r.full.drops).toBe(300 - r.drained);
    expect(r.full.drops).toBeGreaterThan(0);
    expect(r.full.freezes).toBeGreaterThanOrEqual(1);
    expect(r.late).toEqual([1000, 1001, 1002]);
    expect(r.after).toMatchObject({ packets: 3, drops: 0 }); // counters reset on read
  });

  it("maps into shared memory from a worker, wakes a blocked worker, and cleans up when it exits", () => {
    const r = scenario("shared");
    expect(r.matched).toBe(50); // the worker's mapping is visible through the main thread's view
    expect(r.wokeResult).toEqual([r.waker]);
    expect(r.wokeAfterMs).toBeGreaterThanOrEqual(90);
    expect(r.wokeAfterMs).toBeLessThan(2000);
    expect(r.exitCode).toBe(0);
    expect(r.closeAgain.code).toBe("WEIR_ERR_BAD_HANDLE"); // closed by the worker's env cleanup
    expect([r.zeroed, r.writable]).toEqual([true, true]);
  });

  it("reports failures with the call, the errno name and what was attempted", () => {
    const r = scenario("errors");
    expect(r.linkUnknown).toMatchObject({ code: "ENODEV", syscall: "ioctl(SIOCGIFINDEX)", errno: 19 });
    expect(r.linkUnknown.message).toBe("ioctl(SIOCGIFINDEX) on weirnosuch0: ENODEV (No such device)");
    expect(r.rxUnknown.code).toBe("ENODEV");
    expect(r.fanoutMismatch.code).toBe("EINVAL");
    expect(r.fanoutMismatch.message).toMatch(new RegExp(`^setsockopt\\(PACKET_FANOUT\\) on ${A} \\(group \\d+, mode 1.*\\): EINVAL`));
    expect(r.badOffset).toMatchObject({ code: "WEIR_ERR_INVALID_ARG", message: "mapInto: offset 100 is not a multiple of the page size 4096" });
    expect(r.outside.message).toMatch(/does not fit in the memory view/);
    expect(r.unaligned.message).toMatch(/page boundary/);
    expect(r.notUint8.message).toMatch(/must be a Uint8Array/);
    expect(r.mapped).toBe(16384);
    expect(r.twice.message).toMatch(/already mapped/);
    expect(r.kickRx.message).toMatch(/RX ring/);
    expect(r.badBlock.message).toMatch(/blockSize 5000 must be a positive multiple of the page size/);
    expect(r.badTxFrame.code).toBe("WEIR_ERR_INVALID_ARG");
    expect(r.missingOpt.message).toBe("openTx options.frameCount is required");
    expect(r.badMode.message).toMatch(/fanoutMode "nope"/);
    expect(r.closeTwice.code).toBe("WEIR_ERR_BAD_HANDLE");
    expect(r.pollClosed.code).toBe("WEIR_ERR_BAD_HANDLE");
    const u = scenario("eperm", {}, { unprivileged: true });
    expect(u.rx).toMatchObject({ code: "EPERM", syscall: "socket(AF_PACKET, SOCK_RAW)" });
    expect(u.rx.message).toBe(`socket(AF_PACKET, SOCK_RAW) for RX on ${A}: EPERM (Operation not permitted)`);
    expect(u.link).toBeNull(); // link lookups need no privilege
  });

  it("reports a link that disappears under an RX socket once, without spinning", () => {
    const r = scenario("linkGone");
    expect(r.before).toEqual([]);
    expect(r.first).toEqual([r.rx]);
    expect(r.second).toEqual([]); // the error was read and cleared: the next poll sleeps again
    expect(r.secondMs).toBeGreaterThanOrEqual(190);
    expect(r.stats.error).toBe("ENETDOWN");
  });

  it("opens a TAP device, writes a frame to the kernel and reads its answer", () => {
    const r = scenario("tap");
    expect(r.name).toMatch(/^weirtap\d+$/);
    expect(r.emptyRead).toBe(0); // non-blocking: nothing waiting → 0
    expect(r.written).toBe(42);
    expect(r.reply).toEqual({ len: 42, toUs: true, senderMac: true, senderIp: "198.18.5.1", targetIp: "198.18.5.2" });
    expect(r.goneAfterClose).toBe(true);
  });
});
