//! A hash router: `#/patrols`, `#/record/<id>`, … as a store, plus the unsaved-changes guard
//! that a form registers while it has edits (navigation asks before dropping them).

import { readable } from "svelte/store";
import { t } from "./i18n";

export interface Route {
  /** first segment: patrols, plan, exchanges, activities, meetings, reports, conflicts, dashboard,
   * record */
  name: string;
  /** the remaining segments, URI-decoded (`#/record/<id>/edit` → [id, "edit"]) */
  params: string[];
}

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#\/?/, "");
  const parts = path.split("/").filter((p) => p !== "").map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { name: parts[0] ?? "", params: parts.slice(1) };
}

/** The hash for a record page. */
export const recordHref = (id: string, suffix = "") =>
  `#/record/${encodeURIComponent(id)}${suffix ? "/" + suffix : ""}`;

type Guard = () => boolean;
let guard: Guard | null = null;

/** A form with unsaved edits sets a guard (returns true while dirty); null clears it. */
export function setDirtyGuard(g: Guard | null): void {
  guard = g;
}

/** Whether leaving is fine: no dirty form, or the user agreed to drop the edits. */
export function mayLeave(): boolean {
  if (!guard || !guard()) return true;
  // A web view without script dialogs would return undefined: keep the edits then.
  const ok = typeof window.confirm === "function" && window.confirm(t("common.unsaved")) === true;
  if (ok) guard = null;
  return ok;
}

let lastHash = typeof location !== "undefined" ? location.hash : "";

/** The current route; follows `hashchange`, refused when the guard says stay. */
export const route = readable<Route>(parseHash(lastHash), (set) => {
  lastHash = location.hash;
  set(parseHash(lastHash));
  const onChange = () => {
    if (location.hash === lastHash) return;
    if (!mayLeave()) {
      history.replaceState(null, "", lastHash || "#/");
      return;
    }
    lastHash = location.hash;
    set(parseHash(lastHash));
  };
  const onUnload = (e: BeforeUnloadEvent) => {
    if (guard && guard()) e.preventDefault();
  };
  window.addEventListener("hashchange", onChange);
  window.addEventListener("beforeunload", onUnload);
  return () => {
    window.removeEventListener("hashchange", onChange);
    window.removeEventListener("beforeunload", onUnload);
  };
});

/** Goes to a hash path (`#/patrols`); the guard applies through `hashchange`. */
export function navigate(hash: string): void {
  if (location.hash === hash) return;
  location.hash = hash;
}
