// The command layer: every call the UI makes to the Tauri shell (src-tauri/src/commands.rs).
// Everything is local and immediate; the network is only ever touched by the shell's
// background sync task, which reports through the `sync-status` event.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export type Lang = "vi" | "en";

/** A validation message, bilingual, attached to a field path (e.g. `vessel`, `crew[0]`). */
export interface Problem {
  field: string;
  code: string;
  vi: string;
  en: string;
}

/** Every command error. `kind`: invalid | not_found | user | not_set_up | sync | internal;
 * locked (the store is encrypted and not unlocked) and wrong_passphrase; for files also
 * too_large (over the attachment limit) and not_here (not on this device yet). */
export interface AppError {
  kind: string;
  message: string;
  problems?: Problem[];
}

export interface AppInfo {
  /** false before the first-run screen has created the device store */
  set_up: boolean;
  /** the store is encrypted and not unlocked: only the unlock screen may show (every other
   * field is empty) */
  locked: boolean;
  /** the open store is encrypted (so it can be locked) */
  encrypted: boolean;
  /** seconds without activity before the app locks itself; null: never */
  idle_lock_secs: number | null;
  unit: string | null;
  user: string | null;
  device_id: string | null;
  enrolled: boolean;
  relay: string | null;
  /** whether this device belongs to HQ (the relay's root unit or a unit of kind `hq`) */
  hq: boolean;
  lang: Lang;
}

export interface RecordRow {
  id: string;
  kind: string;
  unit: string;
  date: string | null;
  title: string;
  conflicts: number;
}

export interface ListQuery {
  kind?: string;
  unit?: string;
  from?: string; // YYYY-MM-DD
  to?: string;
  limit?: number; // default 200, 0 = all
  offset?: number;
}

export interface Author {
  user: string;
  unit: string;
  device: string;
  op: string;
}

export interface ConflictValue {
  value: unknown;
  author: Author;
  time: number; // unix seconds
  change: string;
}

export interface Conflict {
  field: string;
  values: ConflictValue[]; // the first is the one shown
}

export type DeliveryStage = "saved_here" | "at_relay" | "received_by_hq";

export interface Delivery {
  stage: DeliveryStage;
  enrolled: boolean;
  units: { unit: string; via: "relay" | "bundle"; hq: boolean; current: boolean; at: number }[];
}

/** A record in the interchange JSON shape (`{"type": "patrol", "id": …, …}`), see
 * ../shared/design/interchange-format.md and crates/domain/src/records/. */
export type RecordJson = { type: string; id: string; [field: string]: unknown };

export interface RecordView {
  record: RecordJson;
  conflicts: Conflict[];
  track_points: number;
  changes: number;
  delivery: Delivery;
  /** decoded GPS track of a patrol: [lat, lon, unix seconds] */
  track: [number, number, number][];
}

export type SignatureVerdict = "verified" | "unsigned" | "forged" | "unknown_key";

export interface HistoryEntry {
  change: string;
  author: Author;
  time: number;
  fields: { field: string; old: unknown; new: unknown }[];
  /** hex actor of the device that made the change */
  actor?: string;
  /** whether its signature verifies under that device's registered key */
  signature?: SignatureVerdict;
}

export type WriteOutcome = "created" | "updated" | "unchanged";

export type SyncStatus =
  | { state: "idle" }
  | { state: "offline"; code: string; retry_in_secs: number; pending: number }
  | { state: "connecting" }
  | { state: "syncing"; docs_done: number; docs_total: number; bytes_up: number; bytes_down: number }
  | { state: "up_to_date"; at: number; pending: number; wire: { bytes_up: number; bytes_down: number; requests: number } }
  /** a file moving after the records (thumbnails first); `done`/`total` bytes of this file,
   * `file` of `files` in this session */
  | {
      state: "transferring";
      direction: "up" | "down";
      hash: string;
      thumb: boolean;
      done: number;
      total: number;
      file: number;
      files: number;
    }
  | { state: "error"; code: string; message: string };

export interface SyncSummary {
  relay: string | null;
  device_id: string | null;
  unit: string | null;
  last_ok: number | null;
  last_error: { code: string; message: string; at: number } | null;
  pending: number;
  refused: [string, string][];
}

export interface UnitInfo {
  id: string;
  name: string;
  code: string | null;
  kind: string; // hq | station | district_committee | party_committee | partner
  parent: string | null;
}

export interface Dashboard {
  /** records by kind in the filtered period */
  counts: { kind: string; count: number }[];
  /** per unit: counts and the latest records with their delivery stage */
  units: { unit: string; count: number; latest: (RecordRow & { stage: DeliveryStage })[] }[];
}

/** A text in both languages. */
export interface Label {
  vi: string;
  en: string;
}

/** What a review-meeting report covers. Units by name or code, each with the units under it;
 * none = all. `as_of` (default: today, or `to` if earlier) is the day overdue is judged on. */
export interface ReportQuery {
  from: string; // YYYY-MM-DD
  to: string;
  units?: string[];
  as_of?: string;
}

/** One figure and the records it counts (indexes into `Report.sources`). */
export interface ReportCell {
  value: number;
  sources: number[];
}

export interface ReportTable {
  /** patrols | patrols_by_month | by_month | violations | exchanges | activities |
   * activities_by_unit | plan_items */
  key: string;
  title: Label;
  row_header: Label;
  /** format: count (whole), hours (one decimal), money (đồng, whole) */
  columns: { key: string; label: Label; format: "count" | "hours" | "money" }[];
  rows: { key: string; label: Label; cells: ReportCell[] }[];
  /** the total of every column, when totals make sense (key "total") */
  total: { key: string; label: Label; cells: ReportCell[] } | null;
}

/** A computed report (crates/domain/src/report.rs). */
export interface Report {
  from: string;
  to: string;
  as_of: string;
  /** units asked for, canonical names; empty = all */
  units: string[];
  /** the months of the period, YYYY-MM */
  months: string[];
  tables: ReportTable[];
  sources: { id: string; kind: string; date: string | null; unit: string; title: string }[];
}

export type ReportFormat = "md" | "csv" | "xlsx" | "html";

/** Where a file hangs: the record itself, or a patrol's inspection / violation (from 0). */
export type AttachPlace = { on: "record" } | { on: "inspection"; index: number } | { on: "violation"; index: number };

/** A file as a record refers to it (crates/domain/src/records/attachment.rs). */
export interface AttachmentRef {
  /** SHA-256, 64 hex digits: the file's address */
  hash: string;
  /** shown only; never used as a path */
  name: string;
  mime: string;
  size: number;
  /** SHA-256 of its JPEG thumbnail (images) */
  thumb?: string | null;
}

/** What `attach_file` did. */
export interface Attached {
  attachment: AttachmentRef;
  /** false: that file was already attached there */
  added: boolean;
  /** the bytes were already on this device (another record has the same file) */
  deduplicated: boolean;
  thumb_bytes: number | null;
}

/** One file a record refers to, and whether it is on this device. */
export interface AttachmentRow {
  record_id: string;
  /** `attachments`, `vessels_inspected[0].attachments`, `violations[1].attachments` */
  place: string;
  hash: string;
  thumb: string | null;
  name: string;
  mime: string;
  size: number;
  /** the file is here (else sync will bring it) */
  present: boolean;
  thumb_present: boolean;
}

/** The largest attachment (crates/client/src/attachments.rs, MAX_ATTACHMENT_BYTES). */
export const MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024;

/** Kinds that take files: patrols (also their inspections and violations), information
 * exchanges and community activities. */
export const KINDS_WITH_FILES = ["patrol", "info_exchange", "community_activity"];

const lockedListeners = new Set<() => void>();

/** Called when any command finds the store locked (the idle lock came first). */
export function onLockedError(f: () => void): () => void {
  lockedListeners.add(f);
  return () => lockedListeners.delete(f);
}

const call = <T>(cmd: string, args?: Record<string, unknown>): Promise<T> =>
  invoke<T>(cmd, args).catch((e: unknown) => {
    if (typeof e === "object" && e !== null && (e as { kind?: unknown }).kind === "locked") {
      for (const f of lockedListeners) f();
    }
    throw e;
  });

export const api = {
  appInfo: () => call<AppInfo>("app_info"),
  /** first run: create the device store, encrypted under `passphrase` (at least 8
   * characters); with server+code also enrol */
  setUp: (a: { unit: string; user: string; passphrase: string; server?: string; code?: string }) =>
    call<AppInfo>("set_up", a),
  /** opens the locked store (~0.3 s of key derivation); a wrong passphrase fails with kind
   * `wrong_passphrase` and changes nothing */
  unlock: (passphrase: string) => call<AppInfo>("unlock", { passphrase }),
  /** locks now: sync stops, the store closes; a `locked` event follows */
  lock: () => call<AppInfo>("lock"),
  /** the user is here (pointer or keys): postpones the idle lock */
  activity: () => call<void>("activity"),
  enroll: (server: string, code: string) => call<AppInfo>("enroll", { server, code }),
  setLang: (lang: Lang) => call<void>("set_lang", { lang }),

  units: () => call<UnitInfo[]>("units"),
  list: (q: ListQuery) => call<{ rows: RecordRow[]; total: number }>("list_records", { q }),
  search: (text: string, kind?: string, limit = 100) =>
    call<RecordRow[]>("search_records", { text, kind, limit }),
  get: (id: string) => call<RecordView>("get_record", { id }),
  /** validates and saves (create or update); errors of kind `invalid` carry `problems` */
  save: (record: RecordJson) => call<WriteOutcome>("save_record", { record }),
  /** one field; `value` is JSON (a string for text) */
  editField: (id: string, field: string, value: unknown) =>
    call<WriteOutcome>("edit_field", { id, field, value }),
  /** a character-position splice into a text field (plan sections: `sections[1].body`) */
  splice: (id: string, field: string, pos: number, del: number, text: string) =>
    call<WriteOutcome>("splice_text", { id, field, pos, delete: del, text }),
  history: (id: string) => call<HistoryEntry[]>("record_history", { id }),
  conflicts: () => call<{ id: string; conflicts: Conflict[] }[]>("list_conflicts"),
  resolve: (id: string, field: string, value: unknown) =>
    call<WriteOutcome>("resolve_conflict", { id, field, value }),
  /** GPX or NMEA text of a track file chosen in the UI */
  importTrack: (id: string, fileName: string, text: string) =>
    call<{ points: number; skipped: number }>("import_track", { id, fileName, text }),
  acknowledge: (id: string) => call<WriteOutcome>("acknowledge_exchange", { id }),
  dashboard: (q: { unit?: string; from?: string; to?: string; kind?: string }) =>
    call<Dashboard>("dashboard", { q }),

  report: (q: ReportQuery) => call<Report>("report", { q }),
  /** writes the report into the user's Downloads folder (never over a file); returns where */
  exportReport: (q: ReportQuery, format: ReportFormat, details: boolean) =>
    call<{ path: string; bytes: number }>("export_report", { q, format, details }),

  /** the files a record refers to, and which are on this device */
  attachments: (id: string) => call<AttachmentRow[]>("attachments", { id }),
  /** attaches a file: the bytes go as the raw request body (no JSON, no base64), the rest as
   * percent-encoded headers (names are Vietnamese) */
  attachFile: (id: string, place: AttachPlace, name: string, bytes: ArrayBuffer | Uint8Array) =>
    invoke<Attached>("attach_file", bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), {
      headers: {
        "tidemark-id": encodeURIComponent(id),
        "tidemark-place": encodeURIComponent(JSON.stringify(place)),
        "tidemark-name": encodeURIComponent(name),
      },
    }),
  /** a file (or thumbnail) on this device as a `data:` URL; null until it arrives */
  attachmentData: (hash: string) => call<string | null>("attachment_data", { hash }),
  /** a copy into the Downloads folder (never over a file), named after `name`; returns where */
  saveAttachment: (hash: string, name: string) =>
    call<{ path: string; bytes: number }>("save_attachment", { hash, name }),
  /** opens a copy with the system's default application */
  openAttachment: (hash: string) => call<{ path: string }>("open_attachment", { hash }),

  syncStatus: () => call<SyncStatus>("sync_status"),
  syncSummary: () => call<SyncSummary>("sync_summary"),
  syncNow: () => call<void>("sync_now"),
};

/** Sync status changes from the background task. */
export const onSyncStatus = (f: (s: SyncStatus) => void): Promise<UnlistenFn> =>
  listen<SyncStatus>("sync-status", (e) => f(e.payload));

/** The backend locked the store (the user's lock, or the idle lock). */
export const onLocked = (f: () => void): Promise<UnlistenFn> => listen("locked", () => f());

/** Records changed by sync (ids); screens showing them re-read. */
export const onRecordsChanged = (f: (ids: string[]) => void): Promise<UnlistenFn> =>
  listen<string[]>("records-changed", (e) => f(e.payload));
