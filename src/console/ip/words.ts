// iproute2's way with words: any prefix of a keyword matches it ("ip a s"),
// and `dev` before a device name is optional in most places.

import { fail } from "../../errors.js";

/** iproute2's matches(): tok is a non-empty prefix of keyword. */
export function matches(tok: string | undefined, keyword: string): boolean {
  return tok !== undefined && tok.length > 0 && keyword.startsWith(tok);
}

/** Which of keywords tok abbreviates (first match wins, as iproute2's tables). */
export function pick(tok: string | undefined, keywords: string[], what: string): string {
  const k = keywords.find((w) => matches(tok, w));
  if (!k) fail("UNKNOWN_COMMAND", `unknown ${what} '${tok}'`);
  return k;
}

/** Reads the value after a keyword at args[i]. */
export function valueAt(args: string[], i: number): string {
  const v = args[i + 1];
  if (v === undefined) fail("MISSING_ARGUMENT", `missing argument for '${args[i]}'`);
  return v;
}

export type FamilyFilter = 4 | 6 | undefined;
