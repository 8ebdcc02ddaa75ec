// Splits a console line into words, as a shell would for simple cases:
// whitespace separates, '…' and "…" quote, backslash escapes, # starts a
// comment at the beginning of a word. A word may not hold a control
// character (C0, DEL, C1): a newline inside quotes would be saved as two
// lines (and the next boot would stop at the unterminated quote), and the
// others are terminal escapes when running-config is printed. Nothing
// legitimate needs one, so they are refused rather than escaped on save.

import { fail } from "../errors.js";

/** Control characters that may not be part of a word. */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
/** The same, less the whitespace ones (\t \n \v \f \r), which separate unquoted words. */
const CONTROL_NOT_SPACE = /[\x00-\x08\x0e-\x1f\x7f-\x9f]/;

function refuse(c: string): never {
  const code = c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
  return fail("SYNTAX", `control character U+${code} in a word (not allowed)`);
}

export function tokenize(line: string): string[] {
  // Most lines (and every line of a big ipvsadm -R) have nothing to unquote.
  if (!/['"\\#]/.test(line)) {
    const bad = CONTROL_NOT_SPACE.exec(line);
    if (bad) refuse(bad[0]);
    const t = line.trim();
    return t ? t.split(/\s+/) : [];
  }
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  const add = (c: string) => {
    if (CONTROL.test(c)) refuse(c);
    cur += c;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) add(line[++i]);
      else add(c);
      continue;
    }
    if (c === "'" || c === '"') { quote = c; inWord = true; continue; }
    if (c === "\\" && i + 1 < line.length) { add(line[++i]); inWord = true; continue; }
    if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = ""; inWord = false;
      continue;
    }
    if (c === "#" && !inWord) break;
    add(c); inWord = true;
  }
  if (quote) fail("SYNTAX", `unterminated quote ${quote}`);
  if (inWord) out.push(cur);
  return out;
}
