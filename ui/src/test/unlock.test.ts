import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { emit } from "@tauri-apps/api/event";
import App from "../App.svelte";
import { callsOf, fakeBackend, info } from "./backend";

/** What `app_info` says while the store is locked: nothing but that. */
const locked = info({
  locked: true,
  unit: null,
  user: null,
  device_id: null,
  enrolled: false,
  relay: null,
  hq: false,
});

const PASS = "Biển đảo Tổ quốc 2025";
const UNIT = "Đồn Biên phòng Kiểng Phước";

/** A promise and its resolvers, to hold a command's answer back. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function typeAndSubmit(p: string) {
  await fireEvent.input(screen.getByTestId("unlock-passphrase"), { target: { value: p } });
  await fireEvent.click(screen.getByTestId("unlock-submit"));
}

describe("unlock screen", () => {
  it("starts locked with nothing of the store on screen, shows busy while unlocking, then the app", async () => {
    const answer = deferred<unknown>();
    const calls = fakeBackend({ app_info: () => locked, unlock: () => answer.promise });
    render(App);
    const input = (await screen.findByTestId("unlock-passphrase")) as HTMLInputElement;
    expect(input.type).toBe("password");
    expect(document.activeElement).toBe(input);
    expect(screen.getByTestId("unlock-submit").textContent).toContain("Mở khóa");
    expect(document.body.textContent).toContain("Ứng dụng đang khóa");
    expect(screen.queryByTestId("nav-patrols")).toBeNull();
    expect(screen.queryByTestId("sync-bar")).toBeNull();
    // Only the question "locked?" reached the shell: no records, units or conflicts.
    expect(calls.map((c) => c.cmd)).toEqual(["app_info"]);

    await typeAndSubmit(PASS);
    const button = screen.getByTestId("unlock-submit") as HTMLButtonElement;
    await waitFor(() => expect(button.textContent).toContain("Đang mở khóa…"));
    expect(button.disabled).toBe(true);
    expect(screen.getByTestId("unlock-screen").querySelector("form")?.getAttribute("aria-busy")).toBe("true");
    // A second press while busy does not ask again.
    await fireEvent.submit(button.closest("form") as HTMLFormElement);
    expect(callsOf(calls, "unlock")).toHaveLength(1);
    expect(callsOf(calls, "unlock")[0].args).toEqual({ passphrase: PASS });

    answer.resolve(info({ lang: "en" }));
    await screen.findByTestId("nav-patrols");
    expect(screen.queryByTestId("unlock-screen")).toBeNull();
    // The stored language applies once the store is open.
    await waitFor(() => expect(screen.getByTestId("nav-patrols").textContent).toContain("Patrols"));
    expect(document.body.textContent).toContain(UNIT);
  });

  it("says the passphrase is wrong, in Vietnamese, and keeps the field focused and empty", async () => {
    let n = 0;
    const calls = fakeBackend({
      app_info: () => locked,
      unlock: () => {
        n += 1;
        if (n === 1) {
          throw {
            kind: "wrong_passphrase",
            message: "Sai mật khẩu: kho dữ liệu chưa được mở, không có gì thay đổi. (wrong passphrase…)",
          };
        }
        return info();
      },
    });
    render(App);
    await screen.findByTestId("unlock-passphrase");
    await typeAndSubmit("Biển đảo Tổ quốc 2024");

    const err = await screen.findByTestId("unlock-error");
    expect(err.textContent).toContain("Sai mật khẩu");
    expect(err.getAttribute("role")).toBe("alert");
    const input = screen.getByTestId("unlock-passphrase") as HTMLInputElement;
    await waitFor(() => expect(document.activeElement).toBe(input));
    expect(input.value).toBe("");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect((screen.getByTestId("unlock-submit") as HTMLButtonElement).disabled).toBe(false);
    expect(screen.queryByTestId("nav-patrols")).toBeNull();

    // Typing again clears the message; the right passphrase opens the app.
    await fireEvent.input(input, { target: { value: "B" } });
    expect(screen.queryByTestId("unlock-error")).toBeNull();
    await typeAndSubmit(PASS);
    await screen.findByTestId("nav-patrols");
    expect(callsOf(calls, "unlock").map((c) => c.args.passphrase)).toEqual(["Biển đảo Tổ quốc 2024", PASS]);
  });

  it("asks for a passphrase before calling the shell", async () => {
    const calls = fakeBackend({ app_info: () => locked });
    render(App);
    await screen.findByTestId("unlock-passphrase");
    await fireEvent.click(screen.getByTestId("unlock-submit"));
    expect((await screen.findByTestId("unlock-error")).textContent).toContain("Hãy nhập mật khẩu.");
    expect(callsOf(calls, "unlock")).toHaveLength(0);
  });

  it("switches its own language without touching the locked store", async () => {
    const calls = fakeBackend({ app_info: () => locked });
    render(App);
    await screen.findByTestId("unlock-passphrase");
    await fireEvent.click(screen.getByTestId("unlock-lang"));
    await waitFor(() => expect(screen.getByTestId("unlock-submit").textContent).toContain("Unlock"));
    expect(document.body.textContent).toContain("The app is locked");
    expect(callsOf(calls, "set_lang")).toHaveLength(0);
  });

  it("shows the unlock screen when the backend's idle lock fires, and forgets what it showed", async () => {
    fakeBackend({ app_info: () => info(), unlock: () => info() });
    render(App);
    await screen.findByTestId("nav-patrols");
    expect(document.body.textContent).toContain(UNIT);

    await emit("locked");
    await screen.findByTestId("unlock-screen");
    expect(screen.getByTestId("unlock-idle").textContent).toContain("tự khóa");
    expect(screen.queryByTestId("nav-patrols")).toBeNull();
    expect(document.body.textContent).not.toContain(UNIT);
    expect(document.body.textContent).not.toContain("Trung úy Đặng Văn Hải");

    await typeAndSubmit(PASS);
    await screen.findByTestId("nav-patrols");
  });

  it("locks from the header's Khóa button", async () => {
    const calls = fakeBackend({ app_info: () => info(), lock: () => locked });
    render(App);
    const button = await screen.findByTestId("lock-button");
    expect(button.textContent).toContain("Khóa");
    await fireEvent.click(button);
    await screen.findByTestId("unlock-screen");
    expect(callsOf(calls, "lock")).toHaveLength(1);
    expect(screen.queryByTestId("unlock-idle")).toBeNull();
  });

  it("has no Khóa button on an unencrypted store", async () => {
    fakeBackend({ app_info: () => info({ encrypted: false }) });
    render(App);
    await screen.findByTestId("nav-patrols");
    expect(screen.queryByTestId("lock-button")).toBeNull();
  });

  it("shows the unlock screen when a command finds the store locked", async () => {
    fakeBackend({
      app_info: () => info(),
      list_records: () => {
        throw { kind: "locked", message: "Kho dữ liệu đã được mã hóa…" };
      },
    });
    render(App);
    await screen.findByTestId("unlock-screen");
  });

  it("pings the shell on pointer and key activity, at most once per 15 s", async () => {
    const calls = fakeBackend({ app_info: () => info() });
    render(App);
    await screen.findByTestId("nav-patrols");
    await fireEvent.pointerDown(window);
    await fireEvent.keyDown(window, { key: "a" });
    await fireEvent.pointerMove(document.body);
    expect(callsOf(calls, "activity")).toHaveLength(1);
  });

  it("does not ping while locked", async () => {
    const calls = fakeBackend({ app_info: () => locked });
    render(App);
    await screen.findByTestId("unlock-passphrase");
    await fireEvent.keyDown(window, { key: "a" });
    await fireEvent.pointerDown(window);
    expect(callsOf(calls, "activity")).toHaveLength(0);
  });
});
