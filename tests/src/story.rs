//! The whole story, scripted: the plan shared out, a day without signal at sea, reconnection,
//! HQ's merged view, three units editing one plan item (one conflict, resolved), a USB bundle.
//! `tidemark demo` narrates it; the end-to-end tests check its figures.

use std::collections::BTreeMap;

use anyhow::{anyhow, ensure, Result};
use serde_json::json;
use tidemark_client::sync::DeliveryStage;
use tidemark_client::Client;
use tidemark_domain::interchange::parse_line;
use tidemark_domain::Lang;
use tidemark_store::ListFilter;
use tidemark_sync_protocol::Receipt;
use tidemark_testkit::{patrol, Rng};

use crate::{Province, COMMITTEES, HQ, KEYS, STATIONS, STATION_CODES};

/// Where the story is told.
pub trait Narrator {
    /// A new chapter.
    fn chapter(&mut self, vi: &str, en: &str);
    /// A line of the chapter (already in the chosen language).
    fn line(&mut self, text: &str);
}

/// A narrator that tells nothing (for tests).
#[derive(Debug, Default)]
pub struct Silent;

impl Narrator for Silent {
    fn chapter(&mut self, _: &str, _: &str) {}
    fn line(&mut self, _: &str) {}
}

/// The figures of a run.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Patrols recorded at sea without signal.
    pub patrols_offline: usize,
    /// Patrols HQ holds after reconnection (all stations merged).
    pub patrols_at_hq: usize,
    /// Records on each device at the end.
    pub records: BTreeMap<String, usize>,
    /// Fields in conflict HQ saw on the shared plan item.
    pub conflicts_seen: usize,
    /// Whether every device agrees on every record it holds (same heads).
    pub converged: bool,
    /// Whether a station patrol reached "received by HQ".
    pub received_by_hq: bool,
    /// Bytes sent and received, and HTTP round trips, over every sync session.
    pub bytes_up: u64,
    /// Bytes received over every session.
    pub bytes_down: u64,
    /// HTTP round trips over every session.
    pub requests: u64,
    /// Size of the USB bundle and the documents in it.
    pub bundle_bytes: usize,
    /// Documents in the USB bundle.
    pub bundle_docs: usize,
    /// Whether the bundle's sender learned, from the receipt, that HQ has its patrols.
    pub bundle_confirmed: bool,
}

fn t<'a>(lang: Lang, vi: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

/// The shared coordination plan and three of its items, as interchange lines.
pub fn plan_lines() -> Vec<String> {
    let mut parties: Vec<&str> = vec![HQ];
    parties.extend(STATIONS);
    parties.extend(COMMITTEES);
    let mut lines = vec![json!({
        "type": "plan", "id": "plan:2025", "title": "Kế hoạch phối hợp năm 2025",
        "period_from": "2025-01-01", "period_to": "2025-12-31", "parties": parties,
        "sections": [
            {"heading": "I. Mục đích, yêu cầu", "body": "Phối hợp bảo vệ chủ quyền, an ninh trật tự vùng biển."},
            {"heading": "II. Nội dung phối hợp", "body": "Tuần tra chung, trao đổi thông tin, tuyên truyền pháp luật, khám chữa bệnh cho ngư dân."}
        ]
    })
    .to_string()];
    let items = [
        (
            "plan:item:tuan-tra-chung",
            "Tuần tra chung trên biển tháng 3",
            STATIONS[0],
            "2025-03-31",
        ),
        (
            "plan:item:tuyen-truyen",
            "Tuyên truyền Luật Biên phòng tại xã Kiểng Phước",
            STATIONS[1],
            "2025-04-30",
        ),
        (
            "plan:item:kham-benh",
            "Khám bệnh, cấp thuốc miễn phí cho ngư dân",
            STATIONS[2],
            "2025-05-31",
        ),
    ];
    for (id, title, unit, deadline) in items {
        lines.push(
            json!({"type": "plan_item", "id": id, "plan": "plan:2025", "title": title,
                   "content": "Các đơn vị phối hợp theo kế hoạch.", "responsible_unit": unit,
                   "supporting_units": COMMITTEES, "deadline": deadline, "status": "new"})
            .to_string(),
        );
    }
    lines
}

/// The province's units as interchange lines (HQ above everyone).
pub fn unit_lines() -> Vec<String> {
    let mut out = vec![
        json!({"type": "unit", "id": "unit:HQ", "name": HQ, "code": "HQ", "kind": "hq"})
            .to_string(),
    ];
    for (code, name) in STATION_CODES.iter().zip(STATIONS) {
        out.push(
            json!({"type": "unit", "id": format!("unit:{code}"), "name": name, "code": code,
                        "kind": "station", "parent": HQ})
            .to_string(),
        );
    }
    for (code, name) in ["GCD", "TPD"].iter().zip(COMMITTEES) {
        out.push(
            json!({"type": "unit", "id": format!("unit:{code}"), "name": name, "code": code,
                        "kind": "district_committee", "parent": HQ})
            .to_string(),
        );
    }
    out
}

/// Imports interchange lines into a device.
pub fn import_lines(c: &mut Client, lines: &[String]) -> Result<usize> {
    let text = lines.join("\n");
    let report = c.import_jsonl(std::io::Cursor::new(text.into_bytes()), &mut |_| {})?;
    ensure!(
        report.problems.is_empty(),
        "import problems: {:?}",
        report.problems
    );
    Ok(report.created + report.updated)
}

/// Records `n` patrols of station `i` (index into [`crate::ALL_STATIONS`]) on day `day`,
/// saved on its device.
pub fn record_patrols(
    c: &mut Client,
    rng: &mut Rng,
    i: usize,
    day: u32,
    n: u32,
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for k in 0..n {
        let (code, name) = crate::ALL_STATIONS[i % crate::ALL_STATIONS.len()];
        let code = code.to_uppercase();
        let line = patrol(rng, (&code, name), day, k).to_string();
        let record = parse_line(&line)
            .map_err(|e| anyhow!("generated patrol does not parse: {e:?}"))?
            .record;
        c.save(&record)?;
        ids.push(record.id().to_string());
    }
    Ok(ids)
}

/// Whether every device agrees on every record it holds (same heads), and record counts.
pub fn convergence(p: &Province) -> Result<(bool, BTreeMap<String, usize>)> {
    let mut heads: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for d in &p.devices {
        let ids = d.with(|c| c.store().doc_ids())?;
        counts.insert(d.key.to_string(), ids.len());
        for id in ids {
            let h = d.with(|c| c.store().doc_heads(&id))?.unwrap_or_default();
            heads.entry(id).or_default().push((d.key.to_string(), h));
        }
    }
    let agree = heads.values().all(|v| v.iter().all(|(_, h)| *h == v[0].1));
    Ok((agree, counts))
}

fn count_patrols(c: &Client) -> Result<usize> {
    let f = ListFilter {
        kind: Some(tidemark_domain::records::RecordKind::Patrol),
        limit: 0,
        ..ListFilter::default()
    };
    Ok(c.store().list(&f)?.1)
}

/// Runs the story on a fresh province and returns its figures.
pub async fn run(p: &Province, n: &mut dyn Narrator, lang: Lang) -> Result<Figures> {
    let mut fig = Figures::default();
    let add = |fig: &mut Figures, reports: &[(String, tidemark_client::sync::SyncReport)]| {
        for (_, r) in reports {
            fig.bytes_up += r.wire.bytes_up;
            fig.bytes_down += r.wire.bytes_down;
            fig.requests += r.wire.requests;
        }
    };

    n.chapter(
        "1. Bộ Chỉ huy lập kế hoạch phối hợp và chia sẻ cho các đơn vị",
        "1. HQ drafts the coordination plan and shares it",
    );
    let hq = p.dev("hq");
    let made = hq.with(|c| -> Result<usize> {
        Ok(import_lines(c, &unit_lines())? + import_lines(c, &plan_lines())?)
    })?;
    n.line(&format!(
        "{} {made} {}",
        t(lang, "Bộ Chỉ huy nhập", "HQ entered"),
        t(
            lang,
            "bản ghi: đơn vị, kế hoạch năm 2025 và 3 nhiệm vụ",
            "records: units, the 2025 plan and 3 items"
        )
    ));
    let reports = p.settle(&KEYS).await?;
    add(&mut fig, &reports);
    for d in &p.devices {
        let plan_items = d.with(|c| -> Result<usize> {
            let f = ListFilter {
                kind: Some(tidemark_domain::records::RecordKind::PlanItem),
                limit: 0,
                ..ListFilter::default()
            };
            Ok(c.store().list(&f)?.1)
        })?;
        n.line(&format!(
            "  {:<34} {plan_items} {}",
            d.unit,
            t(lang, "nhiệm vụ kế hoạch", "plan items")
        ));
    }

    n.chapter(
        "2. Một ngày trên biển không có sóng: các đồn ghi nhận tuần tra ngoại tuyến",
        "2. A day at sea without signal: stations record patrols offline",
    );
    let mut rng = Rng::new(2025);
    let mut tt_patrol = String::new();
    for (i, key) in ["tt", "kp", "vl"].iter().enumerate() {
        let ids = p.dev(key).with(|c| record_patrols(c, &mut rng, i, 59, 4))?;
        fig.patrols_offline += ids.len();
        if i == 0 {
            tt_patrol = ids[0].clone();
        }
        let pending = p.dev(key).with(|c| c.sync_summary())?.pending;
        n.line(&format!(
            "  {:<34} {} {}; {pending} {}",
            STATIONS[i],
            ids.len(),
            t(
                lang,
                "chuyến tuần tra đã lưu trên máy",
                "patrols saved on the device"
            ),
            t(lang, "bản ghi chờ gửi", "records waiting to send")
        ));
    }

    n.chapter(
        "3. Ba đơn vị cùng sửa một nhiệm vụ kế hoạch khi chưa kết nối",
        "3. Three units edit the same plan item, each offline",
    );
    let item = "plan:item:tuan-tra-chung";
    p.dev("gcd")
        .with(|c| c.edit(item, "status", "in_progress"))?;
    p.dev("tpd").with(|c| c.edit(item, "status", "postponed"))?;
    p.dev("hq").with(|c| {
        c.splice(
            item,
            "content",
            0,
            0,
            "Bộ Chỉ huy bổ sung: xuất phát 5 giờ sáng. ",
        )
    })?;
    p.dev("tpd")
        .with(|c| c.splice(item, "content", 0, 0, "Huyện ủy Tân Phú Đông cử 2 cán bộ. "))?;
    n.line(t(
        lang,
        "  Huyện ủy Gò Công Đông: trạng thái → đang thực hiện; Huyện ủy Tân Phú Đông: trạng thái → tạm hoãn, thêm một câu vào nội dung; Bộ Chỉ huy: thêm một câu vào nội dung",
        "  Gò Công Đông committee: status → in progress; Tân Phú Đông committee: status → postponed, adds a sentence; HQ: adds a sentence to the content",
    ));

    n.chapter(
        "4. Có sóng trở lại: các đơn vị đồng bộ theo thứ tự bất kỳ (trừ Đồn Vàm Láng)",
        "4. Signal returns: units sync in any order (Vàm Láng station still has none)",
    );
    let order = ["kp", "gcd", "tt", "hq", "tpd"];
    let reports = p.settle(&order).await?;
    add(&mut fig, &reports);
    for (key, r) in reports.iter().take(order.len()) {
        n.line(&format!(
            "  {:<34} ↑ {} {} / ↓ {} {}; {} B ↑, {} B ↓, {} {}",
            p.dev(key).unit,
            r.changes_sent,
            t(lang, "thay đổi", "changes"),
            r.changes_received,
            t(lang, "thay đổi", "changes"),
            r.wire.bytes_up,
            r.wire.bytes_down,
            r.wire.requests,
            t(lang, "lượt gửi nhận", "round trips")
        ));
    }

    n.chapter(
        "5. Bộ Chỉ huy xem dữ liệu đã hợp nhất",
        "5. HQ sees the merged records",
    );
    fig.patrols_at_hq = hq.with(|c| count_patrols(c))?;
    n.line(&format!(
        "  {} {} {}",
        t(lang, "Bộ Chỉ huy có", "HQ holds"),
        fig.patrols_at_hq,
        t(
            lang,
            "chuyến tuần tra của các đồn",
            "patrols from the stations"
        )
    ));
    // The station learns that HQ has its patrol on its next sync.
    p.sync("tt").await.map_err(|e| anyhow!("{e}"))?;
    let d = p.dev("tt").with(|c| c.delivery(&tt_patrol))?;
    fig.received_by_hq = d.stage == DeliveryStage::ReceivedByHq;
    n.line(&format!(
        "  {} {tt_patrol}: {}",
        t(lang, "Đồn Tân Thành, chuyến", "Tân Thành station, patrol"),
        d.stage.label(lang)
    ));

    n.chapter(
        "6. Xung đột được nêu ra và giải quyết",
        "6. The conflict is surfaced and resolved",
    );
    let conflicts = hq.with(|c| c.conflicts())?;
    for (id, fields) in &conflicts {
        for f in fields {
            fig.conflicts_seen += 1;
            let values: Vec<String> = f
                .values
                .iter()
                .map(|v| format!("{} ({})", v.value, v.author.unit))
                .collect();
            n.line(&format!("  {id} · {}: {}", f.field, values.join(" | ")));
        }
    }
    hq.with(|c| c.resolve(item, "status", "in_progress"))?;
    let reports = p.settle(&order).await?;
    add(&mut fig, &reports);
    let status = p
        .dev("tpd")
        .with(|c| c.show(item))
        .map(|v| serde_json::to_value(&v.record).ok())?
        .and_then(|v| v.get("status").cloned());
    n.line(&format!(
        "  {} {}; {}: {}",
        t(lang, "Bộ Chỉ huy chọn", "HQ chose"),
        "in_progress",
        t(
            lang,
            "Huyện ủy Tân Phú Đông thấy",
            "Tân Phú Đông committee sees"
        ),
        status.map(|s| s.to_string()).unwrap_or_default()
    ));

    n.chapter(
        "7. Đồn Vàm Láng vẫn không có sóng: gửi bằng USB",
        "7. Vàm Láng station still has no link: a USB bundle",
    );
    let usb = p.root.join("usb");
    std::fs::create_dir_all(&usb)?;
    let bundle_path = usb.join("vam-lang.tmb");
    let written = p
        .dev("vl")
        .with(|c| c.export_bundle(&bundle_path, Some(HQ), None))?;
    fig.bundle_bytes = written.bytes;
    fig.bundle_docs = written.documents;
    n.line(&format!(
        "  {} {} {} ({} B) → {}",
        t(lang, "Đồn Vàm Láng ghi gói", "Vàm Láng writes a bundle of"),
        written.documents,
        t(lang, "bản ghi", "records"),
        written.bytes,
        bundle_path.display()
    ));
    let bytes = std::fs::read(&bundle_path)?;
    let merged = hq.with(|c| c.import_bundle(&bytes))?;
    let receipt_path = usb.join("vam-lang.tmb.receipt.json");
    std::fs::write(&receipt_path, merged.receipt.to_json())?;
    n.line(&format!(
        "  {} {} {}, {} {}",
        t(lang, "Bộ Chỉ huy hợp nhất gói:", "HQ merges it:"),
        merged.changed,
        t(lang, "bản ghi mới", "new records"),
        t(lang, "biên nhận ghi ra", "receipt written to"),
        receipt_path.display()
    ));
    let receipt = Receipt::from_json(&std::fs::read(&receipt_path)?)?;
    let confirmed = p.dev("vl").with(|c| c.import_receipt(&receipt))?;
    let vl_patrol = "patrol:VL:20250301:01".to_string();
    let d = p.dev("vl").with(|c| c.delivery(&vl_patrol))?;
    fig.bundle_confirmed = confirmed > 0 && d.stage == DeliveryStage::ReceivedByHq;
    n.line(&format!(
        "  {} {confirmed} {}; {vl_patrol}: {}",
        t(
            lang,
            "Đồn Vàm Láng nhận biên nhận:",
            "Vàm Láng takes in the receipt:"
        ),
        t(lang, "bản ghi đã tới Bộ Chỉ huy", "records confirmed at HQ"),
        d.stage.label(lang)
    ));

    n.chapter(
        "8. Vàm Láng có sóng: mọi máy thống nhất",
        "8. Vàm Láng gets a link: every device agrees",
    );
    let mut all = vec!["vl"];
    all.extend(KEYS.iter().filter(|k| **k != "vl"));
    let reports = p.settle(&all).await?;
    add(&mut fig, &reports);
    fig.patrols_at_hq = hq.with(|c| count_patrols(c))?;
    let (converged, records) = convergence(p)?;
    fig.converged = converged;
    fig.records = records;
    for (key, count) in &fig.records {
        n.line(&format!(
            "  {:<34} {count} {}",
            p.dev(key).unit,
            t(lang, "bản ghi", "records")
        ));
    }
    n.line(&format!(
        "  {}: {}; {} {} B ↑, {} B ↓, {} {}",
        t(lang, "Thống nhất", "Converged"),
        if converged {
            t(lang, "có", "yes")
        } else {
            t(lang, "KHÔNG", "NO")
        },
        t(lang, "tổng cộng", "in all"),
        fig.bytes_up,
        fig.bytes_down,
        fig.requests,
        t(lang, "lượt gửi nhận HTTP", "HTTP round trips")
    ));
    Ok(fig)
}
