import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import ExchangesScreen from "../../src/screens/exchanges/ExchangesScreen.svelte";
import { backend } from "./mock";
import type { RecordJson } from "../../src/lib/api";

afterEach(async () => {
  cleanup();
  await new Promise((r) => setTimeout(r, 0));
  clearMocks();
});

const KP = "Đồn Biên phòng Kiểng Phước";
const exchanges: RecordJson[] = [
  {
    type: "info_exchange",
    id: "info:TT:20250101:01",
    from_unit: "Đồn Biên phòng Tân Thành",
    to_units: ["Bộ Chỉ huy BĐBP tỉnh Tiền Giang", KP],
    sent_at: "2025-01-01T16:58:00+07:00",
    subject: "Tình hình thời tiết, biển",
    body: "Dự báo gió đông bắc cấp 4–5, ngư dân ra khơi cần chú ý.",
    acknowledgements: { "Bộ Chỉ huy BĐBP tỉnh Tiền Giang": { at: "2025-01-01T17:30:00+07:00", by: "Thiếu tá Phạm Quang Huy" } },
  },
  {
    type: "info_exchange",
    id: "info:VL:20250103:01",
    from_unit: "Đồn Biên phòng Vàm Láng",
    to_units: [KP],
    sent_at: "2025-01-03T07:15:00+07:00",
    subject: "Tàu cá lạ neo đậu cửa Soài Rạp",
    body: "Đề nghị phối hợp kiểm tra hành chính.",
    acknowledgements: { [KP]: { at: "2025-01-03T08:00:00+07:00" } },
  },
  {
    type: "info_exchange",
    id: "info:KP:20250104:01",
    from_unit: KP,
    to_units: ["Huyện ủy Gò Công Đông"],
    sent_at: "2025-01-04T09:00:00+07:00",
    subject: "Kết quả tuyên truyền pháp luật",
  },
];

describe("ExchangesScreen", () => {
  it("inbox lists exchanges to the own unit; Đã nhận calls acknowledge and shows it", async () => {
    const { calls } = backend(exchanges, { unit: "unit:KP" });
    render(ExchangesScreen);
    await waitFor(() => expect(screen.getAllByTestId("exchange-row")).toHaveLength(2));
    expect(screen.getByTestId("exchange-own-unit").textContent).toContain(KP);
    // the newest first; the acknowledged one has no button
    const buttons = screen.getAllByTestId("exchange-ack");
    expect(buttons).toHaveLength(1);
    expect(buttons[0].textContent).toContain("Đã nhận");
    await fireEvent.click(buttons[0]);
    await waitFor(() => expect(calls.some((c) => c.cmd === "acknowledge_exchange")).toBe(true));
    expect(calls.find((c) => c.cmd === "acknowledge_exchange")!.args).toEqual({ id: "info:TT:20250101:01" });
    await waitFor(() => expect(screen.queryAllByTestId("exchange-ack")).toHaveLength(0));
    expect(screen.getAllByTestId("exchange-acked")).toHaveLength(2);
  });

  it("sent box shows who acknowledged", async () => {
    backend(exchanges, { unit: KP });
    render(ExchangesScreen);
    await waitFor(() => expect(screen.getAllByTestId("exchange-row")).toHaveLength(2));
    await fireEvent.click(screen.getByTestId("exchange-tab-sent"));
    const rows = screen.getAllByTestId("exchange-sent-row");
    expect(rows).toHaveLength(1);
    expect(rows[0].textContent).toContain("0/1");
  });

  it("compose saves an info_exchange from the own unit with sent_at in +07:00", async () => {
    const { calls } = backend(exchanges, { unit: KP });
    render(ExchangesScreen);
    await waitFor(() => expect(screen.getAllByTestId("exchange-row")).toHaveLength(2));
    await fireEvent.click(screen.getByTestId("exchange-tab-compose"));
    // nothing chosen: messages in place, no save
    await fireEvent.submit(screen.getByTestId("exchange-compose"));
    expect(screen.getByTestId("error-to_units").textContent).toContain("Chọn ít nhất một đơn vị");
    expect(calls.some((c) => c.cmd === "save_record")).toBe(false);

    const to = screen.getAllByTestId("exchange-to").find((c) => (c as HTMLInputElement).value === "Huyện ủy Gò Công Đông")!;
    await fireEvent.click(to);
    await fireEvent.input(screen.getByTestId("exchange-subject"), { target: { value: "Lịch tuần tra chung tháng 2" } });
    await fireEvent.input(screen.getByTestId("exchange-body"), { target: { value: "Đề nghị cử cán bộ Dân quân tham gia." } });
    await fireEvent.submit(screen.getByTestId("exchange-compose"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "save_record")).toBe(true));
    const rec = calls.find((c) => c.cmd === "save_record")!.args.record as RecordJson;
    expect(rec.type).toBe("info_exchange");
    expect(rec.from_unit).toBe(KP);
    expect(rec.to_units).toEqual(["Huyện ủy Gò Công Đông"]);
    expect(rec.subject).toBe("Lịch tuần tra chung tháng 2");
    expect(rec.sent_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$/);
    expect(rec.id).toMatch(/^info:KP:/);
    await waitFor(() => expect(screen.getAllByTestId("exchange-sent-row")).toHaveLength(2));
  });
});
