import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import PatrolsScreen from "../screens/patrols/PatrolsScreen.svelte";
import { callsOf, fakeBackend, units } from "./backend";

const rows = [
  { id: "patrol:TT:20250101:01", kind: "patrol", unit: "Đồn Biên phòng Tân Thành", date: "2025-01-01", title: "Cửa Soài Rạp — Xuồng CQ-02", conflicts: 0 },
  { id: "patrol:KP:20250102:01", kind: "patrol", unit: "Đồn Biên phòng Kiểng Phước", date: "2025-01-02", title: "Vùng biển xã Kiểng Phước — Tàu BP-15-01", conflicts: 2 },
  { id: "patrol:VL:20250103:01", kind: "patrol", unit: "Đồn Biên phòng Vàm Láng", date: "2025-01-03", title: "Vùng nuôi nghêu Vàm Láng", conflicts: 0 },
];

const ids = () => screen.getAllByTestId("record-row").map((r) => r.getAttribute("data-id"));

describe("patrol list", () => {
  it("lists patrols newest first with dates as dd/MM/yyyy and an amber conflict badge", async () => {
    const calls = fakeBackend({ list_records: () => ({ rows, total: 3 }), units: () => units });
    render(PatrolsScreen);
    await waitFor(() => expect(screen.getAllByTestId("record-row")).toHaveLength(3));
    expect(callsOf(calls, "list_records")[0].args).toEqual({ q: { kind: "patrol", limit: 200 } });
    expect(ids()[0]).toBe("patrol:VL:20250103:01");
    expect(screen.getAllByTestId("record-row")[2].textContent).toContain("01/01/2025");
    expect(screen.getByTestId("row-conflicts").textContent).toContain("2 xung đột");
  });

  it("sorts by a column and toggles the direction", async () => {
    fakeBackend({ list_records: () => ({ rows, total: 3 }) });
    render(PatrolsScreen);
    await waitFor(() => expect(screen.getAllByTestId("record-row")).toHaveLength(3));
    await fireEvent.click(screen.getByTestId("sort-unit"));
    expect(ids()).toEqual(["patrol:KP:20250102:01", "patrol:TT:20250101:01", "patrol:VL:20250103:01"]);
    await fireEvent.click(screen.getByTestId("sort-unit"));
    expect(ids()[0]).toBe("patrol:VL:20250103:01");
  });

  it("searches through the backend with the text as typed (no diacritics needed)", async () => {
    const calls = fakeBackend({
      list_records: () => ({ rows, total: 3 }),
      search_records: () => [rows[1]],
    });
    render(PatrolsScreen);
    await waitFor(() => expect(screen.getAllByTestId("record-row")).toHaveLength(3));
    await fireEvent.input(screen.getByTestId("search-input"), { target: { value: "kieng phuoc" } });
    await waitFor(() => expect(screen.getAllByTestId("record-row")).toHaveLength(1));
    expect(callsOf(calls, "search_records")[0].args).toEqual({ text: "kieng phuoc", kind: "patrol", limit: 100 });
    expect(screen.getByTestId("record-row").textContent).toContain("Kiểng Phước");
  });

  it("sends the filter row to the API as ISO dates and the unit name", async () => {
    const calls = fakeBackend({ list_records: () => ({ rows, total: 3 }), units: () => units });
    render(PatrolsScreen);
    await waitFor(() => expect(screen.getAllByTestId("record-row")).toHaveLength(3));
    await waitFor(() => expect(screen.getByTestId("filter-unit").querySelectorAll("option").length).toBe(4));
    await fireEvent.change(screen.getByTestId("filter-unit"), { target: { value: "Đồn Biên phòng Kiểng Phước" } });
    await fireEvent.input(screen.getByTestId("filter-from"), { target: { value: "02/01/2025" } });
    await fireEvent.change(screen.getByTestId("filter-from"));
    await fireEvent.input(screen.getByTestId("filter-to"), { target: { value: "31/01/2025" } });
    await fireEvent.change(screen.getByTestId("filter-to"));
    await waitFor(() =>
      expect(callsOf(calls, "list_records").slice(-1)[0].args).toEqual({
        q: { kind: "patrol", unit: "Đồn Biên phòng Kiểng Phước", from: "2025-01-02", to: "2025-01-31", limit: 200 },
      }),
    );
  });

  it("shows a bad date under the filter and does not query with it", async () => {
    const calls = fakeBackend({ list_records: () => ({ rows, total: 3 }) });
    render(PatrolsScreen);
    await waitFor(() => expect(screen.getAllByTestId("record-row")).toHaveLength(3));
    const before = callsOf(calls, "list_records").length;
    await fireEvent.input(screen.getByTestId("filter-from"), { target: { value: "31/02/2025" } });
    await fireEvent.change(screen.getByTestId("filter-from"));
    expect(screen.getByTestId("error-filter-from").textContent).toContain("dd/mm/yyyy");
    expect(callsOf(calls, "list_records").length).toBe(before);
  });
});
