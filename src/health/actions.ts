// The action glue: turns the monitor's transitions into calls on the
// HealthTarget (the config model), independent of the data plane.
//   - a transition → setDestHealth(service, dest, up, mode of that check);
//   - per service, a sorry server (keepalived sorry_server): engaged with
//     setSorryServer(service, sorry) while no real server of the service is
//     up, disengaged with setSorryServer(service, null) when one comes back.
// Real servers count as up when their check says so; when the target lists a
// service's real servers (destKeys), those without a check count as up too.
// Calls on the target are made one at a time, in the order of the events.

import { logger, type Logger } from "../log.js";
import type { HealthMonitor } from "./monitor.js";
import type { HealthMode, HealthTarget, SorryServer, Transition } from "./types.js";

const sameSorry = (a: SorryServer | null, b: SorryServer | null) =>
  a === b || (a !== null && b !== null && a.dest === b.dest && a.fwd === b.fwd);

export class HealthActions {
  private readonly sorryCfg = new Map<string, SorryServer>();
  /** What the target has been told, per service. */
  private readonly engaged = new Map<string, SorryServer>();
  private queue: Promise<void> = Promise.resolve();
  private readonly unsubscribe: () => void;
  private readonly log: Logger;

  constructor(private readonly target: HealthTarget, private readonly monitor: HealthMonitor, opts: { log?: Logger } = {}) {
    this.log = opts.log ?? logger("health");
    this.unsubscribe = monitor.onTransition((t) => this.onTransition(t));
  }

  /** Stops listening to the monitor. */
  close(): void { this.unsubscribe(); }

  /** Resolves once every call so far has been made on the target. */
  idle(): Promise<void> { return this.queue; }

  /** The configured sorry server of a service. */
  sorry(service: string): SorryServer | undefined { return this.sorryCfg.get(service); }

  /** Every configured sorry server, in the order they were set. */
  sorries(): Array<{ service: string; sorry: SorryServer }> {
    return [...this.sorryCfg].map(([service, sorry]) => ({ service, sorry: { ...sorry } }));
  }

  /** Whether the service's sorry server is engaged now. */
  isSorryEngaged(service: string): boolean { return this.engaged.has(service); }

  /**
   * Sets (or with null, removes) a service's sorry server and engages or
   * disengages it as the service's state requires. If the target refuses,
   * the previous setting is restored and the error is thrown.
   */
  setSorry(service: string, sorry: SorryServer | null): Promise<void> {
    return this.enqueue(async () => {
      const before = this.sorryCfg.get(service) ?? null;
      if (sorry) this.sorryCfg.set(service, { ...sorry });
      else this.sorryCfg.delete(service);
      try {
        await this.reconcileNow(service);
      } catch (e) {
        if (before) this.sorryCfg.set(service, before);
        else this.sorryCfg.delete(service);
        throw e;
      }
    });
  }

  /** Re-evaluates a service's sorry server (after a check was added, or real servers changed). */
  reconcile(service: string): Promise<void> {
    return this.enqueue(() => this.logged(service, () => this.reconcileNow(service)));
  }

  /** A check was removed: a real server it held down is restored (nothing checks it any more). */
  checkRemoved(service: string, dest: string, wasUp: boolean, mode: HealthMode): Promise<void> {
    return this.enqueue(() => this.logged(service, async () => {
      if (!wasUp) await this.target.setDestHealth(service, dest, true, mode);
      await this.reconcileNow(service);
    }));
  }

  private onTransition(t: Transition): void {
    const mode = this.monitor.spec(t.service, t.dest)?.mode ?? "inhibit";
    void this.enqueue(() => this.logged(t.service, async () => {
      await this.target.setDestHealth(t.service, t.dest, t.up, mode);
      await this.reconcileNow(t.service);
    }));
  }

  private anyUp(service: string, known: string[] | undefined): boolean {
    const checked = this.monitor.status(service);
    if (checked.some((s) => s.up)) return true;
    if (!known) return false;
    const withCheck = new Set(checked.map((s) => s.dest));
    return known.some((d) => !withCheck.has(d));
  }

  private async reconcileNow(service: string): Promise<void> {
    let want: SorryServer | null = null;
    const known = this.target.destKeys?.(service);
    const gone = this.target.destKeys !== undefined && known === undefined;
    const cfg = this.sorryCfg.get(service);
    if (cfg && !gone && !this.anyUp(service, known)) want = cfg;
    const have = this.engaged.get(service) ?? null;
    if (sameSorry(want, have)) return;
    if (gone) { this.engaged.delete(service); return; } // the service itself went away
    await this.target.setSorryServer(service, want ? { ...want } : null);
    if (want) {
      this.engaged.set(service, { ...want });
      this.log.warn({ service, sorry: want.dest }, "sorry server engaged");
    } else {
      this.engaged.delete(service);
      this.log.info({ service }, "sorry server disengaged");
    }
  }

  private async logged(service: string, fn: () => Promise<void>): Promise<void> {
    try { await fn(); } catch (err) { this.log.error({ err, service }, "health action failed"); }
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const p = this.queue.then(fn);
    this.queue = p.then(() => {}, () => {});
    return p;
  }
}
