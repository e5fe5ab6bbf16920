// A fake shell for component tests: `mockIPC` with events, a handler per command, and a log
// of every call with its arguments.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { AppInfo } from "../lib/api";

/** `args` is the command's arguments, or the raw body (a Uint8Array) of a raw command, whose
 * request headers come as `headers`. */
export type Handler = (args: Record<string, unknown>, headers: Record<string, string>) => unknown;
export interface Call {
  cmd: string;
  args: Record<string, unknown>;
  headers: Record<string, string>;
}

/** Answers for the commands every screen asks; tests override what they look at. */
const defaults: Record<string, Handler> = {
  units: () => [],
  list_records: () => ({ rows: [], total: 0 }),
  list_conflicts: () => [],
  sync_status: () => ({ state: "idle" }),
  sync_summary: () => ({ relay: null, device_id: null, unit: null, last_ok: null, last_error: null, pending: 0, refused: [] }),
};

/** Installs the fake; unknown commands resolve to null. Returns the call log. */
export function fakeBackend(given: Record<string, Handler>): Call[] {
  const handlers = { ...defaults, ...given };
  const calls: Call[] = [];
  // mockIPC drops invoke's options; the headers of the call being made are caught here.
  let headers: Record<string, string> = {};
  mockIPC(
    (cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
      const hs = headers;
      headers = {};
      calls.push({ cmd, args: a, headers: hs });
      const h = handlers[cmd];
      return h ? h(a, hs) : null;
    },
    { shouldMockEvents: true },
  );
  const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (...a: unknown[]) => Promise<unknown> } })
    .__TAURI_INTERNALS__;
  const mocked = internals.invoke;
  internals.invoke = (cmd: unknown, args: unknown, options?: unknown) => {
    const h = (options as { headers?: HeadersInit } | undefined)?.headers;
    headers = h ? Object.fromEntries(new Headers(h).entries()) : {};
    return mocked(cmd, args, options);
  };
  return calls;
}

export const callsOf = (calls: Call[], cmd: string) => calls.filter((c) => c.cmd === cmd);

export const info = (over: Partial<AppInfo> = {}): AppInfo => ({
  set_up: true,
  locked: false,
  encrypted: true,
  idle_lock_secs: 600,
  unit: "Đồn Biên phòng Kiểng Phước",
  user: "Trung úy Đặng Văn Hải",
  device_id: "dev-kp-01",
  enrolled: true,
  relay: "https://relay.bdbp-tiengiang.vn:8443",
  hq: false,
  lang: "vi",
  ...over,
});

export const units = [
  { id: "unit:HQ", name: "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", code: "HQ", kind: "hq", parent: null },
  { id: "unit:TT", name: "Đồn Biên phòng Tân Thành", code: "TT", kind: "station", parent: "Bộ Chỉ huy BĐBP tỉnh Tiền Giang" },
  { id: "unit:KP", name: "Đồn Biên phòng Kiểng Phước", code: "KP", kind: "station", parent: "Bộ Chỉ huy BĐBP tỉnh Tiền Giang" },
];

/** Rejects like a Tauri command error does: the `{kind, message, problems}` object itself. */
export const fail = (e: unknown) => () => {
  throw e;
};
