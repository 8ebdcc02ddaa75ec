// What the appliance's own kernel stack accepts from the data links. Frames
// for the appliance's addresses that the data plane does not handle (no
// service matches) go up through each link's TAP mirror, VIPs included; left
// open, a client on a data link would reach the consoles, the metrics and
// anything else listening on the host. An nftables input chain (table inet
// weir_PID, beside the netdev table of the ingress drops) on the TAPs lets
// through only what the appliance itself needs:
//   - replies to connections the appliance opened (health checks): conntrack
//     established/related;
//   - ICMP and ICMPv6 (echo, errors, neighbour discovery); ARP is not IP and
//     never reaches this hook;
//   - ports the operator allowed (`host-access allow tcp 22 [dev DEV]`);
// and answers every other new connection as a closed port does (TCP reset,
// ICMP port unreachable), so the data side learns nothing more than that.

import { nft } from "./host.js";

export type HostProto = "tcp" | "udp";

/** One opening: new connections to PORT (or the range PORT-TO) from the data links, or only from DEV's. */
export interface HostAccessRule {
  proto: HostProto;
  port: number;
  to?: number;
  dev?: string;
}

export function ruleText(r: HostAccessRule): string {
  return `${r.proto} ${r.port}${r.to !== undefined ? `-${r.to}` : ""}${r.dev ? ` dev ${r.dev}` : ""}`;
}

export function sameRule(a: HostAccessRule, b: HostAccessRule): boolean {
  return a.proto === b.proto && a.port === b.port && a.to === b.to && a.dev === b.dev;
}

/**
 * The nft script that makes the table say exactly this (one transaction:
 * the table is created if missing, deleted, and made anew). taps maps each
 * attached data link to its TAP; no TAPs: the table just goes.
 */
export function guardScript(table: string, taps: ReadonlyMap<string, string>, rules: readonly HostAccessRule[]): string {
  const lines = [`table inet ${table} {}`, `delete table inet ${table}`];
  if (taps.size === 0) return `${lines.join("\n")}\n`;
  const q = (s: string) => JSON.stringify(s);
  const names = [...taps.values()].map(q).join(", ");
  const opens: string[] = [];
  for (const r of rules) {
    const tap = r.dev === undefined ? undefined : taps.get(r.dev);
    if (r.dev !== undefined && tap === undefined) continue; // its link is not attached (yet)
    const port = r.to !== undefined ? `${r.port}-${r.to}` : String(r.port);
    opens.push(`    ${tap ? `iifname ${q(tap)} ` : ""}${r.proto} dport ${port} accept`);
  }
  lines.push(
    `table inet ${table} {`,
    "  chain input {",
    "    type filter hook input priority -10; policy accept;",
    `    iifname != { ${names} } accept`,
    "    ct state established,related accept",
    "    meta l4proto { 1, 58 } accept", // ICMP, ICMPv6: by number, as the image has no /etc/protocols
    ...opens,
    "    meta l4proto tcp reject with tcp reset",
    "    reject",
    "  }",
    "}",
  );
  return `${lines.join("\n")}\n`;
}

/** The live table: TAPs come and go with attach/detach, rules with the console. */
export class HostGuard {
  private readonly taps = new Map<string, string>();
  private rules: HostAccessRule[] = [];
  private made = false;

  constructor(readonly table: string, private readonly run: (script: string) => Promise<unknown> = nft) {}

  async addTap(dev: string, tap: string): Promise<void> {
    this.taps.set(dev, tap);
    try {
      await this.apply();
    } catch (e) {
      this.taps.delete(dev);
      throw e;
    }
  }

  async removeTap(dev: string): Promise<void> {
    if (!this.taps.delete(dev)) return;
    await this.apply();
  }

  /** Replaces the operator's openings; on failure the old ones stay in force. */
  async setRules(rules: readonly HostAccessRule[]): Promise<void> {
    const old = this.rules;
    this.rules = [...rules];
    try {
      await this.apply();
    } catch (e) {
      this.rules = old;
      throw e;
    }
  }

  /** Removes the table (exit). */
  async drop(): Promise<void> {
    this.taps.clear();
    if (!this.made) return;
    this.made = false;
    await this.run(`delete table inet ${this.table}\n`);
  }

  private async apply(): Promise<void> {
    if (this.taps.size === 0 && !this.made) return;
    await this.run(guardScript(this.table, this.taps, this.rules));
    this.made = this.taps.size > 0;
  }
}
