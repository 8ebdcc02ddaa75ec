// Script checks under keepalived's rules (script_user, enable_script_security):
// they run as an unprivileged user, only from the script directory, only when
// the file and every directory above it are root's alone (checked at `health
// add` and again before each run), and the WebSocket console may not add them
// unless the serial console or the config file allowed it.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chmodSync, chownSync, existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HealthMonitor } from "../../src/health/monitor.js";
import { healthCommand } from "../../src/health/command.js";
import { ScriptPolicy, DEFAULT_SCRIPT_DIR } from "../../src/health/policy.js";
import { runCheck } from "../../src/health/run.js";
import { lookupUser } from "../../src/health/users.js";
import { CHECK_DEFAULTS, type CheckSpec } from "../../src/health/types.js";
import type { ConsoleSource } from "../../src/console/types.js";
import { FakeTarget, logLines, scriptDir, words } from "./helpers.js";

const ROOT = process.getuid?.() === 0;
const PAIR = "-t 198.18.100.1:80 -r 198.19.0.11:80";

function spec(command: string, args: string[] = []): CheckSpec {
  return {
    service: "tcp:198.18.100.1:80", dest: "198.19.0.11:80", check: { type: "script", command, args },
    ...CHECK_DEFAULTS, timeoutMs: 5000,
  };
}

let sd: ReturnType<typeof scriptDir>;
beforeEach(() => { sd = scriptDir(); });
afterEach(() => { sd.cleanup(); });

/** A health command (target without destKeys) whose script directory is the test's. */
function console_(opts: { dir?: string } = {}) {
  const monitor = new HealthMonitor({ scripts: new ScriptPolicy({ settings: { dir: opts.dir ?? sd.dir } }) });
  const cmd = healthCommand(monitor, new FakeTarget());
  const exec = async (line: string, source: ConsoleSource = "serial") => (await cmd.execute(words(line), { source })).text;
  return { monitor, cmd, exec, scripts: monitor.scripts };
}

describe("script user", () => {
  it.runIf(ROOT)("runs as nobody by default (weir-script does not exist here), groups dropped, clean environment, from /", async () => {
    const nobody = (await lookupUser("nobody"))!;
    expect(await lookupUser("weir-script")).toBeUndefined();
    const policy = new ScriptPolicy({ settings: { dir: sd.dir } });
    const who = sd.script("who.sh", `echo "$(id -u) $(id -g) $(id -G) $(pwd) \${HOME-nohome} $PATH" >&2; exit 1`);
    expect(await runCheck(spec(who), undefined, policy)).toEqual({
      ok: false,
      error: `exit status 1: ${nobody.uid} ${nobody.gid} ${nobody.gid} / nohome /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    });
    // Up only when not root.
    const notRoot = sd.script("not-root.sh", `[ "$(id -u)" != 0 ]`);
    expect(await runCheck(spec(notRoot), undefined, policy)).toEqual({ ok: true });
    // And it may write only where its user may.
    const out = join(sd.out, "written");
    const writer = sd.script("write.sh", `id -u > "$1" && ! touch "$2" 2>/dev/null`);
    expect(await runCheck(spec(writer, [out, join(sd.dir, "not-here")]), undefined, policy)).toEqual({ ok: true });
    expect(existsSync(join(sd.dir, "not-here"))).toBe(false);
  });

  it.runIf(ROOT)("weir-script first when it exists, else nobody; script-user USER [GROUP] names another", async () => {
    const passwd = join(sd.out, "passwd");
    const group = join(sd.out, "group");
    writeFileSync(passwd, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nweir-script:x:4242:4343::/nonexistent:/usr/sbin/nologin\n");
    writeFileSync(group, "root:x:0:\nchecks:x:5151:\n");
    const p = new ScriptPolicy({ settings: { dir: sd.dir }, passwdFile: passwd, groupFile: group });
    const who = sd.script("who.sh", `echo "$(id -u) $(id -g) $(id -G)" >&2; exit 1`);
    expect(await runCheck(spec(who), undefined, p)).toEqual({ ok: false, error: "exit status 1: 4242 4343 4343" });
    p.settings = { ...p.settings, user: "nobody", group: "checks" };
    expect(await runCheck(spec(who), undefined, p)).toEqual({ ok: false, error: "exit status 1: 65534 5151 5151" });
    p.settings = { ...p.settings, user: "7000", group: null };
    expect(await runCheck(spec(who), undefined, p)).toEqual({ ok: false, error: "exit status 1: 7000 7000 7000" });
    // A user that went away: refused, nothing runs.
    p.settings = { ...p.settings, user: "gone", group: null };
    expect(await runCheck(spec(who), undefined, p)).toEqual({ ok: false, error: 'refused: script user "gone": no such user' });
    writeFileSync(passwd, "root:x:0:0:root:/root:/bin/sh\n");
    p.settings = { ...p.settings, user: null };
    expect(await runCheck(spec(who), undefined, p)).toEqual({
      ok: false, error: "refused: no script user: neither weir-script nor nobody exists (health script-user USER)",
    });
  });

  it("not root: runs as weir's own user and says so once in the log", async () => {
    const p = new ScriptPolicy({ settings: { dir: sd.dir }, uid: 4321 });
    const before = logLines.length;
    expect(await p.identity()).toBeNull();
    expect(await p.identity()).toBeNull();
    const said = logLines.slice(before).filter((l) => String(l.msg).startsWith("not running as root"));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ uid: 4321, level: 40 });
    // Its own files count as safe then (root's still do).
    const mine = sd.script("mine.sh", "exit 0");
    chownSync(mine, 4321, 0);
    expect(await p.vet(mine)).toBe(mine);
    chownSync(mine, 4322, 0);
    await expect(p.vet(mine)).rejects.toThrow(`${mine} is owned by uid 4322`);
  });
});

describe("script directory and file safety", () => {
  it("a script in the directory, root's alone, is accepted and runs (its real path)", async () => {
    const up = sd.script("up.sh", "exit 0");
    const p = new ScriptPolicy({ settings: { dir: sd.dir } });
    expect(await p.vet(up)).toBe(up);
    symlinkSync(up, join(sd.dir, "alias"));
    expect(await p.vet(join(sd.dir, "alias"))).toBe(up);
    expect(await runCheck(spec(join(sd.dir, "alias")), undefined, p)).toEqual({ ok: true });
  });

  it("refuses at add (one line, nothing changes) what is outside, relative, escaping, missing, unsafe or set-user-ID", async () => {
    const { exec, cmd } = console_();
    const up = sd.script("up.sh", "exit 0");
    mkdirSync(join(sd.dir, "sub"), { mode: 0o755 });
    symlinkSync("/bin/true", join(sd.dir, "escape"));
    const ww = sd.script("world.sh", "exit 0");
    chmodSync(ww, 0o757);
    const gw = sd.script("group.sh", "exit 0");
    chmodSync(gw, 0o775);
    chownSync(gw, 0, 65534);
    const gwRoot = sd.script("group-root.sh", "exit 0"); // group root may write, as keepalived allows
    chmodSync(gwRoot, 0o775);
    const theirs = sd.script("theirs.sh", "exit 0");
    chownSync(theirs, 65534, 65534);
    const suid = sd.script("suid.sh", "exit 0");
    chmodSync(suid, 0o4755);
    const cases: Array<[string, string]> = [
      ["/bin/true", `script /bin/true: not in the script directory ${sd.dir} (health script-dir)`],
      ["scripts/up.sh", 'script scripts/up.sh: not an absolute path'],
      [`${sd.dir}/../scripts2/x`, `script ${sd.dir}/../scripts2/x: not in the script directory ${sd.dir} (health script-dir)`],
      [join(sd.dir, "escape"), `script ${join(sd.dir, "escape")}: resolves to /usr/bin/true, outside the script directory ${sd.dir}`],
      [join(sd.dir, "missing.sh"), `script ${join(sd.dir, "missing.sh")}: no such file`],
      [join(sd.dir, "sub"), `script ${join(sd.dir, "sub")}: not a regular file`],
      [ww, `script ${ww}: ${ww} is writable by others (a script and the directories above it must be writable only by root)`],
      [gw, `script ${gw}: ${gw} is writable by group 65534 (a script and the directories above it must be writable only by root)`],
      [theirs, `script ${theirs}: ${theirs} is owned by uid 65534 (a script and the directories above it must be writable only by root)`],
      [suid, `script ${suid}: set-user-ID or set-group-ID`],
    ];
    for (const [command, why] of cases) {
      expect(await exec(`health add ${PAIR} script ${command}`), command).toBe(`error: health add: ${why}`);
    }
    expect(cmd.runningConfig()).toEqual([`health script-dir ${sd.dir}`]);
    expect(await exec(`health add ${PAIR} script ${gwRoot}`)).toBe("");
    expect(await exec(`health del ${PAIR}`)).toBe("");
    expect(await exec(`health add ${PAIR} script ${up} arg`)).toBe("");
    expect(cmd.runningConfig()).toEqual([
      `health script-dir ${sd.dir}`,
      `health add ${PAIR} interval 5 timeout 3 rise 2 fall 3 inhibit script ${up} arg`,
    ]);
  });

  it("a directory above the script writable by others refuses it at add; and at run when made so later", async () => {
    const marker = join(sd.out, "ran");
    const s = sd.script("mark.sh", `touch "${marker}"`);
    const { exec, monitor, scripts } = console_();
    chmodSync(sd.dir, 0o777);
    expect(await exec(`health add ${PAIR} script ${s}`)).toBe(
      `error: health add: script directory ${sd.dir}: ${sd.dir} is writable by others (it and the directories above it must be writable only by root)`);
    chmodSync(sd.dir, 0o755);
    expect(await exec(`health add ${PAIR} script ${s}`)).toBe("");
    expect(await runCheck(monitor.spec("tcp:198.18.100.1:80", "198.19.0.11:80")!, undefined, scripts)).toEqual({ ok: true });
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
    // Loosened after the add: refused before the run, and the script does not run.
    chmodSync(sd.base, 0o775);
    chownSync(sd.base, 0, 65534);
    expect(await runCheck(monitor.spec("tcp:198.18.100.1:80", "198.19.0.11:80")!, undefined, scripts)).toEqual({
      ok: false,
      error: `refused: script directory ${sd.dir}: ${sd.base} is writable by group 65534 (it and the directories above it must be writable only by root)`,
    });
    expect(existsSync(marker)).toBe(false);
  });

  it("a file swapped after the add (an unsafe one, or a symlink out) does not run", async () => {
    const marker = join(sd.out, "ran");
    const s = sd.script("check.sh", "exit 0");
    const { exec, monitor, scripts } = console_();
    expect(await exec(`health add ${PAIR} script ${s}`)).toBe("");
    const current = () => runCheck(monitor.spec("tcp:198.18.100.1:80", "198.19.0.11:80")!, undefined, scripts);
    expect(await current()).toEqual({ ok: true });

    const evil = sd.script("evil.tmp", `touch "${marker}"`);
    chmodSync(evil, 0o777);
    renameSync(evil, s);
    expect(await current()).toEqual({
      ok: false, error: `refused: script ${s}: ${s} is writable by others (a script and the directories above it must be writable only by root)`,
    });

    const outside = join(sd.out, "evil.sh");
    writeFileSync(outside, `#!/bin/sh\ntouch "${marker}"\n`, { mode: 0o755 });
    rmSync(s);
    symlinkSync(outside, s);
    expect(await current()).toEqual({ ok: false, error: `refused: script ${s}: resolves to ${outside}, outside the script directory ${sd.dir}` });
    expect(existsSync(marker)).toBe(false);
  });

  it("the default directory is /etc/weir/scripts; script-dir changes it (checked), and `default` puts it back", async () => {
    const { exec, cmd } = console_({ dir: DEFAULT_SCRIPT_DIR });
    expect(await exec("health script-dir")).toBe(`script-dir ${DEFAULT_SCRIPT_DIR} (default)`);
    expect(await exec(`health add ${PAIR} script ${sd.script("up.sh", "exit 0")}`)).toBe(
      `error: health add: script ${join(sd.dir, "up.sh")}: not in the script directory ${DEFAULT_SCRIPT_DIR} (health script-dir)`);
    expect(await exec(`health script-dir ${join(sd.base, "nope")}`)).toBe(`error: health script-dir: script directory ${join(sd.base, "nope")}: no such directory`);
    expect(await exec("health script-dir relative/dir")).toBe('error: health script-dir: bad directory "relative/dir" (an absolute path)');
    expect(await exec(`health script-dir ${sd.out}`)).toBe(
      `error: health script-dir: script directory ${sd.out}: ${sd.out} is writable by others (it and the directories above it must be writable only by root)`);
    expect(cmd.runningConfig()).toEqual([]);
    expect(await exec(`health script-dir ${sd.dir}/`)).toBe("");
    expect(await exec("health script-dir")).toBe(`script-dir ${sd.dir}`);
    expect(await exec(`health add ${PAIR} script ${join(sd.dir, "up.sh")}`)).toBe("");
    expect(cmd.runningConfig()[0]).toBe(`health script-dir ${sd.dir}`);
    expect(await exec("health script-dir default")).toBe("");
    expect(await exec("health script-dir")).toBe(`script-dir ${DEFAULT_SCRIPT_DIR} (default)`);
  });
});

describe("script rules on the consoles", () => {
  it("the WebSocket console may not add script checks until allowed on the serial console or in the config file", async () => {
    const up = sd.script("up.sh", "exit 0");
    const { exec, cmd } = console_();
    const add = `health add ${PAIR} script ${up}`;
    const refused = "error: health add: script checks are not accepted from the WebSocket console (allow with 'health script-ws allow' on the serial console or in the config file)";
    const rules = "set on the serial console, the control socket or in the config file, not on the WebSocket console";
    expect(await exec(add, "ws")).toBe(refused);
    expect(await exec("health script-ws allow", "ws")).toBe(`error: health script-ws: ${rules}`);
    expect(await exec("health script-user root", "ws")).toBe(`error: health script-user: ${rules}`);
    expect(await exec(`health script-dir ${sd.base}`, "ws")).toBe(`error: health script-dir: ${rules}`);
    expect(await exec("health script-ws", "ws")).toBe("script-ws deny (default)");
    expect(cmd.runningConfig()).toEqual([`health script-dir ${sd.dir}`]);
    // Other checks are fine from the WebSocket console.
    expect(await exec("health add -t 198.18.100.1:80 -r 198.19.0.12:80 tcp", "ws")).toBe("");

    for (const source of ["serial", "config"] as const) {
      expect(await exec("health script-ws deny", source)).toBe("");
      expect(await exec(add, "ws")).toBe(refused);
      expect(await exec("health script-ws allow", source)).toBe("");
      expect(await exec("health script-ws", "ws")).toBe("script-ws allow");
      expect(await exec(add, "ws")).toBe("");
      expect(await exec(`health del ${PAIR}`, "ws")).toBe("");
    }
    // The control socket (root only) counts as the serial console.
    expect(await exec("health script-ws deny", "socket")).toBe("");
    expect(await exec(add, "socket")).toBe("");
    expect(await exec("health script-ws maybe")).toBe('error: health script-ws: unknown word "maybe" (allow or deny)');
    expect(await exec("health script-ws allow now")).toBe('error: health script-ws: unknown word "now" (allow or deny)');
  });

  it("script-user: checked names, shown when not default, replayed the same", async () => {
    const { exec, cmd, scripts } = console_();
    expect(await exec("health script-user no:such")).toBe('error: health script-user: bad name "no:such" (a user or group name, or a number)');
    expect(await exec("health script-user a b c")).toBe('error: health script-user: unknown word "c"');
    if (ROOT) {
      expect(await exec("health script-user")).toMatch(/^script-user \(default: weir-script, else nobody\): nobody uid 65534 gid 65534$/);
      expect(await exec("health script-user no-such-user")).toBe('error: health script-user: script user "no-such-user": no such user');
      expect(await exec("health script-user nobody no-such-group")).toBe('error: health script-user: script group "no-such-group": no such group');
    }
    expect(cmd.runningConfig()).toEqual([`health script-dir ${sd.dir}`]);
    expect(await exec("health script-user nobody nogroup")).toBe("");
    expect(await exec("health script-ws allow")).toBe("");
    const lines = cmd.runningConfig();
    expect(lines).toEqual([`health script-user nobody nogroup`, `health script-dir ${sd.dir}`, "health script-ws allow"]);
    const b = console_({ dir: DEFAULT_SCRIPT_DIR });
    for (const l of lines) expect(await b.exec(l, "config"), l).toBe("");
    expect(b.cmd.runningConfig()).toEqual(lines);
    expect(b.scripts.settings).toEqual(scripts.settings);
    expect(await exec("health script-user default")).toBe("");
    expect(cmd.runningConfig()).toEqual([`health script-dir ${sd.dir}`, "health script-ws allow"]);
  });

  it("a config file keeps a script line it would refuse on a console (logged); its runs are refused until fixed", async () => {
    const { exec, cmd, monitor, scripts } = console_();
    const missing = join(sd.dir, "later.sh");
    const before = logLines.length;
    expect(await exec(`health add ${PAIR} script ${missing}`, "serial")).toBe(`error: health add: script ${missing}: no such file`);
    expect(await exec(`health add ${PAIR} script ${missing}`, "config")).toBe("");
    expect(cmd.runningConfig()).toHaveLength(2);
    expect(logLines.slice(before).some((l) => l.level === 40 && String(l.msg).includes("kept from the config file") && String(l.reason).includes("no such file"))).toBe(true);
    const run = () => runCheck(monitor.spec("tcp:198.18.100.1:80", "198.19.0.11:80")!, undefined, scripts);
    expect(await run()).toEqual({ ok: false, error: `refused: script ${missing}: no such file` });
    sd.script("later.sh", "exit 0");
    expect(await run()).toEqual({ ok: true });
  });
});
