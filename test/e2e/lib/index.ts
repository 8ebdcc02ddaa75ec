// The namespace-test library: the reference topology (src/demo/topology.ts,
// shared with `weir demo`), the appliance in its namespace, the real servers,
// decapsulators and the client agent, plus the lab fixture the e2e files use.
// The helper programs run from dist/ (npm ci builds it; setup.ts rebuilds it
// when src/ is newer).

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Topology, rsAddr, type TopologyOptions } from "../../../src/demo/topology.js";
import { Appliance } from "../../../src/demo/appliance.js";
import { AgentClient, type NsProcess } from "../../../src/demo/procs.js";
import { haveCommand } from "../../../src/demo/sys.js";

export * from "../../../src/demo/topology.js";
export { Appliance, parseStats, ctlLine, type ServiceStats } from "../../../src/demo/appliance.js";
export { AgentClient, spawnReady, type NsProcess } from "../../../src/demo/procs.js";
export { run, tryRun, alive, sleepSync, pidsWithArg } from "../../../src/demo/sys.js";
export type { HttpResult, HttpManyResult, UdpResult } from "../../../src/demo/agent.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const script = (name: string) => path.join(ROOT, "dist", "demo", `${name}.js`);

/** Namespace tests need root (namespaces, veths, AF_PACKET) and the ip and nft tools. */
export const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;
export const CAN_RUN = IS_ROOT && haveCommand("ip") && haveCommand("nft");
export const SKIP_REASON = "namespace tests need root and the ip/nft tools";
/** The I/O engine (`weir run` attaching links): the appliance tests wait for it (WEIR_E2E_FORCE=1 runs them anyway). */
export const IO_ENGINE = existsSync(path.join(ROOT, "src", "dataplane", "io.ts")) || process.env.WEIR_E2E_FORCE === "1";
/** WEIR_E2E_OFFLOADS=off runs every namespace test with offloads off (forwarding.test.ts does both anyway). */
export const OFFLOADS_DEFAULT = process.env.WEIR_E2E_OFFLOADS !== "off";

export const VIP = { nat: "198.18.100.1", dr: "198.18.100.2", tun: "198.18.100.3" } as const;
export const UDP_PORT = 5300;

export interface Lab {
  topo: Topology;
  appliance: Appliance;
  agent: AgentClient;
  servers: NsProcess[];
  decaps: NsProcess[];
  /** Restarts real server i's HTTP/UDP server (after a test stopped it). */
  restartServer(i: number): Promise<NsProcess>;
  /** Stops everything, removes the topology and proves nothing is left. */
  close(): Promise<void>;
}

export interface LabOptions extends TopologyOptions {
  /** VIPs the real servers hold on lo (DR/TUN); default the DR and TUN VIPs. */
  rsVips?: string[];
  /** Console lines after the links and addresses are set. */
  config?: string[];
  /** VIPs the appliance owns on its client link (default the three VIPs). */
  vips?: string[];
  decap?: boolean;
  /** Extra `weir run` arguments (e.g. --workers 2). */
  applianceArgs?: string[];
}

/** Links and addresses of the appliance in the reference topology. */
export function baseConfig(vips: string[]): string[] {
  return [
    "ip link set eth0 up",
    "ip link set eth1 up",
    "ip addr add 198.18.0.1/24 dev eth0",
    ...vips.map((v) => `ip addr add ${v}/32 dev eth0`),
    "ip addr add 198.19.0.1/24 dev eth1",
  ];
}

function serverArgs(i: number, rsVips: string[]): string[] {
  return ["--name", `rs${i + 1}`, "--http-port", "80", "--udp-port", String(UDP_PORT), "--udp-addr", [rsAddr(i), ...rsVips].join(",")];
}

/** The whole lab: topology, real servers (+ decapsulators), `weir run` configured, a client agent. */
export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const rsVips = opts.rsVips ?? [VIP.dr, VIP.tun];
  const topo = Topology.create({ offloads: OFFLOADS_DEFAULT ? undefined : false, ...opts });
  const servers: NsProcess[] = [];
  const decaps: NsProcess[] = [];
  try {
    for (const v of rsVips) topo.addRsVip(v);
    for (const [i, ns] of topo.ns.rs.entries()) {
      servers.push(await topo.spawnScript(ns, script("servers"), serverArgs(i, rsVips), { label: `servers rs${i + 1}` }));
      if (opts.decap !== false) decaps.push(await topo.spawnScript(ns, script("decap"), ["--dev", "eth0", "--addr", rsAddr(i)], { label: `decap rs${i + 1}` }));
    }
    const appliance = await Appliance.start(topo, { args: opts.applianceArgs });
    await appliance.ctlAll([...baseConfig(opts.vips ?? Object.values(VIP)), ...(opts.config ?? [])]);
    const agent = new AgentClient(await topo.spawnScript(topo.ns.client, script("agent"), [], { label: "client agent" }));
    return {
      topo, appliance, agent, servers, decaps,
      async restartServer(i) {
        const p = await topo.spawnScript(topo.ns.rs[i], script("servers"), serverArgs(i, rsVips), { label: `servers rs${i + 1}` });
        servers[i] = p;
        return p;
      },
      async close() {
        try {
          await agent.close().catch(() => {});
          await appliance.stop().catch(() => {});
          for (const p of [...servers, ...decaps]) await p.stop().catch(() => {});
        } finally {
          topo.destroy();
        }
        topo.assertClean();
      },
    };
  } catch (e) {
    topo.destroy();
    throw e;
  }
}

type Falsy = undefined | null | false | 0 | "";

/** Polls fn until it returns a truthy value (bounded); returns that value or throws with the last one. */
export async function until<T>(what: string, fn: () => Promise<T | Falsy> | T | Falsy, timeoutMs = 10000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | Falsy;
  let err: unknown;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      err = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)}${err ? `, ${(err as Error).message}` : ""})`);
}
