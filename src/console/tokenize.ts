// Splits a console line into words, as a shell would for simple cases:
// whitespace separates, '…' and "…" quote, backslash escapes, # starts a
// comment at the beginning of a word.

import { fail } from "../config/errors.js";

export function tokenize(line: string): string[] {
  // Most lines (and every line of a big ipvsadm -R) have nothing to unquote.
  if (!/['"\\#]/.test(line)) {
    const t = line.trim();
    return t ? t.split(/\s+/) : [];
  }
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
      continue;
    }
    if (c === "'" || c === '"') { quote = c; inWord = true; continue; }
    if (c === "\\" && i + 1 < line.length) { cur += line[++i]; inWord = true; continue; }
    if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = ""; inWord = false;
      continue;
    }
    if (c === "#" && !inWord) break;
    cur += c; inWord = true;
  }
  if (quote) fail("SYNTAX", `unterminated quote ${quote}`);
  if (inWord) out.push(cur);
  return out;
}
