import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60000,
    hookTimeout: 60000,
    // Namespace tests (later) need root and must not overlap: one file at a time there.
    pool: "forks",
  },
});
