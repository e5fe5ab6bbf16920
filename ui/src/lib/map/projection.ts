// Pure map maths for TrackMap: a local equirectangular projection (longitude scaled by the
// cosine of the centre latitude, so distances look right at 10° N), fitting bounds into a
// viewport with a margin, and a scale bar of a round length. No DOM, no network.

export type LatLon = [number, number];

/** lat/lon bounds */
export interface Bounds {
  minLat: number;
  minLon: number;
  maxLat: number;
  maxLon: number;
}

/** The region the basemap covers (coastline.json bbox): Mekong delta / Tiền Giang. */
export const REGION: Bounds = { minLat: 9.5, minLon: 105.5, maxLat: 11.0, maxLon: 107.5 };

export interface View {
  width: number;
  height: number;
  /** pixels per degree of latitude */
  k: number;
  /** cos(centre latitude): longitude degrees are this much shorter than latitude degrees */
  cosLat: number;
  centerLat: number;
  centerLon: number;
}

const METERS_PER_DEG_LAT = 111_320;

/** Bounds of the given points, or null when there are none. */
export function boundsOf(points: readonly (readonly [number, number, ...unknown[]])[]): Bounds | null {
  let b: Bounds | null = null;
  for (const p of points) {
    const lat = p[0];
    const lon = p[1];
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) continue;
    if (!b) b = { minLat: lat, maxLat: lat, minLon: lon, maxLon: lon };
    else {
      b.minLat = Math.min(b.minLat, lat);
      b.maxLat = Math.max(b.maxLat, lat);
      b.minLon = Math.min(b.minLon, lon);
      b.maxLon = Math.max(b.maxLon, lon);
    }
  }
  return b;
}

/**
 * A view that shows `bounds` centred in a `width`×`height` viewport, leaving `margin` (a fraction
 * of each side, e.g. 0.1) free around it. Bounds smaller than `minSpanDeg` (a single point, a
 * short track) are widened to it so the map does not zoom in to nothing.
 */
export function fitBounds(
  bounds: Bounds,
  width: number,
  height: number,
  margin = 0.1,
  minSpanDeg = 0.01,
): View {
  const centerLat = (bounds.minLat + bounds.maxLat) / 2;
  const centerLon = (bounds.minLon + bounds.maxLon) / 2;
  const cosLat = Math.cos((centerLat * Math.PI) / 180);
  const spanLat = Math.max(bounds.maxLat - bounds.minLat, minSpanDeg);
  const spanLon = Math.max(bounds.maxLon - bounds.minLon, minSpanDeg / cosLat);
  const innerW = width * (1 - 2 * margin);
  const innerH = height * (1 - 2 * margin);
  const k = Math.min(innerW / (spanLon * cosLat), innerH / spanLat);
  return { width, height, k, cosLat, centerLat, centerLon };
}

/** The view for a track and inspection points: fitted to them, or the whole region when empty. */
export function fitTrack(
  track: readonly [number, number, number][],
  points: readonly [number, number][],
  width: number,
  height: number,
  margin = 0.1,
): View {
  const b = boundsOf([...track, ...points]);
  return b ? fitBounds(b, width, height, margin) : fitBounds(REGION, width, height, 0);
}

/** Screen position [x, y] (y down) of a latitude/longitude. */
export function project(view: View, lat: number, lon: number): [number, number] {
  const x = view.width / 2 + (lon - view.centerLon) * view.cosLat * view.k;
  const y = view.height / 2 - (lat - view.centerLat) * view.k;
  return [x, y];
}

/** The latitude/longitude at a screen position. */
export function unproject(view: View, x: number, y: number): LatLon {
  const lat = view.centerLat - (y - view.height / 2) / view.k;
  const lon = view.centerLon + (x - view.width / 2) / (view.cosLat * view.k);
  return [lat, lon];
}

/** Metres per pixel at the view's centre. */
export function metersPerPixel(view: View): number {
  return METERS_PER_DEG_LAT / view.k;
}

/** A scale bar of a round length (1, 2 or 5 × 10ⁿ m) no longer than `maxPx` pixels. */
export function scaleBar(view: View, maxPx = 120): { meters: number; px: number; label: string } {
  const mpp = metersPerPixel(view);
  const maxM = mpp * maxPx;
  const pow = Math.pow(10, Math.floor(Math.log10(maxM)));
  let meters = pow;
  for (const m of [5, 2, 1]) {
    if (m * pow <= maxM) {
      meters = m * pow;
      break;
    }
  }
  const label = meters >= 1000 ? `${meters / 1000} km` : `${meters} m`;
  return { meters, px: meters / mpp, label };
}

/** SVG path data for polygons of [lon, lat] rings (coastline.json `land`), one string per polygon. */
export function landPaths(view: View, land: readonly (readonly (readonly number[])[])[][]): string[] {
  return land.map((rings) =>
    rings
      .map(
        (ring) =>
          "M" +
          ring
            .map((p) => {
              const [x, y] = project(view, p[1], p[0]);
              return `${x.toFixed(1)},${y.toFixed(1)}`;
            })
            .join("L") +
          "Z",
      )
      .join(""),
  );
}

/** SVG `points` attribute for a polyline of [lat, lon, …] points. */
export function polylinePoints(view: View, pts: readonly (readonly [number, number, ...unknown[]])[]): string {
  return pts
    .map((p) => {
      const [x, y] = project(view, p[0], p[1]);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}
