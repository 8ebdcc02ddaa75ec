// A traffic agent run inside a namespace (usually the client's): JSON lines on
// stdin ({"id":N,"op":…,"args":{…}}), one JSON reply line per request on
// stdout ({"id":N,"ok":true,"result":…} or {"id":N,"ok":false,"error":…}).
// Every operation is bounded in time (args.timeoutMs) and count.
//
//   http      one HTTP request (a body of N random bytes is echoed back and compared)
//   httpMany  count requests, each on a new connection, at most `rate` per second
//   udp       datagrams to an address, replies compared ("NAME " + payload)
//   udpBind / udpRecv / udpClose   a socket of its own, for crafted-packet tests
//   sendFrame raw Ethernet frames on a link (AF_PACKET TX ring)
//   captureStart / captureStop     frames seen on a link (AF_PACKET RX ring)
//   close     drops a keep-alive connection pool
//   holdStart / holdStatus / holdStop    long-lived TCP connections exchanging
//             checked messages (hold.ts), for failover tests
//   probeStart / probeStatus / probeStop numbered UDP probes (hold.ts)
//
// `node dist/demo/agent.js` prints `ready` first.

import http from "node:http";
import dgram from "node:dgram";
import { createHash, randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { SERVER_HEADER } from "./servers.js";
import { HeldConnections, Prober, type HoldOptions, type ProbeOptions } from "./hold.js";

type Args = Record<string, any>;

export interface HttpResult {
  status: number;
  server: string | null;
  sent: number;
  received: number;
  /** The body came back byte for byte (requests with a body). */
  echoOk: boolean | null;
  sentSha: string | null;
  receivedSha: string;
  /** The name the server answered with (GET /), trimmed. */
  text: string | null;
  localPort: number;
  ms: number;
}

export interface HttpManyResult {
  ok: number;
  failed: number;
  byServer: Record<string, number>;
  /** Server names in request order. */
  sequence: string[];
  errors: string[];
  echoMismatches: number;
  ms: number;
}

export interface UdpResult {
  sent: number;
  replies: number;
  echoOk: number;
  byServer: Record<string, number>;
  sequence: string[];
}

const agents = new Map<string, http.Agent>();
const sockets = new Map<number, { s: dgram.Socket; queue: { data: string; from: string; port: number }[]; waiters: (() => void)[] }>();
const captures = new Map<number, { stop(): string[] }>();
const holds = new Map<number, HeldConnections>();
const probes = new Map<number, Prober>();
let nextHandle = 1;

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex").slice(0, 16);

function httpOnce(a: Args): Promise<HttpResult> {
  const url = new URL(a.url);
  const body = a.bodyBytes ? randomBytes(a.bodyBytes) : null;
  const timeoutMs: number = a.timeoutMs ?? 5000;
  let agent: http.Agent | false = false;
  if (a.keepAlive) {
    agent = agents.get(a.keepAlive) ?? new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.set(a.keepAlive, agent);
  }
  const t0 = performance.now();
  return new Promise<HttpResult>((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port || 80, path: url.pathname + url.search, method: a.method ?? (body ? "POST" : "GET"),
      agent, localAddress: a.localAddress, timeout: timeoutMs,
      headers: { ...(body ? { "content-type": "application/octet-stream", "content-length": body.length } : {}), ...(a.keepAlive ? {} : { connection: "close" }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      const localPort = res.socket?.localPort ?? 0;
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        clearTimeout(hard);
        const got = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          server: (res.headers[SERVER_HEADER] as string | undefined) ?? null,
          sent: body?.length ?? 0,
          received: got.length,
          echoOk: body ? got.equals(body) : null,
          sentSha: body ? sha(body) : null,
          receivedSha: sha(got),
          text: body ? null : got.toString("utf8").trim().slice(0, 200),
          localPort,
          ms: performance.now() - t0,
        });
      });
    });
    const hard = setTimeout(() => req.destroy(new Error(`no complete reply within ${timeoutMs} ms`)), timeoutMs);
    req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on("error", (e) => { clearTimeout(hard); reject(e); });
    req.end(body ?? undefined);
  });
}

async function httpMany(a: Args): Promise<HttpManyResult> {
  const count = Math.min(Number(a.count ?? 1), 100000);
  const rate = Number(a.rate ?? 0);
  const concurrency = Math.max(1, Math.min(Number(a.concurrency ?? 1), 64));
  const deadline = Date.now() + (a.totalTimeoutMs ?? 60000);
  const r: HttpManyResult = { ok: 0, failed: 0, byServer: {}, sequence: [], errors: [], echoMismatches: 0, ms: 0 };
  const t0 = performance.now();
  let issued = 0;
  const worker = async () => {
    while (issued < count && Date.now() < deadline) {
      const i = issued++;
      if (rate > 0) {
        const due = t0 + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      }
      try {
        const x = await httpOnce({ ...a, keepAlive: undefined });
        const name = x.server ?? "?";
        if (x.status === 200 && (x.echoOk ?? true)) r.ok++;
        else r.failed++;
        if (x.echoOk === false) r.echoMismatches++;
        r.byServer[name] = (r.byServer[name] ?? 0) + 1;
        r.sequence[i] = name;
      } catch (e) {
        r.failed++;
        r.sequence[i] = "!";
        if (r.errors.length < 5) r.errors.push((e as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  r.ms = performance.now() - t0;
  return r;
}

async function udp(a: Args): Promise<UdpResult> {
  const count = Math.min(Number(a.count ?? 1), 10000);
  const timeoutMs: number = a.timeoutMs ?? 2000;
  const r: UdpResult = { sent: 0, replies: 0, echoOk: 0, byServer: {}, sequence: [] };
  let shared: dgram.Socket | null = null;
  for (let i = 0; i < count; i++) {
    const payload = a.text !== undefined ? Buffer.from(`${a.text}`) : randomBytes(Number(a.payloadBytes ?? 32));
    const s = a.newSocket === false ? (shared ??= dgram.createSocket("udp4")) : dgram.createSocket("udp4");
    try {
      if (a.localAddress && (s !== shared || i === 0)) await new Promise<void>((res) => s.bind(0, a.localAddress, () => res()));
      const reply = await new Promise<Buffer | null>((resolve) => {
        const t = setTimeout(() => { s.off("message", on); resolve(null); }, timeoutMs);
        const on = (m: Buffer) => { clearTimeout(t); s.off("message", on); resolve(m); };
        s.on("message", on);
        s.send(payload, a.port, a.host);
        r.sent++;
      });
      if (reply) {
        r.replies++;
        const sp = reply.indexOf(0x20);
        const name = sp > 0 ? reply.subarray(0, sp).toString() : "?";
        if (sp > 0 && reply.subarray(sp + 1).equals(payload)) r.echoOk++;
        r.byServer[name] = (r.byServer[name] ?? 0) + 1;
        r.sequence.push(name);
      } else r.sequence.push("!");
    } finally {
      if (s !== shared) s.close();
    }
  }
  shared?.close();
  return r;
}

async function udpBind(a: Args): Promise<{ handle: number; port: number }> {
  const s = dgram.createSocket("udp4");
  const entry = { s, queue: [] as { data: string; from: string; port: number }[], waiters: [] as (() => void)[] };
  s.on("message", (m, ri) => {
    if (entry.queue.length < 1000) entry.queue.push({ data: m.toString("hex"), from: ri.address, port: ri.port });
    for (const w of entry.waiters.splice(0)) w();
  });
  await new Promise<void>((res, rej) => { s.once("error", rej); s.bind(a.port ?? 0, a.addr, () => res()); });
  const handle = nextHandle++;
  sockets.set(handle, entry);
  return { handle, port: s.address().port };
}

async function udpRecv(a: Args): Promise<{ data: string; from: string; port: number } | null> {
  const e = sockets.get(a.handle);
  if (!e) throw new Error(`no socket ${a.handle}`);
  if (!e.queue.length) {
    await new Promise<void>((res) => {
      const t = setTimeout(res, a.timeoutMs ?? 2000);
      e.waiters.push(() => { clearTimeout(t); res(); });
    });
  }
  return e.queue.shift() ?? null;
}

async function sendFrame(a: Args): Promise<{ sent: number }> {
  const { TxRing } = await import("./rings.js");
  const frames: string[] = Array.isArray(a.frames) ? a.frames : [a.frame];
  const tx = new TxRing(a.dev, { vnetHdr: !!a.vnet });
  try {
    let sent = 0;
    for (const f of frames.slice(0, 64)) {
      if (!tx.put(Buffer.from(f, "hex"), a.vnet ? Buffer.from(a.vnet, "hex") : undefined)) break;
      sent++;
    }
    tx.kick();
    // Let the device take them before the ring goes away.
    await new Promise((res) => setTimeout(res, 20));
    return { sent };
  } finally {
    tx.close();
  }
}

async function captureStart(a: Args): Promise<{ handle: number }> {
  const { RxRing } = await import("./rings.js");
  const rx = new RxRing(a.dev, { slotSize: 1 << 16, slots: 64, ignoreOutgoing: a.ignoreOutgoing ?? false });
  const frames: string[] = [];
  const max = Math.min(Number(a.max ?? 2000), 20000);
  const timer = setInterval(() => {
    rx.drain(({ frame }) => { if (frames.length < max) frames.push(Buffer.from(frame).toString("hex")); });
  }, 5);
  const handle = nextHandle++;
  captures.set(handle, {
    stop() {
      clearInterval(timer);
      rx.drain(({ frame }) => { if (frames.length < max) frames.push(Buffer.from(frame).toString("hex")); });
      rx.close();
      return frames;
    },
  });
  return { handle };
}

const ops: Record<string, (a: Args) => Promise<unknown> | unknown> = {
  http: httpOnce,
  httpMany,
  udp,
  udpBind,
  udpRecv,
  udpClose: (a) => { sockets.get(a.handle)?.s.close(); sockets.delete(a.handle); return null; },
  sendFrame,
  captureStart,
  captureStop: (a) => {
    const c = captures.get(a.handle);
    if (!c) throw new Error(`no capture ${a.handle}`);
    captures.delete(a.handle);
    return c.stop();
  },
  close: (a) => { agents.get(a.keepAlive)?.destroy(); agents.delete(a.keepAlive); return null; },
  ping: () => ({ pid: process.pid }),
  holdStart: async (a) => {
    const h = new HeldConnections(a as HoldOptions);
    const handle = nextHandle++;
    holds.set(handle, h);
    await h.start();
    return { handle, status: h.status() };
  },
  holdStatus: (a) => held(a.handle).status(a.since, !!a.detail),
  holdStop: (a) => {
    const h = held(a.handle);
    const st = h.status(a.since, !!a.detail);
    h.stop();
    holds.delete(a.handle);
    return st;
  },
  probeStart: (a) => {
    const p = new Prober(a as ProbeOptions);
    p.start();
    const handle = nextHandle++;
    probes.set(handle, p);
    return { handle };
  },
  probeStatus: (a) => prober(a.handle).status(a.since, a.from),
  probeStop: (a) => {
    const p = prober(a.handle);
    const st = p.status(a.since, a.from);
    p.stop();
    probes.delete(a.handle);
    return st;
  },
};

function held(handle: number): HeldConnections {
  const h = holds.get(handle);
  if (!h) throw new Error(`no held connections ${handle}`);
  return h;
}

function prober(handle: number): Prober {
  const p = probes.get(handle);
  if (!p) throw new Error(`no probe ${handle}`);
  return p;
}

function main(): void {
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    let msg: { id: number; op: string; args?: Args };
    try { msg = JSON.parse(line); } catch { return; }
    const fn = ops[msg.op];
    const reply = (o: object) => process.stdout.write(`${JSON.stringify({ id: msg.id, ...o })}\n`);
    if (!fn) { reply({ ok: false, error: `unknown op ${msg.op}` }); return; }
    Promise.resolve().then(() => fn(msg.args ?? {})).then(
      (result) => reply({ ok: true, result: result ?? null }),
      (e) => reply({ ok: false, error: (e as Error).message }),
    );
  });
  rl.on("close", () => {
    for (const c of captures.values()) c.stop();
    process.exit(0);
  });
  process.once("SIGTERM", () => process.exit(0));
  process.stdout.write(`ready ${JSON.stringify({ pid: process.pid })}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
