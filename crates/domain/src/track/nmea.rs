//! NMEA 0183 reader: position fixes from `RMC` and `GGA` sentences.
//!
//! * `$GPRMC` / `$GNRMC`: `time,status,lat,N|S,lon,E|W,speed,course,date,…`.
//!   Status `A` gives a point and sets the current date; status `V` ("no fix")
//!   is skipped and does not set the date.
//! * `$GPGGA` / `$GNGGA`: `time,lat,N|S,lon,E|W,quality,…`. GGA has no date, so
//!   it takes the date of the most recent valid RMC before it (rolling over to
//!   the next day when its time of day is more than 12 h earlier than that
//!   RMC's); a GGA before any RMC, or with fix quality 0, is skipped.
//!
//! Times are `hhmmss` with optional fractional seconds (truncated to whole
//! seconds), dates `ddmmyy` (years 80–99 are 19xx, others 20xx), latitudes
//! `ddmm.mmmm`, longitudes `dddmm.mmmm`. A `*hh` checksum, when present, must
//! equal the XOR of the bytes between `$` and `*`.
//!
//! One bad line never aborts the file: it is recorded in
//! [`NmeaResult::skipped`] with its 1-based line number and a reason. Blank
//! lines are ignored. When consecutive accepted sentences carry the same
//! timestamp (typically the RMC and GGA of one epoch) only the first is kept.

use chrono::{Days, NaiveDate, NaiveTime, Timelike};

use super::{in_range, TrackError, TrackPoint};

/// Points read from an NMEA log, and the lines that were skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NmeaResult {
    /// Accepted fixes, in file order, without consecutive duplicate timestamps.
    pub points: Vec<TrackPoint>,
    /// `(line, reason)` for every non-blank line that gave no point, with the
    /// 1-based line number.
    pub skipped: Vec<(usize, String)>,
}

/// Date and time of day of the most recent valid RMC sentence.
#[derive(Debug, Clone, Copy)]
struct RmcClock {
    date: NaiveDate,
    time: NaiveTime,
}

/// Parses an NMEA 0183 log.
///
/// # Errors
///
/// [`TrackError::Empty`] when no line yields a point. Individual bad lines are
/// not errors: they are listed in [`NmeaResult::skipped`].
pub fn parse_nmea(text: &str) -> Result<NmeaResult, TrackError> {
    let mut result = NmeaResult::default();
    let mut clock: Option<RmcClock> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        match parse_sentence(line, &mut clock) {
            Ok(p) => {
                if result.points.last().map(|last| last.time) != Some(p.time) {
                    result.points.push(p);
                }
            }
            Err(reason) => result.skipped.push((i + 1, reason)),
        }
    }
    if result.points.is_empty() {
        return Err(TrackError::Empty);
    }
    Ok(result)
}

/// Parses one trimmed, non-empty line; `Err` carries the reason to skip it.
fn parse_sentence(line: &str, clock: &mut Option<RmcClock>) -> Result<TrackPoint, String> {
    let body = line
        .strip_prefix('$')
        .ok_or_else(|| "not an NMEA sentence (no leading '$')".to_string())?;
    let data = match body.split_once('*') {
        Some((data, checksum)) => {
            verify_checksum(data, checksum)?;
            data
        }
        None => body,
    };
    let fields: Vec<&str> = data.split(',').collect();
    let kind = fields.first().copied().unwrap_or_default();
    match kind {
        "GPRMC" | "GNRMC" => parse_rmc(&fields, clock),
        "GPGGA" | "GNGGA" => parse_gga(&fields, *clock),
        other => Err(format!(
            "unsupported sentence type {:?}",
            other.chars().take(16).collect::<String>()
        )),
    }
}

fn verify_checksum(data: &str, checksum: &str) -> Result<(), String> {
    let given = match checksum.as_bytes() {
        [a, b] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {
            u8::from_str_radix(checksum, 16).map_err(|e| e.to_string())?
        }
        _ => return Err(format!("malformed checksum {checksum:?}")),
    };
    let computed = data.bytes().fold(0u8, |acc, b| acc ^ b);
    if given != computed {
        return Err(format!(
            "checksum mismatch: sentence says {given:02X}, computed {computed:02X}"
        ));
    }
    Ok(())
}

/// `$xxRMC,time,status,lat,N|S,lon,E|W,speed,course,date,…`
fn parse_rmc(fields: &[&str], clock: &mut Option<RmcClock>) -> Result<TrackPoint, String> {
    match field(fields, 2, "status")? {
        "A" => {}
        "V" => return Err("no fix (RMC status V)".to_string()),
        other => return Err(format!("invalid RMC status {other:?}")),
    }
    let time = parse_time(field(fields, 1, "time")?)?;
    let lat = parse_coord(
        field(fields, 3, "latitude")?,
        field(fields, 4, "N/S")?,
        Axis::Lat,
    )?;
    let lon = parse_coord(
        field(fields, 5, "longitude")?,
        field(fields, 6, "E/W")?,
        Axis::Lon,
    )?;
    let date = parse_date(field(fields, 9, "date")?)?;
    *clock = Some(RmcClock { date, time });
    Ok(TrackPoint {
        lat,
        lon,
        time: date.and_time(time).and_utc().timestamp(),
    })
}

/// `$xxGGA,time,lat,N|S,lon,E|W,quality,…`
fn parse_gga(fields: &[&str], clock: Option<RmcClock>) -> Result<TrackPoint, String> {
    let quality = field(fields, 6, "fix quality")?;
    if quality.is_empty() || !quality.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("malformed GGA fix quality {quality:?}"));
    }
    if quality.bytes().all(|b| b == b'0') {
        return Err("no fix (GGA quality 0)".to_string());
    }
    let time = parse_time(field(fields, 1, "time")?)?;
    let lat = parse_coord(
        field(fields, 2, "latitude")?,
        field(fields, 3, "N/S")?,
        Axis::Lat,
    )?;
    let lon = parse_coord(
        field(fields, 4, "longitude")?,
        field(fields, 5, "E/W")?,
        Axis::Lon,
    )?;
    let clock = clock.ok_or_else(|| "GGA before any valid RMC: date unknown".to_string())?;
    let mut date = clock.date;
    // A GGA just after midnight following an RMC just before it.
    if time.num_seconds_from_midnight() + 12 * 3600 < clock.time.num_seconds_from_midnight() {
        date = date
            .checked_add_days(Days::new(1))
            .ok_or_else(|| "date out of range".to_string())?;
    }
    Ok(TrackPoint {
        lat,
        lon,
        time: date.and_time(time).and_utc().timestamp(),
    })
}

fn field<'a>(fields: &[&'a str], index: usize, name: &str) -> Result<&'a str, String> {
    fields
        .get(index)
        .copied()
        .ok_or_else(|| format!("missing {name} field"))
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// Two ASCII digits at `s[at..at + 2]` (caller has checked they are digits).
fn two_digits(s: &str, at: usize) -> Option<u32> {
    s.get(at..at + 2)?.parse().ok()
}

/// `hhmmss` or `hhmmss.sss`; fractional seconds are dropped.
fn parse_time(s: &str) -> Result<NaiveTime, String> {
    let bad = || format!("malformed time {s:?}");
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.len() != 6 || !all_digits(whole) || !all_digits(frac) {
        return Err(bad());
    }
    let (h, m, sec) = (
        two_digits(whole, 0),
        two_digits(whole, 2),
        two_digits(whole, 4),
    );
    match (h, m, sec) {
        (Some(h), Some(m), Some(sec)) => NaiveTime::from_hms_opt(h, m, sec).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// `ddmmyy`; `yy` 80–99 → 19yy, otherwise 20yy.
fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let bad = || format!("malformed date {s:?}");
    if s.len() != 6 || !all_digits(s) {
        return Err(bad());
    }
    match (two_digits(s, 0), two_digits(s, 2), two_digits(s, 4)) {
        (Some(d), Some(m), Some(yy)) => {
            let year = if yy >= 80 { 1900 + yy } else { 2000 + yy };
            let year = i32::try_from(year).map_err(|_| bad())?;
            NaiveDate::from_ymd_opt(year, m, d).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    Lat,
    Lon,
}

/// `ddmm.mmmm` + `N|S` or `dddmm.mmmm` + `E|W` → signed decimal degrees.
fn parse_coord(value: &str, hemisphere: &str, axis: Axis) -> Result<f64, String> {
    let (name, max_deg_digits, limit, positive, negative) = match axis {
        Axis::Lat => ("latitude", 2, 90.0, "N", "S"),
        Axis::Lon => ("longitude", 3, 180.0, "E", "W"),
    };
    let bad = || format!("malformed {name} {value:?}");
    let (int_part, frac_part) = value.split_once('.').unwrap_or((value, ""));
    if int_part.len() < 3
        || int_part.len() > max_deg_digits + 2
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return Err(bad());
    }
    let split = int_part.len() - 2;
    let degrees: f64 = value
        .get(..split)
        .and_then(|d| d.parse().ok())
        .ok_or_else(bad)?;
    let minutes: f64 = value
        .get(split..)
        .and_then(|m| m.parse().ok())
        .ok_or_else(bad)?;
    if minutes >= 60.0 {
        return Err(format!("{name} minutes out of range in {value:?}"));
    }
    let magnitude = degrees + minutes / 60.0;
    if magnitude > limit {
        return Err(format!("{name} out of range: {value:?}"));
    }
    let signed = if hemisphere == positive {
        magnitude
    } else if hemisphere == negative {
        -magnitude
    } else {
        return Err(format!("invalid {name} hemisphere {hemisphere:?}"));
    };
    // Belt and braces: the checks above already guarantee this.
    let (lat, lon) = match axis {
        Axis::Lat => (signed, 0.0),
        Axis::Lon => (0.0, signed),
    };
    if in_range(lat, lon) {
        Ok(signed)
    } else {
        Err(format!("{name} out of range: {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wraps a sentence body in `$…*hh` with its correct checksum.
    fn sentence(body: &str) -> String {
        let cs = body.bytes().fold(0u8, |a, b| a ^ b);
        format!("${body}*{cs:02X}")
    }

    const T0: i64 = 1_735_712_340; // 2025-01-01T06:19:00Z

    #[test]
    fn classic_reference_sentences_have_valid_checksums() {
        let log = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\n\
                   $GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\n";
        let r = parse_nmea(log).expect("valid log");
        assert!(r.skipped.is_empty(), "{:?}", r.skipped);
        assert_eq!(r.points.len(), 1, "RMC and GGA of one epoch give one point");
        let p = r.points[0];
        assert_eq!(p.time, 764_426_119); // 1994-03-23T12:35:19Z
        assert!((p.lat - (48.0 + 7.038 / 60.0)).abs() < 1e-9);
        assert!((p.lon - (11.0 + 31.0 / 60.0)).abs() < 1e-9);
    }

    #[test]
    fn rmc_and_gga_log_parses_with_bad_lines_skipped_by_line_number() {
        let good_rmc = sentence("GPRMC,061900.00,A,1017.0512,N,10646.8000,E,0.5,90.0,010125,,,A");
        let gga_same = sentence("GPGGA,061900.00,1017.0512,N,10646.8000,E,1,08,0.9,3.0,M,0.0,M,,");
        let gga_next = sentence("GNGGA,061901.00,1017.0600,N,10646.8100,E,2,09,0.8,3.0,M,0.0,M,,");
        let mut bad_cs = sentence("GPRMC,061902.00,A,1017.0700,N,10646.8200,E,0.5,90.0,010125,,,A");
        bad_cs.replace_range(bad_cs.len() - 2.., "00");
        let no_fix = sentence("GPRMC,061903.00,V,,,,,,,010125,,,N");
        let unknown = sentence("GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00");
        let rmc_south_west = sentence("GNRMC,061904,A,3351.9086,S,15112.5940,W,0.0,0.0,010125,,");
        let log = [
            good_rmc.as_str(),
            gga_same.as_str(),
            "",
            gga_next.as_str(),
            bad_cs.as_str(),
            no_fix.as_str(),
            unknown.as_str(),
            "   ",
            rmc_south_west.as_str(),
        ]
        .join("\r\n");

        let r = parse_nmea(&log).expect("log has fixes");
        assert_eq!(r.points.len(), 3);
        assert_eq!(r.points[0].time, T0);
        assert_eq!(r.points[1].time, T0 + 1);
        assert_eq!(r.points[2].time, T0 + 4);

        assert!(
            (r.points[0].lat - 10.284_187).abs() < 1e-6,
            "{}",
            r.points[0].lat
        );
        assert!(
            (r.points[0].lon - 106.78).abs() < 1e-9,
            "{}",
            r.points[0].lon
        );
        assert!((r.points[1].lat - (10.0 + 17.06 / 60.0)).abs() < 1e-9);
        assert!((r.points[2].lat - -(33.0 + 51.9086 / 60.0)).abs() < 1e-9);
        assert!((r.points[2].lon - -(151.0 + 12.5940 / 60.0)).abs() < 1e-9);

        let lines: Vec<usize> = r.skipped.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![5, 6, 7]);
        assert!(
            r.skipped[0].1.contains("checksum mismatch"),
            "{:?}",
            r.skipped[0]
        );
        assert!(r.skipped[1].1.contains("no fix"), "{:?}", r.skipped[1]);
        assert!(r.skipped[2].1.contains("unsupported"), "{:?}", r.skipped[2]);
    }

    #[test]
    fn latitude_ddmm_converts_to_decimal_degrees() {
        let lat = parse_coord("1017.0512", "N", Axis::Lat).expect("valid");
        assert!((lat - 10.284_187).abs() < 1e-6, "{lat}");
        let lon = parse_coord("10646.8000", "W", Axis::Lon).expect("valid");
        assert!((lon + 106.78).abs() < 1e-12, "{lon}");
        assert!(
            parse_coord("1060.0000", "N", Axis::Lat).is_err(),
            "60 minutes"
        );
        assert!(
            parse_coord("9100.0000", "N", Axis::Lat).is_err(),
            "91 degrees"
        );
        assert!(
            parse_coord("1017.05", "X", Axis::Lat).is_err(),
            "hemisphere"
        );
        assert!(parse_coord("-017.05", "N", Axis::Lat).is_err(), "sign");
        assert!(parse_coord("", "N", Axis::Lat).is_err(), "empty");
    }

    #[test]
    fn sentence_without_checksum_is_accepted() {
        let r = parse_nmea("$GPRMC,061900,A,1017.0512,N,10646.8000,E,,,010125,,").expect("fix");
        assert_eq!(r.points[0].time, T0);
    }

    #[test]
    fn gga_before_any_rmc_is_skipped_with_reason() {
        let gga = sentence("GPGGA,061900,1017.0512,N,10646.8000,E,1,08,0.9,3.0,M,0.0,M,,");
        let rmc = sentence("GPRMC,061901,A,1017.0512,N,10646.8000,E,,,010125,,");
        let r = parse_nmea(&format!("{gga}\n{rmc}\n")).expect("rmc fix");
        assert_eq!(r.points.len(), 1);
        assert_eq!(r.skipped.len(), 1);
        assert_eq!(r.skipped[0].0, 1);
        assert!(r.skipped[0].1.contains("date unknown"));
    }

    #[test]
    fn gga_after_midnight_rolls_the_rmc_date_forward() {
        let rmc = sentence("GPRMC,235959,A,1017.0512,N,10646.8000,E,,,010125,,");
        let gga = sentence("GPGGA,000000,1017.0512,N,10646.8000,E,1,08,0.9,3.0,M,0.0,M,,");
        let r = parse_nmea(&format!("{rmc}\n{gga}\n")).expect("fixes");
        assert_eq!(
            r.points.iter().map(|p| p.time).collect::<Vec<_>>(),
            vec![1_735_775_999, 1_735_776_000]
        );
    }

    #[test]
    fn gga_with_fix_quality_zero_is_skipped() {
        let rmc = sentence("GPRMC,061900,A,1017.0512,N,10646.8000,E,,,010125,,");
        let gga = sentence("GPGGA,061901,1017.0512,N,10646.8000,E,0,00,,,M,,M,,");
        let r = parse_nmea(&format!("{rmc}\n{gga}")).expect("rmc fix");
        assert_eq!(r.skipped, vec![(2, "no fix (GGA quality 0)".to_string())]);
    }

    #[test]
    fn malformed_fields_skip_only_their_line() {
        let ok = sentence("GPRMC,061900,A,1017.0512,N,10646.8000,E,,,010125,,");
        let bad_time = sentence("GPRMC,25190x,A,1017.0512,N,10646.8000,E,,,010125,,");
        let bad_date = sentence("GPRMC,061901,A,1017.0512,N,10646.8000,E,,,310225,,");
        let short = sentence("GPRMC,061902,A,1017.0512");
        let log = format!("{bad_time}\n{ok}\nhello\n{bad_date}\n{short}\n$GPRMC*ZZ\n");
        let r = parse_nmea(&log).expect("one fix");
        assert_eq!(r.points.len(), 1);
        let lines: Vec<usize> = r.skipped.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 3, 4, 5, 6]);
    }

    #[test]
    fn log_without_fixes_is_empty() {
        let no_fix = sentence("GPRMC,061903.00,V,,,,,,,010125,,,N");
        assert_eq!(parse_nmea(&no_fix), Err(TrackError::Empty));
        assert_eq!(parse_nmea(""), Err(TrackError::Empty));
        assert_eq!(parse_nmea("\n\n  \n"), Err(TrackError::Empty));
    }

    #[test]
    fn odd_input_never_panics() {
        for s in [
            "$",
            "$*",
            "$,,,,,,,,,,",
            "$GPRMC,é,A,ü",
            "$GPGGA,1,2,3,4,5,6,7",
            "*$",
            "$GPRMC,061900,A,1é17.05,N,10646.8,E,,,010125",
        ] {
            let _ = parse_nmea(s);
        }
    }
}
