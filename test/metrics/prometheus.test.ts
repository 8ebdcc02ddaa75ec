// The exposition: the writer's rules, a golden scrape of a real data plane,
// and the same text through an independent parser (./lint.ts) and, where it
// is installed, `promtool check metrics`.

import { describe, it, expect, beforeAll } from "vitest";
import { spawnSync } from "node:child_process";
import pino from "pino";
import { Exposition, renderMetrics, renderMetricsSliced, formatValue } from "../../src/metrics/prometheus.js";
import { Estimator, type Target } from "../../src/metrics/estimator.js";
import type { ServiceKey } from "../../src/dataplane/dataplane.js";
import { makeAppliance, type Appliance, CLIENT, CLIENT_MAC, LB0_MAC, LB1_MAC, RS, RS_MAC, VIP } from "../helpers/appliance.js";
import { tcp4Frame } from "../helpers/frames.js";
import { parseExposition } from "./lint.js";
import { requireOrFail } from "../helpers/requires.js";

const silent = pino({ level: "silent" });

const PROMTOOL = (() => {
  const r = spawnSync("promtool", ["--version"], { encoding: "utf8" });
  return r.status === 0;
})();
const NO_PROMTOOL = "promtool is not on PATH (Debian: apt-get install prometheus); the parser checks still ran";

function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe("Exposition writer", () => {
  it("escapes label values (\\ \" newline) and HELP text (\\ newline) so a reader gets them back", () => {
    const x = new Exposition();
    const nasty = 'a"b\\c\nd "quoted" \\n';
    x.declare("weir_test_total", "counter", "help with \\ backslash\nand a second line");
    x.add("weir_test_total", { value: nasty, empty: "" }, 1);
    const text = x.text();
    expect(text).toBe(
      "# HELP weir_test_total help with \\\\ backslash\\nand a second line\n" +
        "# TYPE weir_test_total counter\n" +
        'weir_test_total{value="a\\"b\\\\c\\nd \\"quoted\\" \\\\n",empty=""} 1\n',
    );
    const p = parseExposition(text);
    expect(p.problems).toEqual([]);
    expect(p.families.get("weir_test_total")?.samples[0].labels).toEqual({ value: nasty, empty: "" });
    expect(p.families.get("weir_test_total")?.help).toBe("help with \\ backslash\nand a second line");
  });

  it("promtool reads the escapes too", (ctx) => {
    ctx.skip(requireOrFail(PROMTOOL, NO_PROMTOOL), NO_PROMTOOL);
    const x = new Exposition();
    x.declare("weir_test_total", "counter", "help with \\ backslash\nand a second line");
    x.add("weir_test_total", { value: 'a"b\\c\nd', service: "udp/[2001:db8::1]:53" }, 2n ** 64n - 1n);
    expect(promtoolCheck(x.text())).toEqual({ status: 0, output: "" });
    // and the harness does see promtool's complaints
    expect(promtoolCheck("# TYPE weir_frames counter\nweir_frames 1\n").status).not.toBe(0);
  });

  it("writes values as Go floats parse them, u64 counters exactly", () => {
    expect(formatValue(0)).toBe("0");
    expect(formatValue(1.5)).toBe("1.5");
    expect(formatValue(NaN)).toBe("NaN");
    expect(formatValue(Infinity)).toBe("+Inf");
    expect(formatValue(-Infinity)).toBe("-Inf");
    expect(formatValue(2n ** 64n - 1n)).toBe("18446744073709551615");
    expect(formatValue(1e21)).toBe("1e+21");
  });

  it("refuses bad names, misnamed counters and gauges, duplicate families and duplicate series", () => {
    const x = new Exposition();
    expect(() => x.declare("9lives", "gauge", "h")).toThrow(expect.objectContaining({ code: "WEIR_ERR_METRIC_NAME" }));
    expect(() => x.declare("weir-dash", "gauge", "h")).toThrow(expect.objectContaining({ code: "WEIR_ERR_METRIC_NAME" }));
    expect(() => x.declare("weir_frames", "counter", "h")).toThrow(expect.objectContaining({ code: "WEIR_ERR_METRIC_NAME" }));
    expect(() => x.declare("weir_up_total", "gauge", "h")).toThrow(expect.objectContaining({ code: "WEIR_ERR_METRIC_NAME" }));
    x.declare("weir_a_total", "counter", "h");
    expect(() => x.declare("weir_a_total", "counter", "h")).toThrow(expect.objectContaining({ code: "WEIR_ERR_METRIC_DUPLICATE" }));
    x.add("weir_a_total", { x: "1", y: "2" }, 1);
    expect(() => x.add("weir_a_total", { y: "2", x: "1" }, 2)).toThrow(expect.objectContaining({ code: "WEIR_ERR_METRIC_DUPLICATE" }));
    expect(() => x.add("weir_a_total", { "bad-label": "1" }, 2)).toThrow(expect.objectContaining({ code: "WEIR_ERR_LABEL_NAME" }));
    expect(() => x.add("weir_a_total", { __name__: "1" }, 2)).toThrow(expect.objectContaining({ code: "WEIR_ERR_LABEL_NAME" }));
    expect(() => x.add("weir_b_total", {}, 2)).toThrow(expect.objectContaining({ code: "WEIR_ERR_METRIC_UNDECLARED" }));
  });

  it("the lint parser itself catches what it should", () => {
    const bad = [
      "# TYPE a_total counter\na_total 1\n", // no HELP
      "# HELP a x\n# TYPE a gauge\na 1", // no final newline
      '# HELP a x\n# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', // duplicate series
      '# HELP a x\n# TYPE a gauge\na{x="1"} 1\n# HELP b x\n# TYPE b gauge\nb 1\na{x="2"} 2\n', // split family
      '# HELP a x\n# TYPE a gauge\na{x="\\t"} 1\n', // bad escape
      "# HELP a x\n# TYPE a gauge\na one\n", // not a float
      "# HELP a x\n# TYPE a counter\na 1\n", // counter without _total
    ];
    for (const t of bad) expect(parseExposition(t).problems, JSON.stringify(t)).not.toEqual([]);
  });
});

describe("renderMetrics on a real data plane", () => {
  const SVC: ServiceKey = { proto: "tcp", addr: VIP, port: 80 };
  const DEST = { addr: RS[0], port: 8080, fwd: "nat" as const };
  const targets = (): Target[] => [{ service: SVC, dests: [DEST] }];
  let a: Appliance;
  let text: string;

  beforeAll(async () => {
    a = await makeAppliance(); // DataPlane.load({ debug: true }), the reference topology
    a.dp.transaction((tx) => {
      tx.addService(SVC, { scheduler: "rr" });
      tx.addDest(SVC, DEST);
    });
    const est = new Estimator({ source: a.dp, targets, log: silent });
    est.tick(0);
    const results = a.sendAll([
      // client SYN to the VIP: NATed to RS0:8080 (in: 1 packet, IPv4 20 + TCP 20 = 40 bytes, 1 connection)
      { link: 0, frame: tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: VIP, sport: 40001, dport: 80, flags: "S", seq: 1000 }) },
      // RS0's SYN-ACK back to the client (out: 1 packet, 40 bytes)
      { link: 1, frame: tcp4Frame({ ethSrc: RS_MAC[0], ethDst: LB1_MAC, src: RS[0], dst: CLIENT, sport: 8080, dport: 40001, flags: "SA", seq: 5000, ack: 1001 }) },
      // a port of the appliance's own address with no service: for the host stack
      { link: 0, frame: tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: LB0_MAC, src: CLIENT, dst: VIP, sport: 40002, dport: 81, flags: "S", seq: 1 }) },
      // another host's MAC: dropped
      { link: 0, frame: tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: "02:00:00:00:00:99", src: CLIENT, dst: VIP, sport: 40003, dport: 80, flags: "S", seq: 1 }) },
    ]);
    expect(results.map((r) => [r.verdict, a.reasonName(r.reason)])).toEqual([[1, "none"], [1, "none"], [2, "none"], [0, "not_our_mac"]]);
    est.tick(2000);
    text = renderMetrics({ dp: a.dp, targets, rates: est, health: (s, d) => (d.addr === RS[0] ? true : undefined), log: silent });
  });

  it("matches the golden text", () => {
    const S = 'service="tcp/198.18.100.1:80"';
    const D = `${S},real_server="198.19.0.11:8080",forward="nat"`;
    // One estimation after the frames (IPVS arithmetic, by hand):
    //   conns and packets: delta 1 → (1 << 9) >> 2 = 128 → (128 + 511) >> 10 = 0 per second
    //   bytes: delta 40 → (40 << 4) >> 2 = 160 → (160 + 15) >> 5 = 5 per second
    const drops = a.dp.dropReasons.map((r) => `weir_drops_total{reason="${r}"} ${r === "not_our_mac" ? 1 : 0}`).join("\n");
    expect(a.dp.dropReasons).toContain("not_our_mac");
    const golden = `# HELP weir_service_connections_total Connections scheduled by the virtual service (ipvsadm --stats Conns).
# TYPE weir_service_connections_total counter
weir_service_connections_total{${S}} 1
# HELP weir_service_packets_total Packets of the virtual service; direction in is client to real server, out is real server to client.
# TYPE weir_service_packets_total counter
weir_service_packets_total{${S},direction="in"} 1
weir_service_packets_total{${S},direction="out"} 1
# HELP weir_service_bytes_total Bytes of the virtual service, by direction.
# TYPE weir_service_bytes_total counter
weir_service_bytes_total{${S},direction="in"} 40
weir_service_bytes_total{${S},direction="out"} 40
# HELP weir_service_rate_connections_per_second Connections per second of the virtual service, IPVS's 2-second estimator (ipvsadm --rate CPS).
# TYPE weir_service_rate_connections_per_second gauge
weir_service_rate_connections_per_second{${S}} 0
# HELP weir_service_rate_packets_per_second Packets per second of the virtual service by direction, IPVS's 2-second estimator.
# TYPE weir_service_rate_packets_per_second gauge
weir_service_rate_packets_per_second{${S},direction="in"} 0
weir_service_rate_packets_per_second{${S},direction="out"} 0
# HELP weir_service_rate_bytes_per_second Bytes per second of the virtual service by direction, IPVS's 2-second estimator.
# TYPE weir_service_rate_bytes_per_second gauge
weir_service_rate_bytes_per_second{${S},direction="in"} 5
weir_service_rate_bytes_per_second{${S},direction="out"} 5
# HELP weir_real_server_connections_total Connections scheduled to the real server.
# TYPE weir_real_server_connections_total counter
weir_real_server_connections_total{${D}} 1
# HELP weir_real_server_packets_total Packets of the real server, by direction.
# TYPE weir_real_server_packets_total counter
weir_real_server_packets_total{${D},direction="in"} 1
weir_real_server_packets_total{${D},direction="out"} 1
# HELP weir_real_server_bytes_total Bytes of the real server, by direction.
# TYPE weir_real_server_bytes_total counter
weir_real_server_bytes_total{${D},direction="in"} 40
weir_real_server_bytes_total{${D},direction="out"} 40
# HELP weir_real_server_rate_connections_per_second Connections per second to the real server, IPVS's 2-second estimator.
# TYPE weir_real_server_rate_connections_per_second gauge
weir_real_server_rate_connections_per_second{${D}} 0
# HELP weir_real_server_rate_packets_per_second Packets per second of the real server by direction, IPVS's 2-second estimator.
# TYPE weir_real_server_rate_packets_per_second gauge
weir_real_server_rate_packets_per_second{${D},direction="in"} 0
weir_real_server_rate_packets_per_second{${D},direction="out"} 0
# HELP weir_real_server_rate_bytes_per_second Bytes per second of the real server by direction, IPVS's 2-second estimator.
# TYPE weir_real_server_rate_bytes_per_second gauge
weir_real_server_rate_bytes_per_second{${D},direction="in"} 5
weir_real_server_rate_bytes_per_second{${D},direction="out"} 5
# HELP weir_real_server_active_connections Active (established) connections to the real server (ipvsadm ActiveConn).
# TYPE weir_real_server_active_connections gauge
weir_real_server_active_connections{${D}} 0
# HELP weir_real_server_inactive_connections Inactive connections to the real server (ipvsadm InActConn).
# TYPE weir_real_server_inactive_connections gauge
weir_real_server_inactive_connections{${D}} 1
# HELP weir_real_server_persistent_connections Persistence templates pointing at the real server.
# TYPE weir_real_server_persistent_connections gauge
weir_real_server_persistent_connections{${D}} 0
# HELP weir_real_server_health_up 1 when the real server's health check passes, 0 when it fails; absent when it has no check.
# TYPE weir_real_server_health_up gauge
weir_real_server_health_up{${D}} 1
# HELP weir_drops_total Frames dropped by the data plane, by reason.
# TYPE weir_drops_total counter
${drops}
# HELP weir_batches_total Batches of frames processed by the data plane.
# TYPE weir_batches_total counter
weir_batches_total 1
# HELP weir_frames_total Frames processed by the data plane, by verdict: tx (forwarded), local (for the appliance), held (waiting for the next hop's MAC: sent or dropped later, see weir_drops_total{reason="neigh_unresolved"}), drop.
# TYPE weir_frames_total counter
weir_frames_total{verdict="tx"} 2
weir_frames_total{verdict="local"} 1
weir_frames_total{verdict="held"} 0
weir_frames_total{verdict="drop"} 1
# HELP weir_neighbour_queue_frames_total Frames held for their next hop's MAC, by event: queued, sent (after the answer), dropped_timeout, dropped_overflow, dropped_too_big, dropped_flushed, dropped_unsent.
# TYPE weir_neighbour_queue_frames_total counter
weir_neighbour_queue_frames_total{event="queued"} 0
weir_neighbour_queue_frames_total{event="sent"} 0
weir_neighbour_queue_frames_total{event="dropped_timeout"} 0
weir_neighbour_queue_frames_total{event="dropped_overflow"} 0
weir_neighbour_queue_frames_total{event="dropped_too_big"} 0
weir_neighbour_queue_frames_total{event="dropped_flushed"} 0
weir_neighbour_queue_frames_total{event="dropped_unsent"} 0
# HELP weir_neighbour_queue_held Frames waiting for their next hop's MAC now.
# TYPE weir_neighbour_queue_held gauge
weir_neighbour_queue_held 0
# HELP weir_connections Entries in the data plane's connection tables, by address family.
# TYPE weir_connections gauge
weir_connections{family="ipv4"} 1
weir_connections{family="ipv6"} 0
`;
    expect(text).toBe(golden);
  });

  it("parses clean: every line, HELP and TYPE for every family, valid names, no duplicates", () => {
    const p = parseExposition(text);
    expect(p.problems).toEqual([]);
    expect(p.families.size).toBe(22);
    for (const f of p.families.values()) {
      expect(f.name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
      expect(f.name.startsWith("weir_")).toBe(true);
      expect(["counter", "gauge"]).toContain(f.type);
      expect(f.help).toBeTruthy();
    }
  });

  it("promtool check metrics passes", (ctx) => {
    ctx.skip(requireOrFail(PROMTOOL, NO_PROMTOOL), NO_PROMTOOL);
    expect(promtoolCheck(text)).toEqual({ status: 0, output: "" });
  });

  describe("with IPv6 and fwmark services, health down, several real servers and repeated targets", () => {
  let t: string;
  beforeAll(() => {
    const v6: ServiceKey = { proto: "udp", addr: "2001:db8:100::1", port: 53 };
    const fwm: ServiceKey = { fwmark: 7 };
    a.dp.transaction((tx) => {
      tx.addService(v6, { scheduler: "wlc" });
      tx.addDest(v6, { addr: "2001:db8:1::11", port: 53, fwd: "dr" });
      tx.addDest(v6, { addr: "2001:db8:1::12", port: 5353, fwd: "nat" });
      tx.addService(fwm, { scheduler: "rr" });
      tx.addDest(fwm, { addr: RS[1], fwd: "tun" });
    });
    const many = (): Target[] => [
      { service: v6, dests: [{ addr: "2001:db8:1::11", port: 53, fwd: "dr" }, { addr: "2001:DB8:1::12", port: 5353, fwd: "nat" }] },
      { service: fwm, dests: [{ addr: RS[1], fwd: "tun" }, { addr: RS[1], port: 0, fwd: "tun" }] }, // one real server, twice
      { service: SVC, dests: [DEST] },
      { service: { proto: "tcp", addr: VIP, port: 80 }, dests: [DEST] }, // the same service again
      { service: { proto: "tcp", addr: VIP, port: 4444 }, dests: [DEST] }, // not in the data plane
    ];
    t = renderMetrics({ dp: a.dp, targets: many, health: () => false, log: silent });
  });

  it("parses clean, one series per service and real server", () => {
    const p = parseExposition(t);
    expect(p.problems).toEqual([]);
    const conns = p.families.get("weir_real_server_connections_total")!.samples.map((s) => s.labels);
    expect(conns).toEqual([
      { service: "udp/[2001:db8:100::1]:53", real_server: "[2001:db8:1::11]:53", forward: "dr" },
      { service: "udp/[2001:db8:100::1]:53", real_server: "[2001:db8:1::12]:5353", forward: "nat" },
      { service: "fwm/7", real_server: "198.19.0.12:0", forward: "tun" },
      { service: "tcp/198.18.100.1:80", real_server: "198.19.0.11:8080", forward: "nat" },
    ]);
    expect(p.families.get("weir_real_server_health_up")!.samples.map((s) => s.value)).toEqual([0, 0, 0, 0]);
    expect(p.families.get("weir_service_rate_bytes_per_second")!.samples).toEqual([]); // no estimator given
  });

  it("promtool check metrics passes", (ctx) => {
    ctx.skip(requireOrFail(PROMTOOL, NO_PROMTOOL), NO_PROMTOOL);
    expect(promtoolCheck(t)).toEqual({ status: 0, output: "" });
  });
  });
});

describe("data-plane workers", () => {
  it("declares the worker families only with workers, one series per worker, and stays clean", async (ctx) => {
    const a = await makeAppliance();
    const base = renderMetrics({ dp: a.dp, targets: () => [], log: silent });
    expect(base).not.toMatch(/weir_worker_/);
    const t = renderMetrics({
      dp: a.dp, targets: () => [], log: silent,
      workers: () => [{ index: 0, up: true, restarts: 0, framesIn: 12n }, { index: 1, up: false, restarts: 2, framesIn: 0n }],
    });
    const p = parseExposition(t);
    expect(p.problems).toEqual([]);
    expect(p.families.get("weir_worker_up")!.samples.map((s) => [s.labels.worker, s.value])).toEqual([["0", 1], ["1", 0]]);
    expect(p.families.get("weir_worker_restarts_total")!.samples.map((s) => s.value)).toEqual([0, 2]);
    expect(p.families.get("weir_worker_frames_total")!.samples.map((s) => s.value)).toEqual([12, 0]);
    if (PROMTOOL) expect(promtoolCheck(t)).toEqual({ status: 0, output: "" });
    else ctx.annotate(NO_PROMTOOL);
  });
});

describe("big configurations", () => {
  it("writes a family of 300 k series (spreading them into one push() overflowed the stack)", () => {
    const x = new Exposition(false);
    x.declare("weir_big_total", "counter", "h");
    for (let i = 0; i < 300_000; i++) x.add("weir_big_total", { i: String(i) }, i);
    const text = x.text();
    expect(text.split("\n").length).toBe(300_000 + 3);
    expect(text).toContain('weir_big_total{i="299999"} 299999');
  });

  it("renderMetricsSliced gives the event loop turns while it reads many real servers, and writes what renderMetrics writes", async () => {
    const a = await makeAppliance();
    const dests = Array.from({ length: 200 }, (_, i) => ({ addr: `198.19.${i >> 8}.${(i & 255) + 1}`, port: 80, fwd: "nat" as const }));
    const services: ServiceKey[] = Array.from({ length: 60 }, (_, s) => ({ proto: "tcp", addr: `198.18.120.${s}`, port: 80 }));
    a.dp.transaction((tx) => {
      for (const svc of services) {
        tx.addService(svc, { scheduler: "rr" });
        for (const d of dests) tx.addDest(svc, d);
      }
    });
    const targets = () => services.map((service) => ({ service, dests }));
    let turns = 0;
    const pause = { due: () => true, next: async () => { turns++; await new Promise((r) => setImmediate(r)); } };
    const sliced = await renderMetricsSliced({ dp: a.dp, targets, log: silent }, pause);
    expect(turns).toBe(60);
    expect(sliced).toBe(renderMetrics({ dp: a.dp, targets, log: silent }));
    expect(sliced.match(/^weir_real_server_connections_total\{/gm)?.length).toBe(60 * 200);
  });
});
