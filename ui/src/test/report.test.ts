import { beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import App from "../App.svelte";
import ReportScreen from "../screens/reports/ReportScreen.svelte";
import { fmtFigure, keepReport, quickPeriod, sortUnits, ticks } from "../screens/reports/report";
import type { Report } from "../lib/api";
import { KP, REPORT, TT, kp, tt } from "./reportFixture";
import { lang } from "../lib/i18n";
import { recordHref } from "../lib/router";
import { callsOf, fail, fakeBackend, info, units } from "./backend";

const TABLES = ["patrols", "patrols_by_month", "by_month", "violations", "exchanges", "activities", "activities_by_unit", "plan_items"];

const setValue = (testId: string, value: string) => fireEvent.input(screen.getByTestId(testId), { target: { value } });

/** The report screen over a backend answering `REPORT`; a half-year already chosen. */
async function generated(given: Parameters<typeof fakeBackend>[0] = {}) {
  const calls = fakeBackend({ units: () => units, report: () => REPORT, ...given });
  render(ReportScreen);
  await setValue("report-from", "01/01/2025");
  await setValue("report-to", "30/06/2025");
  await fireEvent.click(screen.getByTestId("report-run"));
  await screen.findByTestId("report-table-patrols");
  return calls;
}

const figure = (table: string, row: string, col: string) =>
  document.querySelector<HTMLButtonElement>(`[data-testid=report-figure][data-table="${table}"][data-row="${row}"][data-col="${col}"]`)!;

beforeEach(() => keepReport(null));

describe("report page", () => {
  it("has its own nav entry on every device and opens from #/reports with this year so far", async () => {
    location.hash = "#/reports";
    fakeBackend({ app_info: () => info({ hq: false }), units: () => units });
    render(App);
    const nav = await screen.findByTestId("nav-reports");
    expect(nav.textContent).toContain("Báo cáo");
    expect(nav.getAttribute("href")).toBe("#/reports");
    expect(nav.getAttribute("aria-current")).toBe("page");
    await screen.findByTestId("report-screen");
    const now = new Date();
    const dd = (n: number) => String(n).padStart(2, "0");
    expect((screen.getByTestId("report-from") as HTMLInputElement).value).toBe(`01/01/${now.getFullYear()}`);
    expect((screen.getByTestId("report-to") as HTMLInputElement).value).toBe(
      `${dd(now.getDate())}/${dd(now.getMonth() + 1)}/${now.getFullYear()}`,
    );
    expect(screen.getByTestId("report-run").textContent).toContain("Lập báo cáo");
  });

  it("sends the chosen period and units, shows a loading state, then the heading", async () => {
    let answer: (r: Report) => void = () => {};
    const calls = fakeBackend({ units: () => units, report: () => new Promise<Report>((r) => (answer = r)) });
    render(ReportScreen);
    await waitFor(() => expect(screen.getAllByTestId("report-unit")).toHaveLength(3));
    const boxes = screen.getAllByTestId("report-unit") as HTMLInputElement[];
    // The command first, then the stations by name.
    expect(boxes.map((b) => b.value)).toEqual(["Bộ Chỉ huy BĐBP tỉnh Tiền Giang", KP, TT]);

    await setValue("report-from", "01/01/2025");
    await setValue("report-to", "30/06/2025");
    await fireEvent.click(boxes[2]);
    await fireEvent.click(boxes[1]);
    await fireEvent.click(screen.getByTestId("report-run"));

    await screen.findByTestId("report-loading");
    expect((screen.getByTestId("report-run") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId("report-run").textContent).toContain("Đang lập báo cáo…");
    expect(callsOf(calls, "report").map((x) => x.args)).toEqual([{ q: { from: "2025-01-01", to: "2025-06-30", units: [KP, TT] } }]);

    answer(REPORT);
    await screen.findByTestId("report-table-patrols");
    expect(screen.queryByTestId("report-loading")).toBeNull();
    expect(screen.getByTestId("report-heading").textContent).toBe("Báo cáo sơ kết từ ngày 01/01/2025 đến ngày 30/06/2025");
    expect(screen.getByTestId("report-units").textContent).toContain(`Đơn vị: ${KP}, ${TT}`);
  });

  it("asks for all units when none is ticked, and fills the quick periods", async () => {
    const calls = fakeBackend({ units: () => units, report: () => ({ ...REPORT, units: [] }) });
    render(ReportScreen);
    await setValue("report-from", "15/03/2024");
    await fireEvent.click(screen.getByTestId("report-quick-half"));
    expect((screen.getByTestId("report-from") as HTMLInputElement).value).toBe("01/01/2024");
    expect((screen.getByTestId("report-to") as HTMLInputElement).value).toBe("30/06/2024");
    await fireEvent.click(screen.getByTestId("report-quick-year"));
    expect((screen.getByTestId("report-to") as HTMLInputElement).value).toBe("31/12/2024");
    await fireEvent.click(screen.getByTestId("report-run"));
    await waitFor(() => expect(callsOf(calls, "report")[0]?.args).toEqual({ q: { from: "2024-01-01", to: "2024-12-31" } }));
    await waitFor(() => expect(screen.getByTestId("report-units").textContent).toContain("tất cả đơn vị"));
  });

  it("refuses a bad or backwards period in place, without asking the backend", async () => {
    const calls = fakeBackend({ units: () => units, report: () => REPORT });
    render(ReportScreen);
    await setValue("report-from", "31/02/2025");
    await fireEvent.click(screen.getByTestId("report-run"));
    expect(screen.getByTestId("report-from-error").textContent).toBe("Ngày không đúng dạng dd/mm/yyyy.");
    await setValue("report-from", "01/07/2025");
    await setValue("report-to", "30/06/2025");
    await fireEvent.click(screen.getByTestId("report-run"));
    expect(screen.getByTestId("report-to-error").textContent).toBe("Ngày kết thúc trước ngày bắt đầu.");
    expect(callsOf(calls, "report")).toHaveLength(0);
  });

  it("renders every table with Vietnamese numbers, right-aligned, and a bold total row", async () => {
    await generated();
    for (const key of TABLES) expect(screen.getByTestId(`report-table-${key}`).tagName).toBe("TABLE");

    const patrols = screen.getByTestId("report-table-patrols");
    expect(within(patrols).getAllByRole("columnheader").map((h) => h.textContent)).toContain("Tiền phạt (đồng)");
    const kpRow = patrols.querySelector(`tbody tr[data-row="${kp}"]`)!;
    const cells = [...kpRow.querySelectorAll("td")].map((td) => td.textContent!.trim());
    expect(cells).toEqual(["2", "15,0", "1", "1", "0", "3", "2", "76.000.000"]);
    expect([...kpRow.querySelectorAll("td")].every((td) => td.classList.contains("num"))).toBe(true);

    const total = patrols.querySelector("tfoot tr.total")!;
    expect(total.querySelector("th")!.textContent).toBe("Cộng");
    expect([...total.querySelectorAll("td")].map((td) => td.textContent!.trim())).toEqual(["3", "21,5", "2", "1", "1", "4", "3", "77.500.000"]);
    expect(screen.getByTestId("report-table-activities").textContent).toContain("1.250");
    // Information exchanges have no total row.
    expect(screen.getByTestId("report-table-exchanges").querySelector("tfoot")).toBeNull();
    // A figure that counts nothing is plain text.
    expect(figure("patrols", kp, "with_military")).toBeNull();
  });

  it("draws the two charts: a line per station by month, and a bar per violation type", async () => {
    await generated();
    const months = screen.getByTestId("report-chart-months");
    expect(months.tagName.toLowerCase()).toBe("svg");
    expect(months.querySelectorAll("polyline")).toHaveLength(2);
    expect(months.querySelectorAll("circle")).toHaveLength(12);
    expect(months.textContent).toContain("01/2025");
    expect(months.textContent).toContain("06/2025");
    const legend = months.closest("figure")!.querySelector(".legend")!;
    expect(legend.textContent).toContain(KP);
    expect(legend.textContent).toContain(TT);

    const violations = screen.getByTestId("report-chart-violations");
    expect(violations.querySelectorAll("rect")).toHaveLength(2);
    expect(violations.textContent).toContain("Khai thác thủy sản trái phép");
    const widths = [...violations.querySelectorAll("rect")].map((r) => Number(r.getAttribute("width")));
    expect(widths[0]).toBeCloseTo(widths[1] * 2);
  });

  it("lists exactly the records behind a clicked figure, each linking to its page, and closes back", async () => {
    await generated();
    const fines = figure("patrols", kp, "fines");
    expect(fines.textContent).toBe("76.000.000");
    await fireEvent.click(fines);

    const panel = await screen.findByTestId("report-sources");
    expect(panel.textContent).toContain("Tiền phạt (đồng)");
    expect(panel.textContent).toContain(KP);
    const rows = within(panel).getAllByTestId("report-source-row");
    expect(rows.map((r) => r.dataset.id)).toEqual(["patrol:KP:20250114:01", "patrol:KP:20250203:01"]);
    expect(rows[0].textContent).toContain("14/01/2025");
    expect(rows[0].textContent).toContain("Tuần tra vùng biển Kiểng Phước, tàu BP-15-01");
    expect(within(rows[0]).getAllByRole("link")[0].getAttribute("href")).toBe(recordHref("patrol:KP:20250114:01"));

    await fireEvent.click(screen.getByTestId("report-sources-close"));
    await waitFor(() => expect(screen.queryByTestId("report-sources")).toBeNull());
    expect(document.activeElement).toBe(fines);

    // The total row's figures open too, and Escape closes.
    await fireEvent.click(figure("plan_items", "total", "overdue"));
    const again = await screen.findByTestId("report-sources");
    expect(within(again).getAllByTestId("report-source-row").map((r) => r.dataset.id)).toEqual(["plan_item:2025:03"]);
    await fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("report-sources")).toBeNull());
    expect(screen.getByTestId("report-table-patrols")).toBeTruthy();
  });

  it("exports with the report's query, the format and the details flag, and says where", async () => {
    const path = "/home/hai/Downloads/bao-cao-2025-01-01-2025-06-30.xlsx";
    const calls = await generated({ export_report: () => ({ path, bytes: 18342 }) });
    await fireEvent.click(screen.getByTestId("report-details"));
    await fireEvent.click(screen.getByTestId("report-export-xlsx"));
    await waitFor(() => expect(screen.getByTestId("report-exported").textContent).toBe(`Đã lưu: ${path}`));
    expect(callsOf(calls, "export_report").map((x) => x.args)).toEqual([
      { q: { from: "2025-01-01", to: "2025-06-30" }, format: "xlsx", details: true },
    ]);
    for (const f of ["md", "csv", "html"]) expect(screen.getByTestId(`report-export-${f}`)).toBeTruthy();
  });

  it("shows an export failure", async () => {
    await generated({ export_report: fail({ kind: "internal", message: "Không ghi được tệp: đĩa đầy" }) });
    await fireEvent.click(screen.getByTestId("report-export-md"));
    const box = await screen.findByTestId("report-export-error");
    expect(box.textContent).toContain("Không xuất được báo cáo.");
    expect(box.textContent).toContain("Không ghi được tệp: đĩa đầy");
    expect(screen.queryByTestId("report-exported")).toBeNull();
  });

  it("shows an error from the report command", async () => {
    fakeBackend({
      units: () => units,
      report: fail({ kind: "user", message: "Ngày kết thúc trước ngày bắt đầu. (The period ends before it starts.)" }),
    });
    render(ReportScreen);
    await setValue("report-from", "01/01/2025");
    await setValue("report-to", "30/06/2025");
    await fireEvent.click(screen.getByTestId("report-run"));
    const box = await screen.findByTestId("report-error");
    expect(box.getAttribute("role")).toBe("alert");
    expect(box.textContent).toContain("Không lập được báo cáo.");
    expect(box.textContent).toContain("Ngày kết thúc trước ngày bắt đầu. (The period ends before it starts.)");
    expect(screen.queryByTestId("report-result")).toBeNull();
    expect((screen.getByTestId("report-run") as HTMLButtonElement).disabled).toBe(false);
  });

  it("prints through window.print", async () => {
    await generated();
    const print = vi.fn();
    const had = window.print;
    window.print = print;
    try {
      await fireEvent.click(screen.getByTestId("report-print"));
      expect(print).toHaveBeenCalledOnce();
    } finally {
      window.print = had;
    }
  });

  it("keeps the report while the user visits a record and comes back", async () => {
    await generated();
    await fireEvent.click(screen.getByTestId("report-details"));
    // Following a record link leaves the page, which unmounts the screen; the nav brings it back.
    cleanup();
    render(ReportScreen);
    expect(screen.getByTestId("report-heading").textContent).toBe("Báo cáo sơ kết từ ngày 01/01/2025 đến ngày 30/06/2025");
    expect((screen.getByTestId("report-from") as HTMLInputElement).value).toBe("01/01/2025");
    expect((screen.getByTestId("report-details") as HTMLInputElement).checked).toBe(true);
    expect(figure("patrols", kp, "fines").textContent).toBe("76.000.000");
  });

  it("uses English labels and English number writing", async () => {
    lang.set("en");
    await generated();
    const patrols = screen.getByTestId("report-table-patrols");
    expect(patrols.closest("section")!.querySelector("h3")!.textContent).toBe("Patrols by unit");
    expect(within(patrols).getAllByRole("columnheader").map((h) => h.textContent)).toContain("Fines (VND)");
    const kpRow = patrols.querySelector(`tbody tr[data-row="${kp}"]`)!;
    expect([...kpRow.querySelectorAll("td")].map((td) => td.textContent!.trim())).toEqual(["2", "15.0", "1", "1", "0", "3", "2", "76,000,000"]);
    expect(patrols.querySelector("tfoot th")!.textContent).toBe("Total");
    expect(screen.getByTestId("report-heading").textContent).toBe("Review report, 01/01/2025 to 30/06/2025");
    expect(screen.getByTestId("report-run").textContent).toContain("Generate");
    await fireEvent.click(figure("patrols", tt, "hours"));
    const panel = await screen.findByTestId("report-sources");
    expect(panel.textContent).toContain("Sources");
    expect(panel.textContent).toContain("Hours at sea");
    expect(panel.textContent).toContain("6.5");
  });
});

describe("report helpers", () => {
  it("writes figures the way each language does", () => {
    expect(fmtFigure(76000000, "money", "vi")).toBe("76.000.000");
    expect(fmtFigure(76000000, "money", "en")).toBe("76,000,000");
    expect(fmtFigure(15, "hours", "vi")).toBe("15,0");
    expect(fmtFigure(1234.56, "hours", "vi")).toBe("1.234,6");
    expect(fmtFigure(1234.56, "hours", "en")).toBe("1,234.6");
    expect(fmtFigure(999, "count", "vi")).toBe("999");
    expect(fmtFigure(0, "count", "en")).toBe("0");
  });

  it("has the quick periods and round axis ticks", () => {
    expect(quickPeriod("half", 2025)).toEqual({ from: "2025-01-01", to: "2025-06-30" });
    expect(quickPeriod("year", 2025)).toEqual({ from: "2025-01-01", to: "2025-12-31" });
    expect(ticks(0)).toEqual([0, 1]);
    expect(ticks(3)).toEqual([0, 1, 2, 3]);
    expect(ticks(37)).toEqual([0, 10, 20, 30, 40]);
  });

  it("lists each unit once, HQ first, the imported record over a device's own", () => {
    const u = (id: string, name: string, kind: string, code: string | null) => ({ id, name, kind, code, parent: null });
    const sorted = sortUnits([
      u("unit:don-bien-phong-tan-thanh", "Đồn Biên phòng Tân Thành", "station", null),
      u("unit:TT", "Đồn Biên phòng Tân Thành", "station", "TT"),
      u("unit:HQ", "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "hq", "HQ"),
    ]);
    expect(sorted.map((x) => x.id)).toEqual(["unit:HQ", "unit:TT"]);
  });
});
