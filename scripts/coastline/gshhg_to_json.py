#!/usr/bin/env python3
"""Builds ui/src/lib/map/coastline.json from GSHHG "high" (Debian package gmt-gshhg-high).

The Debian package ships GMT's *binned* netCDF-4 file (binned_GSHHS_h.nc): shorelines cut into
2°×2° bins, each piece a segment with its level (1 land, 2 lake or river-lake, 3 island in a
lake, 4 pond) and the bin sides it enters and leaves by. This script takes the bins around the
Mekong delta, joins segments back into chains, closes chains that leave the block along the block
border (GSHHG rings keep their interior on one side, checked on closed rings), clips the rings to
the map box, simplifies them and writes [lon, lat] rings. All rings go into one polygon drawn with
the even-odd rule, so lakes and river-lakes come out as water inside the land.

Run by hand (not in CI); see README.md here. Needs h5py + numpy (pip, in a venv).
"""
import argparse
import json
import math
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "ui", "src", "lib", "map", "coastline.json")
BOX = (105.5, 9.5, 107.5, 11.0)  # min lon, min lat, max lon, max lat


def load_segments(path, box):
    f = h5py.File(path, "r")
    bin_size = int(f["Bin_size_in_minutes"][0]) / 60.0
    nx = int(f["N_bins_in_360_longitude_range"][0])
    scale = bin_size / 65535.0
    first_seg = f["Id_of_first_segment_in_a_bin"][:]
    nsegs = f["N_segments_in_a_bin"][:]
    info = f["Embedded_npts_levels_exit_entry_for_a_segment"][:]
    first_pt = f["Id_of_first_point_in_a_segment"][:]
    dx = f["Relative_longitude_from_SW_corner_of_bin"][:].astype(np.uint16)
    dy = f["Relative_latitude_from_SW_corner_of_bin"][:].astype(np.uint16)

    c0 = int(math.floor(box[0] / bin_size))
    c1 = int(math.floor((box[2] - 1e-9) / bin_size))
    rows = [int(math.floor((90 - lat) / bin_size)) for lat in (box[1], box[3] - 1e-9)]
    r0, r1 = min(rows), max(rows)
    # block of whole bins covering the box
    block = (c0 * bin_size, 90 - (r1 + 1) * bin_size, (c1 + 1) * bin_size, 90 - r0 * bin_size)
    segs = []
    for row in range(r0, r1 + 1):
        for col in range(c0, c1 + 1):
            b = row * nx + col
            lon_sw = col * bin_size
            lat_sw = 90 - (row + 1) * bin_size
            for s in range(int(first_seg[b]), int(first_seg[b]) + int(nsegs[b])):
                i = int(info[s])
                n = i >> 9
                level = (i >> 6) & 7
                p = int(first_pt[s])
                lon = lon_sw + dx[p : p + n] * scale
                lat = lat_sw + dy[p : p + n] * scale
                segs.append((level, list(zip(lon.tolist(), lat.tolist()))))
    return segs, block


def key(p):
    return (round(p[0] * 1e5), round(p[1] * 1e5))


def join(segs):
    """Joins segments of one level end-to-start into chains; returns (closed rings, open chains)."""
    pending = [list(s) for s in segs if len(s) >= 2]
    by_start = {}
    for i, s in enumerate(pending):
        by_start.setdefault(key(s[0]), []).append(i)
    used = [False] * len(pending)
    rings, chains = [], []
    for i in range(len(pending)):
        if used[i]:
            continue
        used[i] = True
        chain = list(pending[i])
        while True:
            if key(chain[-1]) == key(chain[0]) and len(chain) > 3:
                break
            nxt = [j for j in by_start.get(key(chain[-1]), []) if not used[j]]
            if not nxt:
                break
            j = nxt[0]
            used[j] = True
            chain.extend(pending[j][1:])
        if key(chain[-1]) == key(chain[0]) and len(chain) > 3:
            rings.append(chain[:-1])
        else:
            chains.append(chain)
    # chains that end where another chain starts (joined in the wrong order above)
    merged = True
    while merged:
        merged = False
        for a in range(len(chains)):
            for b in range(len(chains)):
                if a != b and chains[a] and chains[b] and key(chains[a][-1]) == key(chains[b][0]):
                    chains[a] = chains[a] + chains[b][1:]
                    chains[b] = []
                    merged = True
        chains = [c for c in chains if c]
        for c in list(chains):
            if key(c[-1]) == key(c[0]) and len(c) > 3:
                rings.append(c[:-1])
                chains.remove(c)
    return rings, chains


def signed_area(r):
    s = 0.0
    for i in range(len(r)):
        x1, y1 = r[i]
        x2, y2 = r[(i + 1) % len(r)]
        s += x1 * y2 - x2 * y1
    return s / 2


def border_t(p, block):
    """Position along the block border, counter-clockwise from the SW corner, in [0, 4)."""
    x0, y0, x1, y1 = block
    x, y = p
    eps = 1e-6
    if abs(y - y0) < eps:
        return (x - x0) / (x1 - x0)
    if abs(x - x1) < eps:
        return 1 + (y - y0) / (y1 - y0)
    if abs(y - y1) < eps:
        return 2 + (x1 - x) / (x1 - x0)
    if abs(x - x0) < eps:
        return 3 + (y1 - y) / (y1 - y0)
    return None


def corner(k, block):
    x0, y0, x1, y1 = block
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)][k % 4]


def close_chains(chains, block):
    """Closes open chains (interior on the left) counter-clockwise along the block border."""
    chains = [c for c in chains if border_t(c[0], block) is not None and border_t(c[-1], block) is not None]
    dropped = 0
    rings = []
    left = list(range(len(chains)))
    while left:
        start = left.pop(0)
        ring = list(chains[start])
        cur = start
        for _ in range(len(chains) + 1):
            te = border_t(chains[cur][-1], block)
            # next chain start counter-clockwise from te (possibly the first chain of the ring)
            cands = [(((border_t(chains[j][0], block) - te) % 4), j) for j in left + [start]]
            d, j = min(cands)
            # corners passed on the way
            k = math.floor(te) + 1
            while k <= te + d:
                ring.append(corner(k, block))
                k += 1
            if j == start:
                break
            left.remove(j)
            ring.extend(chains[j])
            cur = j
        rings.append(ring)
    return rings, dropped


def clip_ring(ring, box):
    def clip(r, inside, cross):
        out = []
        for i in range(len(r)):
            a, b = r[i], r[(i + 1) % len(r)]
            ia, ib = inside(a), inside(b)
            if ia:
                out.append(a)
            if ia != ib:
                out.append(cross(a, b))
        return out

    def at_lon(a, b, x):
        return (x, a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0]))

    def at_lat(a, b, y):
        return (a[0] + (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]), y)

    r = ring
    r = clip(r, lambda p: p[0] >= box[0], lambda a, b: at_lon(a, b, box[0]))
    r = clip(r, lambda p: p[0] <= box[2], lambda a, b: at_lon(a, b, box[2])) if r else r
    r = clip(r, lambda p: p[1] >= box[1], lambda a, b: at_lat(a, b, box[1])) if r else r
    r = clip(r, lambda p: p[1] <= box[3], lambda a, b: at_lat(a, b, box[3])) if r else r
    return r


def dp(pts, tol):
    if len(pts) <= 2:
        return pts
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        s, e = stack.pop()
        (x1, y1), (x2, y2) = pts[s], pts[e]
        dx, dy = x2 - x1, y2 - y1
        l2 = dx * dx + dy * dy
        best, bd = -1, tol * tol
        for i in range(s + 1, e):
            x, y = pts[i]
            if l2 == 0:
                d = (x - x1) ** 2 + (y - y1) ** 2
            else:
                t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / l2))
                d = (x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2
            if d > bd:
                best, bd = i, d
        if best >= 0:
            keep[best] = True
            stack.append((s, best))
            stack.append((best, e))
    return [p for p, k in zip(pts, keep) if k]


def simplify_ring(r, tol):
    if len(r) < 4:
        return r
    far = max(range(len(r)), key=lambda i: (r[i][0] - r[0][0]) ** 2 + (r[i][1] - r[0][1]) ** 2)
    a = dp(r[: far + 1], tol)
    b = dp(r[far:] + [r[0]], tol)
    return a + b[1:-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("nc", nargs="?", default="/usr/share/gmt-gshhg/binned_GSHHS_h.nc")
    ap.add_argument("--tolerance", type=float, default=0.0001, help="Douglas–Peucker, degrees (~11 m)")
    ap.add_argument("--min-area", type=float, default=4e-6, help="drop rings smaller, deg²")
    ap.add_argument("--out", default=OUT)
    a = ap.parse_args()

    segs, block = load_segments(a.nc, BOX)
    all_rings = []
    for level in sorted({lv for lv, _ in segs}):
        rings, chains = join([s for lv, s in segs if lv == level])
        # GSHHG keeps each ring's interior on one side; find which from the closed ones
        areas = [signed_area(r) for r in rings]
        ccw = sum(1 for x in areas if x > 0) >= sum(1 for x in areas if x < 0) if areas else True
        if not ccw:
            chains = [list(reversed(c)) for c in chains]
        closed, _ = close_chains(chains, block)
        print(
            f"level {level}: {len(rings)} closed rings ({'ccw' if ccw else 'cw'}), "
            f"{len(chains)} open chains → {len(closed)} rings",
            file=sys.stderr,
        )
        all_rings += rings + closed

    out_rings = []
    pin = pout = 0
    for r in all_rings:
        pin += len(r)
        c = clip_ring(r, BOX)
        if len(c) < 3:
            continue
        c = simplify_ring(c, a.tolerance)
        c = [[round(x, 4), round(y, 4)] for x, y in c]
        c = [p for i, p in enumerate(c) if i == 0 or p != c[i - 1]]
        if len(c) < 3 or abs(signed_area(c)) < a.min_area:
            continue
        pout += len(c)
        out_rings.append(c)
    out = {
        "source": "GSHHG 2.3.7 high resolution (Debian gmt-gshhg-high), binned_GSHHS_h.nc",
        "license": "GSHHG © Wessel & Smith, LGPL 3",
        "attribution": "GSHHG",
        "generator": "scripts/coastline/gshhg_to_json.py",
        "bbox": list(BOX),
        "tolerance_deg": a.tolerance,
        # one polygon of all rings (land, lakes, islands in lakes), drawn with fill-rule evenodd
        "land": [out_rings],
    }
    text = json.dumps(out, separators=(",", ":"), ensure_ascii=False)
    with open(a.out, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    print(f"{len(out_rings)} rings, {pin} → {pout} points, {len(text) / 1024:.1f} KB → {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
