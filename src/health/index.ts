// Health checks (keepalived's model): checkers, the monitor, the action glue,
// the rules script checks run under, and the `health …` console words.

export * from "./types.js";
export { HealthError, HealthSyntaxError, ScriptRefused, KeyError } from "../errors.js";
export { runWithDeadline, type RunOptions } from "./deadline.js";
export { checkTcp, type TcpCheckOptions } from "./tcp.js";
export { checkHttp, type HttpCheckOptions, MAX_DIGEST_BODY } from "./http.js";
export { checkUdp, type UdpCheckOptions } from "./udp.js";
export { checkScript, type ScriptCheckOptions } from "./script.js";
export { runCheck } from "./run.js";
export {
  ScriptPolicy, DEFAULT_SCRIPT_DIR, DEFAULT_SCRIPT_USERS, SCRIPT_DEFAULTS,
  type ScriptSettings, type ScriptIdentity, type ScriptPolicyOptions,
} from "./policy.js";
export { lookupUser, lookupGroup, type UserEntry, type GroupEntry } from "./users.js";
export { HealthMonitor, type MonitorOptions, type TransitionListener, type CheckRunner } from "./monitor.js";
export { HealthActions } from "./actions.js";
export {
  parseAdd, formatAdd, parseDel, parseSorry, parseService, formatSorry, formatPair,
  parseDuration, formatDuration, quoteToken,
} from "./syntax.js";
export { healthCommand, HEALTH_HELP, type HealthCommand } from "./command.js";
