import { registerMessages } from "../../lib/i18n";

registerMessages({
  vi: {
    "dash.title": "Tổng hợp",
    "dash.unit": "Đơn vị",
    "dash.from": "Từ ngày",
    "dash.to": "Đến ngày",
    "dash.kind": "Loại",
    "dash.apply": "Xem",
    "dash.counts": "Số bản ghi theo loại",
    "dash.units": "Theo đơn vị",
    "dash.unit_count": "{n} bản ghi",
    "dash.latest": "Bản ghi gần nhất",
    "dash.empty": "Không có bản ghi trong khoảng thời gian này.",
    "dash.total": "Tổng cộng",
  },
  en: {
    "dash.title": "Dashboard",
    "dash.unit": "Unit",
    "dash.from": "From",
    "dash.to": "To",
    "dash.kind": "Kind",
    "dash.apply": "Show",
    "dash.counts": "Records by kind",
    "dash.units": "By unit",
    "dash.unit_count": "{n} records",
    "dash.latest": "Latest records",
    "dash.empty": "No records in this period.",
    "dash.total": "Total",
  },
});
