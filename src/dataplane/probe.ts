// Resolving real servers' MAC addresses ahead of traffic. The data plane
// drops a packet whose next hop is unresolved (and solicits it), so without
// this the first connection to a real server would wait for a TCP
// retransmission. Every tick, the prober asks the data plane to solicit the
// next hop of each configured real server whose MAC is unknown (the data
// plane rate-limits solicitations per neighbour, and answers from its table
// when the MAC is known), then kicks the links that got a solicitation.

import type { DataPlaneApi } from "./dataplane.js";

export interface ProberOptions {
  dp: Pick<DataPlaneApi, "probeNeighbour">;
  /** Addresses to keep resolved (real servers). */
  targets: () => string[];
  /** Sends what the data plane queued on a link's TX ring. */
  kick: (linkId: number) => void;
  now: () => number;
  intervalMs?: number;
  /** Addresses probed per tick at most (round robin over the list). */
  perTick?: number;
}

export class NeighbourProber {
  private timer?: NodeJS.Timeout;
  private cursor = 0;

  constructor(private readonly o: ProberOptions) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.o.intervalMs ?? 1000);
    this.timer.unref();
    this.tick();
  }

  stop(): void { if (this.timer) clearInterval(this.timer); }

  /** Probes up to perTick targets; returns how many solicitations went out. */
  tick(): number {
    const list = this.o.targets();
    if (list.length === 0) return 0;
    const n = Math.min(list.length, this.o.perTick ?? 1024);
    const kicked = new Set<number>();
    for (let k = 0; k < n; k++) {
      const addr = list[(this.cursor + k) % list.length];
      const link = this.o.dp.probeNeighbour(addr, this.o.now());
      if (link >= 0) kicked.add(link);
    }
    this.cursor = (this.cursor + n) % list.length;
    for (const id of kicked) this.o.kick(id);
    return kicked.size;
  }
}
