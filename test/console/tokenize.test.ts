// The console's word splitter: control characters are refused inside words
// (a quoted newline used to be saved as two lines and stop the next boot),
// and what save writes (quoteWord) always splits back into the same words.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tokenize } from "../../src/console/tokenize.js";
import { quoteWord } from "../../src/config/save.js";
import { WeirError } from "../../src/errors.js";

const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** Words of any text without control characters (quotes, #, backslashes and non-ASCII spaces included). */
const word = fc.string({
  unit: fc.oneof(
    fc.constantFrom(" ", "\"", "'", "\\", "#", "\u00a0", "\u2028", "é", "-", "/"),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }),
  ),
  maxLength: 12,
}).filter((w) => !CONTROL.test(w));

describe("tokenize", () => {
  it("splits, quotes, escapes and drops comments as before", () => {
    expect(tokenize("  ipvsadm -A\t-t 10.0.0.1:80  ")).toEqual(["ipvsadm", "-A", "-t", "10.0.0.1:80"]);
    expect(tokenize(`health add "a b" 'c "d"' e\\ f "g\\"h" # comment`)).toEqual(["health", "add", "a b", 'c "d"', "e f", 'g"h']);
    expect(tokenize(`x "" ''`)).toEqual(["x", "", ""]);
    expect(tokenize("a#b # c")).toEqual(["a#b"]);
    expect(tokenize("ip link set eth0 up\r")).toEqual(["ip", "link", "set", "eth0", "up"]);
  });

  it("refuses a control character inside a word, quoted, escaped or bare, with one line", () => {
    const cases: Array<[string, string]> = [
      ['health add -t 1.2.3.4:80 -r 5.6.7.8 http path "/a\nb"', "U+000A"],
      ["health add 'a\rb'", "U+000D"],
      ['x "tab\there"', "U+0009"],
      ["x a\\\nb", "U+000A"],
      ["x \x1b[31mred", "U+001B"],
      ["x \"\x1b[2J\"", "U+001B"],
      ["x del\x7f", "U+007F"],
      ["x c1\x9b", "U+009B"],
      ["x nul\x00", "U+0000"],
    ];
    for (const [line, code] of cases) {
      let thrown: unknown;
      try { tokenize(line); } catch (e) { thrown = e; }
      expect(thrown, JSON.stringify(line)).toBeInstanceOf(WeirError);
      expect((thrown as Error).message).toBe(`control character ${code} in a word (not allowed)`);
    }
  });

  it("control characters that separate words unquoted are still separators", () => {
    expect(tokenize("a\tb\nc\x0bd\x0ce\rf")).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(tokenize('a\t"b"\nc')).toEqual(["a", "b", "c"]);
  });

  it("any line: refused, or words without control characters", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 40 }), (line) => {
      let words: string[];
      try { words = tokenize(line); } catch (e) {
        expect(e).toBeInstanceOf(WeirError);
        expect((e as Error).message).not.toMatch(/\n/);
        return;
      }
      for (const w of words) expect(w).not.toMatch(CONTROL);
    }), { numRuns: 2000 });
  });

  it("quoteWord: any accepted word list, joined as save writes it, splits back into the same words on one line", () => {
    fc.assert(fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), (words) => {
      const line = words.map(quoteWord).join(" ");
      expect(line.split(/\r?\n/)).toHaveLength(1);
      expect(tokenize(line)).toEqual(words);
    }), { numRuns: 2000 });
  });

  it("any line the splitter accepts, re-quoted, gives the same words", () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom("a", " ", "\"", "'", "\\", "#", "\t", "é"), maxLength: 24 }), (line) => {
      let words: string[];
      try { words = tokenize(line); } catch { return; }
      expect(tokenize(words.map(quoteWord).join(" "))).toEqual(words);
    }), { numRuns: 2000 });
  });
});
