// The live statistics the web console's panel shows: per service and real
// server, connections, rates and health, from the model, the data plane's
// counters and the rate estimator.

import type { ConfigModel } from "../config/model.js";
import type { RateSource } from "../console/env.js";
import type { StatsSnapshot } from "../console/transport/ws.js";

const FORWARD = { nat: "Masq", dr: "Route", tun: "Tunnel" } as const;

export function statsSnapshot(model: ConfigModel, rates: RateSource): StatsSnapshot {
  const dp = model.dp;
  return {
    services: model.services().map((s) => {
      const c = dp.serviceStats(s.dpKey);
      const r = rates.rates(s.dpKey);
      return {
        service: s.label,
        scheduler: s.scheduler,
        conns: Number(c.conns),
        cps: r.cps, inPps: r.inpps, outPps: r.outpps, inBps: r.inbps, outBps: r.outbps,
        reals: s.dests.map((d) => {
          const dest = { addr: d.addr, port: d.port, fwd: d.fwd };
          let counters: ReturnType<typeof dp.destStats> | undefined;
          try { counters = dp.destStats(s.dpKey, dest); } catch { counters = undefined; } // removed while down
          const dr = rates.rates(s.dpKey, dest);
          return {
            address: d.key,
            forward: FORWARD[d.fwd],
            weight: d.effectiveWeight,
            health: d.health,
            activeConns: counters?.activeconns ?? 0,
            inactiveConns: counters?.inactconns ?? 0,
            conns: counters ? Number(counters.conns) : 0,
            cps: dr.cps, inPps: dr.inpps, outPps: dr.outpps, inBps: dr.inbps, outBps: dr.outbps,
          };
        }),
      };
    }),
  };
}
