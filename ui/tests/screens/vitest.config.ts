// Runs these screen tests with the shared Vite/Vitest config (ui/vite.config.ts), whose
// `test.include` only covers src/**. Until it also lists tests/**:
//   npx vitest run --config tests/screens/vitest.config.ts
import { defineConfig } from "vitest/config";
import base from "../../vite.config.ts";

export default defineConfig({
  ...base,
  test: { ...base.test, include: ["tests/screens/**/*.test.ts"] },
});
