import { defineConfig } from "vitest/config";

// Two projects: the unit suite runs its files in parallel; the namespace
// tests (test/e2e, root) use the machine's network state, so they run one
// file at a time, after the unit suite (groupOrder), with longer timeouts.
export default defineConfig({
  test: {
    testTimeout: 60000,
    hookTimeout: 60000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/e2e/**", "**/node_modules/**"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          fileParallelism: false,
          maxWorkers: 1,
          testTimeout: 180000,
          hookTimeout: 120000,
          globalSetup: ["test/e2e/lib/setup.ts"],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
