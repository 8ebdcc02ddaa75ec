// Tests that need a tool, root or a device skip on a machine without it, and
// say why; under CI (CI=true) they fail instead, so a missing install step
// cannot pass as a green run with whole suites skipped.

/** True when the suite should be skipped (ok is false, not under CI); throws under CI. */
export function requireOrFail(ok: boolean, why: string): boolean {
  if (ok) return false;
  if (process.env.CI === "true") throw new Error(`CI=true and this test cannot run: ${why}`);
  process.stderr.write(`skipped: ${why}\n`);
  return true;
}
