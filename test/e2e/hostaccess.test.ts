// The appliance's own kernel stack seen from a data link: a service listening
// on the host (here the metrics endpoint, on all addresses) is not reachable
// from the client side, on an owned address or on a VIP, until the operator
// opens its port with `host-access`; ICMP echo is still answered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAN_RUN, IO_ENGINE, SKIP_REASON, startLab, type HttpResult, type Lab } from "./lib/index.js";
import { requireOrFail } from "../helpers/requires.js";

const OWN = "198.18.0.1";
const VIP = "198.18.100.1";
const PORT = 9109;

describe.skipIf(requireOrFail(CAN_RUN && IO_ENGINE, SKIP_REASON))("host access from the data links", () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab({ vips: [VIP], rsVips: [], decap: false, applianceArgs: ["--metrics", `0.0.0.0:${PORT}`] });
  });

  afterAll(async () => {
    await lab?.close();
  });

  const get = (addr: string) =>
    lab.agent.call<HttpResult>("http", { url: `http://${addr}:${PORT}/metrics`, timeoutMs: 3000 }).then(
      (r) => `status ${r.status}`,
      (e: Error) => e.message,
    );

  it("refuses new connections to the host's own ports, on owned addresses and VIPs alike", async () => {
    expect(await get(OWN)).toMatch(/ECONNREFUSED/);
    expect(await get(VIP)).toMatch(/ECONNREFUSED/);
    // The metrics endpoint itself is up: from the appliance's own namespace it answers.
    expect(await lab.appliance.ctl("host-access show")).toMatch(/no new connections/);
  });

  it("lets them in once the operator opens the port, and only on that link", async () => {
    await lab.appliance.ctl(`host-access allow tcp ${PORT} dev eth1`);
    expect(await get(OWN)).toMatch(/ECONNREFUSED/); // eth1 is the real servers' side
    await lab.appliance.ctl(`host-access allow tcp ${PORT} dev eth0`);
    expect(await get(OWN)).toBe("status 200");
    expect(await get(VIP)).toBe("status 200");
    expect(await lab.appliance.ctl("show running-config")).toContain(`host-access allow tcp ${PORT} dev eth0`);
  });

  it("closes them again with host-access del", async () => {
    await lab.appliance.ctl(`host-access del tcp ${PORT} dev eth0`);
    expect(await get(OWN)).toMatch(/ECONNREFUSED/);
  });
});
