// The appliance's watchdog (the kernel's softdog on the image): `weir run`
// keeps it fed from its event loop, so a supervisor or data plane that hangs
// gets the VM rebooted after the timeout. A clean stop disarms it with the
// magic close ('V'); a crash does not, and init restarts `weir run`, which
// feeds it again in time.

import fs from "node:fs";

export const WATCHDOG_DEVICE = "/dev/watchdog";
const FEED_MS = 10_000;

export class Watchdog {
  private timer: NodeJS.Timeout | undefined;

  private constructor(private fd: number | undefined, readonly device: string) {}

  /** Opens and arms the device; undefined when there is none. */
  static open(device = WATCHDOG_DEVICE): Watchdog | undefined {
    if (!fs.existsSync(device)) return undefined;
    const w = new Watchdog(fs.openSync(device, "w"), device);
    w.feed();
    w.timer = setInterval(() => w.feed(), FEED_MS);
    w.timer.unref();
    return w;
  }

  feed(): void {
    if (this.fd !== undefined) fs.writeSync(this.fd, "k");
  }

  /** Disarms (magic close) and closes. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.fd === undefined) return;
    try { fs.writeSync(this.fd, "V"); } finally { fs.closeSync(this.fd); this.fd = undefined; }
  }
}

/** "active, timeout 60 s (Software Watchdog)" from sysfs, or "none". */
export function watchdogStatus(sysfs = "/sys/class/watchdog/watchdog0"): string {
  const read = (f: string) => { try { return fs.readFileSync(`${sysfs}/${f}`, "utf8").trim(); } catch { return undefined; } };
  const state = read("state");
  if (state === undefined) return "none";
  return `${state}, timeout ${read("timeout") ?? "?"} s (${read("identity") ?? "?"})`;
}
