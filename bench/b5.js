// B5 — requests/s through a NAT service to 2 real servers (nginx-light), wrk
// with `Connection: close` and keep-alive, against HAProxy (TCP mode), nftables
// DNAT (the appliance namespace's kernel) and the first real server direct;
// B6 — added latency p50/p99 at 10% and 80% of Weir's own close-connection
// maximum (B5's median), with the open-loop client bench/ref/paced.c, vs the
// real server direct at the same rate (bench/README.md).
//
// One topology (client, appliance, bridge, rs1, rs2) for all of it. Each B5
// run measures every system once, in turn (weir, haproxy, nft, direct), so
// the machine's noise spreads over all of them.

import { sleep, withLab, buildTool, ensureNetTools, rsAddr, VIP, med } from "./lib/net.js";
import { result, log } from "./lib/util.js";

const SECONDS = 5, CONNS = 50;
const PACED_SECONDS = 3;

async function b5Run(lab, url) {
  const one = async (label, u) => {
    const close = await lab.wrk(u, { close: true, conns: CONNS, seconds: SECONDS });
    const ka = await lab.wrk(u, { close: false, conns: CONNS, seconds: SECONDS });
    for (const [m, r] of [["close", close], ["keep-alive", ka]]) {
      if (r.errors || r.non2xx) log(`  ${label} ${m}: ${r.errors} socket errors, ${r.non2xx} non-2xx`);
    }
    log(`  ${label}: close ${Math.round(close.rps)} req/s, keep-alive ${Math.round(ka.rps)} req/s`);
    return { close: close.rps, ka: ka.rps };
  };
  await lab.startWeir();
  await lab.weirService(2, "-m");
  const weir = await one("weir NAT", url);
  await lab.stopWeir();
  const hp = await lab.startHaproxy(2);
  const haproxy = await one("haproxy", url);
  await hp.stop();
  lab.nftDnat(2);
  const nft = await one("nft DNAT", url);
  lab.stopKernelLb();
  const direct = await one("direct rs1", `http://${rsAddr(0)}/`);
  return { weir, haproxy, nft, direct };
}

async function paced(lab, bin, addr, rate) {
  const out = await lab.run(lab.ns.client, [bin, addr, "80", String(Math.round(rate)), String(PACED_SECONDS * 1000), "1024"], { timeoutMs: (PACED_SECONDS + 10) * 1000, label: "paced" });
  return JSON.parse(out.trim().split("\n").pop());
}

export async function run({ runs, only = ["B5", "B6"] }) {
  ensureNetTools();
  const pacedBin = buildTool("paced");
  return withLab({ realServers: 2 }, async (lab) => {
    await lab.startNginx();
    const url = `http://${VIP}/`;
    const out = [];
    const rr = [];
    for (let i = 0; i < runs; i++) {
      log(`  B5 run ${i + 1}/${runs}`);
      rr.push(await b5Run(lab, url));
    }
    const row = (mode, base, label) => result("B5", `requests/s, NAT to 2 real servers, ${mode === "close" ? "Connection: close" : "keep-alive"}, vs ${label} (higher is better)`, "req/s",
      rr.map((r) => ({ value: r.weir[mode], baseline: r[base][mode] })), 0);
    for (const mode of ["close", "ka"]) {
      out.push(row(mode, "haproxy", "HAProxy TCP mode"));
      out.push(row(mode, "nft", "nftables DNAT (kernel)"));
      out.push(row(mode, "direct", "rs1 direct (no balancer, 1 server)"));
    }
    if (!only.includes("B6")) return out;

    const max = med(rr.map((r) => r.weir.close));
    await lab.startWeir();
    await lab.weirService(2, "-m");
    for (const share of [0.1, 0.8]) {
      const rate = max * share;
      const w = [], d = [];
      for (let i = 0; i < runs; i++) {
        const a = await paced(lab, pacedBin, VIP, rate);
        const b = await paced(lab, pacedBin, rsAddr(0), rate);
        log(`  B6 ${share * 100}% (${Math.round(rate)} req/s) run ${i + 1}: weir p50 ${a.p50us} p99 ${a.p99us} µs (${a.n}/${a.due}, ${a.errors} errors, ${Math.round(a.rate)}/s); direct p50 ${b.p50us} p99 ${b.p99us} µs (${b.n}/${b.due}, ${b.errors} errors)`);
        w.push(a);
        d.push(b);
      }
      for (const q of ["p50", "p99"]) {
        const r = result("B6", `latency ${q} (connect + request + response) at ${share * 100}% of Weir's close max (${Math.round(rate)} req/s), NAT vs rs1 direct (lower is better)`, "µs",
          w.map((x, i) => ({ value: x[`${q}us`], baseline: d[i][`${q}us`] })), 1);
        const added = r.value - r.baseline;
        const errs = w.reduce((s, x) => s + x.errors + (x.due - x.n), 0);
        r.added = Number(added.toFixed(1));
        r.note = `added ${q} ${added.toFixed(1)} µs${share === 0.1 && q === "p99" ? ` (target ≤ 100 µs: ${added <= 100 ? "met" : "missed"})` : ""}; ${errs} requests failed or unfinished through Weir`;
        out.push(r);
      }
    }
    await lab.stopWeir();
    return out;
  });
}
