// Dates as the screens show them (dd/MM/yyyy, 24 h) and as records store them (YYYY-MM-DD,
// ISO-8601 with +07:00). Shared by the plan, exchanges, activities and dashboard screens.

const pad = (n: number) => String(n).padStart(2, "0");

/** "2025-06-16" or "2025-06-16T…" → "16/06/2025"; anything else unchanged, null → "". */
export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : iso;
}

/** "2025-01-01T16:58:00+07:00" → "01/01/2025 16:58" (the wall time written in the record). */
export function fmtDateTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})/.exec(iso);
  return m ? `${m[3]}/${m[2]}/${m[1]} ${m[4]}:${m[5]}` : fmtDate(iso);
}

/** "16/06/2025" (or "16/6/2025", or already "2025-06-16") → "2025-06-16"; "" → ""; invalid → null. */
export function parseDate(s: string): string | null {
  const v = s.trim();
  if (!v) return "";
  let y: number, mo: number, d: number;
  let m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(v);
  if (m) {
    d = +m[1];
    mo = +m[2];
    y = +m[3];
  } else if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v))) {
    y = +m[1];
    mo = +m[2];
    d = +m[3];
  } else return null;
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return null;
  return `${y}-${pad(mo)}-${pad(d)}`;
}

/** Today on this device, YYYY-MM-DD. */
export function todayIso(now = new Date()): string {
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** Now as ISO-8601 in Vietnam time: "2025-01-01T16:58:00+07:00". */
export function nowIso7(now = new Date()): string {
  const t = new Date(now.getTime() + 7 * 3600_000);
  return t.toISOString().slice(0, 19) + "+07:00";
}
