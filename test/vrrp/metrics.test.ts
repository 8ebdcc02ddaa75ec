// VRRP's Prometheus families (src/metrics/prometheus.ts, from
// VrrpRuntime.metrics()): declared only with VRRP, one weir_vrrp_state series
// per state (1 for the current one), counters per instance and per link and
// refusal reason; clean under the independent parser and promtool.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import pino from "pino";
import { renderMetrics } from "../../src/metrics/prometheus.js";
import { makeAppliance } from "../helpers/appliance.js";
import { parseExposition } from "../metrics/lint.js";

const silent = pino({ level: "silent" });
const PROMTOOL = spawnSync("promtool", ["--version"], { encoding: "utf8" }).status === 0;

const VRRP = {
  instances: [{
    name: "vi1", interface: "eth0", state: "MASTER", priority: 150, advertsSent: 12, advertsReceived: 3,
    priorityZeroSent: 1, priorityZeroReceived: 0, becameMaster: 2, transitions: 4,
  }],
  links: [{ dev: "eth0", rxFrames: 9, txFrames: 20, txFailures: 1, rejected: { bad_ttl: 2, unknown_vrid: 4 } }],
};

describe("VRRP metric families", () => {
  it("are absent without VRRP, and with it give the state, adverts, transitions and refusals by reason", async (ctx) => {
    const a = await makeAppliance();
    expect(renderMetrics({ dp: a.dp, targets: () => [], log: silent })).not.toMatch(/weir_vrrp_/);
    const t = renderMetrics({ dp: a.dp, targets: () => [], log: silent, vrrp: () => VRRP });
    const p = parseExposition(t);
    expect(p.problems).toEqual([]);
    const values = (name: string) => p.families.get(name)!.samples.map((s) => [s.labels, s.value]);
    expect(values("weir_vrrp_state")).toEqual(["INIT", "BACKUP", "MASTER", "FAULT"].map((state) => [{ instance: "vi1", interface: "eth0", state }, state === "MASTER" ? 1 : 0]));
    expect(values("weir_vrrp_priority")).toEqual([[{ instance: "vi1", interface: "eth0" }, 150]]);
    expect(values("weir_vrrp_adverts_sent_total")).toEqual([[{ instance: "vi1", interface: "eth0" }, 12]]);
    expect(values("weir_vrrp_adverts_received_total")).toEqual([[{ instance: "vi1", interface: "eth0" }, 3]]);
    expect(values("weir_vrrp_priority_zero_total").map(([l, v]) => [(l as Record<string, string>).direction, v])).toEqual([["sent", 1], ["received", 0]]);
    expect(values("weir_vrrp_transitions_total")).toEqual([[{ instance: "vi1", interface: "eth0" }, 4]]);
    expect(values("weir_vrrp_became_master_total")).toEqual([[{ instance: "vi1", interface: "eth0" }, 2]]);
    expect(values("weir_vrrp_adverts_rejected_total")).toEqual([[{ interface: "eth0", reason: "bad_ttl" }, 2], [{ interface: "eth0", reason: "unknown_vrid" }, 4]]);
    expect(values("weir_vrrp_link_frames_total").map(([l, v]) => [(l as Record<string, string>).event, v])).toEqual([["rx", 9], ["tx", 20], ["tx_failed", 1]]);
    if (PROMTOOL) {
      const r = spawnSync("promtool", ["check", "metrics"], { input: t, encoding: "utf8" });
      expect({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, output: "" });
    } else ctx.annotate("promtool is not on PATH; the parser checks still ran");
  });
});
