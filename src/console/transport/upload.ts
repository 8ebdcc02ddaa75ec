// Files uploaded over the WebSocket console (an update bundle for `image
// upgrade`): {"type":"upload","size":N} opens one, binary frames carry its
// bytes in order, and the server answers {"type":"upload","ok":true,"path":P}
// once all N have arrived.
//
// Bounded three ways, so that uploads cannot fill the disk or the memory:
//   - a session keeps one upload: a new one removes its previous file, and
//     closing the session removes it too (ws.ts);
//   - all sessions' files together stay within totalBytes (a file's
//     announced size counts from the moment it is opened);
//   - reserveBytes stay free on the file system (the saved config may live
//     on it too).
// The directory must be on a disk: on tmpfs or ramfs every byte would be
// memory the supervisor and data plane need, so uploads there are refused
// (allowMemoryFs is for tests). Files left by an earlier run (a crash) are
// removed when the store opens.

import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";

export interface UploadOptions {
  /** Directory for uploaded files (made 0700); on a disk, not tmpfs. */
  dir: string;
  /** Largest upload accepted, in bytes. */
  maxBytes: number;
  /** All sessions' uploads together, bytes (default maxBytes). */
  totalBytes?: number;
  /** Free space to leave on the directory's file system, bytes (default 8 MiB). */
  reserveBytes?: number;
  /** Accept a directory on tmpfs or ramfs (tests). */
  allowMemoryFs?: boolean;
}

const PREFIX = "upload-";
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** The file system type of dir, or of its nearest existing parent ("tmpfs", "ramfs", or undefined for anything else). */
export function memoryFs(dir: string): "tmpfs" | "ramfs" | undefined {
  let d = path.resolve(dir);
  while (!fs.existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  const type = Number(fs.statfsSync(d).type);
  return type === TMPFS_MAGIC ? "tmpfs" : type === RAMFS_MAGIC ? "ramfs" : undefined;
}

/** Every upload of one console: the quota across sessions. */
export class UploadStore {
  private readonly totalBytes: number;
  private readonly reserveBytes: number;
  /** Bytes announced by the files that exist now. */
  private used = 0;

  constructor(private readonly o: UploadOptions) {
    this.totalBytes = o.totalBytes ?? o.maxBytes;
    this.reserveBytes = o.reserveBytes ?? 8 << 20;
    let names: string[] = [];
    try {
      names = fs.readdirSync(o.dir);
    } catch {
      /* not made yet */
    }
    for (const n of names) if (n.startsWith(PREFIX)) fs.rmSync(path.join(o.dir, n), { force: true });
  }

  get dir(): string { return this.o.dir; }

  /** Bytes the existing uploads hold (announced sizes). */
  get usedBytes(): number { return this.used; }

  /** Opens a file for an upload of size bytes; throws (with the reason for the client) if it may not be. */
  open(size: unknown): Upload {
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size <= 0) throw new Error('an upload message needs a positive whole "size" in bytes');
    if (size > this.o.maxBytes) throw new Error(`upload of ${size} bytes refused: at most ${this.o.maxBytes}`);
    if (this.used + size > this.totalBytes) {
      throw new Error(`upload of ${size} bytes refused: uploads in progress or kept hold ${this.used} of ${this.totalBytes} bytes`);
    }
    const mem = this.o.allowMemoryFs ? undefined : memoryFs(this.o.dir);
    if (mem) throw new Error(`uploads are refused: ${this.o.dir} is on ${mem} (memory), and the appliance has no disk storage for them`);
    fs.mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    const st = fs.statfsSync(this.o.dir);
    const free = Number(st.bavail) * Number(st.bsize);
    if (size + this.reserveBytes > free) {
      throw new Error(`upload of ${size} bytes refused: ${this.o.dir} has ${free} bytes free and keeps ${this.reserveBytes} free`);
    }
    const file = path.join(this.o.dir, `${PREFIX}${crypto.randomBytes(6).toString("hex")}`);
    const fd = fs.openSync(file, "wx", 0o600);
    this.used += size;
    return new Upload(file, size, fd, () => { this.used -= size; });
  }
}

export class Upload {
  received = 0;
  private fd: number | undefined;
  private release: (() => void) | undefined;

  /** Made by UploadStore.open. */
  constructor(readonly path: string, readonly size: number, fd: number, release: () => void) {
    this.fd = fd;
    this.release = release;
  }

  get complete(): boolean { return this.received === this.size; }

  /** Appends a chunk; throws (and removes the file) if it goes past the announced size. */
  write(chunk: Buffer): void {
    if (this.fd === undefined) throw new Error("upload already finished");
    if (this.received + chunk.length > this.size) {
      this.remove();
      throw new Error(`upload longer than the announced ${this.size} bytes`);
    }
    try {
      for (let off = 0; off < chunk.length; ) off += fs.writeSync(this.fd, chunk, off);
    } catch (e) {
      this.remove();
      throw new Error(`upload not stored: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    this.received += chunk.length;
    if (this.complete) {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }

  /** Deletes the file (finished or not) and gives its bytes back to the quota; twice is harmless. */
  remove(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    fs.rmSync(this.path, { force: true });
    this.release?.();
    this.release = undefined;
  }
}
