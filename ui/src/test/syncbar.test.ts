import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { emit } from "@tauri-apps/api/event";
import SyncBar from "../lib/SyncBar.svelte";
import { appInfo } from "../lib/stores";
import { callsOf, fakeBackend, info } from "./backend";

// 2025-01-02 14:05:00 in Asia/Ho_Chi_Minh
const AT = Date.UTC(2025, 0, 2, 7, 5, 0) / 1000;

const summary = {
  relay: "https://relay.bdbp-tiengiang.vn:8443",
  device_id: "dev-kp-01",
  unit: "Đồn Biên phòng Kiểng Phước",
  last_ok: AT,
  last_error: { code: "timeout", message: "Hết thời gian chờ máy chủ trung chuyển", at: AT - 600 },
  pending: 3,
  refused: [],
};

async function mounted() {
  appInfo.set(info());
  const calls = fakeBackend({ sync_status: () => ({ state: "idle" }), sync_summary: () => summary });
  render(SyncBar);
  await waitFor(() => expect(screen.getByTestId("sync-relay").textContent).toBe("relay.bdbp-tiengiang.vn:8443"));
  return calls;
}

const bar = () => screen.getByTestId("sync-bar");
const label = () => screen.getByTestId("sync-label").textContent;

describe("sync bar", () => {
  it("follows sync-status events: offline, syncing with a percentage, up to date at a time", async () => {
    await mounted();

    await emit("sync-status", { state: "offline", code: "unreachable", retry_in_secs: 30, pending: 5 });
    await waitFor(() => expect(bar().dataset.state).toBe("offline"));
    expect(label()).toBe("Ngoại tuyến");
    expect(screen.getByTestId("sync-pending").textContent).toBe("5 thay đổi chưa gửi");

    await emit("sync-status", { state: "syncing", docs_done: 2, docs_total: 5, bytes_up: 1200, bytes_down: 800 });
    await waitFor(() => expect(bar().dataset.state).toBe("syncing"));
    expect(label()).toBe("Đang đồng bộ 40%");

    await emit("sync-status", { state: "up_to_date", at: AT, pending: 0, wire: { bytes_up: 1, bytes_down: 2, requests: 1 } });
    await waitFor(() => expect(bar().dataset.state).toBe("up_to_date"));
    expect(label()).toBe("Đã đồng bộ lúc 14:05");
    expect(screen.queryByTestId("sync-pending")).toBeNull();

    await emit("sync-status", { state: "error", code: "unauthorized", message: "Thiết bị đã bị thu hồi" });
    await waitFor(() => expect(bar().dataset.state).toBe("error"));
    expect(label()).toBe("Lỗi đồng bộ");
  });

  it("opens details with the last error and syncs now on request", async () => {
    const calls = await mounted();
    await fireEvent.click(screen.getByTestId("sync-toggle"));
    const details = await screen.findByTestId("sync-details");
    expect(screen.getByTestId("sync-last-error").textContent).toContain("Hết thời gian chờ máy chủ trung chuyển");
    expect(details.textContent).toContain("02/01/2025 14:05");
    await fireEvent.click(screen.getByTestId("sync-now"));
    await waitFor(() => expect(callsOf(calls, "sync_now")).toHaveLength(1));
    expect((await screen.findByTestId("sync-message")).textContent).toBe("Đã yêu cầu đồng bộ.");
  });

  it("offers enrolment in the details when the device works offline only", async () => {
    appInfo.set(info({ enrolled: false, relay: null }));
    const calls = fakeBackend({ enroll: () => info() });
    render(SyncBar);
    await fireEvent.click(screen.getByTestId("sync-toggle"));
    await fireEvent.input(await screen.findByTestId("sync-enroll-server"), { target: { value: "https://relay.bdbp-tiengiang.vn" } });
    await fireEvent.input(screen.getByTestId("sync-enroll-code"), { target: { value: "M4T-9QZ" } });
    await fireEvent.click(screen.getByTestId("sync-enroll"));
    await waitFor(() => expect(callsOf(calls, "enroll")[0]?.args).toEqual({ server: "https://relay.bdbp-tiengiang.vn", code: "M4T-9QZ" }));
  });
});
