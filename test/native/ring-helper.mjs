// Runs one native-addon scenario inside a test network namespace and prints
// its result as JSON on stdout: `ip netns exec NS node ring-helper.mjs NAME '{"a":"…"}'`.
// Spawned by rings.test.ts; every loop here is bounded in count and time.
import { Worker } from "node:worker_threads";
import { execFileSync } from "node:child_process";
import * as native from "../../native/index.js";
import { RxRing, RxRingV2, TxRing, udpFrame, seqOf, equalBytes } from "./frames.mjs";

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => Atomics.wait(sleepCell, 0, 0, ms);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const MiB = 1 << 20;

function memory(shared, pages = 256) {
  const mem = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
  return { mem, view: new Uint8Array(mem.buffer) };
}

function errorOf(fn) {
  try {
    fn();
    return null;
  } catch (e) {
    return { code: e.code, message: e.message, syscall: e.syscall ?? null, errno: e.errno ?? null };
  }
}

/** Sends frames through `tx` in batches, one kick per batch; bounded by `deadline`. */
function sendAll(txRing, tx, frames, { batch = 64, vnets = null, deadline = now() + 5000 } = {}) {
  let sent = 0;
  let kicks = 0;
  while (sent < frames.length && now() < deadline) {
    let queued = 0;
    while (queued < batch && sent < frames.length && txRing.put(frames[sent], vnets?.[sent])) {
      sent++;
      queued++;
    }
    if (queued > 0) {
      native.kickTx(tx);
      kicks++;
    } else sleep(1);
  }
  return { sent, kicks };
}

/** Drains `rxRing` until `want` frames arrived or the deadline passes. */
function receive(rxRing, rx, want, onFrame, deadline = now() + 5000) {
  let got = 0;
  while (got < want && now() < deadline) {
    native.poll([rx], 50);
    got += rxRing.drain(onFrame);
  }
  return got;
}

const scenarios = {
  /** TX ring (Wasm memory) → veth → RX ring (Wasm memory), byte for byte. */
  txrx({ a, b, n = 500, vnet = false, shared = false, separate = false, version = 3 }) {
    const { view } = memory(shared);
    const rx = native.openRx(b, { version, blockSize: 1 << 16, blockCount: 32, frameSize: 2048, vnetHdr: vnet });
    const tx = native.openTx(a, { frameSize: 2048, frameCount: 256, vnetHdr: vnet });
    const txOffset = 4 * MiB;
    // Canaries just outside both rings must survive the mappings.
    const canaries = [txOffset - 1, 2 * MiB, txOffset + 512 * 1024, txOffset + 512 * 1024 + 4095];
    for (const c of canaries) view[c] = 0xa5;
    let rxView = view;
    let gr;
    if (separate) {
      gr = native.mapSeparate(rx);
      rxView = new Uint8Array(gr.buffer);
    } else gr = native.mapInto(rx, view, 0);
    const gt = native.mapInto(tx, view, txOffset);
    const rxRing = version === 3 ? new RxRing(rxView, gr) : new RxRingV2(rxView, gr);
    const txRing = new TxRing(view, gt);

    let rng = 12345;
    const rand = () => ((rng = (rng * 1103515245 + 12345) >>> 0) >>> 8);
    const frames = [];
    for (let i = 0; i < n; i++) frames.push(udpFrame(i, i === 0 ? 60 : i === 1 ? 1514 : 60 + (rand() % 1455)));

    const t0 = now();
    const { sent, kicks } = sendAll(txRing, tx, frames);
    const seen = new Map();
    const macOffsets = new Set();
    let statusUnion = 0;
    const vnetSeen = new Set();
    let order = [];
    const got = receive(rxRing, rx, n, (f, info) => {
      const s = seqOf(f);
      macOffsets.add(info.mac);
      statusUnion |= info.status;
      if (info.vnet) vnetSeen.add(Array.from(info.vnet).join(","));
      order.push(s);
      seen.set(s, { ok: s < n && equalBytes(f, frames[s]) && info.len === frames[s].length, len: f.length });
    });
    const elapsedMs = now() - t0;
    const matched = [...seen.values()].filter((v) => v.ok).length;
    const inOrder = order.every((s, i) => i === 0 || s > order[i - 1]);
    const st = native.stats(rx);
    const canariesIntact = canaries.every((c) => view[c] === 0xa5);
    native.close(rx);
    native.close(tx);
    // After close the Wasm memory is ordinary zeroed memory again.
    const afterClose = separate ? null : view[100] === 0 && view[txOffset + 100] === 0 && ((view[100] = 7), view[100] === 7);
    return {
      sent, kicks, received: got, matched, inOrder, elapsedMs, macOffsets: [...macOffsets], statusUnion,
      vnetHeaders: [...vnetSeen], stats: st, canariesIntact, afterClose,
      geometryRx: gr.buffer ? { ...gr, buffer: "ArrayBuffer(" + gr.buffer.byteLength + ")" } : gr, geometryTx: gt,
    };
  },

  /** Offloads through PACKET_VNET_HDR: partial checksum and a TCP GSO frame, V2 TX → V3 RX. */
  offload({ a, b }) {
    const { view } = memory(false);
    const rx = native.openRx(b, { blockSize: 1 << 17, blockCount: 8, frameSize: 2048, vnetHdr: true });
    const rxPlain = native.openRx(b, { blockSize: 1 << 17, blockCount: 8, frameSize: 2048 });
    const tx = native.openTx(a, { frameSize: 1 << 16, frameCount: 8, vnetHdr: true, loss: false });
    const gr = native.mapInto(rx, view, 0);
    const gp = native.mapInto(rxPlain, view, 1 * MiB);
    const gt = native.mapInto(tx, view, 2 * MiB);
    const txRing = new TxRing(view, gt);

    // 1. UDP with the checksum left to the device (NEEDS_CSUM): field holds the pseudo-header sum.
    const udp = udpFrame(1, 200);
    const pseudo = pseudoSum(udp, 17, 200 - 34);
    udp[40] = pseudo >> 8;
    udp[41] = pseudo & 0xff;
    const vUdp = vnetHdr({ flags: 1, csumStart: 34, csumOffset: 6 });
    // 2. A TCP frame of 3 × 1400 payload bytes with gso_size 1400 (TSO handed to the kernel).
    const tcp = tcpFrame(4200);
    const vTcp = vnetHdr({ flags: 1, gsoType: 1, hdrLen: 54, gsoSize: 1400, csumStart: 34, csumOffset: 16 });
    txRing.put(udp, vUdp);
    txRing.put(tcp, vTcp);
    const kicked = native.kickTx(tx);
    const out = [];
    receive(new RxRing(view, gr), rx, 2, (f, info) =>
      out.push({ len: f.length, wireLen: info.len, status: info.status, vnet: Array.from(info.vnet), same: equalBytes(f, f.length === 200 ? udp : tcp) }),
    );
    const plain = [];
    receive(new RxRing(view, gp), rxPlain, 2, (f, info) => plain.push({ len: f.length, status: info.status }));
    const txStatus = [0, 1].map((i) => new DataView(view.buffer).getUint32(gt.offset + i * gt.frameSize, true));
    for (const h of [rx, rxPlain, tx]) native.close(h);
    return { kicked, rx: out, plain, txStatus };
  },

  /** Two RX sockets in one fanout group split the traffic. */
  fanout({ a, b, mode = "hash", n = 400, linkLayer = false }) {
    const { view } = memory(false);
    const group = (process.pid & 0x7fff) + 1;
    const opts = { blockSize: 1 << 16, blockCount: 8, frameSize: 2048, fanoutGroup: group, fanoutMode: mode };
    if (mode === "cbpf") {
      // The program sees the frame from the network header (the Ethernet header is
      // already pulled): ldb [23] (low byte of the UDP destination port); and #1; ret a.
      // With linkLayer, the same byte is addressed from the Ethernet header via SKF_LL_OFF.
      const k = linkLayer ? (-0x200000 + 37) >>> 0 : 23;
      opts.cbpf = sockFilter([[0x30, 0, 0, k], [0x54, 0, 0, 1], [0x16, 0, 0, 0]]);
    }
    const rx0 = native.openRx(b, opts);
    const rx1 = native.openRx(b, opts);
    const tx = native.openTx(a, { frameSize: 2048, frameCount: 256 });
    const r0 = new RxRing(view, native.mapInto(rx0, view, 0));
    const r1 = new RxRing(view, native.mapInto(rx1, view, 1 * MiB));
    const txRing = new TxRing(view, native.mapInto(tx, view, 2 * MiB));
    const frames = [];
    for (let i = 0; i < n; i++) frames.push(udpFrame(i, 100, { sport: 30000 + (i % 100), dport: 7000 + (i % 2) }));
    sendAll(txRing, tx, frames);
    const counts = [0, 0];
    const parity = [new Set(), new Set()];
    const deadline = now() + 5000;
    while (counts[0] + counts[1] < n && now() < deadline) {
      native.poll([rx0, rx1], 50);
      counts[0] += r0.drain((f) => parity[0].add(f[37] & 1));
      counts[1] += r1.drain((f) => parity[1].add(f[37] & 1));
    }
    for (const h of [rx0, rx1, tx]) native.close(h);
    return { group, counts, parity: parity.map((s) => [...s]) };
  },

  /** poll blocks on an idle link (using no CPU) and wakes on traffic; pollAsync too. */
  async poll({ a, b }) {
    const { view } = memory(false);
    const rx = native.openRx(b, { blockSize: 1 << 16, blockCount: 4, frameSize: 2048 });
    const tx = native.openTx(a, { frameSize: 2048, frameCount: 16 });
    native.mapInto(rx, view, 0);
    const txRing = new TxRing(view, native.mapInto(tx, view, 1 * MiB));

    const cpu0 = process.cpuUsage();
    let t = now();
    const idle = native.poll([rx], 300);
    const idleMs = now() - t;
    const cpu = process.cpuUsage(cpu0);
    const idleCpuMs = (cpu.user + cpu.system) / 1000;

    t = now();
    const pending = native.pollAsync([rx], 3000);
    setTimeout(() => {
      txRing.put(udpFrame(1, 64));
      native.kickTx(tx);
    }, 100);
    const woke = await pending;
    const wokeMs = now() - t;
    const afterWake = native.poll([rx], 0);
    native.close(rx);
    native.close(tx);
    return { idle, idleMs, idleCpuMs, woke, wokeMs, rx, afterWake };
  },

  /** Statistics: a small ring that is not drained drops and freezes; it resumes when drained. */
  overflow({ a, b, n = 300 }) {
    const { view } = memory(false);
    const rx = native.openRx(b, { blockSize: 4096, blockCount: 2, frameSize: 2048 });
    const tx = native.openTx(a, { frameSize: 2048, frameCount: 256 });
    const rxRing = new RxRing(view, native.mapInto(rx, view, 0));
    const txRing = new TxRing(view, native.mapInto(tx, view, 1 * MiB));
    const frames = Array.from({ length: n }, (_, i) => udpFrame(i, 1000));
    sendAll(txRing, tx, frames);
    sleep(50);
    const full = native.stats(rx);
    let drained = rxRing.drain(() => {});
    const more = Array.from({ length: 3 }, (_, i) => udpFrame(1000 + i, 100));
    sendAll(txRing, tx, more);
    const late = [];
    receive(rxRing, rx, 3, (f) => late.push(seqOf(f)));
    const after = native.stats(rx);
    native.close(rx);
    native.close(tx);
    return { full, drained, late, after };
  },

  /** Shared Wasm memory: a worker maps the RX ring, the main thread reads it; waker; worker exit cleans up. */
  async shared({ a, b }) {
    const { mem, view } = memory(true);
    const tx = native.openTx(a, { frameSize: 2048, frameCount: 64 });
    const txRing = new TxRing(view, native.mapInto(tx, view, 4 * MiB));
    const waker = native.wakerOpen();
    const worker = new Worker(new URL("./ring-worker.mjs", import.meta.url), { workerData: { mem, b, waker } });
    const msg = (type) => new Promise((res, rej) => {
      const on = (m) => { if (m.type === type) { worker.off("message", on); res(m); } };
      worker.on("message", on);
      worker.once("error", rej);
    });
    const mapped = await msg("mapped");
    const rxRing = new RxRing(view, mapped.geometry);
    const frames = Array.from({ length: 50 }, (_, i) => udpFrame(i, 300));
    sendAll(txRing, tx, frames);
    let matched = 0;
    const deadline = now() + 5000;
    while (matched < 50 && now() < deadline) {
      sleep(5);
      rxRing.drain((f) => { if (equalBytes(f, frames[seqOf(f)])) matched++; });
    }
    // The worker now blocks in poll([waker], 5000); wake it from here.
    worker.postMessage({ type: "block" });
    await msg("blocking");
    sleep(100);
    native.wake(waker);
    const woke = await msg("woke");
    worker.postMessage({ type: "exit" });
    const exitCode = await new Promise((res) => worker.once("exit", res));
    // The worker's env cleanup closed its handle and put zero pages back.
    const closeAgain = errorOf(() => native.close(mapped.rx));
    const zeroed = view[0] === 0 && view[100] === 0;
    view[0] = 1;
    const writable = view[0] === 1;
    native.close(tx);
    native.close(waker);
    return { matched, wokeAfterMs: woke.elapsed, wokeResult: woke.ready, waker, exitCode, closeAgain, zeroed, writable };
  },

  /** A link deleted under an open RX socket: poll reports it once (no spinning), stats names ENETDOWN. */
  linkGone() {
    const ip = (...args) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
    ip("link", "add", "weirc0", "type", "veth", "peer", "name", "weird0");
    ip("link", "set", "weirc0", "up");
    ip("link", "set", "weird0", "up");
    const { view } = memory(false, 64);
    const rx = native.openRx("weird0", { blockSize: 4096, blockCount: 4, frameSize: 2048 });
    native.mapInto(rx, view, 0);
    const before = native.poll([rx], 0);
    ip("link", "del", "weirc0"); // takes weird0 with it
    const first = native.poll([rx], 1000);
    const t = now();
    const second = native.poll([rx], 200);
    const secondMs = now() - t;
    const st = native.stats(rx);
    native.close(rx);
    return { before, first, second, secondMs, stats: st, rx };
  },

  /** Error shapes. */
  errors({ a }) {
    const { view } = memory(false, 64);
    const out = {};
    out.linkUnknown = errorOf(() => native.linkInfo("weirnosuch0"));
    out.rxUnknown = errorOf(() => native.openRx("weirnosuch0", { blockSize: 4096, blockCount: 2, frameSize: 2048 }));
    out.badBlock = errorOf(() => native.openRx(a, { blockSize: 5000, blockCount: 2, frameSize: 2048 }));
    out.badTxFrame = errorOf(() => native.openTx(a, { frameSize: 3000, frameCount: 8 }));
    out.missingOpt = errorOf(() => native.openTx(a, { frameSize: 2048 }));
    const rx = native.openRx(a, { blockSize: 4096, blockCount: 4, frameSize: 2048 });
    out.badOffset = errorOf(() => native.mapInto(rx, view, 100));
    out.outside = errorOf(() => native.mapInto(rx, view, view.length - 4096));
    out.unaligned = errorOf(() => native.mapInto(rx, new Uint8Array(view.buffer, 8), 0));
    out.notUint8 = errorOf(() => native.mapInto(rx, new Uint32Array(view.buffer), 0));
    out.mapped = native.mapInto(rx, view, 0).size;
    out.twice = errorOf(() => native.mapInto(rx, view, 65536));
    out.kickRx = errorOf(() => native.kickTx(rx));
    const g = (process.pid & 0x7fff) + 7;
    const f1 = native.openRx(a, { blockSize: 4096, blockCount: 2, frameSize: 2048, fanoutGroup: g, fanoutMode: "hash" });
    out.fanoutMismatch = errorOf(() => native.openRx(a, { blockSize: 4096, blockCount: 2, frameSize: 2048, fanoutGroup: g, fanoutMode: "lb" }));
    out.badMode = errorOf(() => native.openRx(a, { blockSize: 4096, blockCount: 2, frameSize: 2048, fanoutGroup: g, fanoutMode: "nope" }));
    native.close(f1);
    native.close(rx);
    out.closeTwice = errorOf(() => native.close(rx));
    out.pollClosed = errorOf(() => native.poll([rx], 0));
    return out;
  },

  /** Without CAP_NET_RAW (run under setpriv): EPERM, named. */
  eperm({ a }) {
    return { rx: errorOf(() => native.openRx(a, { blockSize: 4096, blockCount: 2, frameSize: 2048 })), link: errorOf(() => native.linkInfo(a)) };
  },

  /** TAP: the kernel answers an ARP request written to the device. */
  tap() {
    const { handle, name } = native.tapOpen("weirtap%d");
    const ip = (...args) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
    ip("addr", "add", "198.18.5.1/24", "dev", name);
    ip("link", "set", name, "up");
    const buf = new Uint8Array(2048);
    // Anything the kernel sent on bring-up (none with IPv6 off) is drained first, bounded.
    let stale = 0;
    for (let i = 0; i < 100 && native.tapRead(handle, buf) > 0; i++) stale++;
    const emptyRead = native.tapRead(handle, buf);
    const mac = native.linkInfo(name).mac.split(":").map((h) => parseInt(h, 16));
    const me = [0x02, 0, 0, 0, 0x05, 0x02];
    const arp = new Uint8Array(42);
    arp.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
    arp.set(me, 6);
    arp.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], 12);
    arp.set(me, 22);
    arp.set([198, 18, 5, 2], 28);
    arp.set([198, 18, 5, 1], 38);
    const written = native.tapWrite(handle, arp);
    let reply = null;
    const deadline = now() + 3000;
    while (!reply && now() < deadline) {
      native.poll([handle], 100);
      for (let i = 0; i < 10; i++) {
        const n = native.tapRead(handle, buf);
        if (n === 0) break;
        if (buf[12] === 0x08 && buf[13] === 0x06 && buf[21] === 2) reply = buf.slice(0, n);
      }
    }
    const r = reply && {
      len: reply.length,
      toUs: equalBytes(reply.subarray(0, 6), me),
      senderMac: equalBytes(reply.subarray(22, 28), mac),
      senderIp: Array.from(reply.subarray(28, 32)).join("."),
      targetIp: Array.from(reply.subarray(38, 42)).join("."),
    };
    native.tapClose(handle);
    let goneAfterClose = false;
    try {
      ip("link", "show", name);
    } catch {
      goneAfterClose = true;
    }
    return { name, stale, emptyRead, written, reply: r, goneAfterClose };
  },
};

function sockFilter(insns) {
  const b = new Uint8Array(insns.length * 8);
  const dv = new DataView(b.buffer);
  insns.forEach(([code, jt, jf, k], i) => {
    dv.setUint16(i * 8, code, true);
    b[i * 8 + 2] = jt;
    b[i * 8 + 3] = jf;
    dv.setUint32(i * 8 + 4, k, true);
  });
  return b;
}

function vnetHdr({ flags = 0, gsoType = 0, hdrLen = 0, gsoSize = 0, csumStart = 0, csumOffset = 0 }) {
  const v = new Uint8Array(10);
  const dv = new DataView(v.buffer);
  v[0] = flags;
  v[1] = gsoType;
  dv.setUint16(2, hdrLen, true);
  dv.setUint16(4, gsoSize, true);
  dv.setUint16(6, csumStart, true);
  dv.setUint16(8, csumOffset, true);
  return v;
}

/** Folded (not complemented) IPv4 pseudo-header sum for a partial checksum. */
function pseudoSum(f, proto, l4len) {
  let s = 0;
  for (let i = 26; i < 34; i += 2) s += (f[i] << 8) | f[i + 1];
  s += proto + l4len;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function tcpFrame(payload) {
  const len = 54 + payload;
  const f = udpFrame(2, len);
  f[23] = 6; // protocol TCP
  // Recompute the IP header checksum for the new protocol.
  f[24] = f[25] = 0;
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += (f[i] << 8) | f[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  s = ~s & 0xffff;
  f[24] = s >> 8;
  f[25] = s & 0xff;
  const t = 34;
  f.fill(0, t, t + 20);
  f[t] = 0x9c; f[t + 1] = 0x40; // sport 40000
  f[t + 2] = 0x1b; f[t + 3] = 0x58; // dport 7000
  f[t + 7] = 1; // seq 1
  f[t + 12] = 0x50; // data offset 5
  f[t + 13] = 0x18; // PSH|ACK
  f[t + 14] = 0xff; f[t + 15] = 0xff; // window
  for (let i = 54; i < len; i++) f[i] = i & 0xff;
  const p = pseudoSum(f, 6, len - 34);
  f[t + 16] = p >> 8;
  f[t + 17] = p & 0xff;
  return f;
}

const [name, json] = process.argv.slice(2);
const fn = scenarios[name];
if (!fn) {
  console.error(`unknown scenario ${name}; one of ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
try {
  const result = await fn(JSON.parse(json ?? "{}"));
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
} catch (e) {
  process.stdout.write(JSON.stringify({ thrown: { code: e.code, message: e.message, stack: e.stack } }) + "\n");
  process.exit(1);
}
