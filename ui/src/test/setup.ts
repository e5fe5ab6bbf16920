// Test setup shared by every Vitest file: demo time zone, and a clean slate after each test
// (DOM, pending listeners, IPC mocks, module-level stores) in the order the Tauri notes give.
import { afterEach } from "vitest";
import { cleanup } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { lang } from "../lib/i18n";
import { setDirtyGuard } from "../lib/router";
import { appInfo, conflictCount } from "../lib/stores";

(globalThis as unknown as { process: { env: Record<string, string> } }).process.env.TZ = "Asia/Ho_Chi_Minh";

afterEach(async () => {
  cleanup();
  await new Promise((r) => setTimeout(r, 0));
  clearMocks();
  lang.set("vi");
  appInfo.set(null);
  conflictCount.set(0);
  setDirtyGuard(null);
  history.replaceState(null, "", "/");
});
