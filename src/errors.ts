// Errors a person can act on: one base class, WeirError, whose code
// (WEIR_ERR_…) is one of the table below, and the subclasses a layer
// catches by kind. undici's lib/core/errors.js is the model: one file, one
// base, a code string on each. The consoles catch WeirError and print its
// message after "error: " (console/interpreter.ts); the code is for logs and
// tests, and a code not in the table does not compile.
//
// Errors of the native addon (native/, WEIR_ERR_BAD_HANDLE …) are Node's
// errors with a code, not these.

/** Every code, by where it is raised, with what it means. */
export const CODES = {
  // The data plane's control-call results (assembly/ctl/errors.ts errorName):
  // the text is the reason controlError() puts in the message.
  INVALID_ARGUMENT: "invalid argument",
  NO_SUCH_SERVICE: "no such service",
  SERVICE_EXISTS: "service already exists",
  NO_SUCH_DEST: "no such real server",
  DEST_EXISTS: "real server already exists",
  UNKNOWN_SCHEDULER: "unknown scheduler",
  NO_TRANSACTION: "no transaction open",
  TRANSACTION_OPEN: "a transaction is already open",
  TABLE_FULL: "table full",
  ADDRESS_FAMILY: "address family mismatch",
  NO_SUCH_LINK: "no such link",
  NO_SUCH_ADDRESS: "no such address",
  NO_ROUTE: "no such route",
  EXISTS: "already exists",
  NOT_FOUND: "not found",
  UNKNOWN: "unknown",

  // The data plane's binding, packet I/O, steering and host commands (dataplane/).
  BAD_SCHED_FLAG: "a scheduler flag that is not one, or not the scheduler's",
  TX_BUSY: "a sliced transaction is being applied",
  TX_CLOSED: "a transaction used after its end",
  TEST_PICK: "a test scheduling call failed",
  TEST_SET_CONNS: "a test connection-count call failed",
  SYNC_RECORDS: "connection-sync records that are not whole, or of an unknown kind",
  SYNC_LOG: "a connection-sync log size out of range",
  BAD_MAC: "not a link-layer address",
  NO_MEMORY: "no room in the data plane's memory",
  NO_DEVICE: "no such network device",
  IO_STOPPED: "packet I/O is not running",
  IO_RINGS_ONLY: "this packet I/O attaches rings only",
  IO_ATTACH: "the data plane refused a link",
  STEER: "workers or member out of range for steering",
  STEER_TOO_LARGE: "the steering program exceeds the kernel's size",
  NO_TOOL: "a host tool (ip, nft) is missing",
  HOST_COMMAND: "a host command failed",

  // Addresses, ports and keys (keys.ts; KeyError).
  BAD_ADDRESS: "not an address",
  BAD_PORT: "not a port",
  BAD_FWMARK: "not a firewall mark",
  BAD_SERVICE: "not a service",

  // The console language and the configuration it builds (console/, config/).
  SYNTAX: "a line that does not split into words",
  BAD_WORD: "an empty command word",
  UNKNOWN_COMMAND: "no such command or subcommand",
  UNKNOWN_OPTION: "no such option",
  UNSUPPORTED_OPTION: "an option or argument not supported here",
  UNEXPECTED_ARGUMENT: "an argument the word does not take",
  MISSING_ARGUMENT: "an option or word without its value",
  MISSING_OPTION: "a command without the service or real server it needs",
  ILLEGAL_OPTION: "an option that does not go with the command",
  DUPLICATE_OPTION: "an option given twice",
  CONFLICT: "options that exclude each other",
  MULTIPLE_COMMANDS: "more than one ipvsadm command",
  NO_COMMAND: "no ipvsadm command",
  NESTED_RESTORE: "ipvsadm -R inside -R input",
  NO_INPUT: "ipvsadm -R without attached input",
  NOT_AVAILABLE: "a feature this appliance does not have yet",
  BAD_VALUE: "a number out of its range",
  BAD_WEIGHT: "a weight out of range",
  BAD_THRESHOLD: "a connection threshold out of range",
  BAD_TIMEOUT: "a timeout out of range",
  BAD_NETMASK: "a persistence netmask that is not one",
  BAD_PREFIX: "a prefix length out of range",
  BAD_PROTOCOL: "a protocol not supported",
  BAD_GATEWAY: "a gateway not on a connected network",
  BAD_DEVICE: "a device name that is not one",
  BAD_MTU: "an MTU out of range",
  BAD_INDEX: "a rule position past the end",
  ZERO_PORT: "port 0 on a service that is not persistent",
  ONE_PACKET: "one-packet scheduling on a TCP service",
  NO_SUCH_DEVICE: "no such device",
  NO_SUCH_ROUTE: "no such route",
  NO_SUCH_CHAIN: "no such chain",
  NO_SUCH_RULE: "no such rule",
  CONNECTED_ROUTE: "a connected route deleted as a static one",
  TOO_MANY_LINKS: "more links than the data plane has",
  LINK: "a link that could not be brought up or down",
  UNSUPPORTED_TABLE: "an iptables table other than mangle",
  UNSUPPORTED_CHAIN: "an iptables chain other than PREROUTING",
  UNSUPPORTED_MATCH: "an iptables match not supported",
  UNSUPPORTED_TARGET: "an iptables target other than MARK",
  BAD_WORKER: "no such data-plane worker",

  // Health checks (health/; HealthError, HealthSyntaxError, ScriptRefused).
  HEALTH_SYNTAX: "a health word that does not parse",
  HEALTH_EXISTS: "a health check that already exists",
  SCRIPT_REFUSED: "a script check the script rules refuse",

  // The consoles' transports and the metrics (console/transport/, metrics/).
  ADDRESS: "not HOST:PORT, or a port out of range",
  TOKEN: "a console token that is too short, missing or unreadable",
  SERIAL: "not a terminal",
  CTL_IN_USE: "another server answers on the control socket",
  CTL_PATH: "the control socket's path is not a socket",
  METRIC_NAME: "a metric name that is not one",
  METRIC_DUPLICATE: "a metric or series declared twice",
  METRIC_UNDECLARED: "a metric not declared",
  LABEL_NAME: "a metric label name that is not one",

  // VRRP (vrrp/): adverts built, instances and sync groups set up.
  BAD_VRRP: "a VRRP advert or instance setting out of range",
  BAD_SYNC_GROUP: "a sync group whose members are not valid",
  VRRP_IO: "VRRP packet I/O on a link failed",

  // Connection sync (sync/).
  SYNC_IO: "connection-sync packet I/O on a link failed",

  // The appliance image: boot state, update bundles, upgrades (image/).
  BAD_BOOT_STATE: "a boot state that does not encode",
  NO_BOOT_STATE: "no valid boot state",
  BOOT_STATE_FILE: "a boot state file of the wrong size",
  BOOT_NO_FALLBACK: "no good slot to fall back on",
  BAD_VERSION: "a version that is not MAJOR.MINOR.PATCH",
  KEY_EXISTS: "a signing key that exists already",
  BUNDLE_KEY: "a bundle key that is not one",
  BUNDLE_INPUT: "a bundle that cannot be made from its input",
  BUNDLE_UNREADABLE: "a bundle that cannot be read",
  BUNDLE_NOT_A_BUNDLE: "not an update bundle",
  BUNDLE_TRUNCATED: "a bundle shorter than its manifest",
  BUNDLE_TRAILING_DATA: "a bundle longer than its manifest",
  BUNDLE_MALFORMED: "a bundle manifest that does not parse",
  BUNDLE_UNSIGNED: "an unsigned bundle",
  BUNDLE_BAD_SIGNATURE: "a bundle signed by no trusted key",
  BUNDLE_CORRUPT: "a bundle part that does not match its digest",
  BUNDLE_WRONG_PRODUCT: "a bundle of another product",
  BUNDLE_WRONG_ARCH: "a bundle for another architecture",
  BUNDLE_DOWNGRADE: "a bundle older than the running version",
  BUNDLE_SAME_VERSION: "a bundle of the running version",
  BUNDLE_TOO_OLD: "a running version older than the bundle upgrades from",
  IMAGE_NO_SLOT: "not booted from a Weir image",
  IMAGE_STARTING: "an image still on trial",
  IMAGE_TOO_BIG: "a slot image larger than its slot",
  IMAGE_NO_TOOL: "an image tool is missing",
  IMAGE_TOOL_FAILED: "an image tool failed",
} as const;

/** A code's name in the table: "BAD_ADDRESS". */
export type Code = keyof typeof CODES;
/** A code as errors carry it: "WEIR_ERR_BAD_ADDRESS". */
export type ErrorCode = `WEIR_ERR_${Code}`;

export function isCode(name: string): name is Code {
  return Object.hasOwn(CODES, name);
}

export class WeirError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = "WeirError";
  }
}

/** Throws a WeirError with code WEIR_ERR_<code>: the console language's and the configuration's errors. */
export function fail(code: Code, message: string): never {
  throw new WeirError(`WEIR_ERR_${code}`, message);
}

/** What an address, host:port, port, mark or service text got wrong (keys.ts); the message is ipvsadm's wording. */
export class KeyError extends WeirError {
  declare readonly code: "WEIR_ERR_BAD_ADDRESS" | "WEIR_ERR_BAD_PORT" | "WEIR_ERR_BAD_FWMARK" | "WEIR_ERR_BAD_SERVICE";
  constructor(code: KeyError["code"], message: string) {
    super(code, message);
    this.name = "KeyError";
  }
}

/** A refusal of the health-check layer (a check that exists already). */
export class HealthError extends WeirError {
  constructor(code: "WEIR_ERR_HEALTH_EXISTS", message: string) {
    super(code, message);
    this.name = "HealthError";
  }
}

/** A `health …` word that does not parse; the message names the token (health/syntax.ts). */
export class HealthSyntaxError extends WeirError {
  constructor(message: string) {
    super("WEIR_ERR_HEALTH_SYNTAX", message);
    this.name = "HealthSyntaxError";
  }
}

/** A script (or a setting) refused by the script rules (health/policy.ts); message is one line. */
export class ScriptRefused extends WeirError {
  constructor(message: string) {
    super("WEIR_ERR_SCRIPT_REFUSED", message);
    this.name = "ScriptRefused";
  }
}
