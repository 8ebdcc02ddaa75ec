// The appliance image's consoles and metrics answer on the management NIC
// only. They listen on every address (the management address may change at
// run time with `mgmt address`), so each new connection is checked by the
// address it arrived on: one of the management NIC's, or loopback. A
// connection to a VIP or another data-link address is closed before a byte
// is read (and the data links' TAPs refuse new connections anyway:
// src/dataplane/hostguard.ts; this is the second lock).

import os from "node:os";
import type net from "node:net";
import type { Logger } from "../log.js";

type Interfaces = () => NodeJS.Dict<os.NetworkInterfaceInfo[]>;

/** True when the socket's local address is dev's or loopback. */
export function arrivedOn(dev: string, interfaces: Interfaces = os.networkInterfaces): (sock: net.Socket) => boolean {
  return (sock) => {
    let local = sock.localAddress;
    if (!local) return false;
    if (local.startsWith("::ffff:")) local = local.slice(7);
    if (local === "::1" || local.startsWith("127.")) return true;
    return (interfaces()[dev] ?? []).some((a) => a.address === local || a.address === `${local}%${dev}`);
  };
}

/** Closes, at once, every connection to server that accept refuses. */
export function restrictConnections(server: net.Server, accept: (sock: net.Socket) => boolean, log: Logger, what: string): void {
  // Prepended: runs before the HTTP server's own connection handler sets the socket up.
  server.prependListener("connection", (sock: net.Socket) => {
    if (accept(sock)) return;
    log.warn({ local: sock.localAddress, remote: sock.remoteAddress }, `${what}: connection not on the management NIC, closed`);
    sock.destroy();
  });
}
