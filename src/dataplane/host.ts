// The host commands behind a link's host side (linkhost.ts), done with the
// usual tools (`ip`, `nft`) in the appliance's network namespace: running
// them (each bounded in time; failures throw with the command and its
// stderr), what a link looked like before (so it can be put back) and taking
// it over, the nftables netdev ingress drop that keeps the kernel's stack
// away from the data link's frames (AF_PACKET sees them first), and the TAP
// mirror's name.

import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { WeirError } from "./errors.js";

const TIMEOUT_MS = 10_000;

function exec(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: TIMEOUT_MS, encoding: "utf8", maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const msg = (stderr || err.message).trim().split("\n")[0];
        const code = (err as NodeJS.ErrnoException).code === "ENOENT" ? "WEIR_ERR_NO_TOOL" : "WEIR_ERR_HOST_COMMAND";
        reject(new WeirError(code, code === "WEIR_ERR_NO_TOOL" ? `${cmd} not found (install ${cmd === "nft" ? "nftables" : "iproute2"})` : `${cmd} ${args.join(" ")}: ${msg}`));
      } else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export const ip = (...args: string[]) => exec("ip", args);
export const nft = (script: string) => exec("nft", ["-f", "-"], script);

export interface HostAddr { af: 4 | 6; addr: string; len: number; }
export interface HostRoute { dst: string; via?: string; }

/** What attach changes on a data link, to put back on detach. */
export interface LinkSnapshot {
  up: boolean;
  addrs: HostAddr[];
  /** net.ipv6.conf.DEV.disable_ipv6 as it was ("0"/"1"), or null when there is no IPv6. */
  disableIpv6: string | null;
}

interface IpAddrJson { addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[]; flags?: string[] }

export async function snapshot(dev: string): Promise<LinkSnapshot> {
  const j = JSON.parse(await ip("-j", "addr", "show", "dev", dev)) as IpAddrJson[];
  const l = j[0] ?? {};
  const addrs: HostAddr[] = [];
  for (const a of l.addr_info ?? []) {
    if (a.family === "inet6" && a.scope === "link") continue; // the kernel makes these itself
    addrs.push({ af: a.family === "inet6" ? 6 : 4, addr: a.local, len: a.prefixlen });
  }
  let disableIpv6: string | null = null;
  try {
    disableIpv6 = (await readFile(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, "utf8")).trim();
  } catch {
    /* no IPv6 */
  }
  return { up: (l.flags ?? []).includes("UP"), addrs, disableIpv6 };
}

/** Quiets the data link: its addresses go (to the TAP), no IPv6 of its own, and it is up. */
export async function takeOver(dev: string, s: LinkSnapshot): Promise<void> {
  for (const a of s.addrs) await ip("addr", "del", `${a.addr}/${a.len}`, "dev", dev);
  if (s.disableIpv6 === "0") await setIpv6(dev, "1");
  if (!s.up) await ip("link", "set", "dev", dev, "up");
}

/** Puts the data link back as the snapshot says; best effort (the link may be gone). */
export async function restore(dev: string, s: LinkSnapshot, warn: (msg: string) => void): Promise<void> {
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try { await fn(); } catch (e) { warn(`${what}: ${(e as Error).message}`); }
  };
  if (!s.up) await step("link down", () => ip("link", "set", "dev", dev, "down"));
  if (s.disableIpv6 !== null) await step("disable_ipv6", () => setIpv6(dev, s.disableIpv6!));
  for (const a of s.addrs) await step(`address ${a.addr}`, () => ip("addr", "add", `${a.addr}/${a.len}`, "dev", dev));
}

async function setIpv6(dev: string, v: string): Promise<void> {
  await writeFile(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, v);
}

/** The per-appliance nftables table (family netdev) with one ingress-drop chain per data link. */
export class IngressDrop {
  private chains = new Set<string>();
  private created = false;
  constructor(readonly table: string) {}

  async add(dev: string, id: number): Promise<void> {
    const chain = `in_${id}`;
    const script = [
      ...(this.created ? [] : [`add table netdev ${this.table}`]),
      `add chain netdev ${this.table} ${chain} { type filter hook ingress device ${JSON.stringify(dev)} priority -500; policy drop; }`,
      "",
    ].join("\n");
    await nft(script);
    this.created = true;
    this.chains.add(chain);
  }

  async remove(id: number): Promise<void> {
    const chain = `in_${id}`;
    if (!this.chains.has(chain)) return;
    this.chains.delete(chain);
    if (this.chains.size === 0) return this.drop();
    await nft(`delete chain netdev ${this.table} ${chain}\n`);
  }

  /** Removes the whole table (every chain in it). */
  async drop(): Promise<void> {
    this.chains.clear();
    if (!this.created) return;
    this.created = false;
    await nft(`delete table netdev ${this.table}\n`);
  }
}

export function tapName(dev: string, id: number): string {
  const n = `weir-${dev}`;
  return n.length <= 15 ? n : `weir${id}-${dev}`.slice(0, 15);
}
