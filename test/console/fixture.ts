// The reference topology of TESTING.md built with console lines: eth0 faces
// the clients (198.18.0.0/24, VIPs in 198.18.100.0/24), eth1 the real servers
// (198.19.0.0/24). Neighbours are static so frames are forwarded at once.

import { tcp4Frame, udp4Frame } from "../helpers/frames.js";
import type { TestConsole } from "./helpers.js";

export const ETH0_MAC = "02:77:65:69:72:00";
export const ETH1_MAC = "02:77:65:69:72:01";
export const CLIENT = "198.18.0.10";
export const CLIENT_MAC = "02:00:00:00:00:10";
export const RS = ["198.19.0.11", "198.19.0.12", "198.19.0.13"];
export const RS_MAC = ["02:00:00:00:01:11", "02:00:00:00:01:12", "02:00:00:00:01:13"];

export const TOPOLOGY = [
  "ip link set eth0 up",
  "ip link set eth1 up",
  "ip addr add 198.18.0.1/24 dev eth0",
  "ip addr add 198.18.100.1/32 dev eth0",
  "ip addr add 198.19.0.1/24 dev eth1",
];

export async function topology(t: TestConsole): Promise<void> {
  await t.setup(...TOPOLOGY);
  t.dp.setNeighbour(0, CLIENT, CLIENT_MAC);
  RS.forEach((a, i) => t.dp.setNeighbour(1, a, RS_MAC[i]));
}

/** Sends frames from the client side in one batch at time now. */
export function fromClient(t: TestConsole, frames: Uint8Array[], now = 1000): number[] {
  const b = t.dp.createBatch(Math.max(1, frames.length));
  frames.forEach((f, i) => b.set(i, f, 0));
  b.run(now);
  return frames.map((_, i) => b.result(i).verdict);
}

export const syn = (dport: number, sport: number, dst = "198.18.100.1") =>
  tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: ETH0_MAC, src: CLIENT, dst, sport, dport, flags: "S", seq: 1000, payload: new Uint8Array(0) });

export const datagram = (dport: number, sport: number, dst = "198.18.100.1") =>
  udp4Frame({ ethSrc: CLIENT_MAC, ethDst: ETH0_MAC, src: CLIENT, dst, sport, dport, payload: new Uint8Array(10) });
