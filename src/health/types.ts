// Health checks: the shapes shared by the checkers, the monitor, the action
// glue and the console words. Modelled on keepalived's virtual_server /
// real_server checkers (TCP_CHECK, HTTP_GET, UDP_CHECK, MISC_CHECK).
//
// Keys are plain strings so they can index maps (../keys.ts serviceId, destId):
//   service key  "tcp:198.18.100.1:80", "udp:[2001:db8::1]:53", "fwm:7", "fwm6:7"
//   dest key     "198.19.0.11:80", "[2001:db8::11]:80" (port 0 for a fwmark
//                service's real server given without a port)

/** What happens to a failed real server (keepalived: inhibit_on_failure or not). */
export type HealthMode = "inhibit" | "remove";

export type FwdName = "nat" | "dr" | "tun";

export interface SorryServer {
  /** Dest key, "addr:port". */
  dest: string;
  /** Forwarding method: ipvsadm -m (nat), -g (dr, the default), -i (tun). */
  fwd: FwdName;
}

/**
 * What the health checks act on; the config model implements it. Calls may be
 * synchronous or return a promise; the glue calls them one at a time, in order.
 */
export interface HealthTarget {
  /**
   * A checked real server went down or came back. "inhibit": keep it with
   * weight 0 while down, restore its configured weight when up. "remove":
   * take it out of the service while down, put it back when up.
   */
  setDestHealth(serviceKey: string, destKey: string, up: boolean, mode: HealthMode): void | Promise<void>;
  /** Engage (sorry given) or disengage (null) the service's sorry server. */
  setSorryServer(serviceKey: string, sorry: SorryServer | null): void | Promise<void>;
  /**
   * Optional: the real servers configured in a service (undefined when there
   * is no such service). When given, `health add`/`health sorry` refuse
   * unknown services and real servers, and real servers without a check count
   * as up when deciding whether the sorry server is needed.
   */
  destKeys?(serviceKey: string): string[] | undefined;
}

/** The result of one check run. Checkers never throw; they return this. */
export interface CheckResult {
  ok: boolean;
  /** Why it failed (one line), when !ok. */
  error?: string;
}

export interface TcpCheck {
  type: "tcp";
}

export interface HttpCheck {
  type: "http";
  /** Request path, starting with "/". */
  path: string;
  /** Expected status code (keepalived status_code; default 200). */
  status: number;
  /** Expected MD5 of the body, lowercase hex (keepalived digest). */
  digest?: string;
  /** Host header (default: the address and port connected to). */
  host?: string;
}

export interface UdpCheck {
  type: "udp";
  /** Datagram sent, lowercase hex; "" sends an empty datagram. */
  payload: string;
  /** When given, the reply must begin with these bytes (lowercase hex). */
  expect?: string;
}

export interface ScriptCheck {
  type: "script";
  /** Command (a path; run without a shell) and its arguments. */
  command: string;
  args: string[];
}

export type CheckKind = TcpCheck | HttpCheck | UdpCheck | ScriptCheck;
export type CheckType = CheckKind["type"];

/** One health check: one real server of one service (as `health add` gives it). */
export interface CheckSpec {
  service: string;
  dest: string;
  check: CheckKind;
  /** Address to connect to instead of the real server's (keepalived connect_ip). */
  connectIp?: string;
  /** Port to connect to instead of the real server's (keepalived connect_port). */
  connectPort?: number;
  /** Source address for the check's socket (keepalived bindto). */
  bind?: string;
  /** Milliseconds between the starts of two runs (keepalived delay_loop). */
  intervalMs: number;
  /** Milliseconds a run may take (keepalived connect_timeout). */
  timeoutMs: number;
  /** Consecutive successes that bring a down server back up. */
  rise: number;
  /** Consecutive failures that take an up server down. */
  fall: number;
  /** Start down, come up after `rise` successes (keepalived alpha); default: start up. */
  alpha: boolean;
  mode: HealthMode;
}

/** Defaults, as `health add` fills them in (rise/fall as haproxy's: 2 and 3). */
export const CHECK_DEFAULTS = {
  intervalMs: 5000,
  timeoutMs: 3000,
  rise: 2,
  fall: 3,
  alpha: false,
  mode: "inhibit" as HealthMode,
  httpStatus: 200,
} as const;

/** A state change of one real server, as the monitor reports it. */
export interface Transition {
  service: string;
  dest: string;
  up: boolean;
  /** Why, for logs and people: "3 consecutive failures: connect ECONNREFUSED …". */
  reason: string;
}

/** One check's state and counters (for `health show` and metrics). */
export interface CheckStatus {
  service: string;
  dest: string;
  type: CheckType;
  up: boolean;
  /** Runs completed. */
  checks: number;
  /** Runs that failed. */
  failures: number;
  /** Transitions reported (including the initial one of an `alpha` check). */
  transitions: number;
  /** Outcome of the last run; null before the first one completes. */
  lastOk: boolean | null;
  /** Error text of the last failed run (kept after later successes); null if none yet. */
  lastError: string | null;
  /** How long the last run took, in milliseconds. */
  lastDurationMs: number | null;
}
