//! Dates and times the Vietnamese way (dd/MM/yyyy, 24 h) in the device's time zone, and back
//! to the ISO forms the commands take (`YYYY-MM-DD`, ISO-8601 with offset).

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

function toDate(v: string | number): Date | null {
  const d = typeof v === "number" ? new Date(v * 1000) : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `2025-01-02` or an ISO time or unix seconds → `02/01/2025`; "" for nothing. */
export function fmtDate(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === "") return "";
  if (typeof v === "string") {
    const m = DATE_ONLY.exec(v.trim());
    if (m) return `${m[3]}/${m[2]}/${m[1]}`;
  }
  const d = toDate(v);
  if (!d) return String(v);
  return `${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${d.getFullYear()}`;
}

/** Unix seconds or an ISO time → `HH:mm` (24 h, device time zone). */
export function fmtTime(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === "") return "";
  const d = toDate(v);
  return d ? `${pad(d.getHours())}:${pad(d.getMinutes())}` : String(v);
}

/** Unix seconds or an ISO time → `dd/MM/yyyy HH:mm`; a bare date stays a date. */
export function fmtDateTime(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === "") return "";
  if (typeof v === "string" && DATE_ONLY.test(v.trim())) return fmtDate(v);
  const d = toDate(v);
  return d ? `${fmtDate(v)} ${fmtTime(v)}` : String(v);
}

/** `dd/mm/yyyy` typed by a user → `YYYY-MM-DD`, or null when it is not a real date. */
export function parseDate(s: string): string | null {
  const m = /^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$/.exec(s);
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(y, mo - 1, d);
  if (dt.getFullYear() !== y || dt.getMonth() !== mo - 1 || dt.getDate() !== d) return null;
  return `${y}-${pad(mo)}-${pad(d)}`;
}

/** The device's UTC offset at a local time, as `+07:00`. */
function offsetOf(d: Date): string {
  const m = -d.getTimezoneOffset();
  const sign = m >= 0 ? "+" : "-";
  return `${sign}${pad(Math.floor(Math.abs(m) / 60))}:${pad(Math.abs(m) % 60)}`;
}

/** `dd/mm/yyyy HH:mm` (local) → ISO-8601 with the device's offset, or null. */
export function parseDateTime(s: string): string | null {
  const m = /^\s*(\d{1,2}[/.-]\d{1,2}[/.-]\d{4})(?:\s+(\d{1,2}):(\d{2}))?\s*$/.exec(s);
  if (!m) return null;
  const date = parseDate(m[1]);
  if (!date) return null;
  const h = m[2] === undefined ? 0 : Number(m[2]);
  const mi = m[3] === undefined ? 0 : Number(m[3]);
  if (h > 23 || mi > 59) return null;
  const [y, mo, d] = date.split("-").map(Number);
  const local = new Date(y, mo - 1, d, h, mi);
  return `${date}T${pad(h)}:${pad(mi)}:00${offsetOf(local)}`;
}

/** Today as `dd/MM/yyyy HH:mm`, for a new record's start. */
export function nowInput(): string {
  const d = new Date();
  return fmtDateTime(Math.floor(d.getTime() / 1000));
}

/** A number the Vietnamese way: `50.000.000`. */
export function fmtNumber(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ".") +
    (Number.isInteger(n) ? "" : "," + String(n).split(".")[1]);
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/** Any record value as plain text: dates and times formatted, lists joined. */
export function fmtValue(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") {
    if (DATE_ONLY.test(v)) return fmtDate(v);
    if (ISO_TIME.test(v)) return fmtDateTime(v);
    return v;
  }
  if (typeof v === "number") return fmtNumber(v);
  if (typeof v === "boolean") return v ? "✓" : "✗";
  if (Array.isArray(v)) return v.map(fmtValue).join(", ");
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k}: ${fmtValue(x)}`)
    .join("; ");
}

/** A file size: `512 B`, `340 KB`, `1,2 MB` (a decimal comma in Vietnamese, a point in
 * English); 1 KB = 1024 bytes. */
export function fmtBytes(n: number, lang: "vi" | "en" = "vi"): string {
  const units = ["B", "KB", "MB", "GB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 || v >= 100 ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, "");
  return `${lang === "vi" ? s.replace(".", ",") : s} ${units[u]}`;
}
