import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../App.svelte";
import { registerMessages, t } from "../lib/i18n";
import { callsOf, fakeBackend, info } from "./backend";

describe("app shell and language", () => {
  it("starts in Vietnamese and switches to English, storing the choice", async () => {
    const calls = fakeBackend({ app_info: () => info(), set_lang: () => null });
    render(App);
    const nav = await screen.findByTestId("nav-patrols");
    expect(nav.textContent).toContain("Tuần tra");
    expect(screen.getByTestId("nav-conflicts").textContent).toContain("Xung đột");
    expect(screen.queryByTestId("nav-dashboard")).toBeNull();

    await fireEvent.click(screen.getByTestId("lang-switch"));
    await waitFor(() => expect(screen.getByTestId("nav-patrols").textContent).toContain("Patrols"));
    expect(screen.getByTestId("nav-plan").textContent).toContain("Coordination plan");
    expect(callsOf(calls, "set_lang")[0].args).toEqual({ lang: "en" });
  });

  it("takes the language from AppInfo, shows Tổng hợp for HQ and the conflict count", async () => {
    fakeBackend({
      app_info: () => info({ hq: true, lang: "en" }),
      list_conflicts: () => [{ id: "a", conflicts: [] }, { id: "b", conflicts: [] }],
    });
    render(App);
    await waitFor(() => expect(screen.getByTestId("nav-dashboard").textContent).toContain("Dashboard"));
    await waitFor(() => expect(screen.getByTestId("conflict-count").textContent).toBe("2"));
  });

  it("routes by hash to the conflicts inbox", async () => {
    location.hash = "#/conflicts";
    fakeBackend({ app_info: () => info() });
    render(App);
    await screen.findByTestId("conflicts-empty");
    expect(screen.getByTestId("nav-conflicts").getAttribute("aria-current")).toBe("page");
  });

  it("lets screens register their own labels", () => {
    registerMessages({ vi: { "x.hello": "Xin chào {name}" }, en: { "x.hello": "Hello {name}" } });
    expect(t("x.hello", { name: "Đồn Tân Thành" })).toBe("Xin chào Đồn Tân Thành");
    expect(t("x.missing")).toBe("x.missing");
  });
});
