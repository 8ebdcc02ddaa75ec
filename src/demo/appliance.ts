// `weir run` started inside the topology's appliance namespace, configured
// through its control socket with the `weir ctl` client (runCtl), and its
// `ipvsadm -L -n --stats --exact` listing parsed for the live view.

import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { mkdirSync } from "node:fs";
import { runCtl } from "../console/transport/ctl.js";
import type { NsProcess } from "./procs.js";
import type { Topology } from "./topology.js";

export const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const WEIR_BIN = path.join(ROOT_DIR, "bin", "weir.js");

export interface CtlReply {
  ok: boolean;
  code: number;
  text: string;
}

class Collect extends Writable {
  text = "";
  _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** One console line through the control socket at socketPath (what `weir ctl -- LINE` does). */
export async function ctlLine(socketPath: string, line: string): Promise<CtlReply> {
  const out = new Collect();
  const err = new Collect();
  const code = await runCtl({ socketPath, line, stdout: out, stderr: err });
  return { ok: code === 0, code, text: (out.text + err.text).replace(/\n$/, "") };
}

export interface StatsRow {
  proto: string;
  addr: string;
  conns: number;
  inPkts: number;
  outPkts: number;
  inBytes: number;
  outBytes: number;
}

export interface ServiceStats extends StatsRow {
  dests: StatsRow[];
}

/** Parses `ipvsadm -L -n --stats --exact`. */
export function parseStats(text: string): ServiceStats[] {
  const out: ServiceStats[] = [];
  for (const line of text.split("\n")) {
    const svc = /^(TCP|UDP|FWM)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (svc) {
      out.push({ proto: svc[1], addr: svc[2], conns: +svc[3], inPkts: +svc[4], outPkts: +svc[5], inBytes: +svc[6], outBytes: +svc[7], dests: [] });
      continue;
    }
    const d = /^\s+->\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (d && out.length) {
      out[out.length - 1].dests.push({ proto: out[out.length - 1].proto, addr: d[1], conns: +d[2], inPkts: +d[3], outPkts: +d[4], inBytes: +d[5], outBytes: +d[6] });
    }
  }
  return out;
}

export interface ApplianceOptions {
  /** Extra `weir run` arguments. */
  args?: string[];
  log?: (line: string) => void;
  startTimeoutMs?: number;
  /** The namespace to run in (default the topology's appliance, topo.ns.lb); each gets its own control socket. */
  ns?: string;
}

/** A running `weir run` in the topology's appliance namespace. */
export class Appliance {
  private constructor(readonly topo: Topology, readonly proc: NsProcess, readonly socketPath: string, private readonly log: (l: string) => void) {}

  static async start(topo: Topology, opts: ApplianceOptions = {}): Promise<Appliance> {
    const ns = opts.ns ?? topo.ns.lb;
    const dir = path.join("/run", ns === topo.ns.lb ? `weir-${topo.prefix}` : `weir-${ns}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    topo.trackPath(dir);
    const socketPath = path.join(dir, "ctl.sock");
    const log = opts.log ?? (() => {});
    // `weir run` prints no "ready" line: readiness is its control socket answering.
    const proc = await topo.spawn(ns, [process.execPath, WEIR_BIN, "run", "--ctl", socketPath, ...(opts.args ?? [])], {
      label: "weir run", waitReady: false, env: { ...process.env, WEIR_DEMO_TAG: topo.prefix },
    });
    const a = new Appliance(topo, proc, socketPath, log);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 20000);
    for (;;) {
      const r = await ctlLine(socketPath, "ip link show").catch((e: Error) => ({ ok: false, code: 2, text: e.message }));
      if (r.ok) break;
      const exited = await Promise.race([proc.exited, new Promise<null>((res) => setTimeout(() => res(null), 100))]);
      if (exited !== null) throw new Error(`weir run exited (${exited}) before its control socket answered:\n${proc.stderr().trim()}`);
      if (Date.now() > deadline) {
        await proc.stop();
        throw new Error(`weir run: no answer on ${socketPath} within ${opts.startTimeoutMs ?? 20000} ms:\n${proc.stderr().trim()}`);
      }
    }
    return a;
  }

  /** One console line; throws with the reply when it is an error. */
  async ctl(line: string, quiet = false): Promise<string> {
    if (!quiet) this.log(`weir ctl -- ${line}`);
    const r = await ctlLine(this.socketPath, line);
    if (!r.ok) throw new Error(`weir ctl -- ${line}: ${r.text}`);
    return r.text;
  }

  /** One console line; the reply either way. */
  tryCtl(line: string): Promise<CtlReply> {
    return ctlLine(this.socketPath, line);
  }

  async ctlAll(lines: string[]): Promise<void> {
    for (const l of lines) await this.ctl(l);
  }

  async stats(quiet = false): Promise<ServiceStats[]> {
    return parseStats(await this.ctl("ipvsadm -L -n --stats --exact", quiet));
  }

  /** SIGKILL (a director's death: nothing runs on the way out); the wall-clock ms of the signal. */
  kill(): number {
    const t = performance.timeOrigin + performance.now();
    this.proc.child.kill("SIGKILL");
    return t;
  }

  /** SIGTERM and wait (bounded): `weir run` restores its links on the way out. */
  async stop(graceMs = 5000): Promise<number | string> {
    await this.proc.stop(graceMs);
    return this.proc.exited;
  }
}
