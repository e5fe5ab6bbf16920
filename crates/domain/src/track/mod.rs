//! GPS track points: a compact binary codec and parsers for GPX and NMEA 0183 text.
//!
//! * [`codec`] — versioned, delta + zigzag + varint binary encoding of a segment.
//! * [`gpx`] — `<trkpt>` (or `<rtept>`/`<wpt>`) points with `<time>` from GPX XML.
//! * [`nmea`] — `RMC`/`GGA` sentences from an NMEA 0183 log, skipping bad lines.
//!
//! Nothing here does IO, uses `unsafe` or panics on bad input: every failure is a
//! [`TrackError`] (or, for NMEA, a skipped line with a reason).

pub mod codec;
pub mod gpx;
pub mod nmea;

pub use codec::{decode, encode};
pub use gpx::parse_gpx;
pub use nmea::{parse_nmea, NmeaResult};

/// One position fix: WGS-84 latitude and longitude in degrees, time in unix seconds (UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    /// Latitude in degrees, `-90.0..=90.0` (north positive).
    pub lat: f64,
    /// Longitude in degrees, `-180.0..=180.0` (east positive).
    pub lon: f64,
    /// Seconds since 1970-01-01T00:00:00Z.
    pub time: i64,
}

/// Why a track could not be decoded or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackError {
    /// The binary encoding is invalid; `offset` is the byte index where the problem was found.
    #[error("malformed track encoding at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset into the encoded input.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// GPX or NMEA text could not be parsed; `line` is 1-based.
    #[error("parse error on line {line}: {reason}")]
    Parse {
        /// 1-based line number in the input text.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// The input contained no usable points.
    #[error("no usable track points")]
    Empty,
    /// The point at `index` (0-based, in output order) has a latitude outside
    /// `-90..=90` or a longitude outside `-180..=180` (or a non-finite value).
    #[error("point {index} has coordinates out of range")]
    OutOfRange {
        /// 0-based index of the offending point.
        index: usize,
    },
}

/// True when `lat` is in `-90..=90` and `lon` in `-180..=180` (false for NaN).
fn in_range(lat: f64, lon: f64) -> bool {
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)
}
