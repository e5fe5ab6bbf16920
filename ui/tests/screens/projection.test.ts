import { describe, expect, it } from "vitest";
import {
  REGION,
  boundsOf,
  fitBounds,
  fitTrack,
  landPaths,
  project,
  scaleBar,
  unproject,
} from "../../src/lib/map/projection";
import coastline from "../../src/lib/map/coastline.json";

// Đồn Biên phòng Tân Thành, a short patrol off Gò Công Đông
const track: [number, number, number][] = [
  [10.284187, 106.778869, 1735687181],
  [10.284426, 106.779617, 1735687229],
  [10.3, 106.82, 1735690000],
];
const inspections: [number, number][] = [[10.286066, 106.806022]];

describe("projection", () => {
  it("bounds of a track and points", () => {
    const b = boundsOf([...track, ...inspections])!;
    expect(b.minLat).toBeCloseTo(10.284187);
    expect(b.maxLat).toBeCloseTo(10.3);
    expect(b.minLon).toBeCloseTo(106.778869);
    expect(b.maxLon).toBeCloseTo(106.82);
    expect(boundsOf([])).toBeNull();
  });

  it("fits the track inside the viewport with the margin", () => {
    const v = fitTrack(track, inspections, 600, 400, 0.1);
    for (const [lat, lon] of [...track, ...inspections]) {
      const [x, y] = project(v, lat, lon);
      expect(x).toBeGreaterThanOrEqual(60 - 1e-6);
      expect(x).toBeLessThanOrEqual(540 + 1e-6);
      expect(y).toBeGreaterThanOrEqual(40 - 1e-6);
      expect(y).toBeLessThanOrEqual(360 + 1e-6);
    }
    // the limiting dimension touches the margin on both sides
    const xs = [...track, ...inspections].map(([la, lo]) => project(v, la, lo)[0]);
    expect(Math.max(...xs) - Math.min(...xs)).toBeCloseTo(480, 3);
    // north is up
    expect(project(v, 10.3, 106.8)[1]).toBeLessThan(project(v, 10.28, 106.8)[1]);
  });

  it("keeps distances isotropic at 10° N (longitude scaled by cos lat)", () => {
    const v = fitBounds({ minLat: 10, maxLat: 10.1, minLon: 106.7, maxLon: 106.8 }, 500, 500, 0);
    const [x0, y0] = project(v, 10.05, 106.75);
    const [x1] = project(v, 10.05, 106.76);
    const [, y1] = project(v, 10.06, 106.75);
    expect((x1 - x0) / (y0 - y1)).toBeCloseTo(Math.cos((10.05 * Math.PI) / 180), 6);
  });

  it("unproject inverts project", () => {
    const v = fitTrack(track, [], 800, 600);
    const [x, y] = project(v, 10.29, 106.8);
    const [lat, lon] = unproject(v, x, y);
    expect(lat).toBeCloseTo(10.29, 9);
    expect(lon).toBeCloseTo(106.8, 9);
  });

  it("shows the whole region when there is no track", () => {
    const v = fitTrack([], [], 640, 420);
    const [x1, y1] = project(v, REGION.minLat, REGION.minLon);
    const [x2, y2] = project(v, REGION.maxLat, REGION.maxLon);
    expect(Math.min(x1, x2)).toBeGreaterThanOrEqual(-1e-6);
    expect(Math.max(x1, x2)).toBeLessThanOrEqual(640 + 1e-6);
    expect(Math.min(y1, y2)).toBeGreaterThanOrEqual(-1e-6);
    expect(Math.max(y1, y2)).toBeLessThanOrEqual(420 + 1e-6);
  });

  it("widens a single point to a minimum span instead of dividing by zero", () => {
    const v = fitTrack([[10.28, 106.78, 0]], [], 400, 400);
    expect(Number.isFinite(v.k)).toBe(true);
    expect(project(v, 10.28, 106.78)).toEqual([200, 200]);
  });

  it("scale bar has a round length no longer than asked", () => {
    const v = fitTrack(track, inspections, 600, 400);
    const bar = scaleBar(v, 120);
    expect(bar.px).toBeLessThanOrEqual(120);
    expect(bar.px).toBeGreaterThan(24);
    expect(String(bar.meters)).toMatch(/^[125]0*$/);
    expect(bar.label).toMatch(/^\d+(\.\d+)? k?m$/);
    const region = scaleBar(fitTrack([], [], 640, 420), 140);
    expect(region.label).toMatch(/km$/);
  });

  it("coastline data is small, in the box, and projects to path data", () => {
    expect(JSON.stringify(coastline).length).toBeLessThan(300 * 1024);
    expect(coastline.land.length).toBeGreaterThan(0);
    for (const poly of coastline.land)
      for (const ring of poly)
        for (const [lon, lat] of ring) {
          expect(lon).toBeGreaterThanOrEqual(105.5 - 1e-9);
          expect(lon).toBeLessThanOrEqual(107.5 + 1e-9);
          expect(lat).toBeGreaterThanOrEqual(9.5 - 1e-9);
          expect(lat).toBeLessThanOrEqual(11 + 1e-9);
        }
    const paths = landPaths(fitTrack([], [], 640, 420), coastline.land as number[][][][]);
    expect(paths[0]).toMatch(/^M[\d.-]+,[\d.-]+L/);
  });
});
