// The packet I/O families (weir_link_*): declared when the source has packet
// I/O, one series per attached link and event, and lint-clean.
import { describe, it, expect } from "vitest";
import { renderMetrics } from "../../src/metrics/prometheus.js";
import { makeAppliance } from "../helpers/appliance.js";
import { parseExposition } from "./lint.js";

describe("link metrics", () => {
  it("are absent without packet I/O and present, lint-clean, with it", async () => {
    const a = await makeAppliance();
    const base = { dp: a.dp, targets: () => [] };
    expect(renderMetrics(base)).not.toMatch(/weir_link_/);
    const text = renderMetrics({
      ...base,
      links: () => [{
        dev: "eth0", ringDrops: 3, ringFreezes: 1, tapDrops: 2,
        counters: { rx_frames: 10n, rx_bytes: 1000n, tx_frames: 9n, tx_bytes: 900n, tx_ring_full: 1n, local_frames: 4n },
      }],
    });
    const p = parseExposition(text);
    expect(p.problems).toEqual([]);
    expect(text).toContain('weir_link_frames_total{link="eth0",event="rx"} 10');
    expect(text).toContain('weir_link_frames_total{link="eth0",event="tx_ring_full"} 1');
    expect(text).toContain('weir_link_frames_total{link="eth0",event="tap_full"} 2');
    expect(text).toContain('weir_link_bytes_total{link="eth0",direction="tx"} 900');
    expect(text).toContain('weir_link_ring_drops_total{link="eth0"} 3');
    expect(text).toContain('weir_link_ring_freezes_total{link="eth0"} 1');
  });
});
