// Writing the config file atomically: a temporary file in the same
// directory, fsync, rename over the old file, fsync the directory. A crash
// leaves either the old file or the new one, never a mix. And quoting words
// for it: a saved line splits (console/tokenize.ts) into the words it was
// made from.

import { open, rename, stat, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";

/** Writes `data` to `file` atomically, with `mode` (default: the old file's, else 0644). */
export async function atomicWrite(file: string, data: string, mode?: number): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  mode ??= await stat(file).then((s) => s.mode & 0o777, () => 0o644);
  const fh = await open(tmp, "wx", mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * A word as a config line writes it: as is when the console's word splitter
 * keeps it whole, else in double quotes with " and \ escaped. Words never
 * hold control characters (the splitter refuses them), so a quoted word
 * stays on its line.
 */
export function quoteWord(word: string): string {
  return word !== "" && /^[^\s"'\\#]+$/.test(word) ? word : `"${word.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
