//! Vietnamese (default) and English labels, the current language as a store, and `t(key)`.
//!
//! `t` reads the language through `fromStore`, so a template calling `t("nav.patrols")`
//! re-renders when the language changes; outside components it just returns the string.
//! Screens owned elsewhere add their own keys with `registerMessages({ vi: {…}, en: {…} })`
//! from their `i18n.ts`, imported before they render.

import { fromStore, get, writable } from "svelte/store";
import { api, type Lang } from "./api";

export type Messages = Record<string, string>;

const vi: Messages = {
  "app.name": "Tidemark",
  "app.loading": "Đang tải…",
  "app.error": "Lỗi",

  "nav.patrols": "Tuần tra",
  "nav.plan": "Kế hoạch phối hợp",
  "nav.exchanges": "Trao đổi thông tin",
  "nav.activities": "Dân vận",
  "nav.meetings": "Hội nghị & báo cáo",
  "nav.reports": "Báo cáo",
  "nav.conflicts": "Xung đột",
  "nav.dashboard": "Tổng hợp",
  "nav.menu": "Danh mục",

  "lang.switch": "English",
  "lang.vi": "Tiếng Việt",
  "lang.en": "English",

  "common.save": "Lưu",
  "common.cancel": "Hủy",
  "common.close": "Đóng",
  "common.edit": "Sửa",
  "common.add": "Thêm",
  "common.remove": "Xóa",
  "common.back": "Quay lại",
  "common.none": "Không có",
  "common.saving": "Đang lưu…",
  "common.saved": "Đã lưu",
  "common.unchanged": "Không có thay đổi",
  "common.search": "Tìm kiếm",
  "common.clear": "Xóa lọc",
  "common.all": "Tất cả",
  "common.yes": "Có",
  "common.no": "Không",
  "common.not_found": "Không tìm thấy bản ghi.",
  "common.unsaved": "Có thay đổi chưa lưu. Rời trang và bỏ các thay đổi này?",
  "common.date_hint": "dd/mm/yyyy",
  "common.bad_date": "Ngày không đúng dạng dd/mm/yyyy.",
  "common.bad_time": "Thời gian không đúng dạng dd/mm/yyyy HH:mm.",
  "common.bad_number": "Phải là số.",

  "sync.offline": "Ngoại tuyến",
  "sync.idle": "Chưa đồng bộ",
  "sync.connecting": "Đang kết nối…",
  "sync.syncing": "Đang đồng bộ {pct}%",
  "sync.sending_thumb": "Đang gửi ảnh thu nhỏ {file}/{files} · {pct}%",
  "sync.sending_file": "Đang gửi tệp {file}/{files} · {pct}%",
  "sync.receiving_thumb": "Đang nhận ảnh thu nhỏ {file}/{files} · {pct}%",
  "sync.receiving_file": "Đang nhận tệp {file}/{files} · {pct}%",
  "sync.up_to_date": "Đã đồng bộ lúc {time}",
  "sync.error": "Lỗi đồng bộ",
  "sync.not_enrolled": "Chỉ làm việc trên máy",
  "sync.pending": "{n} thay đổi chưa gửi",
  "sync.retry_in": "thử lại sau {s} giây",
  "sync.details": "Chi tiết đồng bộ",
  "sync.relay": "Máy chủ trung chuyển",
  "sync.device": "Mã thiết bị",
  "sync.unit": "Đơn vị",
  "sync.last_ok": "Đồng bộ thành công gần nhất",
  "sync.last_error": "Lỗi gần nhất",
  "sync.never": "Chưa bao giờ",
  "sync.refused": "Bản ghi bị máy chủ từ chối",
  "sync.now": "Đồng bộ ngay",
  "sync.requested": "Đã yêu cầu đồng bộ.",
  "sync.enroll": "Đăng ký với máy chủ",
  "sync.enrolled_ok": "Đã đăng ký với máy chủ.",

  "delivery.saved_here": "Đã lưu trên máy",
  "delivery.at_relay": "Đã tới máy chủ",
  "delivery.received_by_hq": "Chỉ huy đã nhận",
  "delivery.title": "Tình trạng chuyển",

  "firstrun.title": "Thiết lập lần đầu",
  "firstrun.intro": "Nhập tên đơn vị và người dùng của máy này. Có thể đăng ký với máy chủ ngay hoặc làm việc ngoại tuyến và đăng ký sau.",
  "firstrun.unit": "Đơn vị",
  "firstrun.unit_hint": "Ví dụ: Đồn Biên phòng Kiểng Phước",
  "firstrun.user": "Người dùng",
  "firstrun.user_hint": "Ví dụ: Trung úy Đặng Văn Hải",
  "firstrun.server": "Địa chỉ máy chủ",
  "firstrun.code": "Mã đăng ký dùng một lần",
  "firstrun.enroll": "Đăng ký và bắt đầu",
  "firstrun.offline": "Làm việc ngoại tuyến",
  "firstrun.or": "hoặc",
  "firstrun.required": "Không được để trống.",
  "firstrun.need_server": "Nhập địa chỉ máy chủ và mã đăng ký, hoặc chọn làm việc ngoại tuyến.",

  "patrol.title": "Tuần tra",
  "patrol.new": "Tuần tra mới",
  "patrol.edit": "Sửa tuần tra",
  "patrol.id": "Mã",
  "patrol.date": "Ngày",
  "patrol.station": "Đồn",
  "patrol.station_code": "Mã đồn",
  "patrol.heading": "Nội dung",
  "patrol.start": "Bắt đầu",
  "patrol.end": "Kết thúc",
  "patrol.sea_area": "Vùng biển",
  "patrol.vessel": "Phương tiện",
  "patrol.commander": "Chỉ huy tổ tuần tra",
  "patrol.crew": "Tổ tuần tra",
  "patrol.crew_member": "Thành viên",
  "patrol.joint_forces": "Lực lượng phối hợp",
  "patrol.joint_force": "Lực lượng",
  "patrol.joint_hint": "Công an, Ban Chỉ huy Quân sự, Dân quân…",
  "patrol.inspections": "Phương tiện kiểm tra hành chính",
  "patrol.registration": "Số đăng ký",
  "patrol.owner": "Chủ phương tiện",
  "patrol.captain": "Thuyền trưởng",
  "patrol.crew_count": "Số người trên tàu",
  "patrol.catch": "Sản phẩm trên tàu",
  "patrol.position": "Vị trí (vĩ độ, kinh độ)",
  "patrol.result": "Kết quả",
  "patrol.violations": "Vi phạm",
  "patrol.violation": "Hành vi vi phạm",
  "patrol.action": "Xử lý",
  "patrol.fine": "Tiền phạt (đồng)",
  "patrol.incidents": "Sự việc",
  "patrol.incident_time": "Thời gian",
  "patrol.incident_desc": "Diễn biến",
  "patrol.notes": "Ghi chú",
  "patrol.track": "Hành trình",
  "patrol.track_points": "{n} điểm hành trình",
  "patrol.import_track": "Nhập hành trình GPX/NMEA",
  "patrol.imported": "Đã nhập {points} điểm, bỏ qua {skipped}.",
  "patrol.import_after_save": "Lưu tuần tra trước khi nhập hành trình.",
  "patrol.empty": "Chưa có tuần tra nào.",
  "patrol.no_results": "Không tìm thấy kết quả.",
  "patrol.filter_unit": "Đơn vị",
  "patrol.filter_from": "Từ ngày",
  "patrol.filter_to": "Đến ngày",
  "patrol.search_placeholder": "Tìm theo đồn, tàu, số đăng ký… (không cần dấu)",
  "patrol.total": "{n} bản ghi",
  "patrol.conflicts": "{n} xung đột",
  "patrol.problems": "Bản ghi chưa hợp lệ, xem các thông báo bên dưới.",

  "record.fields": "Thông tin",
  "record.history": "Lịch sử thay đổi",
  "record.conflict_here": "Xung đột: các đơn vị ghi giá trị khác nhau",
  "record.changes": "{n} thay đổi",
  "record.kind.patrol": "Tuần tra",
  "record.kind.plan": "Kế hoạch",
  "record.kind.plan_item": "Nội dung kế hoạch",
  "record.kind.info_exchange": "Trao đổi thông tin",
  "record.kind.community_activity": "Dân vận",
  "record.kind.review_meeting": "Hội nghị",
  "record.kind.unit": "Đơn vị",

  "history.who": "Người sửa",
  "history.unit": "Đơn vị",
  "history.when": "Thời gian",
  "history.field": "Trường",
  "history.change": "Thay đổi",
  "history.empty": "Chưa có lịch sử.",

  "conflicts.title": "Xung đột",
  "conflicts.intro": "Các đơn vị đã ghi giá trị khác nhau cho cùng một trường. Chọn giá trị đúng hoặc nhập giá trị mới.",
  "conflicts.empty": "Không có xung đột nào.",
  "conflicts.field": "Trường",
  "conflicts.choose": "Chọn",
  "conflicts.by": "{user} – {unit}",
  "conflicts.new_value": "Giá trị mới",
  "conflicts.write": "Ghi giá trị mới",
  "conflicts.open": "Mở bản ghi",
  "conflicts.resolved": "Đã giải quyết.",
  "field.title": "Tiêu đề",
  "field.date": "Ngày",
  "field.location": "Địa điểm",
  "field.kind": "Loại",
  "field.subject": "Trích yếu",
  "field.body": "Nội dung",
  "field.content": "Nội dung",
  "field.status": "Trạng thái",
  "field.deadline": "Thời hạn",
  "field.responsible_unit": "Đơn vị chủ trì",
  "field.supporting_units": "Đơn vị phối hợp",
  "field.from_unit": "Đơn vị gửi",
  "field.to_units": "Đơn vị nhận",
  "field.sent_at": "Thời gian gửi",
  "field.units": "Đơn vị tham dự",
  "field.period_from": "Từ ngày",
  "field.period_to": "Đến ngày",
  "field.conclusions": "Kết luận",
  "field.participants": "Số người tham gia",
  "field.officers": "Cán bộ tham gia",
  "field.description": "Mô tả",
  "field.plan": "Kế hoạch",
  "field.parties": "Các bên",
  "field.name": "Tên",
  "field.code": "Mã",
  "field.parent": "Đơn vị cấp trên",
  "field.attachments": "Tệp đính kèm",
  "record.edit": "Sửa",
  "record.track_none": "Chưa có hành trình.",
  "record.conflict_values": "Các giá trị đang xung đột:",
  "record.resolve_in_inbox": "Giải quyết trong mục Xung đột",
};

const en: Messages = {
  "app.name": "Tidemark",
  "app.loading": "Loading…",
  "app.error": "Error",

  "nav.patrols": "Patrols",
  "nav.plan": "Coordination plan",
  "nav.exchanges": "Information exchange",
  "nav.activities": "Community activities",
  "nav.meetings": "Meetings & reports",
  "nav.reports": "Reports",
  "nav.conflicts": "Conflicts",
  "nav.dashboard": "Dashboard",
  "nav.menu": "Menu",

  "lang.switch": "Tiếng Việt",
  "lang.vi": "Tiếng Việt",
  "lang.en": "English",

  "common.save": "Save",
  "common.cancel": "Cancel",
  "common.close": "Close",
  "common.edit": "Edit",
  "common.add": "Add",
  "common.remove": "Remove",
  "common.back": "Back",
  "common.none": "None",
  "common.saving": "Saving…",
  "common.saved": "Saved",
  "common.unchanged": "No changes",
  "common.search": "Search",
  "common.clear": "Clear filters",
  "common.all": "All",
  "common.yes": "Yes",
  "common.no": "No",
  "common.not_found": "Record not found.",
  "common.unsaved": "There are unsaved changes. Leave and discard them?",
  "common.date_hint": "dd/mm/yyyy",
  "common.bad_date": "Date must be dd/mm/yyyy.",
  "common.bad_time": "Time must be dd/mm/yyyy HH:mm.",
  "common.bad_number": "Must be a number.",

  "sync.offline": "Offline",
  "sync.idle": "Not synced yet",
  "sync.connecting": "Connecting…",
  "sync.syncing": "Syncing {pct}%",
  "sync.sending_thumb": "Sending thumbnail {file}/{files} · {pct}%",
  "sync.sending_file": "Sending file {file}/{files} · {pct}%",
  "sync.receiving_thumb": "Receiving thumbnail {file}/{files} · {pct}%",
  "sync.receiving_file": "Receiving file {file}/{files} · {pct}%",
  "sync.up_to_date": "Synced at {time}",
  "sync.error": "Sync error",
  "sync.not_enrolled": "This device only",
  "sync.pending": "{n} changes not sent",
  "sync.retry_in": "retry in {s} s",
  "sync.details": "Sync details",
  "sync.relay": "Relay",
  "sync.device": "Device id",
  "sync.unit": "Unit",
  "sync.last_ok": "Last successful sync",
  "sync.last_error": "Last error",
  "sync.never": "Never",
  "sync.refused": "Records refused by the relay",
  "sync.now": "Sync now",
  "sync.requested": "Sync requested.",
  "sync.enroll": "Enrol with a relay",
  "sync.enrolled_ok": "Enrolled with the relay.",

  "delivery.saved_here": "Saved on this device",
  "delivery.at_relay": "Reached the relay",
  "delivery.received_by_hq": "Received by HQ",
  "delivery.title": "Delivery",

  "firstrun.title": "First-time setup",
  "firstrun.intro": "Enter this device's unit and user. Enrol with a relay now, or work offline and enrol later.",
  "firstrun.unit": "Unit",
  "firstrun.unit_hint": "e.g. Đồn Biên phòng Kiểng Phước",
  "firstrun.user": "User",
  "firstrun.user_hint": "e.g. Trung úy Đặng Văn Hải",
  "firstrun.server": "Relay address",
  "firstrun.code": "One-time enrolment code",
  "firstrun.enroll": "Enrol and start",
  "firstrun.offline": "Work offline",
  "firstrun.or": "or",
  "firstrun.required": "Required.",
  "firstrun.need_server": "Enter the relay address and code, or choose to work offline.",

  "patrol.title": "Patrols",
  "patrol.new": "New patrol",
  "patrol.edit": "Edit patrol",
  "patrol.id": "Id",
  "patrol.date": "Date",
  "patrol.station": "Station",
  "patrol.station_code": "Station code",
  "patrol.heading": "Summary",
  "patrol.start": "Start",
  "patrol.end": "End",
  "patrol.sea_area": "Sea area",
  "patrol.vessel": "Vessel",
  "patrol.commander": "Patrol commander",
  "patrol.crew": "Patrol team",
  "patrol.crew_member": "Member",
  "patrol.joint_forces": "Joint forces",
  "patrol.joint_force": "Force",
  "patrol.joint_hint": "Police, local military command, militia…",
  "patrol.inspections": "Vessels inspected",
  "patrol.registration": "Registration number",
  "patrol.owner": "Owner",
  "patrol.captain": "Captain",
  "patrol.crew_count": "People aboard",
  "patrol.catch": "Catch aboard",
  "patrol.position": "Position (lat, lon)",
  "patrol.result": "Result",
  "patrol.violations": "Violations",
  "patrol.violation": "Violation",
  "patrol.action": "Action taken",
  "patrol.fine": "Fine (VND)",
  "patrol.incidents": "Incidents",
  "patrol.incident_time": "Time",
  "patrol.incident_desc": "What happened",
  "patrol.notes": "Notes",
  "patrol.track": "Track",
  "patrol.track_points": "{n} track points",
  "patrol.import_track": "Import GPX/NMEA track",
  "patrol.imported": "Imported {points} points, skipped {skipped}.",
  "patrol.import_after_save": "Save the patrol before importing a track.",
  "patrol.empty": "No patrols yet.",
  "patrol.no_results": "No results.",
  "patrol.filter_unit": "Unit",
  "patrol.filter_from": "From",
  "patrol.filter_to": "To",
  "patrol.search_placeholder": "Search station, vessel, registration… (diacritics optional)",
  "patrol.total": "{n} records",
  "patrol.conflicts": "{n} conflicts",
  "patrol.problems": "The record is not valid yet; see the messages below.",

  "record.fields": "Details",
  "record.history": "Change history",
  "record.conflict_here": "Conflict: units wrote different values",
  "record.changes": "{n} changes",
  "record.kind.patrol": "Patrol",
  "record.kind.plan": "Plan",
  "record.kind.plan_item": "Plan item",
  "record.kind.info_exchange": "Information exchange",
  "record.kind.community_activity": "Community activity",
  "record.kind.review_meeting": "Review meeting",
  "record.kind.unit": "Unit",

  "history.who": "By",
  "history.unit": "Unit",
  "history.when": "When",
  "history.field": "Field",
  "history.change": "Change",
  "history.empty": "No history yet.",

  "conflicts.title": "Conflicts",
  "conflicts.intro": "Units wrote different values for the same field. Choose the right one or write a new value.",
  "conflicts.empty": "No conflicts.",
  "conflicts.field": "Field",
  "conflicts.choose": "Choose",
  "conflicts.by": "{user} – {unit}",
  "conflicts.new_value": "New value",
  "conflicts.write": "Write new value",
  "conflicts.open": "Open record",
  "conflicts.resolved": "Resolved.",
  "field.title": "Title",
  "field.date": "Date",
  "field.location": "Place",
  "field.kind": "Kind",
  "field.subject": "Subject",
  "field.body": "Body",
  "field.content": "Content",
  "field.status": "Status",
  "field.deadline": "Deadline",
  "field.responsible_unit": "Lead unit",
  "field.supporting_units": "Supporting units",
  "field.from_unit": "Sender",
  "field.to_units": "Recipients",
  "field.sent_at": "Sent at",
  "field.units": "Attending units",
  "field.period_from": "From",
  "field.period_to": "To",
  "field.conclusions": "Conclusions",
  "field.participants": "People reached",
  "field.officers": "Officers",
  "field.description": "Description",
  "field.plan": "Plan",
  "field.parties": "Parties",
  "field.name": "Name",
  "field.code": "Code",
  "field.parent": "Parent unit",
  "field.attachments": "Attachments",
  "record.edit": "Edit",
  "record.track_none": "No track yet.",
  "record.conflict_values": "Values in conflict:",
  "record.resolve_in_inbox": "Resolve in Conflicts",
};

const dictionaries: Record<Lang, Messages> = { vi, en };

/** The current language; Vietnamese until `AppInfo.lang` says otherwise. */
export const lang = writable<Lang>("vi");
const current = fromStore(lang);

/** Adds (or overrides) keys for both languages; screens call it from their own `i18n.ts`. */
export function registerMessages(m: { vi?: Messages; en?: Messages }): void {
  Object.assign(dictionaries.vi, m.vi ?? {});
  Object.assign(dictionaries.en, m.en ?? {});
}

/** The label for `key` in the current language, `{name}` placeholders filled from `params`.
 * Falls back to the other language, then to the key itself, so a missing label shows. */
export function t(key: string, params?: Record<string, string | number>): string {
  const l = current.current;
  const other: Lang = l === "vi" ? "en" : "vi";
  let s = dictionaries[l][key] ?? dictionaries[other][key] ?? key;
  if (params) {
    for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(String(v));
  }
  return s;
}

/** Picks the Vietnamese or English text of a bilingual pair (validation problems). */
export function pick(m: { vi: string; en: string }): string {
  return current.current === "en" ? m.en : m.vi;
}

/** Switches the language and stores the choice on the device (AppInfo.lang next start). */
export async function setLanguage(l: Lang): Promise<void> {
  lang.set(l);
  document.documentElement.lang = l;
  await api.setLang(l);
}

/** The language now, outside components. */
export const currentLang = (): Lang => get(lang);

const PATROL_LABELS: Record<string, string> = {
  station: "patrol.station", station_code: "patrol.station_code", start: "patrol.start",
  end: "patrol.end", sea_area: "patrol.sea_area", vessel: "patrol.vessel",
  commander: "patrol.commander", crew: "patrol.crew", joint_forces: "patrol.joint_forces",
  vessels_inspected: "patrol.inspections", violations: "patrol.violations",
  incidents: "patrol.incidents", notes: "patrol.notes", registration: "patrol.registration",
  owner: "patrol.owner", captain: "patrol.captain", crew_count: "patrol.crew_count",
  catch: "patrol.catch", position: "patrol.position", result: "patrol.result",
  violation: "patrol.violation", action: "patrol.action", fine_vnd: "patrol.fine",
  time: "patrol.incident_time", description: "patrol.incident_desc",
};

/** A label for a record field (`sea_area`, `vessels_inspected[0].result`): the `field.<name>`
 * key if registered, the patrol labels, else the name itself. */
export function fieldLabel(path: string): string {
  const parts = path.split(".").map((p) => p.replace(/\[(\d+)\]$/, " $1"));
  return parts
    .map((p) => {
      const [name, idx] = p.split(" ");
      const key = `field.${name}`;
      const l = current.current;
      const label = dictionaries[l][key] ?? (PATROL_LABELS[name] ? t(PATROL_LABELS[name]) : name);
      return idx === undefined ? label : `${label} ${Number(idx) + 1}`;
    })
    .join(" › ");
}
