// B3 — forwarding rate of 64-byte frames through AF_PACKET on veth, one
// worker, drain method; B4 — the same with 2 workers vs 1 (bench/README.md).
//
// Per run, in a fresh topology (client ── appliance ── bridge ── rs1):
//   1. the forwarder under test runs in the appliance namespace: `weir run`
//      (UDP NAT service 198.18.100.1:5300 → 198.19.0.11:5300) or the C
//      baseline `bench/ref/bin/pkt fwd` (same RX/TX rings, same batch);
//   2. rs1 counts what arrives with `pkt sink` (its own kernel kept out by an
//      nftables ingress drop, as the appliance's is);
//   3. the forwarder is paused (SIGSTOP), `pkt blast` in the client
//      namespace puts a bounded burst of BURST frames (64 flows) into its RX
//      ring through a TX ring, the forwarder is resumed (SIGCONT);
//   4. rate = frames forwarded ÷ (last − first kernel RX timestamp at rs1).
// The ring holds RX_SLOTS frames; BURST stays below so nothing is dropped
// before the drain starts (checked: forwarded must be ≥ 99% of BURST).

import { sleep, withLab, buildTool, ensureNetTools, MAC, rsAddr, VIP, sh } from "./lib/net.js";
import { result, log } from "./lib/util.js";

const RX_SLOTS = 32768, RX_SLOT = 2048, TX_SLOTS = 256, TX_SLOT = 69632, BATCH = 256;
const BURST = 30000, FLOWS = 64;
const IO = { rxVersion: 2, rxSlots: RX_SLOTS, rxSlotSize: RX_SLOT, txSlots: TX_SLOTS, txSlotSize: TX_SLOT, batch: BATCH };

async function drainOnce(lab, pkt, which, workers = 1) {
  const { client, lb, rs } = lab.ns;
  let fwd, pid;
  if (which === "weir") {
    const app = await lab.startWeir({ env: { WEIR_IO_OPTIONS: JSON.stringify(IO) }, args: workers > 1 ? ["--workers", String(workers)] : [] });
    await lab.ctl(`ipvsadm -A -u ${VIP}:5300 -s rr`);
    await lab.ctl(`ipvsadm -a -u ${VIP}:5300 -r ${rsAddr(0)}:5300 -m`);
    pid = app.proc.pid;
  } else {
    lab.topo.ip(lb, "link", "set", "eth0", "up");
    lab.topo.ip(lb, "link", "set", "eth1", "up");
    lab.exec(lb, ["nft", "-f", "-"], { input: `table netdev wbdrop {\n chain in { type filter hook ingress device "eth0" priority 0; drop; }\n}\n` });
    fwd = await lab.start(lb, [pkt, "fwd", "eth0", "eth1", MAC.rs(0), rsAddr(0), String(RX_SLOTS), String(RX_SLOT), String(TX_SLOTS), String(TX_SLOT), String(BATCH)],
      { label: "pkt fwd", ready: "ready" });
    pid = fwd.pid;
  }
  try {
    // Warm-up: the bridge learns rs1's MAC (no flooding), neighbours resolved, first frames through.
    lab.exec(rs[0], ["ping", "-c", "1", "-W", "1", "198.19.0.10"]);
    await lab.run(client, [pkt, "blast", "c0", MAC.lbClient, "16", String(FLOWS)], { label: "warm-up blast" });
    await sleep(300);
    const sink = await lab.start(rs[0], [pkt, "sink", "eth0", String(BURST), "1500"], { label: "pkt sink", ready: "ready" });
    process.kill(pid, "SIGSTOP");
    let blast;
    try {
      blast = JSON.parse((await lab.run(client, [pkt, "blast", "c0", MAC.lbClient, String(BURST), String(FLOWS)], { label: "blast" })).trim());
      await sleep(100);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    const code = await Promise.race([sink.exited, sleep(20000).then(() => "timeout")]);
    if (code !== 0) { await sink.stop("SIGKILL"); throw new Error(`pkt sink: ${code}: ${sink.err}`); }
    const r = JSON.parse(sink.out.trim().split("\n").pop());
    if (blast.sent !== BURST) throw new Error(`blast sent ${blast.sent} of ${BURST}`);
    if (r.got < BURST * 0.99) throw new Error(`${which}: only ${r.got} of ${BURST} frames forwarded (ring too small or frames dropped)`);
    return { mpps: r.got / r.ms / 1000, got: r.got, ms: r.ms };
  } finally {
    if (which === "weir") await lab.stopWeir();
    else {
      await fwd.stop();
      lab.exec(lb, ["nft", "delete", "table", "netdev", "wbdrop"]);
      lab.topo.ip(lb, "link", "set", "eth0", "down");
      lab.topo.ip(lb, "link", "set", "eth1", "down");
    }
  }
}

/** Does `weir run` accept --workers 2? Returns null when it does, else its refusal. */
async function workersRefusal(lab) {
  const p = await lab.start(lab.ns.lb, [process.execPath, (await import("./lib/net.js")).WEIR_BIN, "run", "--workers", "2", "--ctl", `${lab.dir}/w2.sock`], { label: "weir run --workers 2" });
  const code = await Promise.race([p.exited, sleep(3000).then(() => "running")]);
  if (code === "running") { await p.stop(); return null; }
  return `exit ${code}: ${p.err.trim().split("\n").pop()}`;
}

export async function run({ runs, only = ["B3", "B4"] }) {
  ensureNetTools();
  const pkt = buildTool("pkt");
  return withLab({ realServers: 1 }, async (lab) => {
    // The real server's stack stays out of the way of the sink.
    lab.exec(lab.ns.rs[0], ["nft", "-f", "-"], { input: `table netdev wbsink {\n chain in { type filter hook ingress device "eth0" priority 0; udp dport 5300 drop; }\n}\n` });
    const out = [];
    if (only.includes("B3")) {
      const rr = [];
      for (let i = 0; i < runs; i++) {
        const w = await drainOnce(lab, pkt, "weir");
        const c = await drainOnce(lab, pkt, "c");
        log(`  B3 run ${i + 1}: weir ${w.mpps.toFixed(3)} Mpps (${w.got} frames in ${w.ms.toFixed(1)} ms), C ${c.mpps.toFixed(3)} Mpps (${c.got} in ${c.ms.toFixed(1)} ms)`);
        rr.push({ value: w.mpps, baseline: c.mpps });
      }
      out.push({ ...result("B3", `forwarding rate, 64-byte frames, 1 worker, drain of ${BURST} frames (ring ${RX_SLOTS} × ${RX_SLOT} B, batch ${BATCH}), vs C AF_PACKET forwarder (higher is better)`, "Mpps", rr, 3) });
    }
    if (only.includes("B4")) {
      const refusal = await workersRefusal(lab);
      if (refusal) {
        log(`  B4: not available: ${refusal}`);
        out.push({ id: "B4", name: "forwarding rate with 2 workers vs 1 worker (higher is better)", unit: "Mpps", value: null, baseline: null, ratio: null, runs: [],
          note: `not available: \`weir run --workers 2\` refuses (${refusal})` });
      } else {
        const rr = [];
        for (let i = 0; i < runs; i++) {
          const two = await drainOnce(lab, pkt, "weir", 2);
          const one = await drainOnce(lab, pkt, "weir", 1);
          log(`  B4 run ${i + 1}: 2 workers ${two.mpps.toFixed(3)} Mpps, 1 worker ${one.mpps.toFixed(3)} Mpps`);
          rr.push({ value: two.mpps, baseline: one.mpps });
        }
        out.push(result("B4", `forwarding rate with 2 workers, drain of ${BURST} frames, vs weir with 1 worker (higher is better)`, "Mpps", rr, 3));
      }
    }
    return out;
  });
}
