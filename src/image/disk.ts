// The GPT disk: EFI system partition, slots A and B, config. Laid out with
// sfdisk on the image file (fixed GUIDs), then each filesystem image is
// copied to its partition's offset, skipping all-zero blocks so the disk
// stays sparse.

import fs from "node:fs";
import { run } from "./exec.js";

const SECTOR = 512;
const MiB = 1 << 20;

export interface PartitionSpec {
  name: string;
  type: "esp" | "linux";
  sizeMiB: number;
  uuid: string;
  /** Filesystem image to copy in (none: left zero). */
  image?: string;
}

export interface Layout { startSector: number; sectors: number }

const TYPE_GUID = { esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", linux: "0FC63DAF-8483-4772-8E79-3D69D8477DE4" };

export async function makeDisk(out: string, diskGuid: string, parts: PartitionSpec[]): Promise<Layout[]> {
  // 1 MiB before the first partition, 1 MiB after the last for the backup GPT.
  const total = 2 + parts.reduce((n, p) => n + p.sizeMiB, 0);
  fs.rmSync(out, { force: true });
  fs.writeFileSync(out, "");
  fs.truncateSync(out, total * MiB);
  const layout: Layout[] = [];
  let start = MiB / SECTOR;
  const lines = ["label: gpt", `label-id: ${diskGuid}`, "unit: sectors", "first-lba: 2048", ""];
  for (const [i, p] of parts.entries()) {
    const sectors = (p.sizeMiB * MiB) / SECTOR;
    lines.splice(lines.length - 1, 0, `${i + 1}: start=${start}, size=${sectors}, type=${TYPE_GUID[p.type]}, uuid=${p.uuid}, name="${p.name}"`);
    layout.push({ startSector: start, sectors });
    start += sectors;
  }
  await run("sfdisk", ["--no-reread", "--no-tell-kernel", "-q", out], { input: lines.join("\n") });
  const fd = fs.openSync(out, "r+");
  try {
    for (const [i, p] of parts.entries()) {
      if (!p.image) continue;
      const size = fs.statSync(p.image).size;
      if (size > layout[i].sectors * SECTOR) throw new Error(`${p.name}: ${p.image} (${size} bytes) does not fit its ${p.sizeMiB} MiB partition`);
      copySparse(p.image, fd, layout[i].startSector * SECTOR);
    }
  } finally {
    fs.closeSync(fd);
  }
  return layout;
}

/** Copies file into fd at offset, writing only blocks that are not all zero. */
export function copySparse(file: string, fd: number, offset: number): void {
  const src = fs.openSync(file, "r");
  const buf = Buffer.alloc(MiB);
  try {
    for (let pos = 0; ; ) {
      const n = fs.readSync(src, buf, 0, buf.length, pos);
      if (n <= 0) break;
      for (let b = 0; b < n; b += 4096) {
        const end = Math.min(b + 4096, n);
        if (buf.subarray(b, end).some((x) => x !== 0)) fs.writeSync(fd, buf, b, end - b, offset + pos + b);
      }
      pos += n;
    }
  } finally {
    fs.closeSync(src);
  }
}
