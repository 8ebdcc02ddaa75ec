// Appliance versions: "MAJOR.MINOR.PATCH" with an optional "-suffix".
// Compared numerically on the three numbers; a suffixed version (a release
// candidate, a dev build) sorts before the same version without one.

export interface Version {
  major: number;
  minor: number;
  patch: number;
  /** The text after "-", or null for a release. */
  suffix: string | null;
}

// No leading zeros ("1.02.0" would otherwise equal "1.2.0"); at most 9 digits
// so every number is exact.
const VERSION = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?$/;

/** The parsed version, or null if text is not MAJOR.MINOR.PATCH[-suffix]. */
export function parseVersion(text: unknown): Version | null {
  if (typeof text !== "string") return null;
  const m = VERSION.exec(text);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), suffix: m[4] ?? null };
}

/** Negative if a is older than b, 0 if equal, positive if newer. Two suffixes compare as plain strings. */
export function compareVersions(a: Version, b: Version): number {
  const d = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (d !== 0) return Math.sign(d);
  if (a.suffix === b.suffix) return 0;
  if (a.suffix === null) return 1;
  if (b.suffix === null) return -1;
  return a.suffix < b.suffix ? -1 : 1;
}
