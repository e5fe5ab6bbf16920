//! GPX and NMEA track import into a patrol.

use tidemark_client::{Client, WriteOutcome};

const DEMO: &str = include_str!("../../../fixtures/demo.jsonl");

fn nmea_line(body: &str) -> String {
    let sum = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("${body}*{sum:02X}")
}

#[test]
fn gpx_and_nmea_tracks_are_added_once_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = Client::init(dir.path(), "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "u").expect("init");
    c.import_jsonl(std::io::Cursor::new(DEMO.as_bytes().to_vec()), &mut |_| {})
        .expect("import");
    let id = "patrol:KP:20250102:01";
    let gpx = dir.path().join("chuyen-tuan-tra.gpx");
    std::fs::write(
        &gpx,
        r#"<?xml version="1.0"?><gpx version="1.1" creator="máy định vị"><trk><name>Tuần tra Kiểng Phước</name><trkseg>
<trkpt lat="10.2841" lon="106.7788"><time>2025-01-01T22:40:00Z</time></trkpt>
<trkpt lat="10.2850" lon="106.7801"><time>2025-01-01T22:50:00Z</time></trkpt>
<trkpt lat="10.2862" lon="106.7815"><time>2025-01-01T23:00:00Z</time></trkpt>
</trkseg></trk></gpx>"#,
    )
    .expect("write gpx");
    let report = c.import_track(id, &gpx).expect("gpx");
    assert_eq!(report.points, 3);
    assert_eq!(report.outside_patrol_time, 0);
    assert_eq!(c.show(id).expect("show").track_points, 3);
    // The same file again adds nothing.
    let again = c.import_track(id, &gpx).expect("gpx again");
    assert_eq!(again.outcome, WriteOutcome::Unchanged);
    assert_eq!(c.show(id).expect("show").track_points, 3);

    let nmea = dir.path().join("log.nmea");
    let text = [
        nmea_line("GPRMC,231000,A,1017.0512,N,10646.7321,E,5.0,90.0,010125,,"),
        nmea_line("GPGGA,231500,1017.1000,N,10646.8000,E,1,08,0.9,1.0,M,,M,,"),
        "$GPRMC,232000,A,1017.2,N,10646.9,E,5.0,90.0,010125,,*00".to_string(),
        nmea_line("GPRMC,232500,V,1017.2,N,10646.9,E,5.0,90.0,010125,,"),
    ]
    .join("\n");
    std::fs::write(&nmea, text).expect("write nmea");
    let report = c.import_track(id, &nmea).expect("nmea");
    assert_eq!(report.points, 2);
    assert_eq!(
        report.skipped.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert_eq!(c.show(id).expect("show").track_points, 5);

    // Not a patrol, unknown extension, broken file: clear errors, nothing stored.
    let err = c
        .import_track("plan:item:001", &gpx)
        .expect_err("not a patrol");
    assert!(err.to_string().contains("not a patrol"));
    let odd = dir.path().join("track.kml");
    std::fs::write(&odd, "<kml/>").expect("write");
    assert!(c
        .import_track(id, &odd)
        .expect_err("kml")
        .to_string()
        .contains(".gpx"));
    let broken = dir.path().join("broken.gpx");
    std::fs::write(
        &broken,
        "<gpx><trk><trkseg><trkpt lat=\"10\" lon=\"106\"></trkpt>",
    )
    .expect("write");
    assert!(c
        .import_track(id, &broken)
        .expect_err("broken")
        .is_user_error());
    assert_eq!(c.show(id).expect("show").track_points, 5);
}
