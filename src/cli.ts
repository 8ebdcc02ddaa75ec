// The `weir` command line (CONTRACTS.md). Each subcommand is listed only
// once it works. Subcommands load their code when they run: `weir ctl`
// starts in about half the time of loading the whole supervisor.

import { Command } from "commander";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { DEFAULT_CONSOLE_URL, DEFAULT_CTL_PATH } from "./console/transport/defaults.js";
import { addImageCommands } from "./image/cli.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export function buildCli(): Command {
  const program = new Command("weir")
    .description("Weir: an LVS-style layer-4 load balancer (VS/NAT, VS/DR, VS/TUN) with a WebAssembly data plane")
    .showHelpAfterError()
    .enablePositionalOptions();

  program.command("run")
    .description("run the appliance: data plane, consoles, health checks, metrics (as root)")
    .option("--config <file>", "command script replayed at start and written by `save`")
    .option("--ctl <path>", "control socket", DEFAULT_CTL_PATH)
    .option("--ws <host:port>", "serve the WebSocket console (and its web page) here")
    .option("--ws-token-file <file>", "WebSocket console token (made at first start, mode 0600)")
    .option("--tls-cert <file>", "TLS certificate (PEM) for the WebSocket console")
    .option("--tls-key <file>", "TLS private key (PEM) for the WebSocket console")
    .option("--tls-self-signed <dir>", "TLS with the appliance's own certificate, made in DIR at first start")
    .option("--metrics <host:port>", "serve Prometheus metrics at http://HOST:PORT/metrics")
    .option("--serial <device>", "serial console on this tty (default: stdin when it is a terminal)")
    .option("--workers <n>", "data-plane workers", (v) => parsePositive(v, "--workers"), 1)
    .option("--conn-capacity <n>", "connection table entries (IPv4)", (v) => parsePositive(v, "--conn-capacity"))
    .option("--console-password-file <file>", "the serial console's password (hash), set with `console-password set`")
    .option("--image <file>", "booted from an appliance image: its layout (image words, mark-good after the health check)")
    .action(async (o) => {
      const { runAppliance } = await import("./appliance/run.js");
      process.exitCode = await runAppliance({
        config: o.config, ctl: o.ctl, ws: o.ws, wsTokenFile: o.wsTokenFile, tlsCert: o.tlsCert, tlsKey: o.tlsKey, tlsSelfSigned: o.tlsSelfSigned,
        metrics: o.metrics, serial: o.serial, workers: o.workers, connCapacity: o.connCapacity, image: o.image, consolePasswordFile: o.consolePasswordFile,
      });
    });

  program.command("ctl")
    .description("send one console line to a running `weir run` (no LINE: read lines from stdin); exit 0 ok, 1 error reply, 2 unreachable")
    .usage("[--ctl PATH] -- LINE")
    .option("--ctl <path>", "control socket", DEFAULT_CTL_PATH)
    .argument("[line...]", "the console line, after --, word by word or as one argument")
    .passThroughOptions()
    .action(async (words: string[], o) => {
      const { ctlLine, runCtl } = await import("./console/transport/ctl.js");
      process.exitCode = await runCtl({ socketPath: o.ctl, line: ctlLine(words) });
    });

  program.command("console")
    .description("interactive console over the WebSocket")
    .option("--url <url>", "ws://HOST:PORT or wss://HOST:PORT", DEFAULT_CONSOLE_URL)
    .option("--token <token>", "console token (discouraged: other users see it in ps; use --token-file or $WEIR_TOKEN)")
    .option("--token-file <file>", "read the token from this file (default: $WEIR_TOKEN, then /var/lib/weir/ws-token)")
    .option("--fingerprint <sha256>", "pin the console's TLS certificate (wss://): its SHA-256 fingerprint, as the serial banner and `image status` show it")
    .action(async (o) => {
      const { runConsole } = await import("./console/transport/ws-client.js");
      process.exitCode = await runConsole({ url: o.url, token: o.token, tokenFile: o.tokenFile, fingerprint: o.fingerprint });
    });

  program.command("console-password")
    .description("check the console password on the terminal (the appliance's recovery shell): exit 0 when it matches or none is set")
    .argument("<action>", "check")
    .requiredOption("--file <file>", "the password file (weir run --console-password-file)")
    .action(async (action: string, o) => {
      if (action !== "check") throw new Error(`console-password: unknown action '${action}' (check)`);
      const { checkPasswordOnTerminal } = await import("./console/transport/password-prompt.js");
      process.exitCode = await checkPasswordOnTerminal(o.file);
    });

  program.command("demo")
    .description("build a topology in network namespaces, run the appliance with NAT, DR and TUN services, drive real traffic and show live counters (as root)")
    .option("--duration <s>", "seconds of traffic (Ctrl-C stops earlier)", (v) => parsePositive(v, "--duration"), 20)
    .option("--ha", "two directors as a VRRP pair with connection sync: long-lived NAT and DR connections, the master killed half-way (exit 0 when none is lost)")
    .option("--connections <n>", "with --ha: long-lived connections per service", (v) => parsePositive(v, "--connections"), 120)
    .option("--advert-int <s>", "with --ha: VRRP advert interval in seconds", (v) => parseSeconds(v, "--advert-int"), 0.1)
    .action(async (o) => {
      if (o.ha) {
        const { runHaDemo } = await import("./demo/ha.js");
        process.exitCode = await runHaDemo({ duration: o.duration, connections: o.connections, advertInt: o.advertInt });
        return;
      }
      const { runDemo } = await import("./demo/demo.js");
      process.exitCode = await runDemo({ duration: o.duration });
    });

  addImageCommands(program);

  program.command("bench")
    .description("run the data-plane benchmarks beside their baselines; writes bench/results/latest.{json,md}")
    .argument("[ids...]", "benchmarks to run (default: all)")
    .action((ids: string[]) => {
      const r = spawnSync(process.execPath, [path.join(root, "bench", "run.js"), ...ids], { stdio: "inherit" });
      process.exitCode = r.status ?? 1;
    });

  return program;
}

function parseSeconds(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0.01 || n > 255) throw new Error(`${what} must be seconds between 0.01 and 255, not '${v}'`);
  return n;
}

function parsePositive(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, not '${v}'`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  await buildCli().parseAsync(argv);
}
