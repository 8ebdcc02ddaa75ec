// A host interface's MAC and MTU, from /sys/class/net/DEV when it exists
// (the data plane takes over that interface when the link goes up).

import { readFileSync } from "node:fs";
import path from "node:path";

export function readHostLink(root: string, name: string): { mac: string; mtu: number } | null {
  if (name.includes("/") || name === "." || name === "..") return null;
  try {
    const dir = path.join(root, name);
    const mac = readFileSync(path.join(dir, "address"), "utf8").trim().toLowerCase();
    const mtu = Number(readFileSync(path.join(dir, "mtu"), "utf8").trim());
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac) || !Number.isInteger(mtu)) return null;
    return { mac, mtu };
  } catch {
    return null;
  }
}
