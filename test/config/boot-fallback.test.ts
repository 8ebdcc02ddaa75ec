// `weir run` with a config file that does not load stays up: it says which
// line failed, runs the last good copy (FILE.good) or nothing, keeps the file
// as FILE.failed, and answers on its control socket. A real process (dist/).

import { describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { WEIR, cleanupAfterEach } from "../helpers/weirproc.js";

const { track, tempDir } = cleanupAfterEach("weir-boot-");

function ctl(sock: string, words: string[]) {
  return spawnSync(process.execPath, [WEIR, "ctl", "--ctl", sock, "--", ...words], { encoding: "utf8", timeout: 20_000 });
}

/** Starts `weir run --config conf`; resolves once the control socket answers (or the process ended). */
async function start(conf: string, sock: string) {
  const proc = spawn(process.execPath, [WEIR, "run", "--ctl", sock, "--config", conf, "--conn-capacity", "4096"], { stdio: ["ignore", "pipe", "pipe"] });
  track(proc);
  let stderr = "";
  proc.stderr!.on("data", (b) => { stderr += b; });
  const exited = new Promise<number>((resolve) => proc.on("exit", (code) => resolve(code ?? -1)));
  for (const until = Date.now() + 30_000; Date.now() < until && proc.exitCode === null;) {
    if (existsSync(sock) && ctl(sock, ["help"]).status === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, exited, stderr: () => stderr };
}

describe("weir run with a config file that does not load", () => {
  it("stays up on its control socket with the last good copy, and says which line failed", async () => {
    const d = tempDir();
    const conf = path.join(d, "weir.conf");
    const sock = path.join(d, "ctl.sock");
    const broken = 'ipvsadm -A -t 198.18.100.1:80 -s rr\nhealth add -t 198.18.100.1:80 -r 198.19.0.11:80 http path "/a\nb"\n';
    writeFileSync(conf, broken);
    writeFileSync(`${conf}.good`, "ipvsadm -A -t 198.18.100.2:80 -s rr\nipvsadm -a -t 198.18.100.2:80 -r 198.19.0.12:80 -m\n");

    const run = await start(conf, sock);
    expect(run.proc.exitCode).toBeNull();
    expect(run.stderr()).toContain(`${conf}:2: error: unterminated quote "`);
    expect(ctl(sock, ["ipvsadm", "-S", "-n"]).stdout).toBe("-A -t 198.18.100.2:80 -s rr\n-a -t 198.18.100.2:80 -r 198.19.0.12:80 -m -w 1\n");
    const status = ctl(sock, ["show", "config-status"]);
    expect(status.status).toBe(0);
    expect(status.stdout.split("\n").slice(0, 3)).toEqual([
      `config ${conf}: did not load at boot`,
      `  ${conf}:2: error: unterminated quote "`,
      `  running its last good copy ${conf}.good (2 lines)`,
    ]);
    expect(readFileSync(`${conf}.failed`, "utf8")).toBe(broken);
    expect(readFileSync(conf, "utf8")).toBe(broken);

    // save writes what runs; the file as it was stays in FILE.failed.
    expect(ctl(sock, ["save"]).status).toBe(0);
    expect(readFileSync(conf, "utf8")).toBe(ctl(sock, ["show", "running-config"]).stdout);
    expect(readFileSync(`${conf}.failed`, "utf8")).toBe(broken);
    run.proc.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  });

  it("without a last good copy it runs empty, still up", async () => {
    const d = tempDir();
    const conf = path.join(d, "weir.conf");
    const sock = path.join(d, "ctl.sock");
    writeFileSync(conf, "# services\nipvsadm -A -t 198.18.100.1:80 -s rr\nipvsadm -A -t 198.18.100.1:80 -s nosuch\n");
    const run = await start(conf, sock);
    expect(run.proc.exitCode).toBeNull();
    expect(run.stderr()).toContain(`${conf}:3: error:`);
    expect(ctl(sock, ["show", "running-config"]).stdout).toBe("");
    expect(ctl(sock, ["show", "config-status"]).stdout.split("\n")[2]).toBe("  running with an empty configuration (there is no last good copy)");
    run.proc.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  });
});
