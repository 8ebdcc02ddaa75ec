// A config file that does not load at boot must not brick the appliance:
// loadBootConfig reports FILE:LINE, keeps the file as FILE.failed, and runs
// the last copy that loaded (FILE.good) or nothing; `show config-status` and
// the banner notice say so. With a real model, interpreter and health words.

import { mkdtemp, mkdir, readFile, rm, stat, writeFile, chmod } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bootConfigNotice, failedCopy, goodCopy, loadBootConfig, showConfigStatus, type BootConfig } from "../../src/console/loader.js";
import { HealthMonitor } from "../../src/health/monitor.js";
import { healthCommand } from "../../src/health/command.js";
import { makeConsole, silent } from "./helpers.js";
import { TOPOLOGY } from "./fixture.js";

const dirs: string[] = [];
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }); });

async function confFile(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), "weir-boot-"));
  dirs.push(d);
  return path.join(d, "weir.conf");
}

/** A console as `weir run` builds one: the core words and health. */
async function appliance() {
  const t = await makeConsole();
  t.model.schedulerAvailable("rr");
  const monitor = new HealthMonitor({ log: silent });
  t.con.register("health", healthCommand(monitor, t.model));
  const boot = (file: string) => loadBootConfig(t.con.registry, t.model, file, silent);
  return { ...t, monitor, boot };
}

const GOOD = [
  "# the last configuration that loaded",
  ...TOPOLOGY,
  "ipvsadm -A -t 198.18.100.1:80 -s rr",
  "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m",
  "health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp",
  "",
].join("\n");

describe("loadBootConfig", () => {
  it("a file that loads runs and becomes the last good copy (same mode; not rewritten when unchanged)", async () => {
    const file = await confFile();
    await writeFile(file, GOOD);
    await chmod(file, 0o640);
    const a = await appliance();
    expect(await a.boot(file)).toEqual({ file, running: "file", lines: 8 });
    expect(await readFile(goodCopy(file), "utf8")).toBe(GOOD);
    expect((await stat(goodCopy(file))).mode & 0o777).toBe(0o640);
    const ino = (await stat(goodCopy(file))).ino;
    const b = await appliance();
    expect(await b.boot(file)).toMatchObject({ running: "file" });
    expect((await stat(goodCopy(file))).ino).toBe(ino);
    await expect(stat(failedCopy(file))).rejects.toThrow(/ENOENT/);
    expect(bootConfigNotice({ file, running: "file", lines: 8 })).toBeUndefined();
  });

  it("a quoted newline saved as two lines (the old bug): FILE:LINE reported, the file kept as FILE.failed, the last good copy runs", async () => {
    const file = await confFile();
    await writeFile(file, GOOD);
    const first = await appliance();
    await first.boot(file);
    const goodRunning = await first.run("show running-config");

    const broken = [
      ...TOPOLOGY,
      "ipvsadm -A -t 198.18.100.1:80 -s rr",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m",
      'health add -t 198.18.100.1:80 -r 198.19.0.11:80 http path "/a',
      'b" status 200',
      "",
    ].join("\n");
    await writeFile(file, broken);
    const a = await appliance();
    const boot = await a.boot(file);
    expect(boot).toEqual({
      file, running: "good", lines: 8, keptAs: failedCopy(file),
      failed: { ok: false, file, line: 8, message: 'unterminated quote "', text: `${file}:8: error: unterminated quote "` },
    });
    expect(await a.run("show running-config")).toBe(goodRunning);
    expect(a.monitor.specs().map((s) => s.check.type)).toEqual(["tcp"]);
    expect(await readFile(file, "utf8")).toBe(broken); // left as it was
    expect(await readFile(failedCopy(file), "utf8")).toBe(broken);
    expect(await readFile(goodCopy(file), "utf8")).toBe(GOOD);
    expect(bootConfigNotice(boot)).toBe(`${file}:8: error: unterminated quote "; running the last good config ${goodCopy(file)} (show config-status)`);
    expect((await showConfigStatus(file, boot).execute([], { source: "serial" })).text).toBe([
      `config ${file}: did not load at boot`,
      `  ${file}:8: error: unterminated quote "`,
      `  running its last good copy ${goodCopy(file)} (8 lines)`,
      `  the file as it was is kept in ${failedCopy(file)}`,
      `  save writes the running configuration over ${file}`,
    ].join("\n"));

    // save then writes what runs; the next boot loads it.
    const reloaded = await appliance();
    await writeFile(file, `${goodRunning}\n`);
    expect(await reloaded.boot(file)).toMatchObject({ running: "file" });
    expect(await reloaded.run("show running-config")).toBe(goodRunning);
  });

  it("a failure in a later word (health) after other health lines ran: they are undone, so the last good copy loads whole", async () => {
    const file = await confFile();
    await writeFile(goodCopy(file), GOOD);
    await writeFile(file, [
      ...TOPOLOGY,
      "ipvsadm -A -t 198.18.100.1:80 -s rr",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12 -m",
      "health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp interval 9",
      "health script-ws allow",
      "health sorry -t 198.18.100.1:80 198.19.0.99:80 -m",
      "health add -t 198.18.100.1:80 -r 198.19.0.12:80 tcp rise 0",
    ].join("\n"));
    const a = await appliance();
    const boot = await a.boot(file);
    expect(boot).toMatchObject({ running: "good", lines: 8, failed: { line: 12, message: 'health add: bad rise "0" (1..1000)' } });
    expect((await a.run("show running-config")).split("\n").slice(-3)).toEqual([
      "ipvsadm -A -t 198.18.100.1:80 -s rr",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11:80 -m -w 1",
      "health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp interval 5 timeout 3 rise 2 fall 3 inhibit",
    ]);
    expect(a.monitor.scripts.settings.ws).toBe(false);
    expect(await a.run("health show")).toBe("-t 198.18.100.1:80 -r 198.19.0.11:80 tcp up checks 0 failures 0 transitions 0");
  });

  it("no last good copy, or one that fails too: runs empty and says why", async () => {
    const file = await confFile();
    await writeFile(file, "ip link set eth0 up\nfrobnicate\n");
    const a = await appliance();
    const none = await a.boot(file);
    expect(none).toMatchObject({ running: "empty", lines: 0, failed: { line: 2, message: "unknown command 'frobnicate'" } });
    expect(none.goodFailed).toBeUndefined();
    expect(await a.run("show running-config")).toBe("");
    expect(bootConfigNotice(none)).toBe(`${file}:2: error: unknown command 'frobnicate'; running with an empty configuration (show config-status)`);
    expect((await showConfigStatus(file, none).execute([], { source: "serial" })).text.split("\n")[2]).toBe(
      "  running with an empty configuration (there is no last good copy)");

    await writeFile(goodCopy(file), "ipvsadm -A -t 198.18.100.1:80 -s nosuch\n");
    const b = await appliance();
    const both = await b.boot(file);
    expect(both).toMatchObject({ running: "empty", failed: { line: 2 }, goodFailed: { file: goodCopy(file), line: 1 } });
    expect(await b.run("show running-config")).toBe("");
    expect((await showConfigStatus(file, both).execute([], { source: "serial" })).text.split("\n")[2]).toBe(
      `  running with an empty configuration (the last good copy did not load either: ${both.goodFailed!.text})`);
  });

  it("an unreadable file: reported with line 0, nothing kept, the last good copy runs", async () => {
    const file = await confFile();
    await mkdir(file);
    await writeFile(goodCopy(file), GOOD);
    const a = await appliance();
    const boot = await a.boot(file);
    expect(boot).toMatchObject({ running: "good", failed: { line: 0 } });
    expect(boot.failed!.text).toMatch(new RegExp(`^${file}: error: cannot read: .*EISDIR`));
    expect(boot.keptAs).toBeUndefined();
    await expect(stat(failedCopy(file))).rejects.toThrow(/ENOENT/);
  });

  it("show config-status when the file loaded, when there was none, and without --config", async () => {
    const ok: BootConfig = { file: "/config/weir.conf", running: "file", lines: 12 };
    const say = async (file: string | undefined, b: BootConfig | undefined) => (await showConfigStatus(file, b).execute([], { source: "ws" })).text;
    expect(await say("/config/weir.conf", ok)).toBe("config /config/weir.conf: loaded at boot (12 lines)");
    expect(await say("/config/weir.conf", undefined)).toBe("config /config/weir.conf: there was none at boot; save writes it");
    expect(await say(undefined, undefined)).toBe("no config file (start with --config FILE): save has nowhere to write");
  });
});
