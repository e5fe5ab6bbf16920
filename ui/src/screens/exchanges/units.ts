import type { AppInfo, UnitInfo } from "../../lib/api";

/** The device's unit as records name it: AppInfo.unit may be a name, an id (`unit:TT`) or a code. */
export function ownUnitName(info: AppInfo | null, units: UnitInfo[]): string {
  const u = info?.unit ?? "";
  if (!u) return "";
  const hit = units.find((x) => x.name === u || x.id === u || x.code === u);
  return hit ? hit.name : u;
}

/** The short code of a unit name for record ids (`TT`), or a fallback. */
export function unitCode(name: string, units: UnitInfo[]): string {
  const hit = units.find((x) => x.name === name);
  if (hit?.code) return hit.code;
  return (
    name
      .normalize("NFD")
      .replace(/[\u0300-\u036f]/g, "")
      .replace(/[đĐ]/g, "D")
      .split(/\s+/)
      .map((w) => w[0] ?? "")
      .join("")
      .toUpperCase() || "X"
  );
}

/** "2025-01-01T16:58:00+07:00" → "20250101-165800" for ids. */
export const stamp = (iso: string) => iso.slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
