//! Compact binary encoding of a track segment.
//!
//! # Format (version 1)
//!
//! ```text
//! version   : u8 = 1
//! count     : varint                      number of points
//! count × {
//!     d_lat  : zigzag varint              Δ latitude,  integer 1e-6 degrees
//!     d_lon  : zigzag varint              Δ longitude, integer 1e-6 degrees
//!     d_time : zigzag varint              Δ time, seconds
//! }
//! ```
//!
//! * Coordinates are converted to integer micro-degrees with round-to-nearest
//!   (`(deg * 1e6).round()`), so decoding yields the input rounded to 6 decimals
//!   (about 0.11 m of latitude).
//! * Each delta is taken from the previous point; the first point's delta is from
//!   `(0, 0, 0)`. Deltas use two's-complement wrapping arithmetic, so any `i64`
//!   sequence round-trips exactly.
//! * *zigzag* maps signed to unsigned: `0, -1, 1, -2, 2, …` → `0, 1, 2, 3, 4, …`.
//! * *varint* is unsigned LEB128: 7 bits per byte, least significant group first,
//!   high bit set on every byte but the last; at most 10 bytes for a `u64`.
//!
//! A point therefore needs at least 3 bytes; a 1 Hz track moving at road speed
//! typically takes 5 bytes per point.
//!
//! [`decode`] rejects: an unknown version, truncated input, a varint longer than
//! 10 bytes or above `u64::MAX`, a count that cannot fit in the remaining bytes,
//! trailing bytes after the last point, and decoded coordinates out of range.
//! [`encode`] does not validate: out-of-range or non-finite coordinates are
//! encoded as given (NaN as 0, infinities saturated) and then refused by
//! [`decode`].

use super::{TrackError, TrackPoint};

/// The version byte written by [`encode`] and the only one [`decode`] accepts.
pub const FORMAT_VERSION: u8 = 1;

/// Integer units per degree.
const MICRO: f64 = 1e6;
/// Longest valid varint for a `u64`.
const MAX_VARINT_LEN: usize = 10;
/// Smallest possible encoded point: three one-byte varints.
const MIN_POINT_LEN: usize = 3;
/// Latitude limit in micro-degrees.
const LAT_LIMIT: i64 = 90_000_000;
/// Longitude limit in micro-degrees.
const LON_LIMIT: i64 = 180_000_000;

/// Encodes a segment in the version-1 format described in the [module docs](self).
///
/// Latitude and longitude are rounded to the nearest 1e-6 degree.
pub fn encode(points: &[TrackPoint]) -> Vec<u8> {
    // 1 version byte + count varint + about 6 bytes per point in typical tracks.
    let mut out = Vec::with_capacity(1 + MAX_VARINT_LEN + points.len().saturating_mul(6));
    out.push(FORMAT_VERSION);
    write_varint(&mut out, points.len() as u64);
    let (mut prev_lat, mut prev_lon, mut prev_time) = (0i64, 0i64, 0i64);
    for p in points {
        let lat = to_micro(p.lat);
        let lon = to_micro(p.lon);
        write_varint(&mut out, zigzag(lat.wrapping_sub(prev_lat)));
        write_varint(&mut out, zigzag(lon.wrapping_sub(prev_lon)));
        write_varint(&mut out, zigzag(p.time.wrapping_sub(prev_time)));
        (prev_lat, prev_lon, prev_time) = (lat, lon, p.time);
    }
    out
}

/// Decodes a segment written by [`encode`].
///
/// # Errors
///
/// [`TrackError::Malformed`] for a wrong version, truncated input, varint
/// overflow, an impossible point count or trailing bytes;
/// [`TrackError::OutOfRange`] when a decoded point lies outside
/// `-90..=90` / `-180..=180` degrees.
pub fn decode(bytes: &[u8]) -> Result<Vec<TrackPoint>, TrackError> {
    let mut cur = Cursor { bytes, pos: 0 };
    if cur.read_u8()? != FORMAT_VERSION {
        return Err(TrackError::Malformed {
            offset: 0,
            reason: "unsupported format version",
        });
    }
    let count_offset = cur.pos;
    let count = cur.read_varint()?;
    // Every point takes at least MIN_POINT_LEN bytes, which bounds both the
    // plausible count and the allocation below by the input length.
    let max_points = cur.remaining() / MIN_POINT_LEN;
    let count = usize::try_from(count)
        .ok()
        .filter(|&c| c <= max_points)
        .ok_or(TrackError::Malformed {
            offset: count_offset,
            reason: "point count exceeds what the remaining bytes can hold",
        })?;

    let mut points = Vec::with_capacity(count);
    let (mut lat, mut lon, mut time) = (0i64, 0i64, 0i64);
    for index in 0..count {
        lat = lat.wrapping_add(unzigzag(cur.read_varint()?));
        lon = lon.wrapping_add(unzigzag(cur.read_varint()?));
        time = time.wrapping_add(unzigzag(cur.read_varint()?));
        if !(-LAT_LIMIT..=LAT_LIMIT).contains(&lat) || !(-LON_LIMIT..=LON_LIMIT).contains(&lon) {
            return Err(TrackError::OutOfRange { index });
        }
        points.push(TrackPoint {
            lat: lat as f64 / MICRO,
            lon: lon as f64 / MICRO,
            time,
        });
    }
    if cur.remaining() != 0 {
        return Err(TrackError::Malformed {
            offset: cur.pos,
            reason: "trailing bytes after the last point",
        });
    }
    Ok(points)
}

/// Degrees to integer micro-degrees, rounding to nearest (saturating; NaN → 0).
fn to_micro(deg: f64) -> i64 {
    (deg * MICRO).round() as i64
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bounds-checked reader over the encoded bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn read_u8(&mut self) -> Result<u8, TrackError> {
        let b = *self.bytes.get(self.pos).ok_or(TrackError::Malformed {
            offset: self.pos,
            reason: "truncated input",
        })?;
        self.pos += 1;
        Ok(b)
    }

    fn read_varint(&mut self) -> Result<u64, TrackError> {
        let start = self.pos;
        let mut value = 0u64;
        for i in 0..MAX_VARINT_LEN {
            let b = self.read_u8()?;
            let payload = u64::from(b & 0x7f);
            if i == MAX_VARINT_LEN - 1 && payload > 1 {
                return Err(TrackError::Malformed {
                    offset: self.pos - 1,
                    reason: "varint exceeds u64",
                });
            }
            value |= payload << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(TrackError::Malformed {
            offset: start,
            reason: "varint longer than 10 bytes",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pt(lat: f64, lon: f64, time: i64) -> TrackPoint {
        TrackPoint { lat, lon, time }
    }

    fn rounded(p: &TrackPoint) -> TrackPoint {
        pt(
            (p.lat * 1e6).round() / 1e6,
            (p.lon * 1e6).round() / 1e6,
            p.time,
        )
    }

    fn sample() -> Vec<TrackPoint> {
        vec![
            pt(10.284187, 106.78, 1_735_712_340),
            pt(10.2842, 106.780_05, 1_735_712_341),
            pt(-33.865143, -151.2099, 1_735_712_400),
            pt(-90.0, 180.0, -5),
            pt(90.0, -180.0, i64::MAX),
        ]
    }

    #[test]
    fn empty_segment_round_trips() {
        let bytes = encode(&[]);
        assert_eq!(bytes, vec![FORMAT_VERSION, 0]);
        assert_eq!(decode(&bytes), Ok(vec![]));
    }

    #[test]
    fn sample_round_trips_with_six_decimals() {
        let points = sample();
        let decoded = decode(&encode(&points)).expect("valid encoding");
        let expected: Vec<_> = points.iter().map(rounded).collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn coordinates_are_rounded_to_nearest_micro_degree() {
        let decoded = decode(&encode(&[pt(1.000_000_6, -1.000_000_6, 0)])).expect("valid");
        assert_eq!(decoded, vec![pt(1.000_001, -1.000_001, 0)]);
    }

    #[test]
    fn every_truncation_is_rejected_not_panicked() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..len]), Err(TrackError::Malformed { .. })),
                "prefix of {len} bytes was accepted"
            );
        }
    }

    #[test]
    fn wrong_version_is_rejected() {
        let mut bytes = encode(&sample());
        bytes[0] = 2;
        assert_eq!(
            decode(&bytes),
            Err(TrackError::Malformed {
                offset: 0,
                reason: "unsupported format version"
            })
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&sample());
        let len = bytes.len();
        bytes.push(0);
        assert_eq!(
            decode(&bytes),
            Err(TrackError::Malformed {
                offset: len,
                reason: "trailing bytes after the last point"
            })
        );
    }

    #[test]
    fn varint_longer_than_ten_bytes_is_rejected() {
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend([0x80; 10]);
        bytes.push(0);
        assert!(matches!(
            decode(&bytes),
            Err(TrackError::Malformed {
                offset: 1,
                reason: "varint longer than 10 bytes"
            })
        ));
    }

    #[test]
    fn varint_above_u64_max_is_rejected() {
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend([0xff; 9]);
        bytes.push(0x02);
        assert_eq!(
            decode(&bytes),
            Err(TrackError::Malformed {
                offset: 10,
                reason: "varint exceeds u64"
            })
        );
    }

    #[test]
    fn largest_u64_varint_is_read_then_count_is_refused() {
        // u64::MAX is a valid varint, but no input can hold that many points.
        let mut bytes = vec![FORMAT_VERSION];
        write_varint(&mut bytes, u64::MAX);
        assert_eq!(bytes.len(), 11);
        assert!(matches!(
            decode(&bytes),
            Err(TrackError::Malformed { offset: 1, .. })
        ));
    }

    #[test]
    fn count_larger_than_remaining_bytes_is_rejected_before_allocating() {
        let mut bytes = vec![FORMAT_VERSION];
        write_varint(&mut bytes, 1 << 40);
        bytes.extend([0; 30]);
        assert!(matches!(
            decode(&bytes),
            Err(TrackError::Malformed {
                offset: 1,
                reason: "point count exceeds what the remaining bytes can hold"
            })
        ));
        // Exactly one point too many for the bytes present.
        let mut bytes = vec![FORMAT_VERSION, 3];
        bytes.extend([0; 8]);
        assert!(matches!(
            decode(&bytes),
            Err(TrackError::Malformed { offset: 1, .. })
        ));
    }

    #[test]
    fn decoded_latitude_out_of_range_is_rejected() {
        let bytes = encode(&[pt(10.0, 10.0, 0), pt(90.000_001, 10.0, 1)]);
        assert_eq!(decode(&bytes), Err(TrackError::OutOfRange { index: 1 }));
    }

    #[test]
    fn decoded_longitude_out_of_range_is_rejected() {
        let bytes = encode(&[pt(0.0, -180.000_001, 0)]);
        assert_eq!(decode(&bytes), Err(TrackError::OutOfRange { index: 0 }));
    }

    #[test]
    fn non_finite_input_never_panics_and_never_decodes_to_garbage_silently() {
        let bytes = encode(&[pt(f64::NAN, f64::INFINITY, 0)]);
        // NaN encodes as 0, +inf saturates and is refused on decode.
        assert_eq!(decode(&bytes), Err(TrackError::OutOfRange { index: 0 }));
    }

    /// Deterministic xorshift so the compactness figure is reproducible.
    fn xorshift(state: &mut u64) -> f64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn one_hz_coastal_track_encodes_under_eight_bytes_per_point() {
        // One hour at 1 Hz starting near Vung Tau (10.28 N, 106.78 E), moving at
        // 5–20 m/s with a slowly wandering heading, positions with 7 decimals
        // (as a GPS logger would write them).
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let (mut lat, mut lon) = (10.284_187_3, 106.780_012_9);
        let mut heading: f64 = 0.6;
        let mut points = Vec::with_capacity(3600);
        for i in 0..3600 {
            points.push(pt(
                (lat * 1e7f64).round() / 1e7,
                (lon * 1e7f64).round() / 1e7,
                1_735_712_340 + i,
            ));
            heading += (xorshift(&mut rng) - 0.5) * 0.2;
            let speed = 5.0 + 15.0 * xorshift(&mut rng); // m/s
            lat += speed * heading.cos() / 111_320.0;
            lon += speed * heading.sin() / (111_320.0 * lat.to_radians().cos());
        }
        let bytes = encode(&points);
        let per_point = bytes.len() as f64 / points.len() as f64;
        println!(
            "3600-point 1 Hz track: {} bytes, {per_point:.3} bytes/point",
            bytes.len()
        );
        assert!(per_point < 8.0, "{per_point} bytes per point");
        let expected: Vec<_> = points.iter().map(rounded).collect();
        assert_eq!(decode(&bytes), Ok(expected));
    }

    fn arb_point() -> impl Strategy<Value = TrackPoint> {
        (
            -90.0f64..=90.0,
            -180.0f64..=180.0,
            prop_oneof![-4_000_000_000i64..4_000_000_000, any::<i64>(), Just(0i64)],
        )
            .prop_map(|(lat, lon, time)| pt(lat, lon, time))
    }

    proptest! {
        #[test]
        fn random_points_round_trip(points in prop::collection::vec(arb_point(), 0..200)) {
            let decoded = decode(&encode(&points));
            let expected: Vec<_> = points.iter().map(rounded).collect();
            prop_assert_eq!(decoded, Ok(expected));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn arbitrary_bytes_after_valid_header_never_panic(
            tail in prop::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut bytes = vec![FORMAT_VERSION];
            bytes.extend(tail);
            if let Ok(points) = decode(&bytes) {
                // Anything accepted is in range and survives a re-encode unchanged.
                prop_assert!(points.iter().all(|p| super::super::in_range(p.lat, p.lon)));
                prop_assert_eq!(decode(&encode(&points)), Ok(points));
            }
        }
    }
}
