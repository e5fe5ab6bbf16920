import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/svelte";
import TrackMap from "../../src/lib/map/TrackMap.svelte";

afterEach(async () => {
  cleanup();
  await new Promise((r) => setTimeout(r, 0));
});

describe("TrackMap", () => {
  it("draws land, the track, start/end markers, inspections and a scale bar", () => {
    render(TrackMap, {
      track: [
        [10.284187, 106.778869, 1735687181],
        [10.29, 106.8, 1735688000],
        [10.3, 106.82, 1735690000],
      ],
      points: [[10.286066, 106.806022]],
      label: "Hành trình tuần tra Đồn Biên phòng Tân Thành",
    });
    const svg = screen.getByTestId("track-map");
    expect(svg.getAttribute("aria-label")).toBe("Hành trình tuần tra Đồn Biên phòng Tân Thành");
    expect(screen.getAllByTestId("track-map-land").length).toBeGreaterThan(0);
    expect(screen.getByTestId("track-map-track").getAttribute("points")!.split(" ")).toHaveLength(3);
    expect(screen.getByTestId("track-map-start")).toBeTruthy();
    expect(screen.getByTestId("track-map-end")).toBeTruthy();
    expect(screen.getAllByTestId("track-map-point")).toHaveLength(1);
    expect(screen.getByTestId("track-map-scale").textContent).toMatch(/\d+ k?m/);
  });

  it("shows the whole region with no track", () => {
    render(TrackMap, {});
    expect(screen.queryByTestId("track-map-track")).toBeNull();
    expect(screen.queryByTestId("track-map-start")).toBeNull();
    expect(screen.getByTestId("track-map-scale").textContent).toMatch(/km/);
  });
});
