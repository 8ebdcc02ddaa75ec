// Allmulticast mode on a data link while a raw socket of ours needs the
// link's multicast: VRRP's 224.0.0.18 / ff02::12 and connection sync's
// 224.0.0.81. The kernel has joined none of them on a data link (its
// addresses live on the TAP mirror), so a NIC with a multicast filter (e.g.
// virtio-net in the appliance image) would drop them; veth does not filter.
// Held per link by count, so VRRP and sync on one link share it; the flag is
// put back when the last holder lets go, and only if it was off before.

import { readFileSync } from "node:fs";
import { ip } from "./host.js";
import type { Logger } from "../log.js";

const IFF_ALLMULTI = 0x200;

interface Hold { count: number; restore: boolean }
const holds = new Map<string, Hold>();

function allmulti(dev: string): boolean | undefined {
  try {
    return (parseInt(readFileSync(`/sys/class/net/${dev}/flags`, "utf8").trim(), 16) & IFF_ALLMULTI) !== 0;
  } catch {
    return undefined;
  }
}

/** Puts dev in allmulticast mode (if it is not already) until the returned release is called. Never throws: a failure is logged. */
export async function holdAllmulticast(dev: string, log: Logger, what: string): Promise<() => void> {
  let h = holds.get(dev);
  if (!h) {
    h = { count: 0, restore: false };
    holds.set(dev, h);
    if (allmulti(dev) === false) {
      try {
        await ip("link", "set", "dev", dev, "allmulticast", "on");
        h.restore = true;
      } catch (e) {
        log.warn({ link: dev, err: e }, `${what}: could not set allmulticast (a NIC with a multicast filter may drop the peers' multicast)`);
      }
    }
  }
  h.count++;
  const held = h;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--held.count > 0 || holds.get(dev) !== held) return;
    holds.delete(dev);
    if (held.restore) ip("link", "set", "dev", dev, "allmulticast", "off").catch(() => { /* the link may be gone */ });
  };
}
