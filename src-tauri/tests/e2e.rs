//! The real app, built with the UI (`--features custom-protocol`), in a real window under Xvfb,
//! driven through `WebKitWebDriver`, against an in-process relay with a demo province:
//! first run with enrolment and an unlock passphrase (the store is encrypted); a patrol created
//! offline and found by a search without diacritics;
//! its badge advancing to "received by HQ" after HQ's device syncs; a photo chosen in the file
//! input and one from the station's other device arriving by sync, previewed, saved, opened;
//! the plan edited in the app and on a committee's device at once, both edits merged; a
//! conflict resolved; the app locked from its header, a wrong passphrase refused, the right one
//! bringing the data back; the app started again (locked), unlocked, syncing again, and locking
//! itself after a short `TIDEMARK_IDLE_LOCK_SECS`. Screenshots of each main screen go to
//! `target/e2e-screenshots/`.
//!
//! `scripts/test.sh` runs it: `xvfb-run -a cargo test --workspace --features
//! tidemark-app/custom-protocol --test e2e -- --ignored`. The app under test is the binary cargo
//! builds for this test (with the same features, so nothing is compiled twice), or the one
//! `TIDEMARK_E2E_APP` names.

mod webdriver;

use std::path::PathBuf;
use std::time::Duration;

use tidemark_province::story::{self};
use tidemark_province::{Province, KEYS, STATIONS};
use webdriver::{Driver, Session};

/// The passphrase the first run protects the app's store with.
const PASS: &str = "Biển đảo Tổ quốc 2025";

/// The app's store, opened from the test as the app does (it is encrypted).
fn app_store(app_dir: &std::path::Path) -> tidemark_client::Client {
    tidemark_client::Client::unlock(app_dir, &tidemark_client::Passphrase::new(PASS))
        .expect("the app's store")
}

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots")
}

async fn sync_app(s: &Session) {
    // The sync bar's details hold "sync now"; the engine also syncs after every local save.
    if s.find_within("[data-testid=sync-now]", Duration::from_millis(300))
        .await
        .is_none()
    {
        s.click_on("[data-testid=sync-toggle]").await;
    }
    s.click_on("[data-testid=sync-now]").await;
    // Close the details again so they do not cover the screen.
    s.click_on("[data-testid=sync-toggle]").await;
}

/// Waits until the app's store has nothing pending and a sync finished after `since` (read
/// from the app's own store, so it cannot be fooled by a status shown before the last save).
async fn wait_synced(app_dir: &std::path::Path, since: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    loop {
        let s = app_store(app_dir).sync_summary().expect("sync summary");
        if s.pending == 0 && s.last_ok.is_some_and(|t| t >= since) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the app never synced: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

fn now() -> i64 {
    tidemark_client::now_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, WebKitWebDriver and a display; scripts/test.sh runs it under Xvfb"]
async fn the_app_end_to_end_in_a_real_window() {
    let app = match std::env::var_os("TIDEMARK_E2E_APP") {
        Some(path) => PathBuf::from(path),
        None if cfg!(feature = "custom-protocol") => {
            PathBuf::from(env!("CARGO_BIN_EXE_tidemark-app"))
        }
        None => panic!(
            "build with --features custom-protocol (the app must serve the built UI), \
             or set TIDEMARK_E2E_APP to such a build"
        ),
    };
    assert!(app.exists(), "{} is not built", app.display());
    let shots = shots();
    let _ = std::fs::remove_dir_all(&shots);
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Province::start(&dir.path().join("province"))
        .await
        .expect("province");
    p.dev("hq")
        .with(|c| {
            story::import_lines(c, &story::unit_lines())?;
            story::import_lines(c, &story::plan_lines())
        })
        .expect("plan");
    p.settle(&KEYS).await.expect("share the plan");
    let code = p
        .relay
        .as_ref()
        .expect("relay")
        .enrolment_code(STATIONS[0], "máy tính trực ban")
        .expect("code");

    // Reports exported from the app go here, not into the Downloads folder of whoever runs this.
    let exports = dir.path().join("exports");
    std::env::set_var("TIDEMARK_EXPORT_DIR", &exports);
    // "Open" hands files to this instead of the desktop's default application.
    std::env::set_var("TIDEMARK_OPEN_WITH", "true");
    let driver = Driver::start();
    let app_dir = dir.path().join("app");
    let s = Session::launch(
        &driver,
        &app,
        &["--data-dir".into(), app_dir.display().to_string()],
    )
    .await;

    // First run: the unit, the user, the passphrase (twice), the relay and a one-time code.
    s.fill(&s.find("[data-testid=firstrun-unit]").await, STATIONS[0])
        .await;
    s.fill(
        &s.find("[data-testid=firstrun-user]").await,
        "Trung úy Lê Quốc Vũ",
    )
    .await;
    s.fill(&s.find("[data-testid=firstrun-passphrase]").await, PASS)
        .await;
    s.fill(&s.find("[data-testid=firstrun-passphrase2]").await, PASS)
        .await;
    s.fill(
        &s.find("[data-testid=firstrun-server]").await,
        &p.relay_url(),
    )
    .await;
    s.fill(&s.find("[data-testid=firstrun-code]").await, &code)
        .await;
    s.screenshot(&shots.join("01-first-run.png")).await;
    let t0 = now();
    s.click_on("[data-testid=firstrun-enroll]").await;
    s.find("[data-testid=nav-patrols]").await;
    wait_synced(&app_dir, t0).await;
    assert!(
        tidemark_client::is_encrypted(&app_dir),
        "the first run made an encrypted store"
    );

    // A patrol recorded (the relay does not matter: saving is local), found without diacritics.
    s.go("#/patrols").await;
    s.click_on("[data-testid=patrol-new]").await;
    s.fill(&s.find("[data-testid=patrol-station-code]").await, "TT")
        .await;
    s.fill(
        &s.find("[data-testid=patrol-start]").await,
        "02/03/2025 05:30",
    )
    .await;
    s.fill(
        &s.find("[data-testid=patrol-end]").await,
        "02/03/2025 11:00",
    )
    .await;
    s.fill(
        &s.find("[data-testid=patrol-sea-area]").await,
        "Cửa Soài Rạp",
    )
    .await;
    s.fill(&s.find("[data-testid=patrol-vessel]").await, "BP-15-01")
        .await;
    s.fill(
        &s.find("[data-testid=patrol-commander]").await,
        "Trung úy Lê Quốc Vũ",
    )
    .await;
    s.fill(
        &s.find("[data-testid=patrol-notes]").await,
        "Kiểm tra 3 tàu cá của ngư dân xã Kiểng Phước, không phát hiện vi phạm.",
    )
    .await;
    s.screenshot(&shots.join("02-patrol-form.png")).await;
    s.click_on("[data-testid=patrol-save]").await;
    // Saved: the app shows the new record's page.
    s.find("[data-testid=record-page]").await;
    s.go("#/patrols").await;
    let search = s.find("[data-testid=search-input]").await;
    s.fill(&search, "kieng phuoc").await;
    let row = s.find("[data-testid=record-row]").await;
    let id = s.attr(&row, "data-id").await.expect("row id");
    assert!(id.starts_with("patrol:TT:20250302"), "{id}");
    s.screenshot(&shots.join("03-patrols-search.png")).await;

    // Its badge: saved here → at the relay → received by HQ once HQ's device syncs.
    let t0 = now();
    sync_app(&s).await;
    wait_synced(&app_dir, t0).await;
    p.sync("hq").await.expect("hq sync");
    assert!(
        p.dev("hq").with(|c| c.show(&id)).is_ok(),
        "the patrol reached HQ"
    );
    let t0 = now();
    sync_app(&s).await;
    wait_synced(&app_dir, t0).await;
    s.go(&format!("#/record/{id}")).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let badge = s.find("[data-testid=delivery-badge]").await;
        if s.attr(&badge, "data-stage").await.as_deref() == Some("received_by_hq") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the badge never reached HQ"
        );
        sync_app(&s).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        s.go("#/patrols").await;
        s.go(&format!("#/record/{id}")).await;
    }
    s.screenshot(&shots.join("04-record-received-by-hq.png"))
        .await;

    // Its history: every change was signed by this device and verifies.
    s.click_on("[data-testid=tab-history]").await;
    s.find("[data-testid=history-row]").await;
    let badges = s.find_all("[data-testid=history-signature]").await;
    assert!(!badges.is_empty(), "the history shows signatures");
    for b in &badges {
        assert_eq!(s.text(b).await, "✓ Đã xác minh");
    }
    s.screenshot(&shots.join("18-history-signed.png")).await;
    s.click_on("[data-testid=tab-fields]").await;

    attachments_step(&s, &p, &app_dir, &exports, &shots, &id, dir.path()).await;

    // The plan edited at once in the app and on a committee's device: both edits merge.
    s.go("#/plan").await;
    let section = s.find("[data-testid=plan-section-1]").await;
    s.click(&section).await;
    s.exec(
        "const t = arguments[0]; t.focus(); t.setSelectionRange(t.value.length, t.value.length);",
        serde_json::json!([section.json()]),
    )
    .await;
    s.insert_at_caret(&section, " Đồn Tân Thành bố trí 2 tàu.")
        .await;
    p.dev("gcd")
        .with(|c| {
            c.splice(
                "plan:2025",
                "sections[1].body",
                0,
                0,
                "Huyện ủy Gò Công Đông: ",
            )
        })
        .expect("committee edit");
    p.sync("gcd").await.expect("gcd sync");
    tokio::time::sleep(Duration::from_secs(3)).await; // the app's debounce, then its sync
    let t0 = now();
    sync_app(&s).await;
    wait_synced(&app_dir, t0).await;
    p.sync("gcd").await.expect("gcd sync again");
    let merged = wait_value(&s, "[data-testid=plan-section-1]", |v| {
        v.starts_with("Huyện ủy Gò Công Đông: ") && v.ends_with(" Đồn Tân Thành bố trí 2 tàu.")
    })
    .await;
    let at_committee = p
        .dev("gcd")
        .with(|c| c.show("plan:2025"))
        .map(|v| serde_json::to_value(&v.record).expect("json"))
        .expect("plan at gcd");
    assert_eq!(at_committee["sections"][1]["body"], merged.as_str());
    s.screenshot(&shots.join("05-plan.png")).await;

    // A conflict from two committees, resolved in the app.
    let item = "plan:item:tuyen-truyen";
    p.dev("gcd")
        .with(|c| c.edit(item, "status", "done"))
        .expect("edit");
    p.dev("tpd")
        .with(|c| c.edit(item, "status", "postponed"))
        .expect("edit");
    p.sync("gcd").await.expect("sync");
    p.sync("tpd").await.expect("sync");
    let t0 = now();
    sync_app(&s).await;
    wait_synced(&app_dir, t0).await;
    s.go("#/conflicts").await;
    s.find("[data-testid=conflict-choose]").await;
    s.screenshot(&shots.join("06-conflicts.png")).await;
    s.click_on("[data-testid=conflict-choose]").await;
    s.find("[data-testid=conflicts-empty]").await;
    let t0 = now();
    sync_app(&s).await;
    wait_synced(&app_dir, t0).await;
    p.sync("tpd").await.expect("sync");
    let left = p
        .dev("tpd")
        .with(|c| c.show(item))
        .expect("item")
        .conflicts
        .len();
    assert_eq!(left, 0, "the resolution reached the committee");

    // The remaining screens, for the record.
    for (hash, name) in [
        ("#/exchanges", "07-exchanges"),
        ("#/activities", "08-activities"),
        ("#/meetings", "09-meetings"),
    ] {
        s.go(hash).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        s.screenshot(&shots.join(format!("{name}.png"))).await;
    }
    // The review-meeting report over the records on this device: each figure opens the
    // records it counts; the export lands in the export folder.
    s.go("#/reports").await;
    s.fill(&s.find("[data-testid=report-from]").await, "01/01/2025")
        .await;
    s.fill(&s.find("[data-testid=report-to]").await, "31/12/2025")
        .await;
    s.click_on("[data-testid=report-run]").await;
    s.find("[data-testid=report-table-patrols]").await;
    let patrols_here = app_store(&app_dir)
        .store()
        .list(&tidemark_store::ListFilter {
            kind: Some(tidemark_domain::RecordKind::Patrol),
            from: Some("2025-01-01".into()),
            to: Some("2025-12-31".into()),
            ..Default::default()
        })
        .expect("list")
        .1;
    assert!(patrols_here > 0);
    let figure = s
        .find("[data-testid=report-figure][data-table=patrols][data-row=total][data-col=patrols]")
        .await;
    assert_eq!(s.text(&figure).await.trim(), patrols_here.to_string());
    s.screenshot(&shots.join("11-report.png")).await;
    s.click(&figure).await;
    s.find("[data-testid=report-sources]").await;
    assert_eq!(
        s.find_all("[data-testid=report-source-row]").await.len(),
        patrols_here,
        "the figure lists exactly the records it counts"
    );
    s.screenshot(&shots.join("12-report-sources.png")).await;
    s.click_on("[data-testid=report-sources-close]").await;
    s.click_on("[data-testid=report-export-html]").await;
    let saved = s
        .wait_text(
            "[data-testid=report-exported]",
            Duration::from_secs(30),
            |t| t.contains(".html"),
        )
        .await;
    let exported = std::fs::read_dir(&exports)
        .expect("export folder")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "html"))
        .count();
    assert_eq!(exported, 1, "{saved}");

    lock_step(&s, &shots, &id).await;

    s.click_on("[data-testid=lang-switch]").await;
    s.go("#/patrols").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    s.screenshot(&shots.join("10-patrols-english.png")).await;
    // Back to Vietnamese for the next start.
    s.click_on("[data-testid=lang-switch]").await;
    s.find("[data-testid=lang-switch][data-lang=vi]").await;

    s.quit().await;
    drop(driver);

    idle_lock_step(&app, &app_dir, &shots, &id).await;
    p.stop().await.expect("stop");
}

/// The text the window shows (to check nothing of the store is on screen).
async fn page_text(s: &Session) -> String {
    s.exec("return document.body.innerText;", serde_json::json!([]))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Which element has the focus, by its test id.
async fn focused(s: &Session) -> String {
    s.exec(
        "const e = document.activeElement; return e && e.dataset ? (e.dataset.testid || '') : '';",
        serde_json::json!([]),
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Unlocks from the unlock screen with `pass`.
async fn unlock_with(s: &Session, pass: &str) {
    let input = s.find("[data-testid=unlock-passphrase]").await;
    s.fill(&input, pass).await;
    s.click_on("[data-testid=unlock-submit]").await;
}

/// Locked from the header: the unlock screen and nothing else; a wrong passphrase refused in
/// Vietnamese with the field still focused; the right one brings the patrol back.
async fn lock_step(s: &Session, shots: &std::path::Path, id: &str) {
    s.go(&format!("#/record/{id}")).await;
    s.find("[data-testid=record-page]").await;
    s.click_on("[data-testid=lock-button]").await;
    s.find("[data-testid=unlock-screen]").await;
    let text = page_text(s).await;
    for secret in [
        STATIONS[0],
        "Kiểng Phước",
        "Lê Quốc Vũ",
        "BP-15-01",
        "Tuần tra",
    ] {
        assert!(
            !text.contains(secret),
            "“{secret}” is on the locked screen: {text}"
        );
    }
    assert!(text.contains("Mở khóa"), "{text}");
    assert_eq!(focused(s).await, "unlock-passphrase");
    s.screenshot(&shots.join("15-locked.png")).await;

    unlock_with(s, "Biển đảo Tổ quốc 2024").await;
    s.wait_text("[data-testid=unlock-error]", Duration::from_secs(15), |t| {
        t.starts_with("Sai mật khẩu")
    })
    .await;
    assert_eq!(
        focused(s).await,
        "unlock-passphrase",
        "the field keeps the focus"
    );
    assert!(s
        .find_within("[data-testid=nav-patrols]", Duration::from_millis(300))
        .await
        .is_none());
    s.screenshot(&shots.join("16-unlock-wrong-passphrase.png"))
        .await;

    unlock_with(s, PASS).await;
    // Back where it was, with its data.
    s.find("[data-testid=nav-patrols]").await;
    s.find("[data-testid=record-page]").await;
    s.go("#/patrols").await;
    let search = s.find("[data-testid=search-input]").await;
    s.fill(&search, "kieng phuoc").await;
    let row = s.find("[data-testid=record-row]").await;
    assert_eq!(s.attr(&row, "data-id").await.as_deref(), Some(id));
    // Leave the list, so the next visit starts without this search.
    s.go(&format!("#/record/{id}")).await;
    s.find("[data-testid=record-page]").await;
}

/// The app started again with a short idle time: it starts locked, unlocks, syncs again,
/// then locks itself when nobody touches it; unlocked again, the patrol is there.
async fn idle_lock_step(
    app: &std::path::Path,
    app_dir: &std::path::Path,
    shots: &std::path::Path,
    id: &str,
) {
    const IDLE_SECS: u64 = 8;
    // The driver passes its environment on to the app it starts.
    std::env::set_var("TIDEMARK_IDLE_LOCK_SECS", IDLE_SECS.to_string());
    let driver = Driver::start();
    let s = Session::launch(
        &driver,
        app,
        &["--data-dir".into(), app_dir.display().to_string()],
    )
    .await;
    s.find("[data-testid=unlock-screen]").await;
    assert!(s
        .find_within("[data-testid=unlock-idle]", Duration::from_millis(300))
        .await
        .is_none());
    let t0 = now();
    unlock_with(&s, PASS).await;
    s.find("[data-testid=nav-patrols]").await;
    // Sync restarted with the unlock.
    wait_synced(app_dir, t0).await;

    // Nobody touches the window: it locks by itself.
    let started = std::time::Instant::now();
    let locked = s
        .find_within(
            "[data-testid=unlock-idle]",
            Duration::from_secs(IDLE_SECS * 5),
        )
        .await
        .expect("the idle lock never came");
    assert!(s.text(&locked).await.contains("tự khóa"));
    eprintln!(
        "e2e: idle lock after {:.1} s of waiting (idle time {IDLE_SECS} s)",
        started.elapsed().as_secs_f64()
    );
    assert!(s
        .find_within("[data-testid=nav-patrols]", Duration::from_millis(300))
        .await
        .is_none());
    s.screenshot(&shots.join("17-idle-locked.png")).await;

    unlock_with(&s, PASS).await;
    s.go(&format!("#/record/{id}")).await;
    s.find("[data-testid=record-page]").await;
    s.quit().await;
    drop(driver);
    std::env::remove_var("TIDEMARK_IDLE_LOCK_SECS");
}

/// A photo-like PNG: sky, sea with waves and a hull, so thumbnails look like something.
fn photo(w: u32, h: u32, hull: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let horizon = 0.45 + 0.01 * (fx * 40.0).sin();
        let in_hull = (0.3..0.7).contains(&fx) && (0.52..0.62).contains(&fy);
        let cabin = (0.45..0.58).contains(&fx) && (0.44..0.52).contains(&fy);
        if in_hull {
            image::Rgb(hull)
        } else if cabin {
            image::Rgb([235, 235, 225])
        } else if fy < horizon {
            image::Rgb([(150.0 + 80.0 * fy) as u8, (190.0 + 50.0 * fy) as u8, 235])
        } else {
            let wave = (8.0 * (fx * 60.0 + fy * 25.0).sin()) as i32;
            image::Rgb([20, (70 + wave) as u8, (120 + wave) as u8])
        }
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    png
}

/// Photos and files on the patrol: one chosen in the app's file input, one attached by the
/// station's other device and brought by sync (with a file whose upload has not arrived);
/// preview, save a copy, open; the app's photo reaches the other device.
async fn attachments_step(
    s: &Session,
    p: &Province,
    app_dir: &std::path::Path,
    exports: &std::path::Path,
    shots: &std::path::Path,
    id: &str,
    tmp: &std::path::Path,
) {
    let photo_bytes = photo(1600, 1200, [150, 40, 30]);
    let photo_path = tmp.join("ảnh tàu cá.png");
    std::fs::write(&photo_path, &photo_bytes).expect("photo");
    let input = s.find("[data-testid=att-file]").await;
    let chosen = s.send_file(&input, &photo_path).await;
    let card = match chosen {
        Ok(()) => {
            s.find_within("[data-testid=att-card]", Duration::from_secs(20))
                .await
        }
        Err(e) => {
            eprintln!("e2e: the file input refused a path ({e})");
            None
        }
    };
    if card.is_none() {
        // WebKitWebDriver could not choose the file: the same command, called from the page.
        eprintln!("e2e: attaching through invoke instead of the file input");
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&photo_bytes);
        let r = s
            .exec_async(
                "const [id, b64, done] = arguments; \
                 const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)); \
                 window.__TAURI_INTERNALS__.invoke('attach_file', bytes, {headers: { \
                   'tidemark-id': encodeURIComponent(id), \
                   'tidemark-place': encodeURIComponent('{\"on\":\"record\"}'), \
                   'tidemark-name': encodeURIComponent('ảnh tàu cá.png')}}) \
                 .then((r) => done(r), (e) => done({error: e}));",
                serde_json::json!([id, b64]),
            )
            .await;
        assert!(r.get("error").is_none(), "attach_file: {r}");
        s.go("#/patrols").await;
        s.go(&format!("#/record/{id}")).await;
    }
    let card = s.find("[data-testid=att-card]").await;
    let hash = s.attr(&card, "data-hash").await.expect("hash");
    s.find("[data-testid=att-card] [data-testid=att-thumb]")
        .await;

    // The station's other device records a violation on the patrol with a photo of it, and
    // refers to a file it has not sent yet.
    let t0 = now();
    sync_app(s).await;
    wait_synced(app_dir, t0).await;
    p.sync("tt").await.expect("tt sync");
    let from_tt = photo(1200, 900, [40, 90, 150]);
    p.dev("tt")
        .with(|c| {
            let mut json = serde_json::to_value(&c.show(id)?.record).expect("json");
            json["violations"] = serde_json::json!([{"registration": "TG-93096-TS",
                "violation": "Sử dụng ngư cụ cấm (lưới kéo đôi)", "action": "Lập biên bản"}]);
            let mut record = tidemark_domain::interchange::parse_line(&json.to_string())
                .map_err(|e| tidemark_client::ClientError::User(e.reason))?
                .record;
            record
                .attachments_mut(tidemark_domain::AttachPlace::Record)
                .map_err(|e| tidemark_client::ClientError::User(e.to_string()))?
                .push(tidemark_domain::AttachmentRef {
                    hash: "5e".repeat(32),
                    name: "biên bản kiểm tra hành chính.pdf".into(),
                    mime: "application/pdf".into(),
                    size: 245_760,
                    thumb: None,
                });
            c.save(&record)?;
            c.attach(
                id,
                tidemark_domain::AttachPlace::Violation(0),
                "tàu TG-93096-TS với lưới kéo đôi.png",
                &from_tt,
            )
        })
        .expect("tt attaches");
    p.sync("tt").await.expect("tt sends");
    let got_mine = p
        .dev("tt")
        .with(|c| c.attachment_bytes(&hash))
        .expect("tt reads");
    assert_eq!(
        got_mine.as_deref(),
        Some(photo_bytes.as_slice()),
        "the app's photo reached the other device"
    );
    let t0 = now();
    sync_app(s).await;
    wait_synced(app_dir, t0).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while s.find_all("[data-testid=att-thumb]").await.len() < 2
        || s.find_all("[data-testid=att-card]").await.len() < 3
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the other device's files never showed"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let badge = s.find("[data-testid=att-badge]").await;
    assert_eq!(
        s.attr(&badge, "data-kind").await.as_deref(),
        Some("not_here")
    );
    s.exec(
        "document.querySelector('[data-testid=att-section]').scrollIntoView({block: 'start'});",
        serde_json::json!([]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    s.screenshot(&shots.join("13-attachments.png")).await;

    // Preview in the app, then a copy into the export folder, then the system's application.
    let mine = format!("[data-testid=att-card][data-hash='{hash}']");
    s.click_on(&format!("{mine} [data-testid=att-preview]"))
        .await;
    let img = s.find("[data-testid=att-dialog-img][data-full=true]").await;
    assert!(s
        .attr(&img, "src")
        .await
        .is_some_and(|u| u.starts_with("data:image/png;base64,")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.screenshot(&shots.join("14-attachment-preview.png")).await;
    s.click_on("[data-testid=att-dialog-close]").await;
    s.click_on(&format!("{mine} [data-testid=att-save]")).await;
    s.wait_text("[data-testid=att-message]", Duration::from_secs(15), |t| {
        t.contains("ảnh tàu cá.png")
    })
    .await;
    assert_eq!(
        std::fs::read(exports.join("ảnh tàu cá.png")).expect("saved copy"),
        photo_bytes
    );
    s.click_on(&format!("{mine} [data-testid=att-open]")).await;
    s.wait_text("[data-testid=att-message]", Duration::from_secs(15), |t| {
        t.starts_with("Đã mở")
    })
    .await;
    assert!(app_dir
        .join("opened")
        .join(format!("{}.png", &hash[..12]))
        .exists());
}

async fn wait_value(s: &Session, css: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    loop {
        let el = s.find(css).await;
        let v = s.attr(&el, "value").await.unwrap_or_default();
        let v = if v.is_empty() {
            s.exec("return arguments[0].value;", serde_json::json!([el.json()]))
                .await
                .as_str()
                .unwrap_or_default()
                .to_string()
        } else {
            v
        };
        if pred(&v) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "`{css}` never matched; last value: {v}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
