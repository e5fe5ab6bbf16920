//! App-wide state: the device's AppInfo and the number of records with conflicts (nav badge).

import { writable } from "svelte/store";
import { api, type AppInfo } from "./api";

export const appInfo = writable<AppInfo | null>(null);

export const conflictCount = writable(0);

/** Re-reads the conflicts list for the badge; quiet on errors (the inbox shows them). */
export async function refreshConflictCount(): Promise<void> {
  try {
    const list = await api.conflicts();
    conflictCount.set(list.length);
  } catch {
    /* the badge keeps its last value */
  }
}
