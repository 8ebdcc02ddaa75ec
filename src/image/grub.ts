// The standalone GRUB EFI binary (Debian's grub-efi-amd64-bin modules,
// grub-mkimage): it reads /EFI/BOOT/grub.cfg (image/grub.cfg) from the ESP.

import fs from "node:fs";
import { run } from "./exec.js";

export const GRUB_EFI_MODULES = "/usr/lib/grub/x86_64-efi";

export async function makeGrubEfi(out: string, modules: string[]): Promise<void> {
  if (!fs.existsSync(GRUB_EFI_MODULES)) throw new Error(`${GRUB_EFI_MODULES} missing (install grub-efi-amd64-bin)`);
  await run("grub-mkimage", ["-O", "x86_64-efi", "-d", GRUB_EFI_MODULES, "-p", "/EFI/BOOT", "-o", out, ...modules]);
}
