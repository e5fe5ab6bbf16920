//! Command errors (`AppError`) as the UI shows them: problems by field, a message in place.

import type { AppError, Problem } from "./api";
import { pick } from "./i18n";

export function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "kind" in e && "message" in e;
}

/** The problems of an `invalid` error keyed by field path (`vessels_inspected[0].registration`). */
export function problemsByField(e: unknown): Record<string, Problem[]> {
  const out: Record<string, Problem[]> = {};
  if (isAppError(e)) for (const p of e.problems ?? []) (out[p.field] ??= []).push(p);
  return out;
}

/** One line for any error: the problems in the current language, or the message. */
export function errorText(e: unknown): string {
  if (isAppError(e)) {
    if (e.problems && e.problems.length) return e.problems.map(pick).join(" ");
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}
