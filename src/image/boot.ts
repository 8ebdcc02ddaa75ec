// `weir image boot`: the appliance disk as a QEMU VM. UEFI (OVMF) firmware,
// TCG unless KVM is asked for (KVM did not boot guests on these machines),
// serial on stdio or a unix socket, virtio disk, and virtio NICs on taps:
// the first NIC is management, the others data links. Each tap is made in
// the root namespace, attached by QEMU, then moved into the namespace named
// for it; the taps go when QEMU ends.

import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { run } from "./exec.js";

export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

export interface Nic { netns: string; ifname: string }

export interface BootOptions {
  disk: string;
  /** "stdio" or "unix:PATH" (a listening socket QEMU makes). */
  serial: string;
  nics: Nic[];
  accel?: "tcg" | "kvm";
  memoryMiB?: number;
  cpus?: number;
  /** Where QEMU's stdio goes when the serial is not on it (default: inherited). */
  stdio?: "inherit" | "pipe";
}

export function parseNic(s: string): Nic {
  const m = s.match(/^([A-Za-z0-9_.-]+):([A-Za-z0-9_.-]{1,15})$/);
  if (!m) throw new Error(`--nic wants NETNS:IFNAME (an interface name of at most 15 characters), not '${s}'`);
  return { netns: m[1], ifname: m[2] };
}

/** A stable MAC per tap name (locally administered), so the guest's NICs keep their addresses. */
export function macFor(ifname: string): string {
  const h = crypto.createHash("sha256").update(ifname).digest();
  return ["52", "54", ...[...h.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0"))].join(":");
}

export function qemuArgs(o: BootOptions, varsFile: string): string[] {
  const serial = o.serial === "stdio" ? "stdio" : o.serial.startsWith("unix:") ? `unix:${o.serial.slice(5)},server=on,wait=off` : null;
  if (!serial) throw new Error(`--serial wants stdio or unix:PATH, not '${o.serial}'`);
  const args = [
    "-machine", "q35", "-accel", o.accel ?? "tcg",
    // The data plane's Wasm uses SIMD, which V8 runs only with SSE4.1: TCG's default CPU lacks it.
    "-cpu", o.accel === "kvm" ? "host" : "max", "-m", String(o.memoryMiB ?? 1536), "-smp", String(o.cpus ?? 2),
    "-display", "none", "-monitor", "none", "-serial", serial,
    "-drive", `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
    "-drive", `if=pflash,format=raw,file=${varsFile}`,
    "-drive", `file=${o.disk},format=raw,if=virtio,cache=writeback`,
  ];
  o.nics.forEach((n, i) => {
    args.push("-netdev", `tap,id=n${i},ifname=${n.ifname},script=no,downscript=no`,
      "-device", `virtio-net-pci,netdev=n${i},mac=${macFor(n.ifname)},addr=${(3 + i).toString(16)}`);
  });
  if (!o.nics.length) args.push("-nic", "none");
  return args;
}

export interface RunningVm {
  child: ChildProcess;
  exited: Promise<number>;
  stop(): Promise<void>;
}

/** Starts QEMU; resolves once every tap is attached and in its namespace. */
export async function bootVm(o: BootOptions): Promise<RunningVm> {
  if (!fs.existsSync(o.disk)) throw new Error(`${o.disk}: no such disk image`);
  for (const f of [OVMF_CODE, OVMF_VARS]) if (!fs.existsSync(f)) throw new Error(`${f} missing (install ovmf)`);
  const varsFile = `${o.disk}.efivars`;
  if (!fs.existsSync(varsFile)) fs.copyFileSync(OVMF_VARS, varsFile);
  for (const n of o.nics) {
    await run("ip", ["netns", "exec", n.netns, "true"]).catch(() => { throw new Error(`--nic ${n.netns}:${n.ifname}: no network namespace '${n.netns}'`); });
    await run("ip", ["tuntap", "add", "dev", n.ifname, "mode", "tap"]);
    await run("ip", ["link", "set", n.ifname, "up"]);
  }
  const removeTaps = async () => {
    for (const n of o.nics) {
      await run("ip", ["-n", n.netns, "link", "del", n.ifname]).catch(() => run("ip", ["link", "del", n.ifname]).catch(() => undefined));
    }
  };
  const child = spawn("qemu-system-x86_64", qemuArgs(o, varsFile), { stdio: o.stdio === "pipe" ? "pipe" : "inherit" });
  const exited = new Promise<number>((resolve) => {
    child.on("exit", (code, sig) => resolve(code ?? (sig ? 128 : 1)));
    child.on("error", () => resolve(127));
  });
  const cleanup = exited.then(removeTaps);
  try {
    for (const n of o.nics) {
      await waitFor(() => readCarrier(n.ifname), 10_000, `QEMU did not attach tap ${n.ifname}`, exited);
      await run("ip", ["link", "set", n.ifname, "netns", n.netns]);
      await run("ip", ["-n", n.netns, "link", "set", n.ifname, "up"]);
    }
  } catch (e) {
    child.kill("SIGTERM");
    await cleanup;
    throw e;
  }
  return {
    child, exited: exited.then(async (c) => { await cleanup; return c; }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await cleanup;
    },
  };
}

function readCarrier(ifname: string): boolean {
  try { return fs.readFileSync(`/sys/class/net/${ifname}/carrier`, "utf8").trim() === "1"; } catch { return false; }
}

async function waitFor(cond: () => boolean, ms: number, what: string, exited: Promise<number>): Promise<void> {
  let gone = false;
  void exited.then(() => { gone = true; });
  const end = Date.now() + ms;
  while (!cond()) {
    if (gone) throw new Error(`${what}: QEMU exited`);
    if (Date.now() > end) throw new Error(what);
    await new Promise((r) => setTimeout(r, 50));
  }
}
