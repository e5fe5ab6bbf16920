//! serde adapters: Automerge `Text` as a plain JSON string, tracks as `[lat, lon, unix_seconds]`.

use autosurgeon::{bytes::ByteVec, Text};
use serde::{de::Error as _, ser::Error as _, Deserialize, Deserializer, Serialize, Serializer};

use crate::track::{codec, TrackPoint};

/// `Text` ⇄ JSON string.
pub mod text {
    use super::*;

    /// Writes the text as a string.
    pub fn serialize<S: Serializer>(t: &Text, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.as_str())
    }

    /// Reads a string (or null, as empty) into a fresh text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        Ok(Text::from(
            Option::<String>::deserialize(d)?.unwrap_or_default(),
        ))
    }
}

/// Track segments ⇄ `[[lat, lon, t], …]`.
pub mod route {
    use super::*;

    /// Decodes every segment and writes the points in order.
    pub fn serialize<S: Serializer>(segments: &[ByteVec], s: S) -> Result<S::Ok, S::Error> {
        let mut points: Vec<(f64, f64, i64)> = Vec::new();
        for seg in segments {
            let decoded = codec::decode(seg).map_err(S::Error::custom)?;
            points.extend(decoded.into_iter().map(|p| (p.lat, p.lon, p.time)));
        }
        points.serialize(s)
    }

    /// Reads points and encodes them as one segment (none for an empty route).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ByteVec>, D::Error> {
        let raw = Option::<Vec<(f64, f64, i64)>>::deserialize(d)?.unwrap_or_default();
        let points: Vec<TrackPoint> = raw
            .into_iter()
            .map(|(lat, lon, time)| TrackPoint { lat, lon, time })
            .collect();
        for (i, p) in points.iter().enumerate() {
            if !(-90.0..=90.0).contains(&p.lat) || !(-180.0..=180.0).contains(&p.lon) {
                return Err(D::Error::custom(format!(
                    "route point {i} is outside latitude -90..90 / longitude -180..180"
                )));
            }
        }
        if points.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![ByteVec::from(codec::encode(&points))])
    }
}

/// Decodes all segments of a track; undecodable segments are skipped and counted.
pub fn decode_segments(segments: &[ByteVec]) -> (Vec<TrackPoint>, usize) {
    let mut points = Vec::new();
    let mut bad = 0;
    for seg in segments {
        match codec::decode(seg) {
            Ok(p) => points.extend(p),
            Err(_) => bad += 1,
        }
    }
    (points, bad)
}

/// For `skip_serializing_if`: empty texts are left out of interchange lines.
pub fn text_is_empty(t: &Text) -> bool {
    t.as_str().is_empty()
}
