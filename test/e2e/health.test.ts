// A health check (`health add … tcp`) run by the appliance over its data link:
// a stopped real server is taken out (weight 0) and traffic moves away; once it
// is back, it is put back in.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAN_RUN, IO_ENGINE, SKIP_REASON, rsAddr, startLab, until, type HttpManyResult, type Lab } from "./lib/index.js";
import { requireOrFail } from "../helpers/requires.js";

const VIP = "198.18.100.20";

describe.skipIf(requireOrFail(CAN_RUN && IO_ENGINE, SKIP_REASON))(`health checks (${!CAN_RUN ? SKIP_REASON : "waits for the I/O engine"})`, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab({
      vips: [VIP], rsVips: [], decap: false,
      config: [
        `ipvsadm -A -t ${VIP}:80 -s rr`,
        ...[0, 1, 2].map((i) => `ipvsadm -a -t ${VIP}:80 -r ${rsAddr(i)}:80 -m`),
        ...[0, 1, 2].map((i) => `health add -t ${VIP}:80 -r ${rsAddr(i)}:80 tcp interval 300ms timeout 250ms rise 1 fall 1`),
      ],
    });
  });

  afterAll(async () => {
    await lab?.close();
  });

  const weight = async (i: number) => {
    const l = await lab.appliance.ctl(`ipvsadm -L -n -t ${VIP}:80`);
    const m = new RegExp(`${rsAddr(i).replace(/\./g, "\\.")}:80\\s+Masq\\s+(\\d+)`).exec(l);
    return m ? Number(m[1]) : -1;
  };
  const many = (count: number) => lab.agent.call<HttpManyResult>("httpMany", { url: `http://${VIP}/`, count, timeoutMs: 3000, totalTimeoutMs: 30000 });

  it("all real servers are up and get traffic", async () => {
    await until("checks up", async () => (await Promise.all([0, 1, 2].map(weight))).every((w) => w === 1), 10000);
    const r = await many(9);
    expect(r).toMatchObject({ ok: 9, byServer: { rs1: 3, rs2: 3, rs3: 3 } });
  });

  it("a stopped real server is taken out and traffic moves away", async () => {
    await lab.servers[1].stop();
    await until("rs2 at weight 0", async () => (await weight(1)) === 0, 10000);
    expect(await lab.appliance.ctl(`health show -t ${VIP}:80`)).toMatch(/down/i);
    const r = await many(12);
    expect(r).toMatchObject({ ok: 12, failed: 0 });
    expect(r.byServer.rs2).toBeUndefined();
    expect(r.byServer).toEqual({ rs1: 6, rs3: 6 });
  });

  it("it comes back when it answers again", async () => {
    await lab.restartServer(1);
    await until("rs2 back at weight 1", async () => (await weight(1)) === 1, 10000);
    const r = await many(9);
    expect(r.byServer.rs2).toBe(3);
  });
});
