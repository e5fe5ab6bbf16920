import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import PatrolForm from "../screens/patrols/PatrolForm.svelte";
import { appInfo } from "../lib/stores";
import { mayLeave } from "../lib/router";
import { callsOf, fail, fakeBackend, info, units } from "./backend";

const type = (id: string, value: string) => fireEvent.input(screen.getByTestId(id), { target: { value } });

async function fillNew() {
  appInfo.set(info());
  render(PatrolForm);
  await screen.findByTestId("patrol-station");
  await waitFor(() => expect((screen.getByTestId("patrol-station") as HTMLInputElement).value).toBe("Đồn Biên phòng Kiểng Phước"));
  await type("patrol-start", "02/01/2025 05:30");
  await type("patrol-end", "02/01/2025 10:15");
  await type("patrol-vessel", "Tàu BP-15-01");
  await fireEvent.click(screen.getByTestId("patrol-crew-add"));
  await type("patrol-crew-0", "Trung úy Đặng Văn Hải");
  await fireEvent.click(screen.getByTestId("patrol-joint-add"));
  await type("patrol-joint-0", "Ban Chỉ huy Quân sự huyện Gò Công Đông");
  await fireEvent.click(screen.getByTestId("inspection-add"));
  await type("inspection-0-registration", "TG-90512");
  await type("inspection-0-owner", "Lê Thị Hường");
  await type("inspection-0-crew-count", "6");
  await type("patrol-notes", "Phát hiện 01 phương tiện thiếu giấy tờ.");
}

describe("patrol form", () => {
  it("shows the backend's validation messages under their fields", async () => {
    const calls = fakeBackend({
      units: () => units,
      save_record: fail({
        kind: "invalid",
        message: "2 problems",
        problems: [
          { field: "vessels_inspected[0].registration", code: "bad_registration", vi: "Số đăng ký “TG-90512” không đúng dạng, ví dụ TG-93096-TS.", en: "Registration number “TG-90512” has the wrong shape; expected e.g. TG-93096-TS." },
          { field: "end", code: "before_start", vi: "Thời điểm kết thúc phải sau thời điểm bắt đầu.", en: "The end must come after the start." },
        ],
      }),
    });
    await fillNew();
    await fireEvent.click(screen.getByTestId("patrol-save"));

    const reg = await screen.findByTestId("error-vessels_inspected[0].registration");
    expect(reg.textContent).toContain("không đúng dạng");
    expect(screen.getByTestId("error-end").textContent).toContain("phải sau thời điểm bắt đầu");
    expect(screen.getByTestId("patrol-form-error")).toBeTruthy();
    expect(callsOf(calls, "save_record")).toHaveLength(1);
    expect(location.hash).not.toContain("record");
  });

  it("catches a malformed time before saving", async () => {
    const calls = fakeBackend({ units: () => units });
    await fillNew();
    await type("patrol-start", "32/01/2025 05:30");
    await fireEvent.click(screen.getByTestId("patrol-save"));
    expect((await screen.findByTestId("error-start")).textContent).toContain("dd/mm/yyyy HH:mm");
    expect(callsOf(calls, "save_record")).toHaveLength(0);
  });

  it("saves locally in the interchange shape and opens the record", async () => {
    const calls = fakeBackend({ units: () => units, save_record: () => "created" });
    await fillNew();
    await type("inspection-0-registration", "TG-90512-TS");
    await fireEvent.click(screen.getByTestId("patrol-save"));

    await waitFor(() => expect(callsOf(calls, "save_record")).toHaveLength(1));
    const rec = callsOf(calls, "save_record")[0].args.record as Record<string, unknown>;
    expect(rec).toMatchObject({
      type: "patrol",
      station: "Đồn Biên phòng Kiểng Phước",
      station_code: "KP",
      start: "2025-01-02T05:30:00+07:00",
      end: "2025-01-02T10:15:00+07:00",
      vessel: "Tàu BP-15-01",
      crew: ["Trung úy Đặng Văn Hải"],
      joint_forces: ["Ban Chỉ huy Quân sự huyện Gò Công Đông"],
      vessels_inspected: [{ registration: "TG-90512-TS", owner: "Lê Thị Hường", crew_count: 6 }],
      notes: "Phát hiện 01 phương tiện thiếu giấy tờ.",
    });
    expect(rec.id).toMatch(/^patrol:KP:20250102:0530-[0-9a-f]{4}$/);
    expect(rec).not.toHaveProperty("sea_area");
    await waitFor(() => expect(location.hash).toBe("#/record/" + encodeURIComponent(rec.id as string)));
  });

  it("keeps fields it does not edit (the track) and the original times when editing", async () => {
    const original = {
      type: "patrol",
      id: "patrol:TT:20250101:01",
      station: "Đồn Biên phòng Tân Thành",
      station_code: "TT",
      start: "2025-01-01T06:19:00+07:00",
      end: "2025-01-01T09:06:01+07:00",
      route: [[10.284187, 106.778869, 1735687181]],
      notes: "Thời tiết trời quang.",
    };
    const calls = fakeBackend({
      get_record: () => ({ record: original, conflicts: [], track_points: 1, changes: 1, delivery: { stage: "saved_here", enrolled: true, units: [] }, track: [] }),
      save_record: () => "updated",
    });
    render(PatrolForm, { id: "patrol:TT:20250101:01" });
    await waitFor(() => expect((screen.getByTestId("patrol-start") as HTMLInputElement).value).toBe("01/01/2025 06:19"));
    await type("patrol-notes", "Thời tiết trời quang, gió cấp 4.");
    await fireEvent.click(screen.getByTestId("patrol-save"));
    await waitFor(() => expect(callsOf(calls, "save_record")).toHaveLength(1));
    expect(callsOf(calls, "save_record")[0].args.record).toEqual({ ...original, notes: "Thời tiết trời quang, gió cấp 4." });
  });

  it("keeps the files of the patrol, its inspections and violations, with their rows", async () => {
    const file = (c: string, name: string) => ({ hash: c.repeat(64), name, mime: "image/jpeg", size: 1000 });
    const original = {
      type: "patrol",
      id: "patrol:TT:20250101:02",
      station: "Đồn Biên phòng Tân Thành",
      start: "2025-01-01T06:19:00+07:00",
      attachments: [file("a", "ảnh tàu cá.jpg")],
      vessels_inspected: [
        { registration: "TG-90001-TS", attachments: [file("b", "giấy phép 1.jpg")] },
        { registration: "TG-90002-TS", result: "Không vi phạm", attachments: [file("c", "giấy phép 2.jpg")] },
      ],
      violations: [{ registration: "TG-93096-TS", violation: "Sử dụng ngư cụ cấm", attachments: [file("d", "biên bản.jpg")] }],
    };
    const calls = fakeBackend({
      get_record: () => ({ record: original, conflicts: [], track_points: 0, changes: 1, delivery: { stage: "saved_here", enrolled: true, units: [] }, track: [] }),
      save_record: () => "updated",
    });
    render(PatrolForm, { id: original.id });
    await screen.findByTestId("inspection-0-remove");
    // The first inspection goes; the second keeps its own photo, not the first one's.
    await fireEvent.click(screen.getByTestId("inspection-0-remove"));
    await fireEvent.click(screen.getByTestId("patrol-save"));
    await waitFor(() => expect(callsOf(calls, "save_record")).toHaveLength(1));
    const saved = callsOf(calls, "save_record")[0].args.record as typeof original;
    expect(saved.attachments).toEqual(original.attachments);
    expect(saved.vessels_inspected).toEqual([original.vessels_inspected[1]]);
    expect(saved.violations).toEqual(original.violations);
  });

  it("guards unsaved changes", async () => {
    fakeBackend({ units: () => units });
    await fillNew();
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    expect(mayLeave()).toBe(false);
    expect(confirm).toHaveBeenCalledWith("Có thay đổi chưa lưu. Rời trang và bỏ các thay đổi này?");
    confirm.mockReturnValue(true);
    expect(mayLeave()).toBe(true);
    vi.unstubAllGlobals();
  });
});
