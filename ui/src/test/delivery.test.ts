import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/svelte";
import DeliveryBadge from "../lib/DeliveryBadge.svelte";
import { lang } from "../lib/i18n";

describe("delivery badge", () => {
  it.each([
    ["saved_here", "Đã lưu trên máy", 1],
    ["at_relay", "Đã tới máy chủ", 2],
    ["received_by_hq", "Chỉ huy đã nhận", 3],
  ] as const)("stage %s shows %s with the steps reached", (stage, text, reached) => {
    render(DeliveryBadge, { stage });
    const badge = screen.getByTestId("delivery-badge");
    expect(badge.dataset.stage).toBe(stage);
    expect(badge.querySelector(".current")!.textContent).toContain(text);
    expect(badge.querySelectorAll(".done")).toHaveLength(reached);
  });

  it("shows the current stage only when compact, in English too", () => {
    lang.set("en");
    render(DeliveryBadge, { stage: "at_relay", compact: true });
    const badge = screen.getByTestId("delivery-badge");
    expect(badge.textContent!.trim()).toBe("Reached the relay");
  });
});
