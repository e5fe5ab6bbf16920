// A small in-memory backend for screen tests: records by id, a call log, mockIPC with events.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { AppInfo, RecordJson, UnitInfo } from "../../src/lib/api";

export interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

export const UNITS: UnitInfo[] = [
  { id: "unit:HQ", name: "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", code: "HQ", kind: "hq", parent: null },
  { id: "unit:TT", name: "Đồn Biên phòng Tân Thành", code: "TT", kind: "station", parent: "Bộ Chỉ huy BĐBP tỉnh Tiền Giang" },
  { id: "unit:KP", name: "Đồn Biên phòng Kiểng Phước", code: "KP", kind: "station", parent: "Bộ Chỉ huy BĐBP tỉnh Tiền Giang" },
  { id: "unit:VL", name: "Đồn Biên phòng Vàm Láng", code: "VL", kind: "station", parent: "Bộ Chỉ huy BĐBP tỉnh Tiền Giang" },
  { id: "unit:GCD", name: "Huyện ủy Gò Công Đông", code: "GCD", kind: "district_committee", parent: null },
];

export function appInfo(unit: string): AppInfo {
  return {
    set_up: true,
    unit,
    user: "Trung úy Đặng Văn Hải",
    device_id: "dev-1",
    enrolled: true,
    relay: "relay.bdbp.local",
    hq: unit === UNITS[0].name,
    lang: "vi",
  };
}

const ownerOf = (r: RecordJson): string =>
  String(r.station ?? r.from_unit ?? r.responsible_unit ?? (Array.isArray(r.units) ? r.units[0] : "") ?? "");
const dateOf = (r: RecordJson): string | null =>
  String(r.date ?? r.sent_at ?? r.deadline ?? r.period_from ?? r.start ?? "").slice(0, 10) || null;

/**
 * Installs mockIPC over `records`. `overrides[cmd]` answers a command instead of the default
 * (throw to answer with an error). Returns the call log.
 */
export function backend(
  records: RecordJson[],
  opts: { unit?: string; overrides?: Record<string, (args: Record<string, unknown>) => unknown> } = {},
): { calls: Call[]; store: Map<string, RecordJson> } {
  const store = new Map(records.map((r) => [r.id, structuredClone(r)]));
  const calls: Call[] = [];
  mockIPC(
    (cmd, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      if (!cmd.startsWith("plugin:")) calls.push({ cmd, args });
      const o = opts.overrides?.[cmd];
      if (o) return o(args);
      switch (cmd) {
        case "app_info":
          return appInfo(opts.unit ?? UNITS[1].name);
        case "units":
          return UNITS;
        case "list_records": {
          const q = args.q as { kind?: string };
          const rows = [...store.values()]
            .filter((r) => !q.kind || r.type === q.kind)
            .map((r) => ({
              id: r.id,
              kind: r.type,
              unit: ownerOf(r),
              date: dateOf(r),
              title: String(r.title ?? r.subject ?? r.kind ?? r.location ?? r.id),
              conflicts: 0,
            }));
          return { rows, total: rows.length };
        }
        case "get_record": {
          const r = store.get(String(args.id));
          if (!r) throw { kind: "not_found", message: "không tìm thấy" };
          return {
            record: structuredClone(r),
            conflicts: [],
            track_points: 0,
            changes: 1,
            delivery: { stage: "saved_here", enrolled: true, units: [] },
            track: [],
          };
        }
        case "save_record": {
          const r = args.record as RecordJson;
          const had = store.has(r.id);
          store.set(r.id, structuredClone(r));
          return had ? "updated" : "created";
        }
        case "edit_field": {
          const r = store.get(String(args.id))!;
          r[String(args.field)] = args.value;
          return "updated";
        }
        case "acknowledge_exchange": {
          const r = store.get(String(args.id))!;
          const acks = (r.acknowledgements ?? {}) as Record<string, unknown>;
          acks[opts.unit ?? UNITS[1].name] = { at: "2025-01-02T08:00:00+07:00", by: "Trung úy Đặng Văn Hải" };
          r.acknowledgements = acks;
          return "updated";
        }
        default:
          return null;
      }
    },
    { shouldMockEvents: true },
  );
  return { calls, store };
}

export const tick = () => new Promise((r) => setTimeout(r, 0));
