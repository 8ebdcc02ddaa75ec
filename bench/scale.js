// SCALE — the seed claim of LVS: an application-level proxy saturates after a
// few real servers while IP-level balancing keeps scaling. Requests/s
// (wrk, Connection: close) against 1…N real servers (nginx-light) for Weir
// NAT, Weir DR and HAProxy (TCP mode), written as rows of latest.md and as
// the plot bench/results/scaling.svg (bench/lib/svg.js).
//
// On this 2-core machine the client (wrk), the balancer and every real server
// share the same two cores, so adding a real server adds no CPU: the plot
// shows how much of the shared CPU each balancer leaves to the servers, not
// how capacity grows with servers (bench/README.md).

import path from "node:path";
import { writeFileSync, mkdirSync } from "node:fs";
import { withLab, ensureNetTools, VIP, VIP_DR, med, rsAddr } from "./lib/net.js";
import { result, log, BENCH } from "./lib/util.js";
import { lineChart } from "./lib/svg.js";

export const MAX_RS = 4;
const SECONDS = 3, CONNS = 64;

export async function run({ runs }) {
  ensureNetTools();
  return withLab({ realServers: MAX_RS }, async (lab) => {
    await lab.startNginx();
    const data = { nat: [], dr: [], haproxy: [] }; // [n-1][run]
    for (const k of Object.keys(data)) for (let n = 1; n <= MAX_RS; n++) data[k].push([]);
    const w = async (k, n, url) => {
      const r = await lab.wrk(url, { close: true, conns: CONNS, seconds: SECONDS });
      if (r.errors || r.non2xx) log(`  ${k} n=${n}: ${r.errors} socket errors, ${r.non2xx} non-2xx`);
      data[k][n - 1].push(r.rps);
      return Math.round(r.rps);
    };
    for (let i = 0; i < runs; i++) {
      // A fresh appliance per run; services grow by one real server per step
      // (no `ipvsadm -C` between steps: see bench/README.md on stale connections).
      await lab.startWeir();
      await lab.ctl(`ipvsadm -A -t ${VIP}:80 -s rr`);
      await lab.ctl(`ipvsadm -A -t ${VIP_DR}:80 -s rr`);
      const line = [];
      for (let n = 1; n <= MAX_RS; n++) {
        await lab.ctl(`ipvsadm -a -t ${VIP}:80 -r ${rsAddr(n - 1)}:80 -m`);
        lab.rsVip(n - 1, VIP_DR);
        await lab.ctl(`ipvsadm -a -t ${VIP_DR}:80 -r ${rsAddr(n - 1)}:80 -g`);
        for (let k = 0; k < 3; k++) { await lab.waitHttp(VIP, 80); await lab.waitHttp(VIP_DR, 80); }
        line.push(`nat${n} ${await w("nat", n, `http://${VIP}/`)}`);
        line.push(`dr${n} ${await w("dr", n, `http://${VIP_DR}/`)}`);
      }
      await lab.stopWeir();
      for (let n = 1; n <= MAX_RS; n++) {
        const hp = await lab.startHaproxy(n);
        line.push(`haproxy${n} ${await w("haproxy", n, `http://${VIP}/`)}`);
        await hp.stop();
      }
      lab.stopKernelLb();
      log(`  SCALE run ${i + 1}: ${line.join(", ")}`);
    }
    const out = [];
    for (let n = 1; n <= MAX_RS; n++) {
      for (const [k, label] of [["nat", "Weir NAT"], ["dr", "Weir DR"]]) {
        out.push(result("SCALE", `requests/s, Connection: close, ${label}, ${n} real server${n > 1 ? "s" : ""}, vs HAProxy TCP mode with as many (higher is better)`, "req/s",
          data[k][n - 1].map((v, j) => ({ value: v, baseline: data.haproxy[n - 1][j] })), 0));
      }
    }
    const dir = path.join(BENCH, "results");
    mkdirSync(dir, { recursive: true });
    const ns = Array.from({ length: MAX_RS }, (_, i) => i + 1);
    const series = [["Weir NAT", "nat", "#1f77b4"], ["Weir DR", "dr", "#2ca02c"], ["HAProxy (TCP mode)", "haproxy", "#d62728"]].map(([name, k, color]) => ({
      name, color, points: ns.map((n) => {
        const v = data[k][n - 1];
        return { x: n, y: med(v), lo: Math.min(...v), hi: Math.max(...v) };
      }),
    }));
    writeFileSync(path.join(dir, "scaling.svg"), lineChart({
      title: "Requests/s vs real servers (wrk, Connection: close, nginx real servers)",
      subtitle: `median of ${runs} runs of ${SECONDS} s (bars: min–max); client, balancer and servers share 2 cores`,
      xLabel: "real servers", yLabel: "requests/s", xs: ns, series,
    }));
    log(`  wrote ${path.join(dir, "scaling.svg")}`);
    return out;
  });
}
