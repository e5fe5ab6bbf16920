// A review-meeting report as the `report` command answers it: two stations over a half-year,
// three patrols, an exchange, an activity and a plan item, each figure with its sources.
import type { Report, ReportCell } from "../lib/api";

export const KP = "Đồn Biên phòng Kiểng Phước";
export const TT = "Đồn Biên phòng Tân Thành";
export const kp = "don bien phong kieng phuoc";
export const tt = "don bien phong tan thanh";

const c = (value: number, ...sources: number[]): ReportCell => ({ value, sources });
const L = (vi: string, en = vi) => ({ vi, en });
const count = (key: string, vi: string, en: string) => ({ key, label: L(vi, en), format: "count" as const });
const money = (key: string, vi: string, en: string) => ({ key, label: L(vi, en), format: "money" as const });
const hours = (key: string, vi: string, en: string) => ({ key, label: L(vi, en), format: "hours" as const });
const unitHeader = L("Đơn vị", "Unit");

/** A half-year of two stations: three patrols, an exchange, an activity and a plan item. */
export const REPORT: Report = {
  from: "2025-01-01",
  to: "2025-06-30",
  as_of: "2025-06-30",
  units: [KP, TT],
  months: ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"],
  sources: [
    { id: "patrol:KP:20250114:01", kind: "patrol", date: "2025-01-14", unit: KP, title: "Tuần tra vùng biển Kiểng Phước, tàu BP-15-01" },
    { id: "patrol:KP:20250203:01", kind: "patrol", date: "2025-02-03", unit: KP, title: "Tuần tra cửa sông Soài Rạp" },
    { id: "patrol:TT:20250120:01", kind: "patrol", date: "2025-01-20", unit: TT, title: "Tuần tra chung với Công an xã Tân Thành" },
    { id: "info_exchange:TT:20250210-081500", kind: "info_exchange", date: "2025-02-10", unit: TT, title: "Thông báo tàu cá nghi vấn khai thác trái phép" },
    { id: "community_activity:KP:20250305", kind: "community_activity", date: "2025-03-05", unit: KP, title: "Tuyên truyền pháp luật cho ngư dân xã Kiểng Phước" },
    { id: "plan_item:2025:03", kind: "plan_item", date: "2025-03-31", unit: TT, title: "Tuần tra chung cao điểm chống khai thác IUU" },
  ],
  tables: [
    {
      key: "patrols",
      title: L("Tuần tra, kiểm soát theo đơn vị", "Patrols by unit"),
      row_header: unitHeader,
      columns: [
        count("patrols", "Số chuyến tuần tra", "Patrols"),
        hours("hours", "Giờ trên biển", "Hours at sea"),
        count("joint", "Tuần tra chung", "Joint patrols"),
        count("with_police", "Với công an", "With police"),
        count("with_military", "Với quân sự địa phương", "With local military"),
        count("inspected", "Phương tiện kiểm tra", "Vessels inspected"),
        count("violations", "Vụ vi phạm", "Violations"),
        money("fines", "Tiền phạt (đồng)", "Fines (VND)"),
      ],
      rows: [
        { key: kp, label: L(KP), cells: [c(2, 0, 1), c(15, 0, 1), c(1, 0), c(1, 0), c(0), c(3, 0, 1), c(2, 0, 1), c(76000000, 0, 1)] },
        { key: tt, label: L(TT), cells: [c(1, 2), c(6.5, 2), c(1, 2), c(0), c(1, 2), c(1, 2), c(1, 2), c(1500000, 2)] },
      ],
      total: { key: "total", label: L("Cộng", "Total"), cells: [c(3, 0, 1, 2), c(21.5, 0, 1, 2), c(2, 0, 2), c(1, 0), c(1, 2), c(4, 0, 1, 2), c(3, 0, 1, 2), c(77500000, 0, 1, 2)] },
    },
    {
      key: "patrols_by_month",
      title: L("Số chuyến tuần tra theo tháng", "Patrols per month"),
      row_header: unitHeader,
      columns: [
        ...["01", "02", "03", "04", "05", "06"].map((m) => count(`2025-${m}`, `${m}/2025`, `${m}/2025`)),
        count("total", "Cộng", "Total"),
      ],
      rows: [
        { key: kp, label: L(KP), cells: [c(1, 0), c(1, 1), c(0), c(0), c(0), c(0), c(2, 0, 1)] },
        { key: tt, label: L(TT), cells: [c(1, 2), c(0), c(0), c(0), c(0), c(0), c(1, 2)] },
      ],
      total: { key: "total", label: L("Cộng", "Total"), cells: [c(2, 0, 2), c(1, 1), c(0), c(0), c(0), c(0), c(3, 0, 1, 2)] },
    },
    {
      key: "by_month",
      title: L("Kết quả theo tháng", "Results by month"),
      row_header: L("Tháng", "Month"),
      columns: [
        count("patrols", "Tuần tra", "Patrols"),
        hours("hours", "Giờ trên biển", "Hours at sea"),
        count("inspected", "Phương tiện kiểm tra", "Vessels inspected"),
        count("violations", "Vụ vi phạm", "Violations"),
        money("fines", "Tiền phạt (đồng)", "Fines (VND)"),
        count("exchanges", "Trao đổi thông tin", "Exchanges sent"),
        count("activities", "Hoạt động dân vận", "Activities"),
        count("people", "Lượt người dân", "People reached"),
      ],
      rows: [
        { key: "2025-01", label: L("01/2025"), cells: [c(2, 0, 2), c(13, 0, 2), c(3, 0, 2), c(2, 0, 2), c(76500000, 0, 2), c(0), c(0), c(0)] },
        { key: "2025-02", label: L("02/2025"), cells: [c(1, 1), c(8.5, 1), c(1, 1), c(1, 1), c(1000000, 1), c(1, 3), c(0), c(0)] },
        { key: "2025-03", label: L("03/2025"), cells: [c(0), c(0), c(0), c(0), c(0), c(0), c(1, 4), c(120, 4)] },
      ],
      total: { key: "total", label: L("Cộng", "Total"), cells: [c(3, 0, 1, 2), c(21.5, 0, 1, 2), c(4, 0, 1, 2), c(3, 0, 1, 2), c(77500000, 0, 1, 2), c(1, 3), c(1, 4), c(120, 4)] },
    },
    {
      key: "violations",
      title: L("Vi phạm theo loại, biện pháp xử lý và tiền phạt", "Violations by type, action and fines"),
      row_header: L("Loại vi phạm", "Violation"),
      columns: [
        count("count", "Số vụ", "Violations"),
        money("fines", "Tiền phạt (đồng)", "Fines (VND)"),
        count("Lập biên bản, phạt tiền", "Lập biên bản, phạt tiền", "Lập biên bản, phạt tiền"),
      ],
      rows: [
        { key: "khai thac thuy san trai phep", label: L("Khai thác thủy sản trái phép"), cells: [c(2, 0, 2), c(76500000, 0, 2), c(2, 0, 2)] },
        { key: "khong co thiet bi giam sat hanh trinh", label: L("Tàu cá không có thiết bị giám sát hành trình"), cells: [c(1, 1), c(1000000, 1), c(1, 1)] },
      ],
      total: { key: "total", label: L("Cộng", "Total"), cells: [c(3, 0, 1, 2), c(77500000, 0, 1, 2), c(3, 0, 1, 2)] },
    },
    {
      key: "exchanges",
      title: L("Trao đổi thông tin", "Information exchanges"),
      row_header: unitHeader,
      columns: [
        count("sent", "Đã gửi", "Sent"),
        count("deliveries", "Lượt gửi đến đơn vị nhận", "Deliveries"),
        count("acknowledged", "Đã xác nhận", "Acknowledged"),
        count("awaiting", "Chưa xác nhận", "Not yet acknowledged"),
        count("received", "Đã nhận", "Received"),
        count("received_acknowledged", "Đơn vị đã xác nhận", "Acknowledged by the unit"),
      ],
      rows: [
        { key: kp, label: L(KP), cells: [c(0), c(0), c(0), c(0), c(1, 3), c(1, 3)] },
        { key: tt, label: L(TT), cells: [c(1, 3), c(1, 3), c(1, 3), c(0), c(0), c(0)] },
      ],
      total: null,
    },
    {
      key: "activities",
      title: L("Hoạt động dân vận theo loại", "Community activities by kind"),
      row_header: L("Loại hoạt động", "Kind"),
      columns: [count("activities", "Số hoạt động", "Activities"), count("people", "Lượt người dân", "People reached")],
      rows: [{ key: "tuyen truyen phap luat", label: L("Tuyên truyền pháp luật"), cells: [c(1, 4), c(1250, 4)] }],
      total: { key: "total", label: L("Cộng", "Total"), cells: [c(1, 4), c(1250, 4)] },
    },
    {
      key: "activities_by_unit",
      title: L("Hoạt động dân vận theo đơn vị", "Community activities by unit"),
      row_header: unitHeader,
      columns: [count("activities", "Số hoạt động", "Activities"), count("people", "Lượt người dân", "People reached")],
      rows: [
        { key: kp, label: L(KP), cells: [c(1, 4), c(1250, 4)] },
        { key: tt, label: L(TT), cells: [c(0), c(0)] },
      ],
      total: { key: "total", label: L("Cộng", "Total"), cells: [c(1, 4), c(1250, 4)] },
    },
    {
      key: "plan_items",
      title: L("Nhiệm vụ kế hoạch theo trạng thái", "Plan items by status"),
      row_header: unitHeader,
      columns: [
        count("total", "Tổng số nhiệm vụ", "Items"),
        count("new", "Mới", "New"),
        count("in_progress", "Đang thực hiện", "In progress"),
        count("done", "Hoàn thành", "Done"),
        count("postponed", "Tạm hoãn", "Postponed"),
        count("cancelled", "Hủy", "Cancelled"),
        count("overdue", "Quá hạn", "Overdue"),
      ],
      rows: [{ key: tt, label: L(TT), cells: [c(1, 5), c(0), c(1, 5), c(0), c(0), c(0), c(1, 5)] }],
      total: { key: "total", label: L("Cộng", "Total"), cells: [c(1, 5), c(0), c(1, 5), c(0), c(0), c(0), c(1, 5)] },
    },
  ],
};
