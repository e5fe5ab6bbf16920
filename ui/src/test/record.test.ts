import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import RecordScreen from "../screens/record/RecordScreen.svelte";
import { callsOf, fakeBackend } from "./backend";

const record = {
  type: "patrol",
  id: "patrol:TT:20250101:01",
  station: "Đồn Biên phòng Tân Thành",
  start: "2025-01-01T06:19:00+07:00",
  vessel: "Xuồng CQ-02",
  crew: ["Đại úy Hoàng Công Long"],
  violations: [{ registration: "TG-93628-TS", violation: "Sử dụng ngư cụ cấm (lưới cào điện)", fine_vnd: 50000000 }],
};
const author = { user: "Trung úy Lê Quốc Vũ", unit: "Đồn Biên phòng Tân Thành", device: "d1", op: "1@a" };
const view = {
  record,
  conflicts: [{ field: "vessel", values: [
    { value: "Xuồng CQ-02", author, time: 1735687181, change: "c1" },
    { value: "Tàu BP-15-01", author: { ...author, user: "Đại úy Trần Minh Đức" }, time: 1735687300, change: "c2" },
  ] }],
  track_points: 0,
  changes: 2,
  delivery: { stage: "at_relay", enrolled: true, units: [] },
  track: [],
};

describe("record page", () => {
  it("shows fields, the delivery badge and conflicts in amber", async () => {
    fakeBackend({ get_record: () => view });
    render(RecordScreen, { id: record.id });
    const vessel = await screen.findByTestId("field-vessel");
    expect(vessel.classList.contains("conflict")).toBe(true);
    expect(vessel.textContent).toContain("Đại úy Trần Minh Đức");
    expect(screen.getByTestId("delivery-badge").dataset.stage).toBe("at_relay");
    expect(screen.getByTestId("field-violations").textContent).toContain("50.000.000");
    expect(screen.getByTestId("field-start").textContent).toContain("01/01/2025 06:19");
  });

  it("shows the change history: who, unit, when, field old → new", async () => {
    fakeBackend({
      get_record: () => view,
      record_history: () => [
        { change: "c2", author, time: Date.UTC(2025, 0, 1, 7, 5) / 1000, fields: [{ field: "vessel", old: "Xuồng CQ-01", new: "Xuồng CQ-02" }], signature: "verified" },
      ],
    });
    render(RecordScreen, { id: record.id });
    await fireEvent.click(await screen.findByTestId("tab-history"));
    const row = await screen.findByTestId("history-row");
    expect(row.textContent).toContain("01/01/2025 14:05");
    expect(row.textContent).toContain("Trung úy Lê Quốc Vũ");
    expect(row.textContent).toContain("Phương tiện");
    expect(row.textContent).toMatch(/Xuồng CQ-01\s*→\s*Xuồng CQ-02/);
    expect(screen.getByTestId("history-signature").textContent).toBe("✓ Đã xác minh");
  });

  it("flags a change whose signature does not verify", async () => {
    fakeBackend({
      get_record: () => view,
      record_history: () => [
        { change: "c1", author, time: Date.UTC(2025, 0, 1, 6, 0) / 1000, fields: [], signature: "verified" },
        { change: "c3", author, time: Date.UTC(2025, 0, 1, 8, 0) / 1000, fields: [{ field: "notes", old: "", new: "Ghi chép chèn vào" }], signature: "forged" },
      ],
    });
    render(RecordScreen, { id: record.id });
    await fireEvent.click(await screen.findByTestId("tab-history"));
    await screen.findAllByTestId("history-row");
    const badges = screen.getAllByTestId("history-signature");
    expect(badges.map((b) => b.textContent)).toEqual(["✗ Chữ ký giả", "✓ Đã xác minh"]);
    expect(badges[0].classList.contains("sig-forged")).toBe(true);
  });

  it("imports a GPX track file as text", async () => {
    const calls = fakeBackend({ get_record: () => view, import_track: () => ({ points: 2, skipped: 0 }) });
    render(RecordScreen, { id: record.id });
    const input = (await screen.findByTestId("track-file")) as HTMLInputElement;
    const gpx = '<gpx><trk><trkseg><trkpt lat="10.28" lon="106.77"/></trkseg></trk></gpx>';
    const file = new File([gpx], "tuan-tra.gpx", { type: "application/gpx+xml" });
    Object.defineProperty(input, "files", { value: [file], configurable: true });
    await fireEvent.change(input);
    await waitFor(() =>
      expect(callsOf(calls, "import_track")[0]?.args).toEqual({ id: record.id, fileName: "tuan-tra.gpx", text: gpx }),
    );
    expect((await screen.findByTestId("track-import-result")).textContent).toBe("Đã nhập 2 điểm, bỏ qua 0.");
  });
});
