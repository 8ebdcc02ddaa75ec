// The image recipe (image/recipe.json): packages, modules, host binaries,
// GRUB modules and partition sizes. Code here reads it; people edit it.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface Recipe {
  arch: string;
  packages: { kernel: string; busybox: string };
  modules: string[];
  hostBinaries: string[];
  grubModules: string[];
  partitionsMiB: { esp: number; slot: number; config: number };
  markGoodTimeoutSeconds: number;
}

/** The repository (or installed package) root: dist/image/ → ../.. */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const imageDir = path.join(projectRoot, "image");

export function loadRecipe(file = path.join(imageDir, "recipe.json")): Recipe {
  return JSON.parse(fs.readFileSync(file, "utf8")) as Recipe;
}
