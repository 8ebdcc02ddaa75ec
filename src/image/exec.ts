// Runs the build's tools (apt-get, dpkg-deb, mke2fs, mkfs.vfat, mcopy, sfdisk,
// grub-mkimage, zstd) with a clear error naming the tool and its output.

import { execFile } from "node:child_process";
import { WeirError } from "../errors.js";

export interface RunResult { stdout: string; stderr: string }

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: "utf8", maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve({ stdout, stderr });
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      reject(new WeirError(missing ? "WEIR_ERR_IMAGE_NO_TOOL" : "WEIR_ERR_IMAGE_TOOL_FAILED",
        missing ? `${cmd} not found (scripts/install-test-deps.sh installs the image tools)` : `${cmd} ${args.join(" ")}: ${(stderr || stdout || err.message).trim().split("\n").slice(-5).join(" / ")}`));
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}
