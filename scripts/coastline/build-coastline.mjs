#!/usr/bin/env node
// Builds the offline basemap of the Mekong delta / Tiền Giang coast: ui/src/lib/map/coastline.json.
//
// Run by hand (not in CI); see scripts/coastline/README.md. Source: the npm package
// @geo-maps/countries-coastline-1m (OpenStreetMap coastline, ODbL), a 107 MB GeoJSON of land
// polygons. The land polygons inside the box are clipped to it, simplified (Douglas–Peucker) and
// rounded, and written as [lon, lat] rings.
//
//   node scripts/coastline/build-coastline.mjs [path/to/map.geo.json] [--tolerance 0.0001]

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const OUT = join(repo, "ui/src/lib/map/coastline.json");

// Clip box: lon 105.5–107.5 E, lat 9.5–11.0 N.
const BOX = { minLon: 105.5, minLat: 9.5, maxLon: 107.5, maxLat: 11.0 };
const DECIMALS = 4; // ~11 m

const args = process.argv.slice(2);
let tolerance = 0.0001; // degrees, ~11 m (the source is already coarse here)
let minArea = 2e-6; // square degrees (~0.025 km²): drop specks
let src = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--tolerance") tolerance = Number(args[++i]);
  else if (args[i] === "--min-area") minArea = Number(args[++i]);
  else src = args[i];
}
if (!src) {
  try {
    const req = createRequire(join(here, "package.json"));
    src = req.resolve("@geo-maps/countries-coastline-1m/map.geo.json");
  } catch {
    console.error(
      "usage: node build-coastline.mjs path/to/map.geo.json\n" +
        "(npm pack @geo-maps/countries-coastline-1m && tar xzf *.tgz gives package/map.geo.json)",
    );
    process.exit(2);
  }
}

/** Sutherland–Hodgman clip of a closed ring against one edge. */
function clipEdge(ring, inside, cross) {
  const out = [];
  for (let i = 0; i < ring.length; i++) {
    const a = ring[i];
    const b = ring[(i + 1) % ring.length];
    const ia = inside(a);
    const ib = inside(b);
    if (ia) out.push(a);
    if (ia !== ib) out.push(cross(a, b));
  }
  return out;
}

export function clipRing(ring, box = BOX) {
  const atLon = (a, b, lon) => [lon, a[1] + ((b[1] - a[1]) * (lon - a[0])) / (b[0] - a[0])];
  const atLat = (a, b, lat) => [a[0] + ((b[0] - a[0]) * (lat - a[1])) / (b[1] - a[1]), lat];
  let r = ring;
  if (r.length > 1 && r[0][0] === r[r.length - 1][0] && r[0][1] === r[r.length - 1][1]) r = r.slice(0, -1);
  r = clipEdge(r, (p) => p[0] >= box.minLon, (a, b) => atLon(a, b, box.minLon));
  r = clipEdge(r, (p) => p[0] <= box.maxLon, (a, b) => atLon(a, b, box.maxLon));
  r = clipEdge(r, (p) => p[1] >= box.minLat, (a, b) => atLat(a, b, box.minLat));
  r = clipEdge(r, (p) => p[1] <= box.maxLat, (a, b) => atLat(a, b, box.maxLat));
  return r;
}

/** Douglas–Peucker on an open polyline (iterative). */
function simplifyLine(pts, tol) {
  if (pts.length <= 2) return pts;
  const keep = new Uint8Array(pts.length);
  keep[0] = keep[pts.length - 1] = 1;
  const stack = [[0, pts.length - 1]];
  const tol2 = tol * tol;
  while (stack.length) {
    const [s, e] = stack.pop();
    const [x1, y1] = pts[s];
    const [x2, y2] = pts[e];
    const dx = x2 - x1;
    const dy = y2 - y1;
    const len2 = dx * dx + dy * dy;
    let best = -1;
    let bestD = tol2;
    for (let i = s + 1; i < e; i++) {
      const [x, y] = pts[i];
      let d;
      if (len2 === 0) d = (x - x1) ** 2 + (y - y1) ** 2;
      else {
        const t = Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / len2));
        d = (x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2;
      }
      if (d > bestD) {
        bestD = d;
        best = i;
      }
    }
    if (best >= 0) {
      keep[best] = 1;
      stack.push([s, best], [best, e]);
    }
  }
  return pts.filter((_, i) => keep[i]);
}

/** Simplifies a closed ring: split at the point farthest from the first so DP has two anchors. */
function simplifyRing(ring, tol) {
  if (ring.length < 4) return ring;
  let far = 0;
  let farD = -1;
  for (let i = 1; i < ring.length; i++) {
    const d = (ring[i][0] - ring[0][0]) ** 2 + (ring[i][1] - ring[0][1]) ** 2;
    if (d > farD) {
      farD = d;
      far = i;
    }
  }
  const a = simplifyLine(ring.slice(0, far + 1), tol);
  const b = simplifyLine([...ring.slice(far), ring[0]], tol);
  return [...a, ...b.slice(1, -1)];
}

function area(ring) {
  let s = 0;
  for (let i = 0; i < ring.length; i++) {
    const [x1, y1] = ring[i];
    const [x2, y2] = ring[(i + 1) % ring.length];
    s += x1 * y2 - x2 * y1;
  }
  return s / 2;
}

function ringBoxOverlaps(ring) {
  let minLon = Infinity, minLat = Infinity, maxLon = -Infinity, maxLat = -Infinity;
  for (const [lon, lat] of ring) {
    if (lon < minLon) minLon = lon;
    if (lon > maxLon) maxLon = lon;
    if (lat < minLat) minLat = lat;
    if (lat > maxLat) maxLat = lat;
  }
  return !(maxLon < BOX.minLon || minLon > BOX.maxLon || maxLat < BOX.minLat || minLat > BOX.maxLat);
}

const round = (v) => Number(v.toFixed(DECIMALS));

function main() {
  console.error(`reading ${src}`);
  const gj = JSON.parse(readFileSync(src, "utf8"));
  const land = [];
  let pointsIn = 0;
  let pointsOut = 0;
  for (const f of gj.features) {
    const g = f.geometry;
    if (!g) continue;
    const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    for (const poly of polys) {
      if (!poly.length || !ringBoxOverlaps(poly[0])) continue;
      const rings = [];
      for (const ring of poly) {
        if (!ringBoxOverlaps(ring)) continue;
        pointsIn += ring.length;
        let r = clipRing(ring);
        if (r.length < 3) continue;
        r = simplifyRing(r, tolerance).map(([x, y]) => [round(x), round(y)]);
        r = r.filter((p, i) => i === 0 || p[0] !== r[i - 1][0] || p[1] !== r[i - 1][1]);
        if (r.length < 3 || Math.abs(area(r)) < minArea) continue;
        pointsOut += r.length;
        rings.push(r);
      }
      if (rings.length) land.push(rings);
    }
  }
  const out = {
    source: "OpenStreetMap coastline via @geo-maps/countries-coastline-1m 0.6.0",
    license: "© OpenStreetMap contributors, ODbL 1.0",
    attribution: "© OpenStreetMap",
    generator: "scripts/coastline/build-coastline.mjs",
    bbox: [BOX.minLon, BOX.minLat, BOX.maxLon, BOX.maxLat],
    tolerance_deg: tolerance,
    // land: polygons, each a list of rings (outer first, then holes) of [lon, lat]
    land,
  };
  const text = JSON.stringify(out);
  writeFileSync(OUT, text + "\n");
  console.error(
    `${land.length} polygons, ${pointsIn} → ${pointsOut} points, ${(text.length / 1024).toFixed(1)} KB → ${OUT}`,
  );
}

main();
