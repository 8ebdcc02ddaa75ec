// One check run with a deadline: the shared plumbing of every checker.
// `start` opens whatever the check needs and returns its cleanup; the run
// ends exactly once (result, timeout or abort), and the cleanup always runs
// before the promise settles, so no socket or process outlives the run.

import type { CheckResult } from "./types.js";

export type Finish = (result: CheckResult) => void;
/** Closes/destroys/kills what `start` opened; may return a promise (e.g. waiting for a process to exit). */
export type Cleanup = () => void | Promise<void>;

export interface RunOptions {
  timeoutMs: number;
  /** Aborting ends the run at once (the monitor's stop()). */
  signal?: AbortSignal;
}

export function runWithDeadline(opts: RunOptions, start: (finish: Finish) => Cleanup): Promise<CheckResult> {
  return new Promise<CheckResult>((resolve) => {
    let cleanup: Cleanup | null = null;
    let done = false;
    let pending: CheckResult | null = null;
    const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${opts.timeoutMs} ms` }), opts.timeoutMs);
    const onAbort = () => finish({ ok: false, error: "aborted" });

    function finish(result: CheckResult): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (!cleanup) { pending = result; return; } // finished while start() was still running
      let waited: void | Promise<void>;
      try { waited = cleanup(); } catch { waited = undefined; }
      if (waited) waited.then(() => resolve(result), () => resolve(result));
      else resolve(result);
    }

    if (opts.signal?.aborted) { clearTimeout(timer); resolve({ ok: false, error: "aborted" }); return; }
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      cleanup = start(finish);
    } catch (e) {
      cleanup = () => {};
      finish({ ok: false, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    if (pending) { const r = pending; done = false; finish(r); }
  });
}

/** An error as one line of text. */
export function errorText(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.split("\n")[0];
}
