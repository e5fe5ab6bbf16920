// Pure helpers of the report page: figures written the way each language writes numbers,
// the quick period choices, chart scales, and the report kept while the user visits a record.

import type { Lang, Report, ReportQuery, ReportTable, UnitInfo } from "../../lib/api";

export type FigureFormat = ReportTable["columns"][number]["format"];
export type ReportRow = ReportTable["rows"][number];

/** A figure as the language writes it: vi `1.234.567` and `15,0`, en `1,234,567` and `15.0`.
 * Hours keep one decimal; counts and đồng are whole. */
export function fmtFigure(value: number, format: FigureFormat, lang: Lang): string {
  const [group, point] = lang === "en" ? [",", "."] : [".", ","];
  const fixed = Math.abs(value).toFixed(format === "hours" ? 1 : 0);
  const [whole, frac] = fixed.split(".");
  const sign = value < 0 && Number(fixed) !== 0 ? "-" : "";
  return sign + whole.replace(/\B(?=(\d{3})+(?!\d))/g, group) + (frac ? point + frac : "");
}

const pad = (n: number) => String(n).padStart(2, "0");

/** The quick choices: the first half or the whole of `year`, as `YYYY-MM-DD`. */
export function quickPeriod(which: "half" | "year", year: number): { from: string; to: string } {
  return { from: `${year}-01-01`, to: which === "half" ? `${year}-06-30` : `${year}-12-31` };
}

/** From 1 January of this year to today, as `YYYY-MM-DD`. */
export function defaultPeriod(now = new Date()): { from: string; to: string } {
  const y = now.getFullYear();
  return { from: `${y}-01-01`, to: `${y}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}` };
}

const KIND_ORDER: Record<string, number> = { hq: 0, station: 1, district_committee: 2, party_committee: 3, partner: 4 };

/** Units for the picker: command first, then stations, then the others; by name within each. */
export function sortUnits(units: UnitInfo[]): UnitInfo[] {
  // One entry per unit: a device's own `init` and an imported unit list can both hold a record
  // for the same unit; the one with a code (the imported one) describes it better.
  const byName = new Map<string, UnitInfo>();
  for (const u of units) {
    const key = u.name.trim().toLocaleLowerCase("vi");
    const known = byName.get(key);
    if (!known || (!known.code && u.code)) byName.set(key, u);
  }
  return [...byName.values()].sort(
    (a, b) => (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9) || a.name.localeCompare(b.name, "vi"),
  );
}

/** Axis ticks from 0 to a round top at or above `max`, whole steps of 1, 2 or 5 × 10ⁿ. */
export function ticks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag);
  const top = Math.ceil(max / step) * step;
  const out: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) out.push(v);
  return out;
}

/** Line colours for the stations: distinct on white and in greyscale print, no error red. */
export const PALETTE = ["#0b5394", "#6b8e23", "#c25e00", "#7b1fa2", "#00838f", "#ad1457", "#5d4037", "#2e7d32", "#455a64", "#b8860b"];
/** Past the palette, lines repeat its colours dashed. */
export const DASHES = ["", "6 3", "2 3"];

/** A chart's width on A4 paper (210 mm less 2 × 12 mm margins, in CSS px, less its frame). */
export const PRINT_WIDTH = 680;

/** Cuts a label for an SVG axis (which cannot wrap) to `max` characters. */
export const clip = (s: string, max: number) => (s.length > max ? s.slice(0, max - 1).trimEnd() + "…" : s);

/** A clicked figure: which table, row (a row or the total) and column. */
export interface OpenFigure {
  table: ReportTable;
  row: ReportRow;
  col: number;
}

/** What the page had on screen, kept while the user opens a record and comes back. */
export interface KeptReport {
  from: string;
  to: string;
  chosen: string[];
  details: boolean;
  report: Report | null;
  query: ReportQuery | null;
  madeAt: number;
}

let kept: KeptReport | null = null;

export const keptReport = (): KeptReport | null => kept;
export const keepReport = (k: KeptReport | null): void => {
  kept = k;
};
