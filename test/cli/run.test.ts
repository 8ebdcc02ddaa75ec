// `weir run` and `weir ctl` as users run them: real processes, a real
// control socket, the exit codes of CONTRACTS.md, config replay and save.

import { describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { WEIR, cleanupAfterEach } from "../helpers/weirproc.js";

const { track, tempDir } = cleanupAfterEach("weir-cli-");


/** Starts `weir run`; resolves once the control socket answers. */
async function startRun(args: string[], sock: string): Promise<{ proc: ChildProcess; stderr: () => string; exited: Promise<number> }> {
  const proc = spawn(process.execPath, [WEIR, "run", "--ctl", sock, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  track(proc);
  let err = "";
  proc.stderr!.on("data", (b) => { err += b; });
  const exited = new Promise<number>((resolve) => proc.on("exit", (code) => resolve(code ?? -1)));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    if (existsSync(sock) && ctl(sock, ["help"]).status === 0) return { proc, stderr: () => err, exited };
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, stderr: () => err, exited };
}

function ctl(sock: string, words: string[], input?: string) {
  return spawnSync(process.execPath, [WEIR, "ctl", "--ctl", sock, "--", ...words], { input, encoding: "utf8", timeout: 20_000 });
}

describe("weir run + weir ctl", () => {
  it("serves the console language on a 0600 socket with the contract's exit codes, saves, and exits cleanly on SIGTERM", async () => {
    const d = tempDir();
    const sock = path.join(d, "ctl.sock");
    const conf = path.join(d, "weir.conf");
    const run = await startRun(["--config", conf], sock);
    expect(statSync(sock).mode & 0o777).toBe(0o600);

    expect(ctl(sock, ["ipvsadm", "-A", "-t", "198.18.100.1:80", "-s", "rr"]).status).toBe(0);
    expect(ctl(sock, ["ipvsadm", "-a", "-t", "198.18.100.1:80", "-r", "198.19.0.11:8080", "-m", "-w", "2"]).status).toBe(0);
    const list = ctl(sock, ["ipvsadm", "-L", "-n"]);
    expect(list.status).toBe(0);
    expect(list.stdout).toContain("TCP  198.18.100.1:80 rr");
    expect(list.stdout).toMatch(/-> 198\.19\.0\.11:8080\s+Masq\s+2\s+0\s+0/);

    // An error reply: exit 1, one `error:` line naming the token, nothing changed.
    const bad = ctl(sock, ["ipvsadm", "-A", "-t", "198.18.100.1:70000"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/^error: .*70000/);
    expect(ctl(sock, ["ipvsadm", "-S", "-n"]).stdout.trim().split("\n")).toHaveLength(2);

    // ipvsadm -R reads the rules from stdin, as one transaction.
    const restore = ctl(sock, ["ipvsadm", "-R"], "-A -u 198.18.100.2:53 -s wlc\n-a -u 198.18.100.2:53 -r 198.19.0.12:53 -m\n");
    expect(restore.status).toBe(0);
    expect(ctl(sock, ["ipvsadm", "-L", "-n"]).stdout).toContain("UDP  198.18.100.2:53 wlc");

    expect(ctl(sock, ["save"]).status).toBe(0);
    const saved = readFileSync(conf, "utf8");
    expect(saved).toContain("-A -t 198.18.100.1:80 -s rr");
    expect(saved).toContain("198.19.0.12:53");

    run.proc.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    expect(existsSync(sock)).toBe(false);

    // Restarting replays the saved file to the same running-config.
    const again = await startRun(["--config", conf], sock);
    const rc = ctl(sock, ["show", "running-config"]);
    expect(rc.stdout.trim()).toBe(saved.trim());
    again.proc.kill("SIGTERM");
    expect(await again.exited).toBe(0);
  });

  it("exit 2 when nothing listens on the socket", () => {
    const r = ctl(path.join(tempDir(), "none.sock"), ["help"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot reach/);
  });

  it("a config file with a bad line says FILE:LINE and the reason, and the appliance stays up", async () => {
    const d = tempDir();
    const conf = path.join(d, "bad.conf");
    writeFileSync(conf, "# services\nipvsadm -A -t 198.18.100.1:80 -s rr\nipvsadm -A -t 198.18.100.1:80 -s nosuch\n");
    const sock = path.join(d, "ctl.sock");
    const run = await startRun(["--config", conf], sock);
    expect(run.proc.exitCode).toBeNull();
    expect(run.stderr()).toContain(`${conf}:3: error:`);
    expect(run.stderr()).toMatch(/nosuch/);
    expect(ctl(sock, ["show", "config-status"]).stdout).toContain(`config ${conf}: did not load at boot`);
    run.proc.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  });

  it("weir --help lists the subcommands and a subcommand's --help its options", () => {
    const top = spawnSync(process.execPath, [WEIR, "--help"], { encoding: "utf8" });
    expect(top.status).toBe(0);
    for (const c of ["run", "ctl", "console", "bench"]) expect(top.stdout).toMatch(new RegExp(`\\n  ${c}\\b`));
    const run = spawnSync(process.execPath, [WEIR, "run", "--help"], { encoding: "utf8" });
    expect(run.stdout).toContain("--metrics <host:port>");
    const unknown = spawnSync(process.execPath, [WEIR, "frobnicate"], { encoding: "utf8" });
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown command/);
  });
});
