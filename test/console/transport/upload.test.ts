// Uploads over the WebSocket console: one file per session, a total quota
// across sessions, free space kept, never into memory (tmpfs), leftovers of
// an earlier run removed.

import { describe, it, expect, beforeEach, afterEach } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startWsConsole, type WsConsole } from "../../../src/console/transport/ws.js";
import { UploadStore, memoryFs, type UploadOptions } from "../../../src/console/transport/upload.js";
import { fakeInterpreter, quietLog } from "./fake.js";
import { open, send, type Opened } from "./wshelp.js";

const TOKEN = "test-token-0123456789abcdefghijkl";
let dir: string;
let srv: WsConsole | undefined;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-upload-"));
});
afterEach(async () => {
  await srv?.close();
  srv = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const files = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).sort() : []);

async function start(uploads: Partial<UploadOptions> = {}): Promise<{ s: WsConsole; uploadDir: string }> {
  const uploadDir = path.join(dir, "uploads");
  srv = await startWsConsole({
    interpreter: fakeInterpreter(), host: "127.0.0.1", port: 0, token: TOKEN, log: quietLog,
    uploads: { dir: uploadDir, maxBytes: 1000, allowMemoryFs: true, reserveBytes: 0, ...uploads },
  });
  return { s: srv, uploadDir };
}

async function session(s: WsConsole): Promise<Opened> {
  const c = await open(s.wsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
  await c.next((m) => m.type === "auth");
  return c;
}

/** Announces size bytes and sends `sent` of them; resolves with the server's answer to the announcement (and to the bytes, if all were sent). */
async function upload(c: Opened, size: number, sent = size): Promise<Record<string, unknown>> {
  send(c, { type: "upload", size });
  const ready = await c.next((m) => m.type === "upload");
  if (!ready.ready) return ready;
  if (sent > 0) c.ws.send(Buffer.alloc(sent, 0x61), { binary: true });
  return sent === size ? c.next((m) => m.type === "upload") : ready;
}

/** Closes the session and waits for the server to have removed its file (its close handler may run after the client's). */
async function closeAndSettle(c: Opened, file?: string): Promise<void> {
  c.ws.close();
  await c.closed;
  while (file !== undefined && fs.existsSync(file)) await new Promise((r) => setTimeout(r, 10));
}

describe("uploads", () => {
  it("keep one file per session: a new upload removes the previous one, and closing removes the last", async () => {
    const { s, uploadDir } = await start();
    const c = await session(s);
    const first = await upload(c, 10);
    expect(first).toMatchObject({ type: "upload", ok: true, bytes: 10 });
    expect(fs.readFileSync(first.path as string, "utf8")).toBe("a".repeat(10));
    const second = await upload(c, 20);
    expect(second).toMatchObject({ ok: true, bytes: 20 });
    expect(files(uploadDir)).toEqual([path.basename(second.path as string)]);
    // An unfinished upload replaces the finished one too.
    await upload(c, 30, 5);
    const [third] = files(uploadDir);
    expect(files(uploadDir)).toHaveLength(1);
    expect(fs.existsSync(second.path as string)).toBe(false);
    await closeAndSettle(c, path.join(uploadDir, third));
    expect(files(uploadDir)).toEqual([]);
  });

  it("share a total quota across sessions, counted from the announcement; a closed session gives its bytes back", async () => {
    const { s } = await start({ maxBytes: 80, totalBytes: 100 });
    const a = await session(s);
    const b = await session(s);
    expect(await upload(a, 60, 10)).toMatchObject({ ready: true }); // in progress: 60 held
    expect(await upload(b, 50)).toEqual({ type: "upload", ok: false, text: "error: upload of 50 bytes refused: uploads in progress or kept hold 60 of 100 bytes" });
    a.ws.send(Buffer.alloc(50), { binary: true });
    const done = await a.next((m) => m.type === "upload");
    expect(done).toMatchObject({ ok: true, bytes: 60 });
    expect(await upload(b, 50)).toMatchObject({ ok: false }); // a finished upload still holds its bytes
    expect(await upload(b, 40)).toMatchObject({ ok: true, bytes: 40 });
    await closeAndSettle(a, done.path as string);
    expect(await upload(b, 60)).toMatchObject({ ok: true, bytes: 60 }); // replaces b's 40: 60 of 100
    expect(await upload(b, 81)).toMatchObject({ ok: false, text: "error: upload of 81 bytes refused: at most 80" });
    await closeAndSettle(b);
  });

  it("an upload longer than announced is refused, its file removed and its bytes given back", async () => {
    const { s, uploadDir } = await start({ totalBytes: 100 });
    const c = await session(s);
    send(c, { type: "upload", size: 100 });
    await c.next((m) => m.type === "upload");
    c.ws.send(Buffer.alloc(101), { binary: true });
    expect(await c.next((m) => m.type === "upload")).toEqual({ type: "upload", ok: false, text: "error: upload longer than the announced 100 bytes" });
    expect(files(uploadDir)).toEqual([]);
    expect(await upload(c, 100)).toMatchObject({ ok: true });
    await closeAndSettle(c);
  });

  it("keep reserveBytes free on the file system", async () => {
    const { s } = await start({ reserveBytes: Number.MAX_SAFE_INTEGER - 2000 });
    const c = await session(s);
    const r = await upload(c, 10);
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/^error: upload of 10 bytes refused: .* has \d+ bytes free and keeps \d+ free$/);
    await closeAndSettle(c);
  });
});

describe("UploadStore", () => {
  it("refuses a directory on tmpfs with a clear error (unless told it may)", () => {
    expect(memoryFs("/dev/shm")).toBe("tmpfs");
    const shm = fs.mkdtempSync("/dev/shm/weir-upload-");
    try {
      const store = new UploadStore({ dir: path.join(shm, "uploads"), maxBytes: 100 });
      expect(() => store.open(10)).toThrow(`uploads are refused: ${path.join(shm, "uploads")} is on tmpfs (memory), and the appliance has no disk storage for them`);
      expect(fs.existsSync(path.join(shm, "uploads"))).toBe(false);
      const allowed = new UploadStore({ dir: path.join(shm, "uploads"), maxBytes: 100, allowMemoryFs: true, reserveBytes: 0 });
      allowed.open(10).remove();
    } finally {
      fs.rmSync(shm, { recursive: true, force: true });
    }
  });

  it("removes files an earlier run left behind, and nothing else", () => {
    const d = path.join(dir, "uploads");
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, "upload-0123456789ab"), "stale");
    fs.writeFileSync(path.join(d, "keep.txt"), "other");
    const store = new UploadStore({ dir: d, maxBytes: 100 });
    expect(files(d)).toEqual(["keep.txt"]);
    expect(store.usedBytes).toBe(0);
  });

  it("checks the size it is given", () => {
    const store = new UploadStore({ dir: path.join(dir, "u"), maxBytes: 100, reserveBytes: 0, allowMemoryFs: true });
    for (const bad of [0, -1, 1.5, "10", null, undefined, 2 ** 60, NaN]) {
      expect(() => store.open(bad)).toThrow('an upload message needs a positive whole "size" in bytes');
    }
    const u = store.open(100);
    expect(store.usedBytes).toBe(100);
    u.remove();
    u.remove();
    expect(store.usedBytes).toBe(0);
  });
});
