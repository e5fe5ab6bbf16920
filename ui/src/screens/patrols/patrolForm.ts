//! The patrol form's model: interchange-format JSON ⇄ the strings the inputs edit.
//! Fields the form does not show (the encoded `route`, attachments, future fields) are carried
//! over as read — an inspection's or violation's own with it, so they follow it when rows are
//! removed or added.

import type { RecordJson } from "../../lib/api";
import { fmtDateTime, parseDateTime, parseDate } from "../../lib/format";

export interface InspectionForm {
  registration: string;
  owner: string;
  captain: string;
  crew_count: string;
  catch: string;
  lat: string;
  lon: string;
  result: string;
  /** fields of the inspection the form does not edit (its attachments…), as read */
  rest?: Record<string, unknown>;
}
export interface ViolationForm {
  registration: string;
  violation: string;
  action: string;
  fine_vnd: string;
  /** fields of the violation the form does not edit (its attachments…), as read */
  rest?: Record<string, unknown>;
}
export interface IncidentForm {
  time: string;
  description: string;
}
export interface PatrolForm {
  id: string;
  station: string;
  station_code: string;
  start: string;
  end: string;
  sea_area: string;
  vessel: string;
  commander: string;
  crew: string[];
  joint_forces: string[];
  vessels_inspected: InspectionForm[];
  violations: ViolationForm[];
  incidents: IncidentForm[];
  notes: string;
}

const s = (v: unknown) => (v === null || v === undefined ? "" : String(v));

const INSPECTION_FIELDS = ["registration", "owner", "captain", "crew_count", "catch", "position", "result"];
const VIOLATION_FIELDS = ["registration", "violation", "action", "fine_vnd"];
/** The fields of `o` other than `known`, or nothing when there are none. */
function rest(o: Record<string, unknown>, known: string[]): { rest?: Record<string, unknown> } {
  const other = Object.entries(o).filter(([k]) => !known.includes(k));
  return other.length ? { rest: Object.fromEntries(other) } : {};
}
const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

export const emptyInspection = (): InspectionForm => ({
  registration: "", owner: "", captain: "", crew_count: "", catch: "", lat: "", lon: "", result: "",
});
export const emptyViolation = (): ViolationForm => ({ registration: "", violation: "", action: "", fine_vnd: "" });
export const emptyIncident = (): IncidentForm => ({ time: "", description: "" });

export function fromRecord(r: RecordJson): PatrolForm {
  return {
    id: r.id,
    station: s(r.station),
    station_code: s(r.station_code),
    start: fmtDateTime(s(r.start)),
    end: fmtDateTime(s(r.end)),
    sea_area: s(r.sea_area),
    vessel: s(r.vessel),
    commander: s(r.commander),
    crew: list<string>(r.crew).map(s),
    joint_forces: list<string>(r.joint_forces).map(s),
    vessels_inspected: list<Record<string, unknown>>(r.vessels_inspected).map((v) => {
      const pos = Array.isArray(v.position) ? (v.position as number[]) : [];
      return {
        registration: s(v.registration), owner: s(v.owner), captain: s(v.captain),
        crew_count: s(v.crew_count), catch: s(v.catch), lat: s(pos[0]), lon: s(pos[1]), result: s(v.result),
        ...rest(v, INSPECTION_FIELDS),
      };
    }),
    violations: list<Record<string, unknown>>(r.violations).map((v) => ({
      registration: s(v.registration), violation: s(v.violation), action: s(v.action), fine_vnd: s(v.fine_vnd),
      ...rest(v, VIOLATION_FIELDS),
    })),
    incidents: list<Record<string, unknown>>(r.incidents).map((i) => ({
      time: fmtDateTime(s(i.time)), description: s(i.description),
    })),
    notes: s(r.notes),
  };
}

export function newForm(station: string, code: string, start: string): PatrolForm {
  return {
    ...fromRecord({ type: "patrol", id: "" }),
    station,
    station_code: code,
    start,
  };
}

/** Which message a field failed with before reaching the backend (i18n keys). */
export type LocalErrors = Record<string, string>;

/** A time typed as dd/mm/yyyy HH:mm; the original ISO value when the text was not touched. */
function time(text: string, original: unknown, field: string, errs: LocalErrors): string | undefined {
  const tx = text.trim();
  if (!tx) return undefined;
  if (typeof original === "string" && fmtDateTime(original) === tx) return original;
  const iso = parseDateTime(tx);
  if (!iso) errs[field] = "common.bad_time";
  return iso ?? undefined;
}

function num(text: string, field: string, errs: LocalErrors, int = true): number | undefined {
  const tx = text.trim().replace(/\s/g, "");
  if (!tx) return undefined;
  const n = int ? Number(tx.replace(/[.,]/g, "")) : Number(tx.replace(",", "."));
  if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || n < (int ? 0 : -180)) {
    errs[field] = "common.bad_number";
    return undefined;
  }
  return n;
}

/** Drops keys whose value is undefined, "" or an empty list (absent optional fields). */
function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) delete o[k];
  }
  return o;
}

/** A new record id from the station code and start: `patrol:KP:20250102:0530-7f3a`. */
export function newId(code: string, startIso: string | undefined): string {
  const d = startIso ? startIso.slice(0, 16).replace(/[-:]/g, "").replace("T", ":") : "";
  const stamp = d || new Date().toISOString().slice(0, 10).replace(/-/g, "");
  const rand = Math.random().toString(16).slice(2, 6).padEnd(4, "0");
  return `patrol:${code || "X"}:${stamp}-${rand}`;
}

/** The record to save, or the local errors that stop it. */
export function toRecord(f: PatrolForm, original: RecordJson | null): { record: RecordJson; errors: LocalErrors } {
  const errors: LocalErrors = {};
  const o = original ?? { type: "patrol", id: "" };
  const start = time(f.start, o.start, "start", errors);
  const end = time(f.end, o.end, "end", errors);
  const origIncidents = list<Record<string, unknown>>(o.incidents);
  const record: RecordJson = compact({
    ...o,
    type: "patrol",
    id: f.id || newId(f.station_code, start),
    station: f.station.trim(),
    station_code: f.station_code.trim() || undefined,
    start: start ?? f.start.trim(),
    end,
    sea_area: f.sea_area.trim() || undefined,
    vessel: f.vessel.trim() || undefined,
    commander: f.commander.trim() || undefined,
    crew: f.crew.map((c) => c.trim()).filter(Boolean),
    joint_forces: f.joint_forces.map((c) => c.trim()).filter(Boolean),
    vessels_inspected: f.vessels_inspected.map((v, i) => {
      const lat = num(v.lat, `vessels_inspected[${i}].position`, errors, false);
      const lon = num(v.lon, `vessels_inspected[${i}].position`, errors, false);
      return compact({
        ...v.rest,
        registration: v.registration.trim(),
        owner: v.owner.trim() || undefined,
        captain: v.captain.trim() || undefined,
        crew_count: num(v.crew_count, `vessels_inspected[${i}].crew_count`, errors),
        catch: v.catch.trim() || undefined,
        position: lat !== undefined && lon !== undefined ? [lat, lon] : undefined,
        result: v.result.trim() || undefined,
      });
    }),
    violations: f.violations.map((v, i) =>
      compact({
        ...v.rest,
        registration: v.registration.trim(),
        violation: v.violation.trim(),
        action: v.action.trim() || undefined,
        fine_vnd: num(v.fine_vnd, `violations[${i}].fine_vnd`, errors),
      }),
    ),
    incidents: f.incidents.map((x, i) =>
      compact({
        time: time(x.time, origIncidents[i]?.time, `incidents[${i}].time`, errors),
        description: x.description.trim(),
      }),
    ),
    notes: f.notes,
  });
  return { record, errors };
}

/** `dd/mm/yyyy` filter text → ISO date, "" when empty, null when malformed. */
export function filterDate(text: string): string | null {
  if (!text.trim()) return "";
  return parseDate(text);
}
