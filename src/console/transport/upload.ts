// Files uploaded over the WebSocket console (an update bundle for `image
// upgrade`): {"type":"upload","size":N} opens one, binary frames carry its
// bytes in order, and the server answers {"type":"upload","ok":true,"path":P}
// once all N have arrived. A session's files are removed when it closes.

import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";

export interface UploadOptions {
  /** Directory for uploaded files (made 0700). */
  dir: string;
  /** Largest upload accepted, in bytes. */
  maxBytes: number;
}

export class Upload {
  received = 0;
  private fd: number | undefined;

  private constructor(readonly path: string, readonly size: number, fd: number) { this.fd = fd; }

  static open(o: UploadOptions, size: unknown): Upload {
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size <= 0) throw new Error('an upload message needs a positive whole "size" in bytes');
    if (size > o.maxBytes) throw new Error(`upload of ${size} bytes refused: at most ${o.maxBytes}`);
    fs.mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    const file = path.join(o.dir, `upload-${crypto.randomBytes(6).toString("hex")}`);
    return new Upload(file, size, fs.openSync(file, "wx", 0o600));
  }

  get complete(): boolean { return this.received === this.size; }

  /** Appends a chunk; throws (and removes the file) if it goes past the announced size. */
  write(chunk: Buffer): void {
    if (this.fd === undefined) throw new Error("upload already finished");
    if (this.received + chunk.length > this.size) {
      this.remove();
      throw new Error(`upload longer than the announced ${this.size} bytes`);
    }
    fs.writeSync(this.fd, chunk);
    this.received += chunk.length;
    if (this.complete) {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }

  remove(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    fs.rmSync(this.path, { force: true });
  }
}
