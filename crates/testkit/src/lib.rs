//! Deterministic corpora of realistic Vietnamese records in the interchange format, for tests,
//! benchmarks and the demo. The same seed always gives the same lines, on every machine: the
//! generator uses its own SplitMix64, not a library RNG whose stream may change.
//!
//! [`faultproxy`] is a TCP proxy that breaks connections on purpose, for tests of weak links.

pub mod crash;
pub mod faultproxy;

use serde_json::{json, Value};

/// A small deterministic random number generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One element of a non-empty slice.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The province's units: (code, name, kind, parent).
pub const UNITS: &[(&str, &str, &str, Option<&str>)] = &[
    ("HQ", "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "hq", None),
    (
        "DU",
        "Đảng ủy BĐBP Tiền Giang",
        "party_committee",
        Some("Bộ Chỉ huy BĐBP tỉnh Tiền Giang"),
    ),
    (
        "TT",
        "Đồn Biên phòng Tân Thành",
        "station",
        Some("Bộ Chỉ huy BĐBP tỉnh Tiền Giang"),
    ),
    (
        "KP",
        "Đồn Biên phòng Kiểng Phước",
        "station",
        Some("Bộ Chỉ huy BĐBP tỉnh Tiền Giang"),
    ),
    (
        "VL",
        "Đồn Biên phòng Vàm Láng",
        "station",
        Some("Bộ Chỉ huy BĐBP tỉnh Tiền Giang"),
    ),
    (
        "PT",
        "Đồn Biên phòng Phú Tân",
        "station",
        Some("Bộ Chỉ huy BĐBP tỉnh Tiền Giang"),
    ),
    (
        "PD",
        "Đồn Biên phòng Phú Đông",
        "station",
        Some("Bộ Chỉ huy BĐBP tỉnh Tiền Giang"),
    ),
    (
        "CT",
        "Đồn Biên phòng Cửa Tiểu",
        "station",
        Some("Bộ Chỉ huy BĐBP tỉnh Tiền Giang"),
    ),
    ("GCD", "Huyện ủy Gò Công Đông", "district_committee", None),
    ("TPD", "Huyện ủy Tân Phú Đông", "district_committee", None),
    ("CA", "Công an huyện Gò Công Đông", "partner", None),
    (
        "QS",
        "Ban Chỉ huy Quân sự huyện Gò Công Đông",
        "partner",
        None,
    ),
];

const SURNAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
    "Ngô", "Dương",
];
const MIDDLE: &[&str] = &[
    "Văn", "Thị", "Công", "Minh", "Quốc", "Ngọc", "Hoàng", "Đức", "Thanh",
];
const GIVEN: &[&str] = &[
    "Long", "Vũ", "Đạt", "Hải", "Dũng", "Tuấn", "Hường", "Bình", "Đức", "Phước", "Thành", "Hùng",
    "Lan", "Hoa", "Nghĩa", "Tâm",
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
];
const VESSELS: &[&str] = &[
    "Xuồng CQ-02",
    "Xuồng CQ-05",
    "Tàu BP-15-01",
    "Tàu BP-15-02",
    "Ca nô CN-07",
];
const VIOLATIONS: &[&str] = &[
    "Sử dụng ngư cụ cấm (lưới cào điện)",
    "Khai thác thủy sản bất hợp pháp (IUU)",
    "Thiếu giấy tờ (sổ danh bạ thuyền viên)",
    "Không bật thiết bị giám sát hành trình",
    "Vận chuyển hàng lậu (thuốc lá)",
];
const ACTIONS: &[&str] = &[
    "Nhắc nhở, yêu cầu khắc phục",
    "Lập biên bản",
    "Phạt tiền",
    "Tạm giữ phương tiện",
];
const RESULTS: &[&str] = &[
    "Giấy tờ đầy đủ, hợp lệ",
    "Thiếu sổ danh bạ thuyền viên",
    "Không mang giấy phép khai thác",
];
const CATCH: &[&str] = &[
    "57 kg cá khoai",
    "120 kg tôm",
    "80 kg mực",
    "35 kg cá đối",
    "200 kg nghêu",
];
const WEATHER: &[&str] = &[
    "Thời tiết trời quang, gió cấp 4, biển động nhẹ.",
    "Trời nhiều mây, có mưa rào, tầm nhìn xa hạn chế.",
    "Gió đông bắc cấp 5–6, sóng cao 2 m, đã cho tàu quay về sớm.",
    "Biển êm, ngư dân ra khơi đông, tăng cường kiểm tra giấy tờ.",
];
const ACTIVITY_KINDS: &[&str] = &[
    "Tuyên truyền pháp luật",
    "Khám chữa bệnh",
    "Hỗ trợ hộ nghèo",
    "Tặng quà gia đình chính sách",
];
const COMMUNES: &[&str] = &[
    "xã Kiểng Phước",
    "xã Tân Thành",
    "xã Vàm Láng",
    "xã Phú Tân",
    "xã Phú Đông",
    "Khu phố 3",
];
const SUBJECTS: &[&str] = &[
    "Tình hình thời tiết, biển",
    "Tàu cá nghi vấn vi phạm",
    "Kế hoạch tuần tra chung",
    "Tình hình an ninh vùng nuôi nghêu",
];
const STATUSES: &[&str] = &["mới", "đang thực hiện", "hoàn thành", "tạm hoãn", "hủy"];

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

/// `YYYY-MM-DD` of day `d` counted from 2025-01-01 (a non-leap year, wrapping per 365 days).
pub fn day(d: u32) -> String {
    const MONTHS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let year = 2025 + d / 365;
    let mut rest = d % 365;
    let mut month = 0;
    while rest >= MONTHS[month] {
        rest -= MONTHS[month];
        month += 1;
    }
    format!("{year}-{:02}-{:02}", month + 1, rest + 1)
}

/// Interchange lines of every unit.
pub fn unit_lines() -> Vec<String> {
    UNITS
        .iter()
        .map(|(code, name, kind, parent)| {
            let mut v = json!({"type": "unit", "id": format!("unit:{code}"), "name": name, "code": code, "kind": kind});
            if let Some(p) = parent {
                v["parent"] = json!(p);
            }
            v.to_string()
        })
        .collect()
}

/// The stations (code, name).
pub fn stations() -> Vec<(&'static str, &'static str)> {
    UNITS
        .iter()
        .filter(|u| u.2 == "station")
        .map(|u| (u.0, u.1))
        .collect()
}

/// A patrol of station `s` on day `d`, number `n` of the day.
pub fn patrol(r: &mut Rng, s: (&str, &str), d: u32, n: u32) -> Value {
    let date = day(d);
    let hour = 5 + (n * 5) % 17;
    let hours = 2 + r.below(6) as u32;
    let base_lat = 10.2 + r.below(2000) as f64 / 10_000.0;
    let base_lon = 106.6 + r.below(3000) as f64 / 10_000.0;
    let t0 = 1_735_664_400 + d as i64 * 86_400 + hour as i64 * 3600;
    let route: Vec<Value> = (0..4)
        .map(|i| {
            json!([
                base_lat + i as f64 * 0.001,
                base_lon + i as f64 * 0.0015,
                t0 + i * 600
            ])
        })
        .collect();
    let mut v = json!({
        "type": "patrol",
        "id": format!("patrol:{}:{}:{:02}", s.0, date.replace('-', ""), n + 1),
        "station": s.1, "station_code": s.0,
        "start": format!("{date}T{hour:02}:00:00+07:00"),
        "end": format!("{date}T{:02}:30:00+07:00", (hour + hours).min(23)),
        "sea_area": r.pick(AREAS), "vessel": r.pick(VESSELS), "commander": person(r),
        "crew": [person(r), person(r)],
        "route": route,
        "notes": r.pick(WEATHER),
    });
    if r.below(3) == 0 {
        v["joint_forces"] = json!([r.pick(&[
            "Công an huyện Gò Công Đông",
            "Ban Chỉ huy Quân sự huyện Gò Công Đông",
            "Dân quân xã Kiểng Phước"
        ])]);
    }
    let inspections: Vec<Value> = (0..r.below(3))
        .map(|_| json!({"registration": registration(r), "owner": civilian(r), "crew_count": 3 + r.below(10),
                        "catch": r.pick(CATCH), "position": [base_lat, base_lon], "result": r.pick(RESULTS)}))
        .collect();
    if !inspections.is_empty() {
        v["vessels_inspected"] = json!(inspections);
    }
    if r.below(5) == 0 {
        v["violations"] = json!([{"registration": registration(r), "violation": r.pick(VIOLATIONS),
                                  "action": r.pick(ACTIONS), "fine_vnd": (1 + r.below(50)) * 1_000_000}]);
    }
    v
}

/// A corpus of exactly `records` lines (or just the units and the plan, if fewer): units and
/// one plan first, then a mix like a province's year: mostly patrols (4 a day per station), then
/// activities, exchanges and plan items.
pub fn corpus(seed: u64, records: usize) -> Vec<String> {
    let mut r = Rng::new(seed);
    let mut out = unit_lines();
    out.push(
        json!({"type": "plan", "id": "plan:2025", "title": "Kế hoạch phối hợp năm 2025", "period_from": "2025-01-01",
               "period_to": "2027-12-31", "parties": ["Đảng ủy BĐBP Tiền Giang", "Huyện ủy Gò Công Đông", "Huyện ủy Tân Phú Đông"],
               "sections": [{"heading": "I. Mục đích", "body": "Phối hợp bảo vệ chủ quyền, an ninh biên giới biển."}]})
        .to_string(),
    );
    let stations = stations();
    let mut i = 0usize;
    while out.len() < records {
        // One day per round of 4 patrols at every station: 100,000 records span about 11 years.
        let d = (i / (stations.len() * 4)) as u32;
        let s = stations[i % stations.len()];
        let n = ((i / stations.len()) % 4) as u32;
        let line = match i % 10 {
            0 => {
                json!({"type": "community_activity", "id": format!("community:{}:{i}", s.0), "station": s.1,
                        "date": day(d), "kind": r.pick(ACTIVITY_KINDS), "location": r.pick(COMMUNES),
                        "participants": 20 + r.below(150), "officers": [person(&mut r)],
                        "description": "Tuyên truyền Luật Biên phòng Việt Nam cho bà con ngư dân."})
            }
            1 => {
                json!({"type": "info_exchange", "id": format!("info:{}:{i}", s.0), "from_unit": s.1,
                        "to_units": ["Bộ Chỉ huy BĐBP tỉnh Tiền Giang", r.pick(&["Huyện ủy Gò Công Đông", "Huyện ủy Tân Phú Đông"])],
                        "sent_at": format!("{}T16:58:00+07:00", day(d)), "subject": r.pick(SUBJECTS),
                        "body": format!("Đồn báo cáo: {}", r.pick(WEATHER))})
            }
            2 => json!({"type": "plan_item", "id": format!("plan:item:{i}"), "plan": "plan:2025",
                        "title": format!("Nhiệm vụ phối hợp số {i}"), "content": "Tổ chức tuần tra chung, trao đổi thông tin.",
                        "responsible_unit": s.1, "supporting_units": ["Huyện ủy Gò Công Đông"],
                        "deadline": day(d % 1095), "status": r.pick(STATUSES)}),
            _ => patrol(&mut r, s, d, n),
        };
        out.push(line.to_string());
        i += 1;
    }
    out
}

/// The province's 2025 coordination plan, as one interchange line.
pub fn plan_line() -> String {
    json!({"type": "plan", "id": "plan:2025", "title": "Kế hoạch phối hợp năm 2025",
           "period_from": "2025-01-01", "period_to": "2025-12-31",
           "parties": ["Bộ Chỉ huy BĐBP tỉnh Tiền Giang"]})
    .to_string()
}

/// Everything a store needs for [`province`]'s records, as interchange lines: the units, the
/// plan, then the records.
pub fn province_lines(seed: u64, days: u32, per_day: u32) -> Vec<String> {
    let mut lines = unit_lines();
    lines.push(plan_line());
    lines.extend(province(seed, days, per_day).iter().map(Value::to_string));
    lines
}

/// A province's records over `days` days from 2025-01-01, as interchange values: every
/// station's `per_day` patrols a day, a community activity every fifth day and an exchange
/// every day per station, and 50 plan items across the stations with deadlines through the
/// year. Units are not included (see [`unit_lines`]). Seeded: the same seed gives the same
/// records.
pub fn province(seed: u64, days: u32, per_day: u32) -> Vec<Value> {
    let mut r = Rng::new(seed);
    let stations = stations();
    let mut out = Vec::new();
    for d in 0..days {
        for (si, s) in stations.iter().enumerate() {
            for n in 0..per_day {
                out.push(patrol(&mut r, *s, d, n));
            }
            if (d + si as u32).is_multiple_of(5) {
                out.push(json!({"type": "community_activity", "id": format!("community:{}:{}", s.0, day(d)),
                    "station": s.1, "date": day(d), "kind": r.pick(ACTIVITY_KINDS), "location": r.pick(COMMUNES),
                    "participants": 20 + r.below(150), "officers": [person(&mut r)],
                    "description": "Tuyên truyền Luật Biên phòng Việt Nam cho bà con ngư dân."}));
            }
            let mut x = json!({"type": "info_exchange", "id": format!("info:{}:{}", s.0, day(d)), "from_unit": s.1,
                "to_units": ["Bộ Chỉ huy BĐBP tỉnh Tiền Giang", r.pick(&["Huyện ủy Gò Công Đông", "Huyện ủy Tân Phú Đông"])],
                "sent_at": format!("{}T16:58:00+07:00", day(d)), "subject": r.pick(SUBJECTS),
                "body": format!("Đồn báo cáo: {}", r.pick(WEATHER))});
            if r.below(3) > 0 {
                x["acknowledgements"] = json!({"Bộ Chỉ huy BĐBP tỉnh Tiền Giang":
                    {"at": format!("{}T18:05:00+07:00", day(d)), "by": person(&mut r)}});
            }
            out.push(x);
        }
    }
    for i in 0..50u32 {
        let s = stations[i as usize % stations.len()];
        out.push(json!({"type": "plan_item", "id": format!("plan:item:{:03}", i + 1), "plan": "plan:2025",
            "title": format!("Nhiệm vụ phối hợp số {} — Đồn {}", i + 1, s.0),
            "content": "Tổ chức tuần tra chung, trao đổi thông tin, tuyên truyền pháp luật.",
            "responsible_unit": s.1, "supporting_units": ["Huyện ủy Gò Công Đông"],
            "deadline": day(i * 7 % 365), "status": r.pick(STATUSES)}));
    }
    out
}
