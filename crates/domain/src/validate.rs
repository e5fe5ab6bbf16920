//! Validation with specific messages in Vietnamese and English.
//!
//! [`validate`] lists every problem of a record at once, so a form or an import report can show
//! them all. Checks that need other records (known units, the plan period) take them from a
//! [`Context`] the caller fills in.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::fold::fold_for_search;
use crate::message::Message;
use crate::records::{Inspection, Record, Violation};

/// What validation needs to know about other records.
#[derive(Debug, Default, Clone)]
pub struct Context {
    /// Folded names and codes of known units; `None` skips the unknown-unit check.
    pub units: Option<HashSet<String>>,
    /// Plan periods by plan id.
    pub plan_periods: HashMap<String, (NaiveDate, NaiveDate)>,
    /// Id of the current plan, for plan items that name none.
    pub current_plan: Option<String>,
}

impl Context {
    /// Whether a unit name or code is known (always true when units are not checked).
    pub fn knows_unit(&self, name: &str) -> bool {
        self.units
            .as_ref()
            .is_none_or(|u| u.contains(&fold_for_search(name.trim())))
    }
}

/// Parses an ISO-8601 time with offset.
pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s.trim()).ok()
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Whether `s` has the shape of a fishing-vessel registration number: `TG-93096-TS`
/// (province letters, 3–6 digits, use letters).
pub fn is_registration(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let letters = |p: &str, min: usize, max: usize| {
        (min..=max).contains(&p.len()) && p.chars().all(|c| c.is_ascii_uppercase())
    };
    parts.len() == 3
        && letters(parts[0], 1, 3)
        && (3..=6).contains(&parts[1].len())
        && parts[1].chars().all(|c| c.is_ascii_digit())
        && letters(parts[2], 2, 3)
}

/// Collects messages for one record.
struct Checker<'a> {
    ctx: &'a Context,
    out: Vec<Message>,
}

impl Checker<'_> {
    fn push(&mut self, field: &str, code: &'static str, vi: String, en: String) {
        self.out.push(Message::new(field, code, vi, en));
    }

    fn required(&mut self, field: &str, value: &str) -> bool {
        if value.trim().is_empty() {
            self.push(
                field,
                "required",
                format!("Trường “{field}” là bắt buộc."),
                format!("Field “{field}” is required."),
            );
            return false;
        }
        true
    }

    fn time(&mut self, field: &str, value: &str) -> Option<DateTime<FixedOffset>> {
        if !self.required(field, value) {
            return None;
        }
        let parsed = parse_time(value);
        if parsed.is_none() {
            self.push(
                field,
                "bad_time",
                format!("“{field}” phải là thời điểm ISO-8601 có múi giờ, ví dụ 2025-01-01T06:19:00+07:00."),
                format!("“{field}” must be an ISO-8601 time with offset, e.g. 2025-01-01T06:19:00+07:00."),
            );
        }
        parsed
    }

    fn date(&mut self, field: &str, value: &str) -> Option<NaiveDate> {
        if !self.required(field, value) {
            return None;
        }
        let parsed = parse_date(value);
        if parsed.is_none() {
            self.push(
                field,
                "bad_date",
                format!("“{field}” phải là ngày dạng YYYY-MM-DD, ví dụ 2025-06-16."),
                format!("“{field}” must be a date as YYYY-MM-DD, e.g. 2025-06-16."),
            );
        }
        parsed
    }

    fn optional_date(&mut self, field: &str, value: Option<&str>) -> Option<NaiveDate> {
        value.and_then(|v| self.date(field, v))
    }

    fn order<T: PartialOrd>(
        &mut self,
        field: &str,
        first: Option<T>,
        last: Option<T>,
        what: (&str, &str),
    ) {
        if let (Some(a), Some(b)) = (first, last) {
            if b < a {
                self.push(
                    field,
                    "end_before_start",
                    format!("“{field}” phải sau {}.", what.0),
                    format!("“{field}” must be after {}.", what.1),
                );
            }
        }
    }

    fn unit(&mut self, field: &str, name: &str) {
        if !name.trim().is_empty() && !self.ctx.knows_unit(name) {
            self.push(
                field,
                "unknown_unit",
                format!("Đơn vị “{name}” ({field}) không có trong danh sách đơn vị; hãy thêm đơn vị trước."),
                format!("Unit “{name}” ({field}) is not a known unit; add the unit first."),
            );
        }
    }

    fn position(&mut self, field: &str, lat: f64, lon: f64) {
        if !(-90.0..=90.0).contains(&lat)
            || !(-180.0..=180.0).contains(&lon)
            || lat.is_nan()
            || lon.is_nan()
        {
            self.push(
                field,
                "coordinates_out_of_range",
                format!("Tọa độ {field} ({lat}, {lon}) ngoài phạm vi: vĩ độ −90..90, kinh độ −180..180."),
                format!("Coordinates {field} ({lat}, {lon}) out of range: latitude −90..90, longitude −180..180."),
            );
        }
    }

    fn attachment(&mut self, field: &str, a: &crate::records::AttachmentRef) {
        let hash_ok =
            |h: &str| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hash_ok(&a.hash) || a.thumb.as_deref().is_some_and(|t| !hash_ok(t)) {
            self.push(
                field,
                "bad_attachment_hash",
                "Tệp đính kèm phải được tham chiếu bằng mã SHA-256 (64 chữ số hex thường).".into(),
                "An attachment must be referenced by its SHA-256 (64 lowercase hex digits).".into(),
            );
        }
        if crate::records::clean_attachment_name(&a.name).as_deref() != Some(a.name.as_str()) {
            self.push(
                field,
                "bad_attachment_name",
                "Tên tệp đính kèm không được rỗng, chứa thư mục hay ký tự điều khiển.".into(),
                "An attachment's name must be non-empty, with no directories or control characters.".into(),
            );
        }
    }

    fn registration(&mut self, field: &str, value: &str) {
        if self.required(field, value) && !is_registration(value.trim()) {
            self.push(
                field,
                "bad_registration",
                format!("Số đăng ký “{value}” không đúng dạng, ví dụ TG-93096-TS."),
                format!(
                    "Registration number “{value}” has the wrong shape; expected e.g. TG-93096-TS."
                ),
            );
        }
    }
}

/// Checks a record; returns every problem found (empty when valid).
pub fn validate(record: &Record, ctx: &Context) -> Vec<Message> {
    let mut c = Checker {
        ctx,
        out: Vec::new(),
    };
    let id = record.id();
    if c.required("id", id)
        && (id.len() > 200 || id.chars().any(|ch| ch.is_control() || ch.is_whitespace()))
    {
        c.push(
            "id",
            "bad_id",
            "Mã bản ghi không được chứa khoảng trắng và dài tối đa 200 ký tự.".into(),
            "A record id must have no whitespace and at most 200 characters.".into(),
        );
    }
    for (field, unit) in record.referenced_units() {
        c.unit(field, unit);
    }
    for (place, a) in record.attachments() {
        c.attachment(&place.field(), a);
    }
    match record {
        Record::Unit(u) => {
            c.required("name", &u.name);
        }
        Record::Patrol(p) => {
            c.required("station", &p.station);
            let start = c.time("start", &p.start);
            let end = p.end.as_deref().and_then(|e| c.time("end", e));
            c.order("end", start, end, ("thời điểm bắt đầu", "the start"));
            p.vessels_inspected
                .iter()
                .enumerate()
                .for_each(|(i, v)| inspection(&mut c, i, v));
            p.violations
                .iter()
                .enumerate()
                .for_each(|(i, v)| violation(&mut c, i, v));
            for (i, inc) in p.incidents.iter().enumerate() {
                c.required(&format!("incidents[{i}].description"), &inc.description);
                if let Some(t) = &inc.time {
                    c.time(&format!("incidents[{i}].time"), t);
                }
            }
        }
        Record::Plan(p) => {
            c.required("title", &p.title);
            let from = c.date("period_from", &p.period_from);
            let to = c.date("period_to", &p.period_to);
            c.order(
                "period_to",
                from,
                to,
                ("ngày bắt đầu kỳ kế hoạch", "the start of the plan period"),
            );
        }
        Record::PlanItem(item) => {
            c.required("title", &item.title);
            c.required("responsible_unit", &item.responsible_unit);
            let deadline = c.optional_date("deadline", item.deadline.as_deref());
            let plan = item.plan.as_ref().or(ctx.current_plan.as_ref());
            if let (Some(d), Some((from, to))) =
                (deadline, plan.and_then(|p| ctx.plan_periods.get(p)))
            {
                if d < *from || d > *to {
                    c.push(
                        "deadline",
                        "deadline_outside_plan",
                        format!("Thời hạn {d} nằm ngoài kỳ kế hoạch {from} – {to}."),
                        format!("Deadline {d} lies outside the plan period {from} – {to}."),
                    );
                }
            }
        }
        Record::InfoExchange(x) => {
            c.required("from_unit", &x.from_unit);
            c.time("sent_at", &x.sent_at);
            c.required("subject", &x.subject);
            if x.to_units.is_empty() {
                c.push(
                    "to_units",
                    "required",
                    "Cần ít nhất một đơn vị nhận.".into(),
                    "At least one recipient unit is required.".into(),
                );
            }
            for (unit, ack) in &x.acknowledgements {
                let field = format!("acknowledgements.{unit}");
                if !x
                    .to_units
                    .iter()
                    .any(|u| fold_for_search(u) == fold_for_search(unit))
                {
                    c.push(
                        &field,
                        "ack_not_recipient",
                        format!("“{unit}” không phải đơn vị nhận nên không thể xác nhận đã nhận."),
                        format!("“{unit}” is not a recipient, so it cannot acknowledge."),
                    );
                }
                c.time(&format!("{field}.at"), &ack.at);
            }
        }
        Record::CommunityActivity(a) => {
            c.required("station", &a.station);
            c.date("date", &a.date);
            c.required("kind", &a.kind);
        }
        Record::ReviewMeeting(m) => {
            c.date("date", &m.date);
            let from = c.optional_date("period_from", m.period_from.as_deref());
            let to = c.optional_date("period_to", m.period_to.as_deref());
            c.order(
                "period_to",
                from,
                to,
                ("ngày bắt đầu kỳ", "the start of the period"),
            );
        }
    }
    c.out
}

fn inspection(c: &mut Checker<'_>, i: usize, v: &Inspection) {
    c.registration(
        &format!("vessels_inspected[{i}].registration"),
        &v.registration,
    );
    if let Some(crate::records::LatLon(lat, lon)) = v.position {
        c.position(&format!("vessels_inspected[{i}].position"), lat, lon);
    }
}

fn violation(c: &mut Checker<'_>, i: usize, v: &Violation) {
    c.registration(&format!("violations[{i}].registration"), &v.registration);
    c.required(&format!("violations[{i}].violation"), &v.violation);
}
