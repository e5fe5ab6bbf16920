// Runs only these screen tests with the shared config (`npm test` runs them with everyone's):
//   npx vitest run --config tests/screens/vitest.config.ts
import { defineConfig } from "vitest/config";
import base from "../../vite.config.ts";

export default defineConfig({
  ...base,
  test: { ...base.test, include: ["tests/screens/**/*.test.ts"] },
});
