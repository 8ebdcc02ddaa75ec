// `weir run --workers 2`: two worker threads forward, each its share of the
// clients (a socket filter per worker, steered by client address and port).
// NAT must stay correct (both directions of a connection reach the worker
// that holds it), DR and TUN pass, persistence keeps a client on one real
// server, counters and the connection listing add up over the workers, and
// a worker that dies is restarted and traffic goes on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { CAN_RUN, IO_ENGINE, ROOT, SKIP_REASON, UDP_PORT, VIP, rsAddr, startLab, until, type HttpManyResult, type HttpResult, type Lab, type UdpResult } from "./lib/index.js";
import { requireOrFail } from "../helpers/requires.js";

const PERSIST = "198.18.100.11";

describe.skipIf(requireOrFail(CAN_RUN && IO_ENGINE, SKIP_REASON))(`two data-plane workers (${!CAN_RUN ? SKIP_REASON : "waits for the I/O engine"})`, () => {
  let lab: Lab;

  beforeAll(async () => {
    process.env.WEIR_TEST_HOOKS = "1";
    const add = (vip: string, flag: string) => [0, 1, 2].map((i) => `ipvsadm -a -t ${vip}:80 -r ${rsAddr(i)}:80 ${flag}`);
    lab = await startLab({
      vips: [...Object.values(VIP), PERSIST],
      applianceArgs: ["--workers", "2"],
      config: [
        `ipvsadm -A -t ${VIP.nat}:80 -s rr`, ...add(VIP.nat, "-m"),
        `ipvsadm -A -t ${VIP.dr}:80 -s rr`, ...add(VIP.dr, "-g"),
        `ipvsadm -A -t ${VIP.tun}:80 -s rr`, ...add(VIP.tun, "-i"),
      ],
    });
  });

  afterAll(async () => {
    delete process.env.WEIR_TEST_HOOKS;
    await lab?.close();
  });

  const many = (vip: string, count: number) =>
    lab.agent.call<HttpManyResult>("httpMany", { url: `http://${vip}/`, count, concurrency: 4, bodyBytes: 20000, timeoutMs: 5000, totalTimeoutMs: 60000 });
  const workers = async () => (await lab.appliance.ctl("show workers")).split("\n").map((l) => {
    const m = /^worker (\d+) (up|down) restarts (\d+) applied (\d+) frames_in (\d+)$/.exec(l);
    if (!m) throw new Error(`unexpected show workers line: ${l}`);
    return { up: m[2] === "up", restarts: Number(m[3]), framesIn: Number(m[5]) };
  });

  it("NAT: 60 connections from many client ports, every one answered and echoed byte for byte, over both workers", async () => {
    const r = await many(VIP.nat, 60);
    if (process.env.WEIR_DEBUG_WORKERS) console.log(JSON.stringify(r), await lab.appliance.ctl("show stats"), await lab.appliance.ctl("show workers"), lab.appliance.proc.stderr().slice(-6000));
    expect(r).toMatchObject({ ok: 60, failed: 0, echoMismatches: 0 });
    expect(Object.keys(r.byServer).sort()).toEqual(["rs1", "rs2", "rs3"]);
    // Each worker forwarded some of them (counters reach the supervisor once a second).
    const w = await until("both workers counted frames", async () => {
      const s = await workers();
      return s.every((x) => x.framesIn > 0) && s;
    }, 5000);
    expect(w.map((x) => x.up)).toEqual([true, true]);
  });

  it("a large upload and download on one NAT connection", async () => {
    const r = await lab.agent.call<HttpResult>("http", { url: `http://${VIP.nat}/`, bodyBytes: 400_000, timeoutMs: 10000 });
    expect(r).toMatchObject({ status: 200, echoOk: true });
  });

  it("UDP through a NAT service: 40 datagrams from new sockets, every answer echoed", async () => {
    await lab.appliance.ctlAll([`ipvsadm -A -u ${VIP.nat}:${UDP_PORT} -s rr`, ...[0, 1, 2].map((i) => `ipvsadm -a -u ${VIP.nat}:${UDP_PORT} -r ${rsAddr(i)}:${UDP_PORT} -m`)]);
    const r = await lab.agent.call<UdpResult>("udp", { host: VIP.nat, port: UDP_PORT, count: 40, timeoutMs: 2000 });
    expect(r).toMatchObject({ sent: 40, replies: 40, echoOk: 40 });
    expect(Object.keys(r.byServer).sort()).toEqual(["rs1", "rs2", "rs3"]);
  });

  it("DR and TUN through the workers", async () => {
    for (const vip of [VIP.dr, VIP.tun]) {
      const r = await many(vip, 12);
      expect(r, vip).toMatchObject({ ok: 12, failed: 0, echoMismatches: 0 });
    }
  });

  it("ipvsadm -L --stats adds the workers' counters; -Lc lists their connections", async () => {
    const open = await lab.agent.call<HttpResult>("http", { url: `http://${VIP.nat}/`, keepAlive: "w1", timeoutMs: 5000 });
    expect(open.status).toBe(200);
    await until("service counters from the workers", async () => {
      const text = await lab.appliance.ctl(`ipvsadm -L -n --stats -t ${VIP.nat}:80`);
      const m = new RegExp(`TCP\\s+${VIP.nat.replace(/\./g, "\\.")}:80\\s+(\\d+)`).exec(text);
      return m !== null && Number(m[1]) >= 61;
    }, 5000);
    const conns = await lab.appliance.ctl("ipvsadm -L -n -c");
    expect(conns).toMatch(new RegExp(`TCP\\s+\\S+\\s+ESTABLISHED\\s+198\\.18\\.0\\.10:${open.localPort}\\s+${VIP.nat.replace(/\./g, "\\.")}:80`));
    await lab.agent.call("close", { keepAlive: "w1" });
  });

  it("persistence: a service made persistent keeps every connection of the client on one real server", async () => {
    await lab.appliance.ctlAll([`ipvsadm -A -t ${PERSIST}:80 -s rr -p 60`, ...[0, 1, 2].map((i) => `ipvsadm -a -t ${PERSIST}:80 -r ${rsAddr(i)}:80 -m`)]);
    const r = await many(PERSIST, 20);
    expect(r.ok).toBe(20);
    expect(Object.keys(r.byServer)).toHaveLength(1);
    await lab.appliance.ctl(`ipvsadm -D -t ${PERSIST}:80`);
  });

  it("a large change (ipvsadm -R, 2,400 operations) streams to the workers in parts and is in force on both when the reply comes", async () => {
    const ports = Array.from({ length: 600 }, (_, i) => 2000 + i);
    const rules = ports.flatMap((p) => [`-A -t ${VIP.nat}:${p} -s rr`, ...[0, 1, 2].map((i) => `-a -t ${VIP.nat}:${p} -r ${rsAddr(i)}:80 -m`)]);
    execFileSync(process.execPath, [path.join(ROOT, "bin", "weir.js"), "ctl", "--ctl", lab.appliance.socketPath, "--", "ipvsadm", "-R"],
      { input: `${rules.join("\n")}\n`, timeout: 30000 });
    // Many client ports to the last service of the change: both workers must have it.
    const r = await lab.agent.call<HttpManyResult>("httpMany", { url: `http://${VIP.nat}:${ports[599]}/`, count: 24, concurrency: 4, timeoutMs: 5000, totalTimeoutMs: 30000 });
    expect(r).toMatchObject({ ok: 24, failed: 0 });
    await until("the 24 connections counted (24 client ports: both workers, but for a 1e-7 chance)", async () => {
      const m = new RegExp(`TCP\\s+${VIP.nat.replace(/\./g, "\\.")}:${ports[599]}\\s+(\\d+)`).exec(await lab.appliance.ctl(`ipvsadm -L -n --stats -t ${VIP.nat}:${ports[599]}`));
      return m !== null && Number(m[1]) === 24;
    }, 5000);
  });

  it("a worker that crashes is restarted and traffic goes on", async () => {
    await lab.appliance.ctl("debug crash-worker 1");
    if (process.env.WEIR_DEBUG_WORKERS) { await new Promise((r) => setTimeout(r, 2000)); console.log(lab.appliance.proc.stderr().slice(-5000)); }
    const w = await until("worker 1 restarted", async () => {
      const s = await workers();
      return s[1].restarts === 1 && s[1].up && s;
    }, 10000);
    expect(w[0]).toMatchObject({ up: true, restarts: 0 });
    const r = await many(VIP.nat, 30);
    expect(r).toMatchObject({ ok: 30, failed: 0, echoMismatches: 0 });
  });

  it("health checks pass through the workers to the host stack: a stopped real server goes to weight 0 and comes back", async () => {
    const weight = async () => {
      const m = new RegExp(`${rsAddr(1).replace(/\./g, "\\.")}:80\\s+Masq\\s+(\\d+)`).exec(await lab.appliance.ctl(`ipvsadm -L -n -t ${VIP.nat}:80`));
      return m ? Number(m[1]) : -1;
    };
    await lab.appliance.ctl(`health add -t ${VIP.nat}:80 -r ${rsAddr(1)}:80 tcp interval 300ms timeout 250ms rise 1 fall 1`);
    await lab.servers[1].stop();
    await until("rs2 at weight 0", async () => (await weight()) === 0, 10000);
    // Back up only if its SYN-ACKs reach the kernel: from rs2 through a worker to the TAP.
    await lab.restartServer(1);
    await until("rs2 back at weight 1", async () => (await weight()) === 1, 10000);
  });

  it("a link that disappears is detached by the workers and the supervisor; the others go on", async () => {
    const { lb } = lab.topo.ns;
    lab.topo.ip(lb, "link", "add", "wx0", "type", "veth", "peer", "name", "wx1");
    await lab.appliance.ctl("ip link set wx0 up");
    expect(lab.topo.exec(lb, ["nft", "list", "ruleset"])).toMatch(/device "wx0"/);
    lab.topo.ip(lb, "link", "del", "wx0");
    await until("wx0 detached", () => /"link went away: detaching it"[\s\S]*wx0|wx0[\s\S]*"link went away: detaching it"/.test(lab.appliance.proc.stderr())
      && !/device "wx0"/.test(lab.topo.exec(lb, ["nft", "list", "ruleset"])), 10000);
    const r = await many(VIP.nat, 20);
    expect(r).toMatchObject({ ok: 20, failed: 0 });
    expect((await workers()).map((w) => w.up)).toEqual([true, true]);
  });
});
