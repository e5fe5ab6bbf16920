import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import PlanScreen from "../../src/screens/plan/PlanScreen.svelte";
import { backend, tick } from "./mock";
import type { RecordJson } from "../../src/lib/api";

afterEach(async () => {
  cleanup();
  await new Promise((r) => setTimeout(r, 0));
  clearMocks();
});

const plan: RecordJson = {
  type: "plan",
  id: "plan:2024-2025",
  title: "Kế hoạch phối hợp năm 2024–2025",
  period_from: "2024-03-01",
  period_to: "2025-12-31",
  parties: ["Đảng ủy BĐBP Tiền Giang", "Huyện ủy Gò Công Đông"],
  sections: [
    { heading: "I. Mục đích, yêu cầu", body: "Tăng cường phối hợp bảo vệ chủ quyền biển." },
    { heading: "II. Nội dung phối hợp", body: "Tuần tra chung, trao đổi thông tin." },
  ],
};
const items: RecordJson[] = [
  {
    type: "plan_item",
    id: "plan:item:001",
    plan: "plan:2024-2025",
    title: "Bảo đảm an ninh vùng nuôi nghêu",
    responsible_unit: "Đồn Biên phòng Vàm Láng",
    supporting_units: ["Huyện ủy Gò Công Đông"],
    deadline: "2025-03-16",
    status: "đang thực hiện",
  },
  {
    type: "plan_item",
    id: "plan:item:002",
    plan: "plan:2024-2025",
    title: "Tuyên truyền chống khai thác IUU",
    responsible_unit: "Đồn Biên phòng Kiểng Phước",
    supporting_units: ["Huyện ủy Tân Phú Đông"],
    deadline: "2025-09-30",
    status: "new",
  },
  {
    type: "plan_item",
    id: "plan:item:003",
    plan: "plan:2024-2025",
    title: "Sơ kết 6 tháng",
    responsible_unit: "Đảng ủy BĐBP Tiền Giang",
    deadline: "2024-09-15",
    status: "hoàn thành",
  },
];

const rowOf = (id: string) =>
  screen.getAllByTestId("plan-item-row").find((r) => r.getAttribute("data-id") === id)!;

describe("PlanScreen", () => {
  it("marks overdue items red with quá hạn, not done ones; shows Vietnamese statuses and dates", async () => {
    backend([plan, ...items]);
    render(PlanScreen, { today: "2025-05-01" });
    await waitFor(() => expect(screen.getAllByTestId("plan-item-row")).toHaveLength(3));

    const late = rowOf("plan:item:001");
    expect(late.getAttribute("data-overdue")).toBe("true");
    expect(late.classList.contains("overdue")).toBe(true);
    expect(late.textContent).toContain("quá hạn");
    expect(late.textContent).toContain("16/03/2025");
    const sel = late.querySelector<HTMLSelectElement>('[data-testid="plan-item-status"]')!;
    expect(sel.value).toBe("in_progress");
    expect(sel.selectedOptions[0].textContent).toBe("đang thực hiện");

    // done in the past is not overdue; future deadline is not overdue
    expect(rowOf("plan:item:003").getAttribute("data-overdue")).toBe("false");
    expect(rowOf("plan:item:002").getAttribute("data-overdue")).toBe("false");
    expect(screen.getByTestId("plan-count").textContent).toContain("1 quá hạn");
  });

  it("filters by overdue and by unit", async () => {
    backend([plan, ...items]);
    render(PlanScreen, { today: "2025-05-01" });
    await waitFor(() => expect(screen.getAllByTestId("plan-item-row")).toHaveLength(3));
    await fireEvent.change(screen.getByTestId("plan-filter-status"), { target: { value: "overdue" } });
    expect(screen.getAllByTestId("plan-item-row").map((r) => r.getAttribute("data-id"))).toEqual(["plan:item:001"]);
    await fireEvent.change(screen.getByTestId("plan-filter-status"), { target: { value: "" } });
    await fireEvent.change(screen.getByTestId("plan-filter-unit"), { target: { value: "Huyện ủy Tân Phú Đông" } });
    expect(screen.getAllByTestId("plan-item-row").map((r) => r.getAttribute("data-id"))).toEqual(["plan:item:002"]);
  });

  it("changing the status calls editField(id, 'status', code) and clears quá hạn when done", async () => {
    const { calls } = backend([plan, ...items]);
    render(PlanScreen, { today: "2025-05-01" });
    await waitFor(() => expect(screen.getAllByTestId("plan-item-row")).toHaveLength(3));
    const sel = rowOf("plan:item:001").querySelector<HTMLSelectElement>('[data-testid="plan-item-status"]')!;
    await fireEvent.change(sel, { target: { value: "done" } });
    await waitFor(() => expect(calls.some((c) => c.cmd === "edit_field")).toBe(true));
    expect(calls.find((c) => c.cmd === "edit_field")!.args).toEqual({
      id: "plan:item:001",
      field: "status",
      value: "done",
    });
    await waitFor(() => expect(rowOf("plan:item:001").getAttribute("data-overdue")).toBe("false"));
  });

  it("a failed status change puts the old status back and says why", async () => {
    backend([plan, ...items], {
      overrides: {
        edit_field: () => {
          throw { kind: "user", message: "Không có quyền sửa nội dung của đơn vị khác" };
        },
      },
    });
    render(PlanScreen, { today: "2025-05-01" });
    await waitFor(() => expect(screen.getAllByTestId("plan-item-row")).toHaveLength(3));
    const sel = rowOf("plan:item:002").querySelector<HTMLSelectElement>('[data-testid="plan-item-status"]')!;
    await fireEvent.change(sel, { target: { value: "cancelled" } });
    await waitFor(() => expect(screen.getByTestId("plan-error").textContent).toContain("Không có quyền"));
    expect(rowOf("plan:item:002").querySelector<HTMLSelectElement>("select")!.value).toBe("new");
  });

  it("typing in a section sends a code-point splice; a remote change keeps the caret", async () => {
    const { calls, store } = backend([plan, ...items]);
    render(PlanScreen, { today: "2025-05-01" });
    const ta = (await screen.findByTestId("plan-section-1")) as HTMLTextAreaElement;
    expect(ta.value).toBe("Tuần tra chung, trao đổi thông tin.");

    // type " biển" after "Tuần tra chung" (UTF-16 index 14 = 14 code points here)
    const at = "Tuần tra chung".length;
    ta.value = "Tuần tra chung biển, trao đổi thông tin.";
    ta.setSelectionRange(at + 5, at + 5);
    await fireEvent.input(ta);
    await waitFor(() => expect(calls.some((c) => c.cmd === "splice_text")).toBe(true));
    expect(calls.find((c) => c.cmd === "splice_text")!.args).toEqual({
      id: "plan:2024-2025",
      field: "sections[1].body",
      pos: 14,
      delete: 0,
      text: " biển",
    });

    // another unit prepended text; the store now has both edits
    const sections = store.get("plan:2024-2025")!.sections as { heading: string; body: string }[];
    sections[1].body = "Định kỳ: Tuần tra chung biển, trao đổi thông tin.";
    ta.focus();
    ta.setSelectionRange(at + 5, at + 5);
    await emit("records-changed", ["plan:2024-2025"]);
    await waitFor(() => expect(ta.value).toBe("Định kỳ: Tuần tra chung biển, trao đổi thông tin."));
    expect(ta.value.slice(0, ta.selectionStart)).toBe("Định kỳ: Tuần tra chung biển");
    await tick();
  });

  it("a sync arriving while a splice is in flight re-reads only after it, keeping the typing", async () => {
    let release: () => void = () => {};
    const { calls, store } = backend([plan, ...items], {
      overrides: {
        splice_text: (a) =>
          new Promise((r) => {
            release = () => {
              // the local store applies the splice when the call finishes
              const secs = store.get("plan:2024-2025")!.sections as { heading: string; body: string }[];
              const body = Array.from(secs[0].body);
              body.splice(a.pos as number, a.delete as number, ...Array.from(a.text as string));
              secs[0].body = body.join("");
              r("updated");
            };
          }),
      },
    });
    render(PlanScreen, { today: "2025-05-01" });
    const ta = (await screen.findByTestId("plan-section-0")) as HTMLTextAreaElement;
    ta.focus();
    ta.value = "Tăng cường phối hợp bảo vệ chủ quyền biển, đảo.";
    ta.setSelectionRange(ta.value.length, ta.value.length);
    await fireEvent.input(ta);
    const before = calls.filter((c) => c.cmd === "get_record").length;
    await emit("records-changed", ["plan:2024-2025"]);
    await tick();
    // no re-read while the splice is unanswered
    expect(calls.filter((c) => c.cmd === "get_record").length).toBe(before);
    release();
    await waitFor(() => expect(calls.filter((c) => c.cmd === "get_record").length).toBe(before + 1));
    await tick();
    expect(ta.value).toBe("Tăng cường phối hợp bảo vệ chủ quyền biển, đảo.");
    expect(ta.selectionStart).toBe(ta.value.length);
  });
});
