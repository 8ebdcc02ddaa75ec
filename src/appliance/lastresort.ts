// The supervisor's last resort (`weir run`): an exception no handler caught,
// or a rejected promise nobody handled, is logged (fatal, with its stack) and
// the process keeps running.
//
// Why not exit, as Node does by default: the supervisor is the appliance.
// Its exit takes the data plane down with it (every forwarded connection is
// cut), and on the image the init restarts it and counts the exit: five in
// quick succession reach the recovery prompt with the watchdog disarmed, so a
// client that could make it throw five times could take the appliance off the
// network. Every handler is meant to catch its own errors (the listening
// endpoints are fuzzed for it: test/console/transport/fuzz.test.ts,
// test/metrics/fuzz.test.ts); what still gets here is a bug whose damage is
// almost always confined to the one request, connection or timer tick that
// threw, which is a far smaller loss than the whole appliance. A supervisor
// that is really wedged stops feeding the watchdog, which still reboots it,
// and a real crash (out of memory, a native fault) still ends the process.
//
// At most maxPerMinute errors a minute are logged in full (a bug that throws
// on every tick must not flood the log); the rest are counted, and the count
// is logged when the minute is over.

import type { Logger } from "../log.js";

export interface LastResortOptions {
  log: Logger;
  /** The process to guard (tests pass an EventEmitter). */
  proc?: Pick<NodeJS.EventEmitter, "on" | "off">;
  /** Errors logged in full per minute (default 10). */
  maxPerMinute?: number;
  now?: () => number;
}

/** Installs the handlers; returns a function that removes them. */
export function installLastResort(o: LastResortOptions): () => void {
  const proc = o.proc ?? process;
  const max = o.maxPerMinute ?? 10;
  const now = o.now ?? Date.now;
  let minute = -Infinity;
  let logged = 0;
  let suppressed = 0;

  const report = (kind: "uncaught exception" | "unhandled rejection", err: unknown) => {
    const t = now();
    if (t - minute >= 60_000) {
      if (suppressed > 0) o.log.fatal({ suppressed }, `last resort: ${suppressed} more uncaught errors in the last minute were not logged`);
      minute = t;
      logged = 0;
      suppressed = 0;
    }
    if (logged >= max) {
      suppressed++;
      return;
    }
    logged++;
    const e = err instanceof Error ? err : new Error(`non-error value: ${String(err)}`);
    if (kind === "uncaught exception") o.log.fatal({ err: e }, "uncaught exception (a bug): logged, and weir run keeps running");
    else o.log.error({ err: e }, "unhandled promise rejection (a bug): logged, and weir run keeps running");
  };
  // The handlers themselves must never throw: an exception in an
  // uncaughtException handler ends the process.
  const guarded = (kind: Parameters<typeof report>[0]) => (err: unknown) => {
    try {
      report(kind, err);
    } catch {
      /* nothing left to tell it to */
    }
  };
  const onException = guarded("uncaught exception");
  const onRejection = guarded("unhandled rejection");
  proc.on("uncaughtException", onException);
  proc.on("unhandledRejection", onRejection);
  return () => {
    proc.off("uncaughtException", onException);
    proc.off("unhandledRejection", onRejection);
  };
}
