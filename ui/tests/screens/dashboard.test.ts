import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import DashboardScreen from "../../src/screens/dashboard/DashboardScreen.svelte";
import { backend } from "./mock";
import type { Dashboard } from "../../src/lib/api";

afterEach(async () => {
  cleanup();
  await new Promise((r) => setTimeout(r, 0));
  clearMocks();
});

const data: Dashboard = {
  counts: [
    { kind: "patrol", count: 12 },
    { kind: "community_activity", count: 3 },
  ],
  units: [
    {
      unit: "Đồn Biên phòng Tân Thành",
      count: 9,
      latest: [
        { id: "patrol:TT:20250101:01", kind: "patrol", unit: "Đồn Biên phòng Tân Thành", date: "2025-01-01", title: "Đồn Biên phòng Tân Thành — Cửa Soài Rạp", conflicts: 0, stage: "received_by_hq" },
        { id: "patrol:TT:20250102:01", kind: "patrol", unit: "Đồn Biên phòng Tân Thành", date: "2025-01-02", title: "Tuần tra vùng nuôi nghêu", conflicts: 0, stage: "saved_here" },
      ],
    },
    {
      unit: "Đồn Biên phòng Kiểng Phước",
      count: 6,
      latest: [
        { id: "community:KP:20250105", kind: "community_activity", unit: "Đồn Biên phòng Kiểng Phước", date: "2025-01-05", title: "Tuyên truyền pháp luật — Khu phố 3", conflicts: 0, stage: "at_relay" },
      ],
    },
  ],
};

describe("DashboardScreen", () => {
  it("renders counts per kind and per unit with delivery badges", async () => {
    const { calls } = backend([], { unit: "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", overrides: { dashboard: () => data } });
    render(DashboardScreen);
    await waitFor(() => expect(screen.getAllByTestId("dashboard-unit")).toHaveLength(2));
    expect(calls.find((c) => c.cmd === "dashboard")!.args).toEqual({ q: {} });

    const counts = screen.getAllByTestId("dashboard-count");
    expect(counts.map((c) => c.getAttribute("data-kind"))).toEqual(["patrol", "community_activity"]);
    expect(counts[0].textContent).toContain("12");
    expect(counts[0].textContent).toContain("Tuần tra");
    expect(screen.getByTestId("dashboard-total").textContent).toContain("15");

    const [tt, kp] = screen.getAllByTestId("dashboard-unit");
    expect(tt.textContent).toContain("Đồn Biên phòng Tân Thành");
    expect(tt.querySelector('[data-testid="dashboard-unit-count"]')!.textContent).toContain("9");
    const badges = [...tt.querySelectorAll('[data-testid="delivery-badge"]')].map((b) => b.getAttribute("data-stage"));
    expect(badges).toEqual(["received_by_hq", "saved_here"]);
    expect(tt.textContent).toContain("Chỉ huy đã nhận");
    expect(kp.querySelector('[data-testid="delivery-badge"]')!.getAttribute("data-stage")).toBe("at_relay");
    expect(kp.textContent).toContain("05/01/2025");
  });

  it("sends unit, period (YYYY-MM-DD) and kind filters", async () => {
    const { calls } = backend([], { overrides: { dashboard: () => data } });
    render(DashboardScreen);
    await waitFor(() => expect(screen.getAllByTestId("dashboard-unit")).toHaveLength(2));
    await waitFor(() => expect(screen.getByTestId("dashboard-filter-unit").querySelectorAll("option").length).toBeGreaterThan(1));
    await fireEvent.change(screen.getByTestId("dashboard-filter-unit"), { target: { value: "Đồn Biên phòng Kiểng Phước" } });
    await fireEvent.input(screen.getByTestId("dashboard-filter-from"), { target: { value: "01/01/2025" } });
    await fireEvent.input(screen.getByTestId("dashboard-filter-to"), { target: { value: "31/3/2025" } });
    await fireEvent.change(screen.getByTestId("dashboard-filter-kind"), { target: { value: "community_activity" } });
    await fireEvent.click(screen.getByTestId("dashboard-apply"));
    await waitFor(() =>
      expect(calls.filter((c) => c.cmd === "dashboard").slice(-1)[0].args).toEqual({
        q: { unit: "Đồn Biên phòng Kiểng Phước", from: "2025-01-01", to: "2025-03-31", kind: "community_activity" },
      }),
    );
  });
});
