import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../App.svelte";
import { callsOf, fail, fakeBackend, info } from "./backend";

const notSetUp = info({
  set_up: false,
  encrypted: false,
  unit: null,
  user: null,
  device_id: null,
  enrolled: false,
  relay: null,
});

const PASS = "Biển đảo Tổ quốc 2025";

async function typePassphrase(p: string, again = p) {
  await fireEvent.input(screen.getByTestId("firstrun-passphrase"), { target: { value: p } });
  await fireEvent.input(screen.getByTestId("firstrun-passphrase2"), { target: { value: again } });
}

async function fill(unit: string, user: string, pass = PASS) {
  await fireEvent.input(await screen.findByTestId("firstrun-unit"), { target: { value: unit } });
  await fireEvent.input(screen.getByTestId("firstrun-user"), { target: { value: user } });
  await typePassphrase(pass);
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
      passphrase: PASS,
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
      passphrase: PASS,
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

  it("asks for a passphrase of at least 8 characters, typed twice the same, before calling", async () => {
    const calls = fakeBackend({ app_info: () => notSetUp, set_up: () => info() });
    render(App);
    await fill("Đồn Biên phòng Kiểng Phước", "Trung úy Đặng Văn Hải", "");
    const pass = screen.getByTestId("firstrun-passphrase") as HTMLInputElement;
    // Labels in Vietnamese; the fields hide what is typed.
    expect(pass.type).toBe("password");
    expect((screen.getByTestId("firstrun-passphrase2") as HTMLInputElement).type).toBe("password");
    expect(document.body.textContent).toContain("Mật khẩu mở khóa");
    expect(document.body.textContent).toContain("Nhập lại mật khẩu");

    // Empty, then too short (spaces around do not count, as in the shell).
    await fireEvent.click(screen.getByTestId("firstrun-offline"));
    expect((await screen.findByTestId("error-passphrase")).textContent).toContain("ít nhất 8 ký tự");
    expect(pass.getAttribute("aria-invalid")).toBe("true");
    await typePassphrase("  1234567  ");
    await fireEvent.click(screen.getByTestId("firstrun-offline"));
    expect(screen.getByTestId("error-passphrase").textContent).toContain("ít nhất 8 ký tự");
    expect(screen.queryByTestId("error-passphrase2")).toBeNull();

    // Long enough but the second differs: said under the second field, live as it is typed.
    await typePassphrase(PASS, PASS + "x");
    expect(screen.queryByTestId("error-passphrase")).toBeNull();
    expect(screen.getByTestId("error-passphrase2").textContent).toContain("Hai mật khẩu không giống nhau.");
    await fireEvent.click(screen.getByTestId("firstrun-enroll"));
    expect(callsOf(calls, "set_up")).toHaveLength(0);

    await fireEvent.input(screen.getByTestId("firstrun-passphrase2"), { target: { value: PASS } });
    expect(screen.queryByTestId("error-passphrase2")).toBeNull();
    await fireEvent.click(screen.getByTestId("firstrun-offline"));
    await screen.findByTestId("nav-patrols");
    expect(callsOf(calls, "set_up")[0].args.passphrase).toBe(PASS);
  });

  it("says a mismatch when the repeat field is left, before any attempt", async () => {
    fakeBackend({ app_info: () => notSetUp });
    render(App);
    await fill("Đồn Biên phòng Kiểng Phước", "Trung úy Đặng Văn Hải", "");
    await typePassphrase("mật khẩu đủ dài", "mật khẩu đủ dai");
    expect(screen.queryByTestId("error-passphrase2")).toBeNull();
    await fireEvent.blur(screen.getByTestId("firstrun-passphrase2"));
    expect((await screen.findByTestId("error-passphrase2")).textContent).toContain("Hai mật khẩu không giống nhau.");
  });

  it("shows the passphrase errors in English too", async () => {
    fakeBackend({ app_info: () => ({ ...notSetUp, lang: "en" }) });
    render(App);
    await fill("Đồn Biên phòng Kiểng Phước", "Trung úy Đặng Văn Hải", "ngắn");
    expect(document.body.textContent).toContain("Unlock passphrase");
    await fireEvent.click(screen.getByTestId("firstrun-offline"));
    expect((await screen.findByTestId("error-passphrase")).textContent).toContain("at least 8 characters");
  });
});
