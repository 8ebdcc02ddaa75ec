// The runtime's packet I/O port on a data link in `weir run`: a VrrpLink
// (dataplane/vrrpio.ts), with the link in allmulticast mode while it is open.
// The kernel has no subscription to 224.0.0.18 / ff02::12 on a data link (its
// addresses live on the TAP mirror), so a NIC with a multicast filter (e.g.
// virtio-net in the appliance image) would drop the peers' adverts; veth
// does not filter. The flag is put back on close when it was off before.

import { readFileSync } from "node:fs";
import { VrrpLink } from "../dataplane/vrrpio.js";
import { ip } from "../dataplane/host.js";
import type { Logger } from "../log.js";
import type { VrrpPort } from "./runtime.js";

const IFF_ALLMULTI = 0x200;

function allmulti(dev: string): boolean | undefined {
  try {
    return (parseInt(readFileSync(`/sys/class/net/${dev}/flags`, "utf8").trim(), 16) & IFF_ALLMULTI) !== 0;
  } catch {
    return undefined;
  }
}

export async function openVrrpPort(dev: string, o: { onFrame(f: Uint8Array): void; onLinkError(errno: string): void }, log: Logger): Promise<VrrpPort> {
  const link = await VrrpLink.open(dev, o);
  let restore = false;
  if (allmulti(dev) === false) {
    try {
      await ip("link", "set", "dev", dev, "allmulticast", "on");
      restore = true;
    } catch (e) {
      log.warn({ link: dev, err: e }, "VRRP: could not set allmulticast (a NIC with a multicast filter may drop the peers' adverts)");
    }
  }
  return {
    send: (f) => link.send(f),
    close: () => {
      link.close();
      if (restore) ip("link", "set", "dev", dev, "allmulticast", "off").catch(() => { /* the link may be gone */ });
    },
  };
}
