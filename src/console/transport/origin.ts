// Which browser pages may open the WebSocket console (the Origin check that
// stops another site's page, running in an operator's browser, from talking
// to the appliance).
//
// - No Origin header: a non-browser client (`weir console`, scripts): allowed;
//   the token is still required.
// - An origin listed in allowedOrigins (exact scheme://host[:port]): allowed.
// - Otherwise the page must come from this server itself: same scheme
//   (http for plain, https for TLS) and same host:port as the request's Host
//   header, and that host must be an IP literal, "localhost", or the host the
//   server listens on. A DNS name the server does not know must be listed in
//   allowedOrigins: a host name alone would let a DNS-rebinding page, whose
//   own name has been pointed at the appliance, pass as same-origin.
// - "null" (sandboxed frames, file: pages) and anything unparsable: refused.

import net from "node:net";

export interface OriginPolicy {
  /** True when the server speaks TLS (pages then come from https:). */
  secure: boolean;
  /** The host the server listens on, as configured. */
  listenHost: string;
  /** Extra origins allowed, e.g. "https://lb1.example.net:8443". */
  allowedOrigins?: readonly string[];
}

/** scheme://host[:port] in the form browsers send (lower case, default port left out); undefined if not a valid http(s) origin. */
export function normaliseOrigin(s: string): string | undefined {
  try {
    const u = new URL(s);
    if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
    return u.origin;
  } catch {
    return undefined;
  }
}

function bare(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

export function originAllowed(origin: string | undefined, hostHeader: string | undefined, policy: OriginPolicy): boolean {
  if (origin === undefined) return true;
  const o = normaliseOrigin(origin);
  if (o === undefined) return false;
  if (policy.allowedOrigins?.some((a) => normaliseOrigin(a) === o)) return true;
  if (hostHeader === undefined) return false;
  const scheme = policy.secure ? "https:" : "http:";
  let self: URL;
  let page: URL;
  try {
    self = new URL(`${scheme}//${hostHeader}`);
    page = new URL(o);
  } catch {
    return false;
  }
  if (page.protocol !== scheme || page.host !== self.host) return false;
  const name = bare(page.hostname).toLowerCase();
  return net.isIP(name) !== 0 || name === "localhost" || name === bare(policy.listenHost).toLowerCase();
}
