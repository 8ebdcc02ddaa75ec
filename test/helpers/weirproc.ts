// `weir` as users run it, for the CLI tests: the command's path, and child
// processes and temporary directories that are cleaned up after each test.

import { afterEach } from "vitest";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const WEIR = path.resolve(import.meta.dirname, "../../bin/weir.js");

/** Registers the cleanup (call once per test file); track() and tempDir() then hand out what it removes. */
export function cleanupAfterEach(prefix = "weir-cli-"): { track: (p: ChildProcess) => ChildProcess; tempDir: () => string } {
  const running: ChildProcess[] = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const p of running.splice(0)) if (p.exitCode === null) p.kill("SIGKILL");
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    track: (p) => { running.push(p); return p; },
    tempDir: () => {
      const d = mkdtempSync(path.join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
  };
}
