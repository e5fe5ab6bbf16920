//! The seeded synthetic province, in the interchange format: six coastal stations, each with
//! four patrols a day (100–300 GPS points each, vessel inspections, violations, incidents), an
//! information exchange a day to HQ and a neighbouring station, a community activity every fifth
//! day; and the shared plan of 50 items (its stream of concurrent offline edits is in
//! [`crate::edits`]). Vietnamese text throughout.
//!
//! Every station-day has its own generator, seeded from (seed, station, day), so any day can be
//! produced without the ones before it and the same seed always gives the same lines. Positions
//! and times are integers (micro-degrees, seconds): no floating-point trigonometry whose last bit
//! could differ between machines.

use chrono::{Days, FixedOffset, NaiveDate, TimeZone};
use serde_json::{json, Value};
use tidemark_testkit::Rng;

/// The provincial command (the root of the unit tree).
pub const HQ: &str = "Bộ Chỉ huy BĐBP tỉnh Tiền Giang";
/// The two district Party committees.
pub const COMMITTEES: [&str; 2] = ["Huyện ủy Gò Công Đông", "Huyện ủy Tân Phú Đông"];
/// Patrols a station runs each day.
pub const PATROLS_PER_DAY: u32 = 4;
/// Items in the shared plan.
pub const PLAN_ITEMS: usize = 50;
/// The shared plan's id.
pub const PLAN_ID: &str = "plan:2025";
/// Fewest and most GPS points of a patrol's route.
pub const ROUTE_POINTS: (u32, u32) = (100, 300);

/// The six coastal stations: code, name, home position (micro-degrees).
pub const STATIONS: [(&str, &str, i64, i64); 6] = [
    ("TT", "Đồn Biên phòng Tân Thành", 10_284_187, 106_778_869),
    ("KP", "Đồn Biên phòng Kiểng Phước", 10_271_530, 106_742_210),
    ("VL", "Đồn Biên phòng Vàm Láng", 10_338_410, 106_765_090),
    ("PT", "Đồn Biên phòng Phú Tân", 10_246_870, 106_701_340),
    ("PD", "Đồn Biên phòng Phú Đông", 10_302_650, 106_810_520),
    ("CT", "Đồn Biên phòng Cửa Tiểu", 10_259_940, 106_759_780),
];

/// Unix seconds of 2025-01-01T00:00:00+07:00.
const EPOCH: i64 = 1_735_664_400;
/// Vietnam's offset from UTC, in seconds.
const OFFSET: i32 = 7 * 3600;

const SURNAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
    "Ngô", "Dương", "Lý",
];
const MIDDLE: &[&str] = &[
    "Văn", "Thị", "Công", "Minh", "Quốc", "Ngọc", "Hoàng", "Đức", "Thanh", "Hữu",
];
const GIVEN: &[&str] = &[
    "Long", "Vũ", "Đạt", "Hải", "Dũng", "Tuấn", "Hường", "Bình", "Đức", "Phước", "Thành", "Hùng",
    "Lan", "Hoa", "Nghĩa", "Tâm", "Khoa", "Triều",
];
const RANKS: &[&str] = &[
    "Đại úy",
    "Trung úy",
    "Thượng úy",
    "Thiếu tá",
    "Thượng sĩ",
    "Trung sĩ",
];
const AREAS: &[&str] = &[
    "Cửa Soài Rạp",
    "Vùng nuôi nghêu Vàm Láng",
    "Cửa Tiểu",
    "Vùng biển xã Kiểng Phước",
    "Cồn Ngang",
    "Cửa Đại",
    "Bãi bồi Tân Thành",
];
const VESSELS: &[&str] = &[
    "Xuồng CQ-02",
    "Xuồng CQ-05",
    "Tàu BP-15-01",
    "Tàu BP-15-02",
    "Ca nô CN-07",
];
const JOINT: &[&str] = &[
    "Công an huyện Gò Công Đông",
    "Ban Chỉ huy Quân sự huyện Gò Công Đông",
    "Dân quân xã Kiểng Phước",
    "Kiểm ngư Vùng V",
];
const VIOLATIONS: &[&str] = &[
    "Sử dụng ngư cụ cấm (lưới cào điện)",
    "Khai thác thủy sản bất hợp pháp (IUU)",
    "Thiếu giấy tờ (sổ danh bạ thuyền viên)",
    "Không bật thiết bị giám sát hành trình",
    "Vận chuyển hàng lậu (thuốc lá)",
    "Khai thác nghêu giống trái phép",
];
const ACTIONS: &[&str] = &[
    "Nhắc nhở, yêu cầu khắc phục",
    "Lập biên bản vi phạm hành chính",
    "Phạt tiền",
    "Tạm giữ phương tiện, dẫn giải về đồn",
];
const RESULTS: &[&str] = &[
    "Giấy tờ đầy đủ, hợp lệ",
    "Thiếu sổ danh bạ thuyền viên",
    "Không mang giấy phép khai thác",
    "Thuyền viên chưa có chứng chỉ",
];
const CATCH: &[&str] = &[
    "57 kg cá khoai",
    "120 kg tôm",
    "80 kg mực",
    "35 kg cá đối",
    "200 kg nghêu",
    "45 kg cua biển",
];
const WEATHER: &[&str] = &[
    "Thời tiết trời quang, gió cấp 4, biển động nhẹ.",
    "Trời nhiều mây, có mưa rào, tầm nhìn xa hạn chế.",
    "Gió đông bắc cấp 5–6, sóng cao 2 m, đã cho tàu quay về sớm.",
    "Biển êm, ngư dân ra khơi đông, tăng cường kiểm tra giấy tờ.",
    "Triều cường, nước dâng cao ở cửa sông, chú ý luồng lạch.",
];
const REMARKS: &[&str] = &[
    "Đã tuyên truyền Luật Biên phòng cho thuyền viên.",
    "Phát hiện lưới bỏ hoang, đã thu hồi.",
    "Phối hợp Kiểm ngư kiểm tra tàu cá ngoài tỉnh.",
    "Không phát hiện vụ việc bất thường.",
];
const INCIDENTS: &[&str] = &[
    "Phát hiện phương tiện lạ neo đậu gần vùng nuôi nghêu, đã kiểm tra và nhắc nhở.",
    "Tàu cá mất liên lạc, đã phối hợp tìm kiếm và lai dắt về bến an toàn.",
    "Ngư dân bị thương nhẹ khi kéo lưới, đã sơ cứu và đưa vào bờ.",
];
const ACTIVITY_KINDS: &[&str] = &[
    "Tuyên truyền pháp luật",
    "Khám chữa bệnh",
    "Hỗ trợ hộ nghèo",
    "Tặng quà gia đình chính sách",
    "Nâng bước em tới trường",
];
const PLACES: &[&str] = &[
    "xã Kiểng Phước",
    "xã Tân Thành",
    "xã Vàm Láng",
    "xã Phú Tân",
    "xã Phú Đông",
    "Khu phố 3",
    "ấp Cồn Ngang",
];
const SUBJECTS: &[&str] = &[
    "Tình hình thời tiết, biển",
    "Tàu cá nghi vấn vi phạm",
    "Kế hoạch tuần tra chung",
    "Tình hình an ninh vùng nuôi nghêu",
    "Đối tượng nghi vận chuyển hàng lậu",
];
const TASKS: &[&str] = &[
    "Tuần tra chung trên biển",
    "Tuyên truyền Luật Biên phòng",
    "Khám bệnh, cấp thuốc cho ngư dân",
    "Bảo đảm an ninh vùng nuôi nghêu",
    "Chống khai thác IUU",
    "Trao đổi thông tin tàu cá",
    "Diễn tập tìm kiếm cứu nạn",
    "Xây dựng tổ tàu thuyền an toàn",
];

/// A deterministic generator for one (seed, part…) combination.
pub fn rng_for(seed: u64, parts: &[u64]) -> Rng {
    let mut r = Rng::new(seed);
    for p in parts {
        let mixed = r.next_u64() ^ p.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        r = Rng::new(mixed);
    }
    r
}

fn person(r: &mut Rng) -> String {
    format!(
        "{} {} {} {}",
        r.pick(RANKS),
        r.pick(SURNAMES),
        r.pick(MIDDLE),
        r.pick(GIVEN)
    )
}

fn civilian(r: &mut Rng) -> String {
    format!("{} {} {}", r.pick(SURNAMES), r.pick(MIDDLE), r.pick(GIVEN))
}

fn registration(r: &mut Rng) -> String {
    format!("TG-9{:04}-TS", r.below(10_000))
}

/// `YYYY-MM-DD` of day `d` counted from 2025-01-01.
pub fn date(d: u32) -> String {
    day(d).format("%Y-%m-%d").to_string()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1)
        .and_then(|s| s.checked_add_days(Days::new(u64::from(d))))
        .unwrap_or(NaiveDate::MAX)
}

/// ISO-8601 at +07:00 of unix seconds `t`.
pub fn iso(t: i64) -> String {
    FixedOffset::east_opt(OFFSET)
        .and_then(|tz| tz.timestamp_opt(t, 0).single())
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_default()
}

fn micro(v: i64) -> f64 {
    v as f64 / 1e6
}

/// Sixteen compass headings as (north, east) components × 1000.
const HEADINGS: [(i64, i64); 16] = [
    (1000, 0),
    (924, 383),
    (707, 707),
    (383, 924),
    (0, 1000),
    (-383, 924),
    (-707, 707),
    (-924, 383),
    (-1000, 0),
    (-924, -383),
    (-707, -707),
    (-383, -924),
    (0, -1000),
    (383, -924),
    (707, -707),
    (924, -383),
];

/// A patrol's GPS track: out to sea and back, one fix every 30–60 s at 2–8 knots (a third of
/// the time drifting at 0–1 knot beside a boat being inspected), wandering a compass point at a
/// time. Points are `[lat, lon, unix_seconds]`.
pub fn route(r: &mut Rng, home: (i64, i64), start: i64) -> Vec<Value> {
    let n = ROUTE_POINTS.0 + r.below(u64::from(ROUTE_POINTS.1 - ROUTE_POINTS.0 + 1)) as u32;
    let interval = 30 + r.below(31) as i64;
    // Seaward: south-east-ish, turning back half-way.
    let mut heading = 5 + r.below(3) as usize;
    let (mut lat, mut lon) = (
        home.0 + r.below(2001) as i64 - 1000,
        home.1 + r.below(2001) as i64 - 1000,
    );
    let mut t = start;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        out.push(json!([micro(lat), micro(lon), t]));
        if i == n / 2 {
            heading = (heading + 8) % 16;
        }
        match r.below(6) {
            0 => heading = (heading + 1) % 16,
            1 => heading = (heading + 15) % 16,
            _ => {}
        }
        // knots × 0.514 m/s × seconds ≈ metres; ≈ 9 micro-degrees per metre.
        let knots = if r.below(3) == 0 {
            r.below(2) as i64
        } else {
            2 + r.below(7) as i64
        };
        let udeg = knots * 514 * interval * 9 / 1000;
        let (dn, de) = HEADINGS[heading];
        lat += udeg * dn / 1000;
        lon += udeg * de / 1000;
        t += interval - 2 + r.below(5) as i64;
    }
    out
}

/// Patrol `n` (0-based) of station `s` on day `d`.
pub fn patrol(r: &mut Rng, s: usize, d: u32, n: u32) -> Value {
    let (code, name, home_lat, home_lon) = STATIONS[s % STATIONS.len()];
    let hour = [5, 10, 14, 19][n as usize % 4] + i64::from(n / 4);
    let start = EPOCH + i64::from(d) * 86_400 + hour * 3600 + r.below(50) as i64 * 60;
    let track = route(r, (home_lat, home_lon), start);
    let end = track.last().and_then(|p| p[2].as_i64()).unwrap_or(start) + 300;
    let mut notes = r.pick(WEATHER).to_string();
    if r.below(2) == 0 {
        notes.push(' ');
        notes.push_str(r.pick(REMARKS));
    }
    let mut v = json!({
        "type": "patrol",
        "id": format!("patrol:{code}:{}:{:02}", date(d).replace('-', ""), n + 1),
        "station": name, "station_code": code,
        "start": iso(start), "end": iso(end),
        "sea_area": r.pick(AREAS), "vessel": r.pick(VESSELS), "commander": person(r),
        "crew": [person(r), person(r), person(r)],
        "notes": notes,
    });
    if r.below(3) == 0 {
        v["joint_forces"] = json!([r.pick(JOINT)]);
    }
    let inspections: Vec<Value> = (0..r.below(4))
        .map(|_| {
            let at = &track[r.below(track.len() as u64) as usize];
            json!({"registration": registration(r), "owner": civilian(r), "captain": civilian(r),
                   "crew_count": 3 + r.below(10), "catch": r.pick(CATCH),
                   "position": [at[0], at[1]], "result": r.pick(RESULTS)})
        })
        .collect();
    if !inspections.is_empty() {
        v["vessels_inspected"] = json!(inspections);
    }
    if r.below(4) == 0 {
        v["violations"] = json!([{"registration": registration(r), "violation": r.pick(VIOLATIONS),
                                  "action": r.pick(ACTIONS), "fine_vnd": (1 + r.below(50)) * 1_000_000}]);
    }
    if r.below(10) == 0 {
        v["incidents"] = json!([{"description": r.pick(INCIDENTS), "time": iso(start + 3600)}]);
    }
    v["route"] = Value::Array(track);
    v
}

/// Every record station `s` makes on day `d`: its patrols, its exchange to HQ and to the next
/// station along the coast, and on every fifth day (staggered by station) a community activity.
pub fn station_day(seed: u64, s: usize, d: u32) -> Vec<Value> {
    let mut r = rng_for(seed, &[s as u64, u64::from(d)]);
    let (code, name, _, _) = STATIONS[s % STATIONS.len()];
    let neighbour = STATIONS[(s + 1) % STATIONS.len()].1;
    let mut out: Vec<Value> = (0..PATROLS_PER_DAY)
        .map(|n| patrol(&mut r, s, d, n))
        .collect();
    let inspected: usize = out
        .iter()
        .map(|p| p["vessels_inspected"].as_array().map_or(0, Vec::len))
        .sum();
    let violations = out.iter().filter(|p| p.get("violations").is_some()).count();
    out.push(json!({
        "type": "info_exchange", "id": format!("info:{code}:{}", date(d).replace('-', "")),
        "from_unit": name, "to_units": [HQ, neighbour],
        "sent_at": iso(EPOCH + i64::from(d) * 86_400 + 17 * 3600 + r.below(60) as i64 * 60),
        "subject": r.pick(SUBJECTS),
        "body": format!("Trong ngày đồn tổ chức {PATROLS_PER_DAY} lượt tuần tra, kiểm tra {inspected} phương tiện, \
                         phát hiện {violations} trường hợp vi phạm. {} Đề nghị các đơn vị phối hợp theo dõi.",
                        r.pick(WEATHER)),
    }));
    if (d as usize + s).is_multiple_of(5) {
        out.push(json!({
            "type": "community_activity", "id": format!("community:{code}:{}", date(d).replace('-', "")),
            "station": name, "date": date(d), "kind": r.pick(ACTIVITY_KINDS), "location": r.pick(PLACES),
            "participants": 20 + r.below(150), "officers": [person(&mut r), person(&mut r)],
            "description": format!("Phối hợp chính quyền {} tổ chức hoạt động cho bà con ngư dân.", r.pick(PLACES)),
        }));
    }
    out
}

/// Every station's records for days `days`, station by station within each day.
pub fn days(seed: u64, days: std::ops::Range<u32>) -> impl Iterator<Item = Value> {
    days.flat_map(move |d| (0..STATIONS.len()).flat_map(move |s| station_day(seed, s, d)))
}

/// The parties of the shared plan: HQ, the six stations, the two committees.
pub fn plan_parties() -> Vec<&'static str> {
    let mut parties = vec![HQ];
    parties.extend(STATIONS.iter().map(|s| s.1));
    parties.extend(COMMITTEES);
    parties
}

/// The id of plan item `i` (0-based).
pub fn plan_item_id(i: usize) -> String {
    format!("plan:item:{:03}", i + 1)
}

/// The shared plan and its 50 items, as interchange values.
pub fn plan(seed: u64) -> Vec<Value> {
    let mut r = rng_for(seed, &[u64::MAX]);
    let mut out = vec![json!({
        "type": "plan", "id": PLAN_ID, "title": "Kế hoạch phối hợp bảo vệ chủ quyền, an ninh biên giới biển năm 2025",
        "period_from": "2025-01-01", "period_to": "2025-12-31", "parties": plan_parties(),
        "sections": [
            {"heading": "I. Mục đích, yêu cầu", "body": "Phối hợp chặt chẽ giữa Bộ đội Biên phòng và cấp ủy, chính quyền địa phương."},
            {"heading": "II. Nội dung phối hợp", "body": "Tuần tra chung, trao đổi thông tin, tuyên truyền pháp luật, khám chữa bệnh cho ngư dân."}
        ]
    })];
    for i in 0..PLAN_ITEMS {
        let responsible = if i % 7 == 6 {
            HQ
        } else {
            STATIONS[i % STATIONS.len()].1
        };
        out.push(json!({
            "type": "plan_item", "id": plan_item_id(i), "plan": PLAN_ID,
            "title": format!("{} — đợt {}", r.pick(TASKS), i + 1),
            "content": format!("Các đơn vị phối hợp tổ chức thực hiện tại {}.", r.pick(PLACES)),
            "measures": "Phân công lực lượng, phương tiện; báo cáo kết quả hằng tháng.",
            "responsible_unit": responsible, "supporting_units": COMMITTEES,
            "deadline": date(30 + (i as u32 * 7) % 300), "status": "new",
            "progress_notes": "Đã triển khai.",
        }));
    }
    out
}

/// The province's units as interchange lines (HQ first, then its stations, the committees and
/// partners).
pub fn unit_lines() -> Vec<String> {
    tidemark_testkit::unit_lines()
}

/// Everything a store needs for `n_days` of the province: units, the plan and its items, then
/// every station's days.
pub fn province_lines(seed: u64, n_days: u32) -> Vec<String> {
    let mut lines = unit_lines();
    lines.extend(plan(seed).iter().map(Value::to_string));
    lines.extend(days(seed, 0..n_days).map(|v| v.to_string()));
    lines
}

/// Records per day of the whole province, on average (patrols, exchanges, activities).
pub fn records_per_day() -> f64 {
    STATIONS.len() as f64 * (f64::from(PATROLS_PER_DAY) + 1.0 + 0.2)
}
