// Fakes for the sync daemon: a data plane keeping entries by client port, a
// wire joining links (with a hook to drop or capture frames), a VRRP role.

import { ENTRY_SIZE, OFF } from "../../src/sync/entry.js";
import type { ConnSyncSource, Role, RoleSource, SyncLink } from "../../src/sync/daemon.js";

const keyOf = (r: Uint8Array, o: number) => (r[o + OFF.cport] << 8) | r[o + OFF.cport + 1];

export class FakeDataPlane implements ConnSyncSource {
  on = false;
  readonly table = new Map<number, Uint8Array>();
  private log: Uint8Array[] = [];
  lost = 0;
  installCalls = 0;

  setConnSync(on: boolean): void { this.on = on; if (!on) this.log = []; }

  /** A connection made on this director's packet path (logged when sync is on). */
  add(records: Uint8Array): void {
    for (let o = 0; o + ENTRY_SIZE <= records.length; o += ENTRY_SIZE) {
      const r = records.slice(o, o + ENTRY_SIZE);
      this.table.set(keyOf(r, 0), r);
      if (this.on) this.log.push(r);
    }
  }

  /** Entries already there before sync started (not logged). */
  seed(records: Uint8Array): void {
    for (let o = 0; o + ENTRY_SIZE <= records.length; o += ENTRY_SIZE) this.table.set(keyOf(records, o), records.slice(o, o + ENTRY_SIZE));
  }

  async takeConnChanges(): Promise<{ records: Uint8Array; lost: number }> {
    const records = new Uint8Array(this.log.length * ENTRY_SIZE);
    this.log.forEach((r, i) => records.set(r, i * ENTRY_SIZE));
    this.log = [];
    const lost = this.lost;
    this.lost = 0;
    return { records, lost };
  }

  async exportConnections(): Promise<Uint8Array> {
    const all = [...this.table.values()];
    const b = new Uint8Array(all.length * ENTRY_SIZE);
    all.forEach((r, i) => b.set(r, i * ENTRY_SIZE));
    return b;
  }

  async installConnections(records: Uint8Array): Promise<{ installed: number; refused: number }> {
    this.installCalls++;
    let installed = 0;
    for (let o = 0; o + ENTRY_SIZE <= records.length; o += ENTRY_SIZE) {
      this.table.set(keyOf(records, o), records.slice(o, o + ENTRY_SIZE));
      installed++;
    }
    return { installed, refused: 0 };
  }

  ports(): number[] { return [...this.table.keys()].sort((a, b) => a - b); }
}

export class FakeRole implements RoleSource {
  private subs = new Set<(s: Role) => void>();
  constructor(private s: Role) {}
  state(): Role { return this.s; }
  subscribe(fn: (s: Role) => void): () => void { this.subs.add(fn); return () => this.subs.delete(fn); }
  set(s: Role): void { this.s = s; for (const f of this.subs) f(s); }
}

/** A shared segment: what one link sends, the others receive (on a later microtask). */
export class Wire {
  readonly links = new Set<FakeLink>();
  /** Return true to lose the frame. */
  drop: (frame: Uint8Array) => boolean = () => false;
  readonly captured: Uint8Array[] = [];

  link(onFrame: (f: Uint8Array) => void): FakeLink {
    const l = new FakeLink(this, onFrame);
    this.links.add(l);
    return l;
  }

  carry(from: FakeLink, frame: Uint8Array): void {
    this.captured.push(frame.slice());
    if (this.drop(frame)) return;
    for (const l of this.links) if (l !== from && !l.closed) queueMicrotask(() => l.deliver(frame.slice()));
  }
}

export class FakeLink implements SyncLink {
  closed = false;
  /** A full TX ring: each of the next `busy` sends fails. */
  busy = 0;
  constructor(private readonly wire: Wire, private readonly onFrame: (f: Uint8Array) => void) {}
  send(frame: Uint8Array): boolean {
    if (this.closed) throw new Error("closed");
    if (this.busy > 0) { this.busy--; return false; }
    this.wire.carry(this, frame);
    return true;
  }
  deliver(f: Uint8Array): void { if (!this.closed) this.onFrame(f); }
  /** A frame from outside (an attacker, a replay). */
  inject(f: Uint8Array): void { this.deliver(f); }
  close(): void { this.closed = true; this.wire.links.delete(this); }
}
