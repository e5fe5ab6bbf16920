import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import ActivitiesScreen from "../../src/screens/activities/ActivitiesScreen.svelte";
import { backend } from "./mock";
import type { RecordJson } from "../../src/lib/api";
import { recordFromForm, formFromRecord } from "../../src/screens/activities/form";

afterEach(async () => {
  cleanup();
  await new Promise((r) => setTimeout(r, 0));
  clearMocks();
});

const KP = "Đồn Biên phòng Kiểng Phước";
const activity: RecordJson = {
  type: "community_activity",
  id: "community:KP:20250105",
  station: KP,
  date: "2025-01-05",
  kind: "Tuyên truyền pháp luật",
  location: "Khu phố 3, xã Kiểng Phước",
  participants: 51,
  officers: ["Trung úy Đặng Văn Hải"],
  description: "Tuyên truyền Luật Biên phòng Việt Nam và chống khai thác IUU.",
};
const meeting: RecordJson = {
  type: "review_meeting",
  id: "meeting:2024-03-09",
  date: "2024-03-09",
  location: "Huyện Tân Phú Đông",
  units: ["Huyện ủy Gò Công Đông"],
  period_from: "2023-03-01",
  period_to: "2024-02-29",
  conclusions: "Các bên hoàn thành tốt nội dung phối hợp.",
};

describe("activity form ⇄ record", () => {
  it("round-trips a community activity with Vietnamese text and dd/MM/yyyy dates", () => {
    const f = formFromRecord(activity);
    expect(f.date).toBe("05/01/2025");
    expect(f.officers).toBe("Trung úy Đặng Văn Hải");
    const { record, local } = recordFromForm("community_activity", f, () => "x");
    expect(local).toEqual({});
    expect(record).toEqual({ ...activity, participating_units: [] });
  });
  it("rejects a bad date and a non-numeric count in place", () => {
    const f = { ...formFromRecord(activity), date: "31/02/2025", participants: "năm mươi" };
    const { record, local } = recordFromForm("community_activity", f, () => "x");
    expect(record).toBeNull();
    expect(local).toEqual({ date: "common.bad_date", participants: "common.bad_number" });
  });
});

describe("ActivitiesScreen", () => {
  it("lists community activities and creates one", async () => {
    const { calls } = backend([activity, meeting], { unit: KP });
    render(ActivitiesScreen, { kind: "community_activity" });
    await waitFor(() => expect(screen.getAllByTestId("activity-row")).toHaveLength(1));
    expect(screen.getByTestId("activity-row").textContent).toContain("05/01/2025");
    await fireEvent.click(screen.getByTestId("activity-new"));
    await fireEvent.input(screen.getByTestId("activity-date"), { target: { value: "12/01/2025" } });
    await fireEvent.input(screen.getByTestId("activity-kind"), { target: { value: "Khám chữa bệnh" } });
    await fireEvent.input(screen.getByTestId("activity-location"), { target: { value: "Ấp Tân Thành" } });
    await fireEvent.input(screen.getByTestId("activity-participants"), { target: { value: "120" } });
    await fireEvent.input(screen.getByTestId("activity-officers"), { target: { value: "Thiếu úy Lê Văn Đức\nTrung úy Đặng Văn Hải" } });
    await fireEvent.submit(screen.getByTestId("activity-form"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "save_record")).toBe(true));
    const rec = calls.find((c) => c.cmd === "save_record")!.args.record as RecordJson;
    expect(rec).toMatchObject({
      type: "community_activity",
      station: KP,
      date: "2025-01-12",
      kind: "Khám chữa bệnh",
      location: "Ấp Tân Thành",
      participants: 120,
      officers: ["Thiếu úy Lê Văn Đức", "Trung úy Đặng Văn Hải"],
    });
    expect(rec.id).toMatch(/^community:KP:20250112:/);
    await waitFor(() => expect(screen.getAllByTestId("activity-row")).toHaveLength(2));
  });

  it("shows the backend's problems under their fields", async () => {
    backend([meeting], {
      overrides: {
        save_record: () => {
          throw {
            kind: "invalid",
            message: "invalid",
            problems: [
              { field: "location", code: "required", vi: "Địa điểm không được để trống.", en: "Place is required." },
              { field: "units[0]", code: "unknown_unit", vi: "Đơn vị không có trong danh mục.", en: "Unknown unit." },
            ],
          };
        },
      },
    });
    render(ActivitiesScreen, { kind: "review_meeting" });
    await waitFor(() => expect(screen.getAllByTestId("activity-row")).toHaveLength(1));
    await fireEvent.click(screen.getByTestId("activity-edit"));
    await waitFor(() => expect((screen.getByTestId("activity-date") as HTMLInputElement).value).toBe("09/03/2024"));
    expect((screen.getByTestId("meeting-period-to") as HTMLInputElement).value).toBe("29/02/2024");
    await fireEvent.submit(screen.getByTestId("activity-form"));
    await waitFor(() => expect(screen.getByTestId("error-location").textContent).toBe("Địa điểm không được để trống."));
    expect(screen.getByTestId("error-units").textContent).toBe("Đơn vị không có trong danh mục.");
  });

  it("a bad date is reported in place without calling save", async () => {
    const { calls } = backend([meeting]);
    render(ActivitiesScreen, { kind: "review_meeting" });
    await waitFor(() => expect(screen.getAllByTestId("activity-row")).toHaveLength(1));
    await fireEvent.click(screen.getByTestId("activity-new"));
    await fireEvent.input(screen.getByTestId("activity-date"), { target: { value: "30/02/2025" } });
    await fireEvent.submit(screen.getByTestId("activity-form"));
    expect(screen.getByTestId("error-date").textContent).toContain("dd/mm/yyyy");
    expect(calls.some((c) => c.cmd === "save_record")).toBe(false);
  });
});
