// save (atomic write of running-config) and config files (replayed as one
// change; the first error names FILE:LINE and leaves the state untouched).

import { mkdtemp, mkdir, readFile, readdir, stat, writeFile, chmod } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ok, err } from "../../src/console/types.js";
import { makeConsole, type TestConsole } from "./helpers.js";
import { TOPOLOGY } from "./fixture.js";

const tmp = () => mkdtemp(path.join(os.tmpdir(), "weir-config-"));

async function snapshot(t: TestConsole): Promise<string> {
  const parts = await Promise.all(["show running-config", "ipvsadm -Ln", "ip link show", "ip addr show", "ip route show", "iptables -t mangle -L -n", "ipvsadm -L --timeout"].map((l) => t.run(l)));
  return [...parts, `services=${t.dp.serviceCount()}`].join("\n--\n");
}

describe("save", () => {
  it("writes running-config atomically, leaving no temporary file", async () => {
    const dir = await tmp();
    const file = path.join(dir, "weir.conf");
    const t = await makeConsole({ configPath: file });
    await t.setup(...TOPOLOGY, "ipvsadm -A -t 198.18.100.1:80 -s rr", "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m");
    expect(await t.reply("save")).toEqual(ok());
    expect(await readFile(file, "utf8")).toBe(`${await t.run("show running-config")}\n`);
    expect(await readdir(dir)).toEqual(["weir.conf"]);

    // Saving again replaces the file whole and keeps its permissions.
    await chmod(file, 0o600);
    await t.setup("ipvsadm -D -t 198.18.100.1:80");
    expect(await t.reply("save")).toEqual(ok());
    expect(await readFile(file, "utf8")).toBe(`${TOPOLOGY.join("\n")}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(["weir.conf"]);
  });

  it("fails cleanly (old content kept, no temporary file) when the rename cannot happen", async () => {
    const dir = await tmp();
    const file = path.join(dir, "weir.conf");
    await mkdir(file); // a directory where the file should go
    const t = await makeConsole({ configPath: file });
    const r = await t.reply("save");
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(new RegExp(`^error: cannot write ${file}: .*(EISDIR|directory)`));
    expect(await readdir(dir)).toEqual(["weir.conf"]);
  });
});

describe("config files", () => {
  const FILE = [
    "# Weir appliance configuration",
    "",
    ...TOPOLOGY,
    "   # an indented comment",
    "ipvsadm -A -t 198.18.100.1:80 -s rr   # trailing comment",
    "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m",
    "iptables -t mangle -A PREROUTING -d 198.18.100.2 -p tcp --dport 443 -j MARK --set-mark 2",
    "ipvsadm -A -f 2 -s wrr",
    "ipvsadm -a -f 2 -r 198.19.0.12 -g",
    "",
  ].join("\n");

  it("loads a file with comments and blank lines as one change", async () => {
    const dir = await tmp();
    const file = path.join(dir, "weir.conf");
    await writeFile(file, FILE);
    const t = await makeConsole();
    t.model.schedulerAvailable("rr");
    t.model.schedulerAvailable("wrr");
    let commits = 0;
    const tx = t.dp.transactionChunked.bind(t.dp);
    t.dp.transactionChunked = (ops, pause) => { commits++; return tx(ops, pause); };
    expect(await t.con.loadConfig(file)).toEqual({ ok: true, lines: 10 });
    expect(commits).toBe(1);
    expect((await t.run("show running-config")).split("\n")).toEqual([
      ...TOPOLOGY,
      "iptables -t mangle -A PREROUTING -d 198.18.100.2/32 -p tcp --dport 443 -j MARK --set-mark 2",
      "ipvsadm -A -t 198.18.100.1:80 -s rr",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11:80 -m -w 1",
      "ipvsadm -A -f 2 -s wrr",
      "ipvsadm -a -f 2 -r 198.19.0.12:0 -g -w 1",
    ]);
  });

  it("stops at a bad line with FILE:LINE: error: and changes nothing", async () => {
    const dir = await tmp();
    const file = path.join(dir, "weir.conf");
    const bad = FILE.split("\n");
    bad.splice(9, 0, "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12 -w 70000");
    await writeFile(file, bad.join("\n"));
    const t = await makeConsole();
    await t.setup("ip link set eth7 up", "ip addr add 198.30.0.1/24 dev eth7", "ipvsadm -A -u 198.30.0.1:53 -s rr", "ipvsadm --set 100 0 0");
    const before = await snapshot(t);
    expect(await t.con.loadConfig(file)).toEqual({
      ok: false, file, line: 10, message: "invalid weight '70000' (0-65535)",
      text: `${file}:10: error: invalid weight '70000' (0-65535)`,
    });
    expect(await snapshot(t)).toBe(before);
  });

  it("reports unknown words and unreadable files", async () => {
    const t = await makeConsole();
    expect(await t.con.loadConfigText("ip link set eth0 up\nfrobnicate now\n", "x.conf")).toMatchObject({ ok: false, line: 2, text: "x.conf:2: error: unknown command 'frobnicate'" });
    expect(await t.run("show running-config")).toBe("");
    const r = await t.con.loadConfig("/nonexistent/weir.conf");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.text).toMatch(/^\/nonexistent\/weir\.conf: error: cannot read: ENOENT/);
  });

  it("runs other modules' words after the core change, and undoes everything when one fails", async () => {
    const t = await makeConsole();
    const seen: string[] = [];
    let state: string[] = [];
    t.con.register("health", {
      help: "health … (test double)",
      async execute(args) {
        // Runs after the core lines: the service it names exists by now.
        if (!t.model.destKeys(args[1])) return err(`no such service: ${args[1]}`);
        if (args[0] === "fail") return err("check 'fail' failed");
        seen.push(args.join(" "));
        state = [...state, args.join(" ")];
        return ok();
      },
      runningConfig: () => state.map((s) => `health ${s}`),
      checkpoint() { const saved = state; return () => { state = saved; }; },
    });
    const good = ["health tcp tcp:198.18.100.1:80", ...TOPOLOGY, "ipvsadm -A -t 198.18.100.1:80 -s rr", "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m"].join("\n");
    expect(await t.con.loadConfigText(good, "a.conf")).toEqual({ ok: true, lines: 8 });
    expect(seen).toEqual(["tcp tcp:198.18.100.1:80"]);
    const text = await t.run("show running-config");
    expect(text.split("\n").at(-1)).toBe("health tcp tcp:198.18.100.1:80");

    const before = await snapshot(t);
    const bad = ["ipvsadm -A -t 198.18.100.9:80 -s rr", "health tcp tcp:198.18.100.9:80", "ip link set eth3 up", "health fail tcp:198.18.100.9:80"].join("\n");
    expect(await t.con.loadConfigText(bad, "b.conf")).toMatchObject({ ok: false, line: 4, text: "b.conf:4: error: check 'fail' failed" });
    expect(await snapshot(t)).toBe(before);
    expect(state).toEqual(["tcp tcp:198.18.100.1:80"]);
    // eth3 came and went: the next new link gets its id.
    await t.setup("ip link set eth4 up");
    expect((await t.run("ip link show eth4")).split(":")[0]).toBe("3");
  });
});
