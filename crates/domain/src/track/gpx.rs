//! GPX 1.0/1.1 reader: extracts timed points from XML text.
//!
//! Points come from `<trkpt lat=".." lon="..">` elements; only when a file has
//! no `<trkpt>` at all are `<rtept>` and `<wpt>` used instead (in file order).
//! Each chosen point needs a direct `<time>` child in RFC 3339 / ISO 8601 form
//! (`2025-01-01T06:19:00Z`, `2025-01-01T13:19:00+07:00`, fractional seconds
//! allowed and truncated). Points keep file order; they are not sorted by time.
//! Element names are matched on their local name, so `gpx:trkpt` works too.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{in_range, TrackError, TrackPoint};

/// Which GPX element a point came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Track,
    Route,
    Waypoint,
}

impl Kind {
    fn from_name(local_name: &[u8]) -> Option<Self> {
        match local_name {
            b"trkpt" => Some(Self::Track),
            b"rtept" => Some(Self::Route),
            b"wpt" => Some(Self::Waypoint),
            _ => None,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Self::Track => "trkpt",
            Self::Route => "rtept",
            Self::Waypoint => "wpt",
        }
    }
}

/// A point element as found in the file, validated only once we know which
/// kind of point the file is made of.
#[derive(Debug)]
struct RawPoint {
    kind: Kind,
    /// Line of the point's start tag.
    line: usize,
    lat: Option<String>,
    lon: Option<String>,
    /// First direct `<time>` child: its line and text.
    time: Option<(usize, String)>,
}

/// Parses GPX text into track points, in file order.
///
/// # Errors
///
/// * [`TrackError::Parse`] for malformed XML, a missing or non-numeric
///   `lat`/`lon` attribute, or a point without a valid `<time>`; `line` is the
///   1-based line of the offending markup.
/// * [`TrackError::OutOfRange`] when a point's coordinates are outside
///   `-90..=90` / `-180..=180`; `index` is its position in the output.
/// * [`TrackError::Empty`] when the file has no `<trkpt>`, `<rtept>` or `<wpt>`.
pub fn parse_gpx(text: &str) -> Result<Vec<TrackPoint>, TrackError> {
    let mut reader = Reader::from_str(text);
    let mut raw: Vec<RawPoint> = Vec::new();
    // The point being read, if any.
    let mut open: Option<OpenPoint> = None;
    // Text of the `<time>` element being read, with the line it started on.
    let mut time_text: Option<(usize, String)> = None;
    let mut depth = 0usize;
    let mut lines = LineCounter::new(text);

    loop {
        let before = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                return Err(TrackError::Parse {
                    line: lines.at(reader.error_position()),
                    reason: format!("malformed XML: {e}"),
                });
            }
        };
        match event {
            Event::Start(e) => {
                let line = lines.at(skip_whitespace(text, before));
                let local = e.local_name();
                match Kind::from_name(local.as_ref()) {
                    Some(kind) if open.is_none() => {
                        let point = new_point(&e, kind, line)?;
                        open = Some(OpenPoint { point, depth });
                    }
                    None if local.as_ref() == b"time" && wants_time(&open, &time_text, depth) => {
                        time_text = Some((line, String::new()));
                    }
                    _ => {}
                }
                depth += 1;
            }
            Event::Empty(e) => {
                let line = lines.at(skip_whitespace(text, before));
                let local = e.local_name();
                match Kind::from_name(local.as_ref()) {
                    Some(kind) if open.is_none() => raw.push(new_point(&e, kind, line)?),
                    // `<time/>`: present but empty, later reported as an invalid time.
                    None if local.as_ref() == b"time" && wants_time(&open, &time_text, depth) => {
                        time_text = Some((line, String::new()));
                        attach_time(&mut open, &mut time_text);
                    }
                    _ => {}
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                match open.as_ref().map(|o| o.depth) {
                    Some(d) if d == depth => raw.extend(open.take().map(|o| o.point)),
                    Some(d) if d + 1 == depth => attach_time(&mut open, &mut time_text),
                    _ => {}
                }
            }
            Event::Text(t) => {
                if let Some((_, buf)) = &mut time_text {
                    buf.push_str(&t.decode().map_err(|e| TrackError::Parse {
                        line: lines.at(before),
                        reason: format!("undecodable text: {e}"),
                    })?);
                }
            }
            Event::CData(t) => {
                if let Some((_, buf)) = &mut time_text {
                    buf.push_str(&t.decode().map_err(|e| TrackError::Parse {
                        line: lines.at(before),
                        reason: format!("undecodable CDATA: {e}"),
                    })?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, buf)) = &mut time_text {
                    // Character references are resolved; named entities cannot
                    // occur in a valid timestamp, so they make it invalid.
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => buf.push(c),
                        _ => buf.push('&'),
                    }
                }
            }
            Event::Eof => {
                if depth != 0 {
                    return Err(TrackError::Parse {
                        line: lines.at(text.len() as u64),
                        reason: format!(
                            "unexpected end of document: {depth} element(s) not closed"
                        ),
                    });
                }
                break;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }

    let has_track = raw.iter().any(|p| p.kind == Kind::Track);
    let chosen = raw
        .iter()
        .filter(|p| (p.kind == Kind::Track) == has_track)
        .enumerate();
    let mut points = Vec::new();
    for (index, p) in chosen {
        points.push(validate(index, p)?);
    }
    if points.is_empty() {
        return Err(TrackError::Empty);
    }
    Ok(points)
}

/// A point element whose end tag has not been seen yet.
#[derive(Debug)]
struct OpenPoint {
    point: RawPoint,
    /// Number of elements open around the point's start tag.
    depth: usize,
}

/// True when an element opening at `depth` is a direct child of the open point,
/// and that point still lacks a `<time>` (only the first one counts).
fn wants_time(open: &Option<OpenPoint>, time_text: &Option<(usize, String)>, depth: usize) -> bool {
    time_text.is_none() && matches!(open, Some(o) if depth == o.depth + 1 && o.point.time.is_none())
}

/// Moves a finished `<time>` text into the open point.
fn attach_time(open: &mut Option<OpenPoint>, time_text: &mut Option<(usize, String)>) {
    if let (Some(o), Some(t)) = (open.as_mut(), time_text.take()) {
        o.point.time = Some(t);
    }
}

/// Starts a point from its start tag, reading the `lat`/`lon` attributes.
fn new_point(e: &BytesStart<'_>, kind: Kind, line: usize) -> Result<RawPoint, TrackError> {
    let attr = |name: &str| -> Result<Option<String>, TrackError> {
        let bad = |reason: String| TrackError::Parse { line, reason };
        match e.try_get_attribute(name) {
            Ok(Some(a)) => a
                .unescape_value()
                .map(|v| Some(v.into_owned()))
                .map_err(|err| bad(format!("bad {name} attribute: {err}"))),
            Ok(None) => Ok(None),
            Err(err) => Err(bad(format!("malformed attributes: {err}"))),
        }
    };
    Ok(RawPoint {
        kind,
        line,
        lat: attr("lat")?,
        lon: attr("lon")?,
        time: None,
    })
}

/// Turns a raw point into a [`TrackPoint`], checking every field.
fn validate(index: usize, p: &RawPoint) -> Result<TrackPoint, TrackError> {
    let tag = p.kind.tag();
    let number = |name: &str, value: &Option<String>| -> Result<f64, TrackError> {
        let value = value.as_deref().ok_or_else(|| TrackError::Parse {
            line: p.line,
            reason: format!("<{tag}> has no {name} attribute"),
        })?;
        value.trim().parse::<f64>().map_err(|_| TrackError::Parse {
            line: p.line,
            reason: format!("<{tag}> has a non-numeric {name}: {value:?}"),
        })
    };
    let lat = number("lat", &p.lat)?;
    let lon = number("lon", &p.lon)?;
    if !in_range(lat, lon) {
        return Err(TrackError::OutOfRange { index });
    }
    let (time_line, time_text) = p.time.as_ref().ok_or_else(|| TrackError::Parse {
        line: p.line,
        reason: format!("<{tag}> has no <time>"),
    })?;
    let time = chrono::DateTime::parse_from_rfc3339(time_text.trim())
        .map_err(|e| TrackError::Parse {
            line: *time_line,
            reason: format!("invalid <time> {:?}: {e}", time_text.trim()),
        })?
        .timestamp();
    Ok(TrackPoint { lat, lon, time })
}

/// Advances `pos` over ASCII whitespace so it points at the markup itself.
fn skip_whitespace(text: &str, pos: u64) -> u64 {
    let start = clamp(text, pos);
    let skipped = text.as_bytes()[start..]
        .iter()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    (start + skipped) as u64
}

/// Maps byte offsets to 1-based line numbers, scanning forward incrementally
/// so a whole document costs O(len) rather than O(len) per lookup.
struct LineCounter<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
        }
    }

    /// 1-based line number of byte offset `pos` (clamped to the text).
    fn at(&mut self, pos: u64) -> usize {
        let target = clamp(self.text, pos);
        if target < self.pos {
            // Rare (error positions may point back): rescan from the start.
            self.pos = 0;
            self.line = 1;
        }
        let newlines = self.text.as_bytes()[self.pos..target]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.line += newlines;
        self.pos = target;
        self.line
    }
}

fn clamp(text: &str, pos: u64) -> usize {
    usize::try_from(pos).map_or(text.len(), |p| p.min(text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <wpt lat="10.3" lon="106.8"><name>ignored: there are trkpts</name></wpt>
  <trk>
    <name>Coast</name>
    <trkseg>
      <trkpt lat="10.284187" lon="106.780000">
        <ele>3.0</ele>
        <time>2025-01-01T06:19:00Z</time>
      </trkpt>
      <trkpt lat="10.284300" lon="106.780150"><time>2025-01-01T13:19:05+07:00</time></trkpt>
      <trkpt lat="-10.5" lon="-106.25">
        <time>2025-01-01T06:19:10.750Z</time>
        <extensions><time>1999-01-01T00:00:00Z</time></extensions>
      </trkpt>
    </trkseg>
  </trk>
</gpx>
"#;

    const T0: i64 = 1_735_712_340; // 2025-01-01T06:19:00Z

    #[test]
    fn three_trkpts_parse_in_file_order() {
        let points = parse_gpx(SAMPLE).expect("valid GPX");
        assert_eq!(
            points,
            vec![
                TrackPoint {
                    lat: 10.284187,
                    lon: 106.78,
                    time: T0
                },
                TrackPoint {
                    lat: 10.2843,
                    lon: 106.78015,
                    time: T0 + 5
                },
                TrackPoint {
                    lat: -10.5,
                    lon: -106.25,
                    time: T0 + 10
                },
            ]
        );
    }

    #[test]
    fn routes_and_waypoints_are_used_only_without_trkpts() {
        let gpx = r#"<gpx>
<wpt lat="1" lon="2"><time>2025-01-01T06:19:00Z</time></wpt>
<rte><rtept lat="3" lon="4"><time>2025-01-01T06:19:01Z</time></rtept></rte>
</gpx>"#;
        let points = parse_gpx(gpx).expect("valid GPX");
        assert_eq!(
            points,
            vec![
                TrackPoint {
                    lat: 1.0,
                    lon: 2.0,
                    time: T0
                },
                TrackPoint {
                    lat: 3.0,
                    lon: 4.0,
                    time: T0 + 1
                },
            ]
        );
    }

    #[test]
    fn waypoint_without_time_is_ignored_when_trkpts_exist() {
        let gpx = r#"<gpx><wpt lat="1" lon="2"/>
<trk><trkseg><trkpt lat="3" lon="4"><time>2025-01-01T06:19:00Z</time></trkpt></trkseg></trk></gpx>"#;
        assert_eq!(
            parse_gpx(gpx),
            Ok(vec![TrackPoint {
                lat: 3.0,
                lon: 4.0,
                time: T0
            }])
        );
    }

    #[test]
    fn trkpt_missing_time_fails_naming_its_line() {
        let gpx = "<gpx><trk><trkseg>\n\
                   <trkpt lat=\"1\" lon=\"2\"><time>2025-01-01T06:19:00Z</time></trkpt>\n\
                   \n\
                   <trkpt lat=\"1\" lon=\"2\"><ele>4</ele></trkpt>\n\
                   </trkseg></trk></gpx>";
        match parse_gpx(gpx) {
            Err(TrackError::Parse { line, reason }) => {
                assert_eq!(line, 4);
                assert!(reason.contains("no <time>"), "{reason}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn self_closing_trkpt_has_no_time_and_fails_with_its_line() {
        let gpx = "<gpx>\n<trk><trkseg>\n<trkpt lat=\"1\" lon=\"2\"/>\n</trkseg></trk></gpx>";
        assert!(matches!(
            parse_gpx(gpx),
            Err(TrackError::Parse { line: 3, .. })
        ));
    }

    #[test]
    fn invalid_time_fails_naming_the_time_line() {
        let gpx = "<gpx><trk><trkseg><trkpt lat=\"1\" lon=\"2\">\n<time>yesterday</time>\n</trkpt></trkseg></trk></gpx>";
        match parse_gpx(gpx) {
            Err(TrackError::Parse { line, reason }) => {
                assert_eq!(line, 2);
                assert!(reason.contains("yesterday"), "{reason}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn mismatched_end_tag_fails_with_its_line() {
        let gpx = "<gpx>\n<trk>\n<trkseg>\n<trkpt lat=\"1\" lon=\"2\"><time>2025-01-01T06:19:00Z</time>\n</trkseg>\n</trk>\n</gpx>";
        match parse_gpx(gpx) {
            Err(TrackError::Parse { line, reason }) => {
                assert_eq!(line, 5, "{reason}");
                assert!(reason.contains("malformed XML"), "{reason}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn broken_markup_fails_with_a_line() {
        let gpx = "<gpx>\n<trk>\n<trkpt lat=\"1\" lon=\"2\" <time>";
        assert!(matches!(
            parse_gpx(gpx),
            Err(TrackError::Parse { line: 3, .. })
        ));
    }

    #[test]
    fn unclosed_document_fails_with_the_last_line() {
        let gpx = "<gpx>\n<trk>\n<trkseg>\n";
        assert!(matches!(
            parse_gpx(gpx),
            Err(TrackError::Parse { line: 4, .. })
        ));
    }

    #[test]
    fn file_without_points_is_empty() {
        assert_eq!(
            parse_gpx("<gpx><trk><trkseg/></trk></gpx>"),
            Err(TrackError::Empty)
        );
        assert_eq!(parse_gpx(""), Err(TrackError::Empty));
    }

    #[test]
    fn out_of_range_coordinates_are_rejected_with_index() {
        let gpx = r#"<gpx><trk><trkseg>
<trkpt lat="1" lon="2"><time>2025-01-01T06:19:00Z</time></trkpt>
<trkpt lat="91" lon="2"><time>2025-01-01T06:19:01Z</time></trkpt>
</trkseg></trk></gpx>"#;
        assert_eq!(parse_gpx(gpx), Err(TrackError::OutOfRange { index: 1 }));
        let gpx =
            r#"<gpx><trkpt lat="NaN" lon="2"><time>2025-01-01T06:19:00Z</time></trkpt></gpx>"#;
        assert_eq!(parse_gpx(gpx), Err(TrackError::OutOfRange { index: 0 }));
    }

    #[test]
    fn missing_or_non_numeric_lat_is_a_parse_error() {
        let gpx = "<gpx>\n<trkpt lon=\"2\"><time>2025-01-01T06:19:00Z</time></trkpt></gpx>";
        assert!(matches!(
            parse_gpx(gpx),
            Err(TrackError::Parse { line: 2, .. })
        ));
        let gpx =
            "<gpx>\n<trkpt lat=\"north\" lon=\"2\"><time>2025-01-01T06:19:00Z</time></trkpt></gpx>";
        assert!(matches!(
            parse_gpx(gpx),
            Err(TrackError::Parse { line: 2, .. })
        ));
    }

    #[test]
    fn namespace_prefixed_elements_are_recognised() {
        let gpx = r#"<g:gpx xmlns:g="http://www.topografix.com/GPX/1/1"><g:trk><g:trkseg>
<g:trkpt lat="1" lon="2"><g:time>2025-01-01T06:19:00Z</g:time></g:trkpt>
</g:trkseg></g:trk></g:gpx>"#;
        assert_eq!(
            parse_gpx(gpx),
            Ok(vec![TrackPoint {
                lat: 1.0,
                lon: 2.0,
                time: T0
            }])
        );
    }

    #[test]
    fn arbitrary_text_never_panics() {
        for s in [
            "<",
            "<<>>",
            "<gpx lat=",
            "&",
            "<gpx>\u{e9}</gpx>",
            "<trkpt lat='1' lon='2'><time>",
            "</a>",
        ] {
            let _ = parse_gpx(s);
        }
    }
}
