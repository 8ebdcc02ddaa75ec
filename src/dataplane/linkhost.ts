// The host side of the links the packet I/O attaches: what attaching does to
// a data link in the appliance's network namespace, and putting it back as
// it was. Per link:
//   - its snapshot (up state, addresses, disable_ipv6), kept on disk by the
//     journal (journal.ts) until the link is put back, so a run that dies
//     uncleanly is cleaned up by the next one;
//   - an nftables netdev ingress drop (table weir_PID), so the kernel's stack
//     never sees the data link's frames (AF_PACKET sees them first);
//   - the link quieted: its addresses moved off, no IPv6 of its own, up;
//   - a TAP mirror (weir-DEV) with the link's MAC and MTU, carrying the link's
//     addresses and the model's addresses and routes for it (syncNet), so the
//     host stack answers for them and health checks leave through the link;
//   - the host guard (hostguard.ts, table inet weir_PID) on the TAPs: the
//     kernel takes no new connections from the data side unless the operator
//     opened the port (`host-access`).
// The commands themselves are in host.ts. The packet loop (io.ts) owns the
// rings and moves frames to and from the TAP; this module opens and closes it.

import { WeirError } from "./errors.js";
import type { Logger } from "../log.js";
import type * as Native from "../../native/index.js";
import { snapshot, takeOver, restore, ip, IngressDrop, tapName, type LinkSnapshot } from "./host.js";
import { HostJournal } from "./journal.js";
import { HostGuard, type HostAccessRule } from "./hostguard.js";

type NativeMod = typeof Native;

/** Desired kernel-side addresses and routes of a link (its TAP mirror). */
export interface LinkNet { addrs: string[]; routes: { dst: string; via?: string }[]; mtu?: number; }

/** One attached link's host side. */
export interface HostLink {
  readonly dev: string;
  readonly id: number;
  /** The TAP mirror: the addon's handle and the device's name. */
  readonly tap: number;
  readonly tapName: string;
  /** The TAP's MTU: the link's, as configured. */
  mtu: number;
  /** The link as it was before attach. */
  readonly snap: LinkSnapshot;
  /** Addresses and routes put on the TAP ("addr/len", "dst via gw"). */
  readonly addrs: Set<string>;
  readonly routes: Set<string>;
  /** What attach did, in order, for abandon(). */
  readonly undo: (() => unknown)[];
}

export interface LinkHostOptions {
  /** nftables table name (netdev for the drops, inet for the guard). */
  table: string;
  /** Where attached links' snapshots are kept (journal.ts); null: nowhere. */
  journalDir: string | null;
  /** The native addon, once loaded (TAP devices). */
  native: () => NativeMod;
  log: Logger;
}

export class LinkHost {
  private readonly drop: IngressDrop;
  private readonly guard: HostGuard;
  private readonly journal: HostJournal | undefined;

  constructor(private readonly o: LinkHostOptions) {
    this.drop = new IngressDrop(o.table);
    this.guard = new HostGuard(o.table);
    this.journal = o.journalDir ? new HostJournal(o.journalDir, o.table) : undefined;
  }

  /** Puts back what earlier runs in this namespace that ended uncleanly left behind. */
  async recover(): Promise<void> {
    if (!this.journal) return;
    const log = this.o.log;
    for (const line of await HostJournal.recover(this.journal.dir, (m) => log.warn(m))) log.warn(line);
  }

  /**
   * Takes dev over: snapshot, ingress drop, the link quieted, its TAP mirror
   * up and guarded. On failure everything done so far is put back.
   */
  async attach(dev: string, id: number, mac: string, mtu: number, log: Logger): Promise<HostLink> {
    const n = this.o.native();
    try {
      n.linkInfo(dev);
    } catch (e) {
      const code = (e as Native.NativeError).code;
      throw new WeirError("WEIR_ERR_NO_DEVICE", code === "ENODEV" ? "no such device" : (e as Error).message);
    }
    const undo: (() => unknown)[] = [];
    try {
      const snap = await snapshot(dev);
      this.journal?.record(dev, snap);
      undo.push(() => this.journal?.forget(dev));
      await this.drop.add(dev, id);
      undo.push(() => this.drop.remove(id));
      await takeOver(dev, snap);
      undo.push(() => restore(dev, snap, (m) => log.warn(m)));

      const tap = n.tapOpen(tapName(dev, id));
      undo.push(() => n.tapClose(tap.handle));
      // The kernel stack is guarded before the TAP comes up.
      await this.guard.addTap(dev, tap.name);
      undo.push(() => this.guard.removeTap(dev));
      await ip("link", "set", "dev", tap.name, "address", mac, "mtu", String(mtu), "up");
      return { dev, id, tap: tap.handle, tapName: tap.name, mtu, snap, addrs: new Set(), routes: new Set(), undo };
    } catch (e) {
      await putBack(undo, log);
      throw e;
    }
  }

  /** The link's kernel addresses move to its mirror (each failure logged). */
  async moveAddrs(h: HostLink, log: Logger): Promise<void> {
    for (const x of h.snap.addrs) await this.addAddr(h, `${x.addr}/${x.len}`).catch((e) => log.warn({ err: e }, "address not moved"));
  }

  /** Undoes attach() when the rest of the link's attach failed. */
  abandon(h: HostLink, log: Logger): Promise<void> {
    return putBack(h.undo, log);
  }

  /** Puts the link back as it was (gone: it went away; only the TAP, nftables and journal are cleaned up). */
  async detach(h: HostLink, gone: boolean, log: Logger): Promise<void> {
    try { this.o.native().tapClose(h.tap); } catch (e) { log.warn({ err: e }, "close tap"); }
    try { await this.guard.removeTap(h.dev); } catch (e) { log.warn({ err: e }, "host guard not updated"); }
    try { await this.drop.remove(h.id); } catch (e) { log.warn({ err: e }, "nft chain not removed"); }
    if (!gone) await restore(h.dev, h.snap, (m) => log.warn(m));
    this.journal?.forget(h.dev);
  }

  /** The ports the kernel stack takes new connections on from the data links (`host-access`). */
  setHostAccess(rules: readonly HostAccessRule[]): Promise<void> {
    return this.guard.setRules(rules);
  }

  /** Makes the TAP mirror carry exactly these addresses ("a/len") and routes, and the link's MTU. */
  async syncNet(h: HostLink, want: LinkNet, log: Logger): Promise<void> {
    // `ip link set DEV mtu N` reaches the TAP too: the kernel's own traffic on the link must fit it.
    if (want.mtu !== undefined && want.mtu !== h.mtu) {
      await ip("link", "set", "dev", h.tapName, "mtu", String(want.mtu)).then(() => { h.mtu = want.mtu!; }, (e) => log.warn({ err: e }, "TAP mtu not set"));
    }
    const keep = new Set([...want.addrs, ...h.snap.addrs.map((x) => `${x.addr}/${x.len}`)]);
    for (const x of [...h.addrs]) {
      if (keep.has(x)) continue;
      await ip("addr", "del", x, "dev", h.tapName).catch((e) => log.warn({ err: e }, "address not removed"));
      h.addrs.delete(x);
    }
    for (const x of want.addrs) if (!h.addrs.has(x)) await this.addAddr(h, x).catch((e) => log.warn({ err: e, addr: x }, "address not mirrored"));
    const routes = new Map(want.routes.map((r) => [`${r.dst}${r.via ? ` via ${r.via}` : ""}`, r]));
    for (const k of [...h.routes]) {
      if (routes.has(k)) continue;
      await ip("route", "del", k.split(" ")[0], "dev", h.tapName).catch(() => undefined);
      h.routes.delete(k);
    }
    for (const [k, r] of routes) {
      if (h.routes.has(k)) continue;
      const args = ["route", "replace", r.dst, ...(r.via ? ["via", r.via] : []), "dev", h.tapName];
      await ip(...args).then(() => h.routes.add(k), (e) => log.warn({ err: e, route: k }, "route not mirrored"));
    }
  }

  private async addAddr(h: HostLink, cidr: string): Promise<void> {
    // nodad: the address is the appliance's already; noprefixroute is not wanted (the kernel needs the connected route).
    const v6 = cidr.includes(":");
    await ip("addr", "replace", cidr, "dev", h.tapName, ...(v6 ? ["nodad"] : []));
    h.addrs.add(cidr);
  }

  /** After every link is detached: the nftables tables go, and the journal (a clean stop). */
  async close(): Promise<void> {
    const log = this.o.log;
    await this.drop.drop().catch((e) => log.warn({ err: e }, "nft table not removed"));
    await this.guard.drop().catch((e) => log.warn({ err: e }, "nft guard table not removed"));
    this.journal?.remove();
  }
}

/** Runs undo steps in reverse order; a step that fails is logged and the rest still run. */
async function putBack(undo: (() => unknown)[], log: Logger): Promise<void> {
  for (const u of [...undo].reverse()) {
    try { await u(); } catch (err) { log.warn({ err }, "undo failed"); }
  }
}
