// Scheduling over real connections: rr and wrr distribution across three real
// servers, persistence (-p), and weight-0 drain (an established connection
// keeps its server, new ones avoid it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAN_RUN, IO_ENGINE, SKIP_REASON, VIP, rsAddr, startLab, type HttpManyResult, type HttpResult, type Lab } from "./lib/index.js";
import { requireOrFail } from "../helpers/requires.js";

const RR = "198.18.100.10";
const WRR = VIP.dr;
const PERSIST = "198.18.100.11";
const DRAIN = "198.18.100.12";

describe.skipIf(requireOrFail(CAN_RUN && IO_ENGINE, SKIP_REASON))(`scheduling (${!CAN_RUN ? SKIP_REASON : "waits for the I/O engine"})`, () => {
  let lab: Lab;

  beforeAll(async () => {
    const add = (vip: string, flag: string, weights = [1, 1, 1]) => weights.map((w, i) => `ipvsadm -a -t ${vip}:80 -r ${rsAddr(i)}:80 ${flag} -w ${w}`);
    lab = await startLab({
      vips: [RR, WRR, PERSIST, DRAIN],
      rsVips: [WRR],
      decap: false,
      config: [
        `ipvsadm -A -t ${RR}:80 -s rr`, ...add(RR, "-m"),
        `ipvsadm -A -t ${WRR}:80 -s wrr`, ...add(WRR, "-g", [3, 2, 1]),
        `ipvsadm -A -t ${PERSIST}:80 -s rr -p 60`, ...add(PERSIST, "-m"),
        `ipvsadm -A -t ${DRAIN}:80 -s rr`, ...add(DRAIN, "-m"),
      ],
    });
  });

  afterAll(async () => {
    await lab?.close();
  });

  const many = (vip: string, count: number) =>
    lab.agent.call<HttpManyResult>("httpMany", { url: `http://${vip}/`, count, concurrency: 1, timeoutMs: 5000, totalTimeoutMs: 60000 });

  it("rr: 30 new connections, 10 to each real server, in turn", async () => {
    const r = await many(RR, 30);
    expect(r).toMatchObject({ ok: 30, failed: 0, byServer: { rs1: 10, rs2: 10, rs3: 10 } });
    for (let i = 3; i < 30; i++) expect(r.sequence[i]).toBe(r.sequence[i - 3]);
    expect(new Set(r.sequence.slice(0, 3)).size).toBe(3);
  });

  it("wrr 3:2:1 (DR): 60 new connections split 30/20/10", async () => {
    const r = await many(WRR, 60);
    expect(r).toMatchObject({ ok: 60, failed: 0, byServer: { rs1: 30, rs2: 20, rs3: 10 } });
    // ip_vs_wrr.c: a new service has cw = 0 (dest_changed keeps it), so the first pass takes
    // every server; then cw runs 3, 2, 1: a | a, a b, a b c, … — i.e. a b c a a b repeating.
    expect(r.sequence.slice(0, 12).join(" ")).toBe("rs1 rs2 rs3 rs1 rs1 rs2 rs1 rs2 rs3 rs1 rs1 rs2");
  });

  it("persistence (-p 60): every connection from the client goes to one real server", async () => {
    const r = await many(PERSIST, 20);
    expect(r.ok).toBe(20);
    expect(Object.keys(r.byServer)).toHaveLength(1);
  });

  it("weight 0 drains: the open connection keeps its server, new connections avoid it", async () => {
    const first = await lab.agent.call<HttpResult>("http", { url: `http://${DRAIN}/`, keepAlive: "k1", timeoutMs: 5000 });
    const victim = first.server!;
    const i = Number(victim.slice(2)) - 1;
    await lab.appliance.ctl(`ipvsadm -e -t ${DRAIN}:80 -r ${rsAddr(i)}:80 -m -w 0`);
    const r = await many(DRAIN, 12);
    expect(r.ok).toBe(12);
    expect(r.byServer[victim]).toBeUndefined();
    const again = await lab.agent.call<HttpResult>("http", { url: `http://${DRAIN}/`, keepAlive: "k1", bodyBytes: 100000, timeoutMs: 5000 });
    expect(again).toMatchObject({ server: victim, localPort: first.localPort, echoOk: true });
    const listing = await lab.appliance.ctl(`ipvsadm -L -n -t ${DRAIN}:80`);
    expect(listing).toMatch(new RegExp(`${rsAddr(i).replace(/\./g, "\\.")}:80\\s+Masq\\s+0\\s+1`));
    await lab.agent.call("close", { keepAlive: "k1" });
  });
});
