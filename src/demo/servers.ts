// A small real server for the demo and the namespace tests, run inside a
// real-server namespace: `node dist/demo/servers.js --name rs1 [--http-port 80]
// [--udp-port 5300 --udp-addr A[,B…]]`.
//
// HTTP (on every address): GET / answers the server's name ("rs1\n"), GET
// /healthz "ok\n", any request with a body gets the body back byte for byte
// (Content-Length); every reply carries `X-Weir-Server: NAME`.
// UDP: a datagram P is answered with "NAME " + P, from the address it was sent
// to — one socket per address given, since a DR/TUN reply must come from the VIP.
// Prints `ready {"name":…,"http":…,"udp":[…]}` once listening; exits on SIGTERM/SIGINT.

import http from "node:http";
import dgram from "node:dgram";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";

export const SERVER_HEADER = "x-weir-server";
const MAX_BODY = 64 << 20;

export interface ServerOptions {
  name: string;
  httpPort?: number;
  httpHost?: string;
  udpPort?: number;
  udpAddrs?: string[];
}

export interface RunningServers {
  httpPort: number;
  udpPorts: number[];
  counts: { http: number; udp: number };
  close(): Promise<void>;
}

export async function startServers(o: ServerOptions): Promise<RunningServers> {
  const counts = { http: 0, udp: 0 };
  const server = http.createServer((req, res) => {
    counts.http++;
    res.setHeader(SERVER_HEADER, o.name);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (res.headersSent) return;
      if (size > 0 || req.method === "POST" || req.method === "PUT") {
        const body = Buffer.concat(chunks, size);
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
        res.end(body);
      } else if (req.url === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      } else {
        res.writeHead(200, { "content-type": "text/plain" }).end(`${o.name}\n`);
      }
    });
  });
  server.keepAliveTimeout = 30000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.httpPort ?? 80, o.httpHost ?? "0.0.0.0", () => resolve());
  });
  const udp: dgram.Socket[] = [];
  for (const addr of o.udpPort !== undefined ? (o.udpAddrs?.length ? o.udpAddrs : ["0.0.0.0"]) : []) {
    const s = dgram.createSocket("udp4");
    s.on("message", (msg, rinfo) => {
      counts.udp++;
      s.send(Buffer.concat([Buffer.from(`${o.name} `), msg]), rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind(o.udpPort, addr, () => resolve());
    });
    udp.push(s);
  }
  return {
    httpPort: (server.address() as { port: number }).port,
    udpPorts: udp.map((s) => s.address().port),
    counts,
    async close() {
      for (const s of udp) s.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      name: { type: "string" },
      "http-port": { type: "string", default: "80" },
      "http-host": { type: "string" },
      "udp-port": { type: "string" },
      "udp-addr": { type: "string", multiple: true },
      tag: { type: "string" },
    },
  });
  if (!values.name) throw new Error("--name is required");
  const s = await startServers({
    name: values.name,
    httpPort: Number(values["http-port"]),
    httpHost: values["http-host"],
    udpPort: values["udp-port"] !== undefined ? Number(values["udp-port"]) : undefined,
    udpAddrs: (values["udp-addr"] ?? []).flatMap((a) => a.split(",")).filter(Boolean),
  });
  const stop = () => {
    const t = setTimeout(() => process.exit(0), 1000);
    t.unref();
    void s.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  process.stdout.write(`ready ${JSON.stringify({ name: values.name, http: s.httpPort, udp: s.udpPorts, pid: process.pid })}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`servers: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
