import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../App.svelte";
import { callsOf, fail, fakeBackend, info } from "./backend";

const notSetUp = info({ set_up: false, unit: null, user: null, device_id: null, enrolled: false, relay: null });

async function fill(unit: string, user: string) {
  await fireEvent.input(await screen.findByTestId("firstrun-unit"), { target: { value: unit } });
  await fireEvent.input(screen.getByTestId("firstrun-user"), { target: { value: user } });
}

describe("first run", () => {
  it("sets up offline with unit and user only, then shows the shell", async () => {
    const calls = fakeBackend({
      app_info: () => notSetUp,
      set_up: (a) => info({ unit: a.unit as string, user: a.user as string, enrolled: false, relay: null }),
      list_records: () => ({ rows: [], total: 0 }),
      list_conflicts: () => [],
      units: () => [],
      sync_status: () => ({ state: "idle" }),
      sync_summary: () => ({ relay: null, device_id: "d1", unit: null, last_ok: null, last_error: null, pending: 0, refused: [] }),
    });
    render(App);
    await fill("Đồn Biên phòng Kiểng Phước", "Trung úy Đặng Văn Hải");
    await fireEvent.click(screen.getByTestId("firstrun-offline"));

    await screen.findByTestId("nav-patrols");
    expect(callsOf(calls, "set_up")[0].args).toEqual({
      unit: "Đồn Biên phòng Kiểng Phước",
      user: "Trung úy Đặng Văn Hải",
    });
  });

  it("enrols with the relay address and one-time code", async () => {
    const calls = fakeBackend({
      app_info: () => notSetUp,
      set_up: () => info(),
      list_records: () => ({ rows: [], total: 0 }),
      list_conflicts: () => [],
    });
    render(App);
    await fill("Đồn Biên phòng Tân Thành", "Đại úy Hoàng Công Long");
    await fireEvent.input(screen.getByTestId("firstrun-server"), { target: { value: "https://relay.bdbp-tiengiang.vn" } });
    await fireEvent.input(screen.getByTestId("firstrun-code"), { target: { value: "K7Q-2XP" } });
    await fireEvent.click(screen.getByTestId("firstrun-enroll"));

    await screen.findByTestId("sync-bar");
    expect(callsOf(calls, "set_up")[0].args).toEqual({
      unit: "Đồn Biên phòng Tân Thành",
      user: "Đại úy Hoàng Công Long",
      server: "https://relay.bdbp-tiengiang.vn",
      code: "K7Q-2XP",
    });
  });

  it("shows a relay error in place and stays on the form", async () => {
    fakeBackend({
      app_info: () => notSetUp,
      set_up: fail({ kind: "sync", message: "Mã đăng ký không hợp lệ hoặc đã được dùng" }),
    });
    render(App);
    await fill("Đồn Biên phòng Vàm Láng", "Thiếu tá Nguyễn Văn Bình");
    await fireEvent.input(screen.getByTestId("firstrun-server"), { target: { value: "https://relay.example" } });
    await fireEvent.input(screen.getByTestId("firstrun-code"), { target: { value: "SAI-MA" } });
    await fireEvent.click(screen.getByTestId("firstrun-enroll"));

    const err = await screen.findByTestId("firstrun-error");
    expect(err.textContent).toContain("Mã đăng ký không hợp lệ hoặc đã được dùng");
    expect(screen.getByTestId("firstrun-unit")).toBeTruthy();
    expect(screen.queryByTestId("nav-patrols")).toBeNull();
  });

  it("puts field problems under their fields and checks required fields before calling", async () => {
    const calls = fakeBackend({
      app_info: () => notSetUp,
      set_up: fail({
        kind: "invalid",
        message: "invalid",
        problems: [{ field: "unit", code: "unknown_unit", vi: "Đơn vị “Đồn X” chưa có trong danh sách.", en: "Unknown unit “Đồn X”." }],
      }),
    });
    render(App);
    await screen.findByTestId("firstrun-unit");
    await fireEvent.click(screen.getByTestId("firstrun-offline"));
    expect((await screen.findByTestId("error-unit")).textContent).toContain("Không được để trống.");
    expect(screen.getByTestId("error-user")).toBeTruthy();
    expect(callsOf(calls, "set_up")).toHaveLength(0);

    await fill("Đồn X", "Hạ sĩ Lý Văn Đông");
    await fireEvent.click(screen.getByTestId("firstrun-offline"));
    await waitFor(() =>
      expect(screen.getByTestId("error-unit").textContent).toContain("Đơn vị “Đồn X” chưa có trong danh sách."),
    );
    expect(screen.queryByTestId("error-user")).toBeNull();
  });
});
