//! Importing a GPS track from a chartplotter's GPX or NMEA 0183 file into a patrol.

use std::path::Path;

use autosurgeon::bytes::ByteVec;
use serde::Serialize;
use tidemark_domain::{
    records::Record,
    track::{self, TrackPoint},
    validate::parse_time,
};

use crate::{Client, ClientError, WriteOutcome};

/// What a track import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackReport {
    /// Points added.
    pub points: usize,
    /// Lines of an NMEA file that were skipped, with reasons.
    pub skipped: Vec<(usize, String)>,
    /// Points whose time lies outside the patrol's start–end.
    pub outside_patrol_time: usize,
    /// Whether the patrol changed (importing the same file twice adds nothing).
    pub outcome: WriteOutcome,
}

impl Client {
    /// Adds the track in `file` (`.gpx`, or `.nmea`/`.txt`/`.log` for NMEA 0183) to patrol `id`
    /// as one encoded segment.
    pub fn import_track(&mut self, id: &str, file: &Path) -> Result<TrackReport, ClientError> {
        let text = std::fs::read(file)
            .map_err(|e| ClientError::io(format!("reading {}", file.display()), e))?;
        let text = String::from_utf8_lossy(&text);
        self.import_track_text(id, &file.display().to_string(), &text)
    }

    /// Adds the track in `text`, a file named `name` (its extension says GPX or NMEA), to
    /// patrol `id` — for the app, which reads the file the user picked.
    pub fn import_track_text(
        &mut self,
        id: &str,
        name: &str,
        text: &str,
    ) -> Result<TrackReport, ClientError> {
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let file = name;
        let bad = |e: track::TrackError| ClientError::User(format!("{file}: {e}"));
        let (points, skipped) = match ext.as_str() {
            "gpx" => (track::parse_gpx(text).map_err(bad)?, Vec::new()),
            "nmea" | "txt" | "log" => {
                let r = track::parse_nmea(text).map_err(bad)?;
                (r.points, r.skipped)
            }
            other => {
                return Err(ClientError::User(format!(
                    "unknown track file type `.{other}`; use a .gpx file or an NMEA 0183 log (.nmea, .txt, .log)"
                )))
            }
        };
        self.add_track_segment(id, &points, skipped)
    }

    /// Adds points to a patrol's track as one segment.
    pub fn add_track_segment(
        &mut self,
        id: &str,
        points: &[TrackPoint],
        skipped: Vec<(usize, String)>,
    ) -> Result<TrackReport, ClientError> {
        let segment = ByteVec::from(track::encode(points));
        let meta = self.meta("track");
        let mut outside = 0;
        let outcome = self.mutate(id, true, |doc| {
            let Record::Patrol(mut patrol) = doc.read()? else {
                return Err(ClientError::User(format!(
                    "{id} is not a patrol; tracks belong to patrols"
                )));
            };
            let start = parse_time(&patrol.start).map(|t| t.timestamp());
            let end = patrol
                .end
                .as_deref()
                .and_then(parse_time)
                .map(|t| t.timestamp());
            outside = points
                .iter()
                .filter(|p| start.is_some_and(|s| p.time < s) || end.is_some_and(|e| p.time > e))
                .count();
            if !patrol.track.contains(&segment) {
                patrol.track.push(segment.clone());
                doc.write(&Record::Patrol(patrol), &meta)?;
            }
            Ok(())
        })?;
        Ok(TrackReport {
            points: if outcome == WriteOutcome::Unchanged {
                0
            } else {
                points.len()
            },
            skipped,
            outside_patrol_time: outside,
            outcome,
        })
    }
}
