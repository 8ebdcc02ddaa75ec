// Whether a host interface is up with a carrier, as VRRP's tracked links
// need it: /sys/class/net/DEV/operstate and carrier, read synchronously (two
// small sysfs reads, a few µs each: cheap enough to poll every 20 ms, and
// simpler than a netlink listener the addon does not have). `ip link set
// DEV down` and a veth whose peer went away both read as down.

import { readFileSync } from "node:fs";

export function hostCarrier(dev: string, root = "/sys/class/net"): boolean {
  try {
    const oper = readFileSync(`${root}/${dev}/operstate`, "utf8").trim();
    // "unknown": drivers without operstate (tun, dummy); carrier decides.
    if (oper !== "up" && oper !== "unknown") return false;
    return readFileSync(`${root}/${dev}/carrier`, "utf8").trim() === "1";
  } catch {
    // No such interface, or carrier unreadable (EINVAL while the link is down).
    return false;
  }
}
