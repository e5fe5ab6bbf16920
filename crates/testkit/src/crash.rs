//! Records for the crash test and its writer process (`tests/src/bin/crash_writer.rs` in the
//! province test crate): both must build exactly the same records from a seed and an index.

/// The unit of every crash-test record.
pub const UNIT: &str = "Đồn Biên phòng Tân Thành";

/// The interchange line of patrol `i` of run `seed`.
pub fn patrol_line(seed: u64, i: u64) -> String {
    let mut patrol = serde_json::json!({
        "type": "patrol",
        "id": format!("patrol:TT:crash:{seed}:{i}"),
        "station": UNIT,
        "station_code": "TT",
        "start": format!("2025-03-{:02}T{:02}:{:02}:00+07:00", 1 + i % 28, 18 + i % 5, i % 60),
        "end": format!("2025-03-{:02}T23:{:02}:00+07:00", 1 + i % 28, i % 60),
        "sea_area": "Cửa Soài Rạp",
        "vessel": "Xuồng CQ-02",
        "commander": "Trung úy Lê Quốc Vũ",
        "crew": ["Đại úy Hoàng Công Long", "Thượng sĩ Nguyễn Văn Đức"],
        "joint_forces": ["Công an xã Kiểng Phước"],
        "route": [
            [10.284187, 106.778869, 1_741_000_000 + i as i64 * 60],
            [10.284426, 106.779617, 1_741_000_048 + i as i64 * 60],
            [10.286066, 106.806022, 1_741_000_300 + i as i64 * 60],
        ],
        // Every seventh note is long (a few pages), so some transactions span many pages.
        "notes": format!("Tuần tra đêm số {i}, gió cấp 4, biển động nhẹ. ")
            .repeat(if i % 7 == 3 { 400 } else { 1 + (i % 4) as usize }),
    });
    if i % 5 == 1 {
        patrol["vessels_inspected"] = serde_json::json!([{
            "registration": format!("TG-9{:04}-TS", i % 10_000),
            "owner": "Đỗ Hoàng Dũng",
            "captain": "Nguyễn Ngọc Tuấn",
            "crew_count": 1 + i % 12,
            "catch": "57 kg cá khoai",
            "result": "Giấy tờ đầy đủ, hợp lệ",
        }]);
    }
    patrol.to_string()
}

/// The edit made after saving patrol `i`, if any: (index of the patrol edited, its new vessel).
pub fn edit_of(seed: u64, i: u64) -> Option<(u64, String)> {
    (i % 3 == 2).then(|| (i / 2, format!("Tàu tuần tra BP-{seed}-{i} (đã sửa chữa)")))
}

/// The id of patrol `i` of run `seed`.
pub fn patrol_id(seed: u64, i: u64) -> String {
    format!("patrol:TT:crash:{seed}:{i}")
}
