// The runtime's packet I/O port on a data link in `weir run`: a VrrpLink
// (dataplane/vrrpio.ts), with the link in allmulticast mode while it is open
// (dataplane/allmulti.ts says why).

import { VrrpLink } from "../dataplane/vrrpio.js";
import { holdAllmulticast } from "../dataplane/allmulti.js";
import type { Logger } from "../log.js";
import type { VrrpPort } from "./runtime.js";

export async function openVrrpPort(dev: string, o: { onFrame(f: Uint8Array): void; onLinkError(errno: string): void }, log: Logger): Promise<VrrpPort> {
  const link = await VrrpLink.open(dev, o);
  const release = await holdAllmulticast(dev, log, "VRRP");
  return {
    send: (f) => link.send(f),
    close: () => {
      link.close();
      release();
    },
  };
}
