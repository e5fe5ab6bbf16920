import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import ConflictsScreen from "../screens/conflicts/ConflictsScreen.svelte";
import { callsOf, fakeBackend } from "./backend";

const T1 = Date.UTC(2025, 0, 2, 3, 40) / 1000; // 02/01/2025 10:40 in Hồ Chí Minh
const conflicts = [
  {
    id: "patrol:KP:20250102:01",
    conflicts: [
      {
        field: "vessel",
        values: [
          { value: "Tàu BP-15-01", author: { user: "Đại úy Trần Minh Đức", unit: "Đồn Biên phòng Kiểng Phước", device: "d1", op: "1@a" }, time: T1, change: "c1" },
          { value: "Xuồng CQ-05", author: { user: "Thiếu tá Nguyễn Văn Bình", unit: "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", device: "d2", op: "1@b" }, time: T1 + 60, change: "c2" },
        ],
      },
    ],
  },
];

describe("conflicts inbox", () => {
  it("lists each value with who wrote it and when, and resolves with the chosen one", async () => {
    let left = conflicts;
    const calls = fakeBackend({
      list_conflicts: () => left,
      resolve_conflict: () => {
        left = [];
        return "updated";
      },
    });
    render(ConflictsScreen);
    const field = await screen.findByTestId("conflict-field");
    expect(field.textContent).toContain("Phương tiện");
    expect(field.textContent).toContain("Thiếu tá Nguyễn Văn Bình – Bộ Chỉ huy BĐBP tỉnh Tiền Giang");
    expect(field.textContent).toContain("02/01/2025 10:41");

    await fireEvent.click(screen.getAllByTestId("conflict-choose")[1]);
    await waitFor(() =>
      expect(callsOf(calls, "resolve_conflict")[0]?.args).toEqual({ id: "patrol:KP:20250102:01", field: "vessel", value: "Xuồng CQ-05" }),
    );
    await screen.findByTestId("conflicts-empty");
  });

  it("writes a new value instead of either", async () => {
    const calls = fakeBackend({ list_conflicts: () => conflicts, resolve_conflict: () => "updated" });
    render(ConflictsScreen);
    await fireEvent.input(await screen.findByTestId("conflict-new-value"), { target: { value: "Tàu BP-15-02" } });
    await fireEvent.click(screen.getByTestId("conflict-write"));
    await waitFor(() =>
      expect(callsOf(calls, "resolve_conflict")[0]?.args).toEqual({ id: "patrol:KP:20250102:01", field: "vessel", value: "Tàu BP-15-02" }),
    );
  });

  it("shows a plan item's status by its label, and resolves with the stored code", async () => {
    const statusConflict = [
      {
        id: "plan:item:tuan-tra-chung",
        conflicts: [
          {
            field: "status",
            values: [
              { value: "done", author: { user: "Bí thư Võ Thanh Tâm", unit: "Huyện ủy Gò Công Đông", device: "d1", op: "1@a" }, time: T1, change: "c1" },
              { value: "postponed", author: { user: "Phó Bí thư Đặng Thị Lan", unit: "Huyện ủy Tân Phú Đông", device: "d2", op: "1@b" }, time: T1 + 60, change: "c2" },
            ],
          },
        ],
      },
    ];
    const calls = fakeBackend({ list_conflicts: () => statusConflict, resolve_conflict: () => "updated" });
    render(ConflictsScreen);
    const field = await screen.findByTestId("conflict-field");
    expect(field.textContent).toContain("hoàn thành");
    expect(field.textContent).toContain("tạm hoãn");
    expect(field.textContent).not.toContain("postponed");
    await fireEvent.click(screen.getAllByTestId("conflict-choose")[1]);
    await waitFor(() =>
      expect(callsOf(calls, "resolve_conflict")[0]?.args).toEqual({ id: "plan:item:tuan-tra-chung", field: "status", value: "postponed" }),
    );
  });
});
