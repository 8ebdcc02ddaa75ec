// A cpio "newc" archive writer for the initramfs. Written here rather than
// calling cpio(1) because the archive must be byte-for-byte reproducible:
// every entry gets owner 0:0, one fixed mtime (SOURCE_DATE_EPOCH), and inode
// numbers in the order entries are added, whatever the staging tree says.

export type CpioEntry =
  | { type: "dir"; path: string; mode?: number }
  | { type: "file"; path: string; mode?: number; data: Uint8Array }
  | { type: "symlink"; path: string; target: string }
  | { type: "chardev"; path: string; mode?: number; major: number; minor: number };

const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000, S_IFCHR = 0o020000;

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** The archive's bytes for entries (in the given order) with every mtime set to mtime (seconds). */
export function cpioArchive(entries: CpioEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0], nlink = 1) => {
    const nameBytes = Buffer.from(`${name}\0`, "utf8");
    const header =
      "070701" + hex8(ino++) + hex8(mode) + hex8(0) + hex8(0) + hex8(nlink) + hex8(mtime) +
      hex8(data.length) + hex8(0) + hex8(0) + hex8(rdev[0]) + hex8(rdev[1]) + hex8(nameBytes.length) + hex8(0);
    parts.push(Buffer.from(header, "ascii"), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)));
    parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, "");
    if (!name) throw new Error("cpio: empty path");
    switch (e.type) {
      case "dir": push(name, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), [0, 0], 2); break;
      case "file": push(name, S_IFREG | (e.mode ?? 0o644), e.data); break;
      case "symlink": push(name, S_IFLNK | 0o777, Buffer.from(e.target, "utf8")); break;
      case "chardev": push(name, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), [e.major, e.minor]); break;
    }
  }
  ino = 0;
  push("TRAILER!!!", 0, new Uint8Array(0), [0, 0], 1);
  return Buffer.concat(parts);
}
