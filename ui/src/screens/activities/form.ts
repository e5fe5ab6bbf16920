// Form state ⇄ record for community activities and review meetings (pure, testable).
import type { RecordJson } from "../../lib/api";
import { fmtDate, parseDate } from "../plan/dates";

export type ActivityKind = "community_activity" | "review_meeting";

export interface ActivityForm {
  id: string;
  station: string;
  date: string; // dd/MM/yyyy as typed
  kind: string;
  location: string;
  participants: string;
  officers: string; // one per line
  participating_units: string[];
  description: string;
  units: string[];
  period_from: string;
  period_to: string;
  conclusions: string;
}

const arr = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);

export function emptyForm(own: string): ActivityForm {
  return {
    id: "",
    station: own,
    date: "",
    kind: "",
    location: "",
    participants: "",
    officers: "",
    participating_units: [],
    description: "",
    units: own ? [own] : [],
    period_from: "",
    period_to: "",
    conclusions: "",
  };
}

export function formFromRecord(r: RecordJson): ActivityForm {
  return {
    id: r.id,
    station: String(r.station ?? ""),
    date: fmtDate(String(r.date ?? "")),
    kind: String(r.kind ?? ""),
    location: String(r.location ?? ""),
    participants: r.participants === undefined || r.participants === null ? "" : String(r.participants),
    officers: arr(r.officers).join("\n"),
    participating_units: arr(r.participating_units),
    description: String(r.description ?? ""),
    units: arr(r.units),
    period_from: fmtDate(String(r.period_from ?? "")),
    period_to: fmtDate(String(r.period_to ?? "")),
    conclusions: String(r.conclusions ?? ""),
  };
}

/**
 * The record to save, or the local problems (field → message key) that stop it: dates that are
 * not dd/MM/yyyy, a participant count that is not a number. Everything else the backend checks.
 */
export function recordFromForm(
  kind: ActivityKind,
  f: ActivityForm,
  newId: (date: string) => string,
): { record: RecordJson | null; local: Record<string, string> } {
  const local: Record<string, string> = {};
  const date = parseDate(f.date);
  if (date === null) local.date = "common.bad_date";
  else if (date === "") local.date = "act.required";
  const id = f.id || newId(date || "");
  if (kind === "community_activity") {
    const n = f.participants.trim();
    if (n !== "" && !/^\d+$/.test(n)) local.participants = "common.bad_number";
    if (Object.keys(local).length) return { record: null, local };
    return {
      record: {
        type: kind,
        id,
        station: f.station,
        date: date!,
        kind: f.kind.trim(),
        location: f.location.trim(),
        participants: n === "" ? 0 : Number(n),
        officers: f.officers
          .split("\n")
          .map((s) => s.trim())
          .filter(Boolean),
        participating_units: [...f.participating_units],
        description: f.description,
      },
      local,
    };
  }
  const from = parseDate(f.period_from);
  const to = parseDate(f.period_to);
  if (from === null) local.period_from = "common.bad_date";
  if (to === null) local.period_to = "common.bad_date";
  if (Object.keys(local).length) return { record: null, local };
  const rec: RecordJson = {
    type: kind,
    id,
    date: date!,
    location: f.location.trim(),
    units: [...f.units],
    conclusions: f.conclusions,
  };
  if (from) rec.period_from = from;
  if (to) rec.period_to = to;
  return { record: rec, local };
}
