//! Handler-level tests through `router(..).oneshot(..)`: every error path answers its status
//! and stable code. Table-driven: each row is a [`Case`], checked by [`check`].

#![allow(missing_docs, clippy::unwrap_used)]

use axum::body::Body;
use axum::http::Request;
use tidemark_sync_server::{router, AppState, Settings};
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
    token: String,
}

async fn fixture() -> Fixture {
    fixture_with(|_| {}).await
}

async fn fixture_with(edit: impl FnOnce(&mut Settings)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        max_request_bytes: 4096,
        ..Settings::default()
    };
    edit(&mut settings);
    let state = AppState::open(settings).unwrap();
    let token = state
        .with_db(|db| {
            db.add_unit("HQ", None)?;
            db.add_unit("TT", Some("HQ"))?;
            db.add_unit("KP", Some("HQ"))?;
            let (_, code) = db.create_enrolment("TT", "tablet", 3600)?;
            Ok(db.redeem(&code, "aa01", None)?.token)
        })
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        state,
        token,
    }
}

/// One request and what it must answer.
#[derive(Clone)]
struct Case {
    method: &'static str,
    uri: String,
    token: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn req(method: &'static str, uri: &str) -> Case {
    Case {
        method,
        uri: uri.to_string(),
        token: None,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl Case {
    fn token(mut self, token: &str) -> Case {
        self.token = Some(token.to_string());
        self
    }
    fn header(mut self, name: &'static str, value: &str) -> Case {
        self.headers.push((name, value.to_string()));
        self
    }
    fn body(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = body.into();
        self
    }
    fn json(self, value: serde_json::Value) -> Case {
        self.body(serde_json::to_vec(&value).unwrap())
    }
}

/// Sends `case` and checks the status and, for errors, the code; returns the body.
async fn check(f: &Fixture, case: Case, status: u16, code: Option<&str>) -> Vec<u8> {
    let mut r = Request::builder().method(case.method).uri(&case.uri);
    if let Some(token) = &case.token {
        r = r.header("authorization", format!("Bearer {token}"));
    }
    for (k, v) in &case.headers {
        r = r.header(*k, v);
    }
    let resp = router(f.state.clone())
        .oneshot(r.body(Body::from(case.body)).unwrap())
        .await
        .unwrap();
    let what = format!("{} {}", case.method, case.uri);
    assert_eq!(resp.status().as_u16(), status, "{what}");
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    if let Some(code) = code {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["error"]["code"], code, "{what}");
    }
    bytes.to_vec()
}

#[tokio::test]
async fn authentication_errors_are_401_unauthorized() {
    let f = fixture().await;
    check(&f, req("GET", "/v1/health"), 200, None).await;
    check(&f, req("GET", "/v1/feed").token(&f.token), 200, None).await;
    let variants = [
        req("GET", "/v1/feed"),
        req("GET", "/v1/feed").token("tmk_wrong"),
        req("GET", "/v1/feed").header("authorization", "Basic YWxhZGRpbjpvcGVu"),
        req("GET", "/v1/feed").header("authorization", "Bearer "),
        req("POST", "/v1/sync").body(&b"TMS\x01\x00"[..]),
        req("POST", "/v1/documents").token("tmk_wrong"),
        req("GET", "/v1/documents/x"),
    ];
    for case in variants {
        check(&f, case, 401, Some("unauthorized")).await;
    }
}

#[tokio::test]
async fn enrolment_errors_have_codes() {
    let f = fixture().await;
    let expired = f
        .state
        .with_db(|db| Ok(db.create_enrolment("TT", "old", 0)?.1))
        .await
        .unwrap();
    let enroll = |code: &str, actor: &str| {
        req("POST", "/v1/enroll").json(serde_json::json!({"code": code, "actor_hex": actor}))
    };
    let cases = [
        (req("POST", "/v1/enroll").body("{"), 400, "bad_json"),
        (enroll(&expired, "xyz"), 400, "bad_actor"),
        (enroll(&expired, "abc"), 400, "bad_actor"),
        (enroll(&expired, "bb02"), 401, "unauthorized"),
        (enroll("never-issued", "bb02"), 401, "unauthorized"),
    ];
    for (case, status, code) in cases {
        check(&f, case, status, Some(code)).await;
    }
}

#[tokio::test]
async fn document_creation_and_lookup_errors_have_codes() {
    let f = fixture().await;
    let t = f.token.as_str();
    let create = |id: &str, owner: &str| {
        req("POST", "/v1/documents")
            .token(t)
            .json(serde_json::json!({"id": id, "owner_unit": owner, "grants": []}))
    };
    check(&f, create("patrol:TT:1", "TT"), 201, None).await;
    let share = |id: &str, unit: &str| {
        req("POST", &format!("/v1/documents/{id}/grants"))
            .token(t)
            .json(serde_json::json!({"grants": [{"unit": unit, "access": "read"}]}))
    };
    let cases = [
        (create("patrol:TT:1", "TT"), 409, Some("exists")),
        (create("patrol:KP:1", "KP"), 403, Some("forbidden")),
        (create("patrol:HQ:1", "HQ"), 403, Some("forbidden")),
        (create("x", "Nowhere"), 404, Some("not_found")),
        (create("", "TT"), 400, Some("bad_doc_id")),
        (
            req("POST", "/v1/documents").token(t).body("[]"),
            400,
            Some("bad_json"),
        ),
        (share("patrol:TT:1", "KP"), 200, None),
        (share("patrol:TT:1", "Nowhere"), 404, Some("not_found")),
        (share("none", "KP"), 404, Some("not_found")),
        (
            req("GET", "/v1/documents/none").token(t),
            404,
            Some("not_found"),
        ),
        (req("GET", "/v1/nothing").token(t), 404, Some("not_found")),
        (req("GET", "/v1/documents/patrol:TT:1").token(t), 200, None),
        (
            req("GET", "/v1/feed?since=abc").token(t),
            400,
            Some("bad_query"),
        ),
    ];
    for (case, status, code) in cases {
        check(&f, case, status, code).await;
    }
}

#[tokio::test]
async fn sync_body_errors_have_codes() {
    let f = fixture().await;
    let sync = || req("POST", "/v1/sync").token(&f.token);
    for body in [
        &b""[..],
        b"TMS",
        b"TMS\x03\x00",
        b"TMS\x01\x01\x00",
        b"TMS\x01\x00\x00",
    ] {
        check(&f, sync().body(body), 400, Some("bad_envelope")).await;
    }
    check(&f, sync().body(vec![b'x'; 8192]), 413, Some("too_large")).await;
    let bomb = zstd::encode_all(&vec![0u8; 1 << 20][..], 19).unwrap();
    let zstd = sync().header("content-encoding", "zstd");
    check(&f, zstd.clone().body(bomb), 413, Some("too_large")).await;
    check(&f, zstd.body("nope"), 400, Some("bad_encoding")).await;
    let gzip = sync().header("content-encoding", "gzip");
    check(&f, gzip.clone().body("nope"), 400, Some("bad_encoding")).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"TMS\x01\x00").unwrap();
    check(&f, gzip.body(gz.finish().unwrap()), 200, None).await;
    let br = sync()
        .header("content-encoding", "br")
        .body(&b"TMS\x01\x00"[..]);
    check(&f, br, 415, Some("unsupported_encoding")).await;
    check(&f, sync().body(&b"TMS\x01\x00"[..]), 200, None).await;
    let long = "s".repeat(65);
    let bad_session = sync()
        .header("tidemark-session", &long)
        .body(&b"TMS\x01\x00"[..]);
    check(&f, bad_session, 400, Some("bad_header")).await;
}

#[tokio::test]
async fn failed_authentication_and_enrolment_are_rate_limited() {
    let f = fixture_with(|s| {
        s.max_failed_auth_per_minute = 3;
        s.max_enrolments_per_minute = 2;
    })
    .await;
    let guess = || req("GET", "/v1/feed").token("tmk_guess");
    for _ in 0..3 {
        check(&f, guess(), 401, Some("unauthorized")).await;
    }
    check(&f, guess(), 429, Some("rate_limited")).await;
    let honest = req("GET", "/v1/feed").token(&f.token);
    check(&f, honest, 429, Some("rate_limited")).await;
    let enroll = || req("POST", "/v1/enroll").body(r#"{"code":"nope","actor_hex":"cc03"}"#);
    for _ in 0..2 {
        check(&f, enroll(), 401, Some("unauthorized")).await;
    }
    check(&f, enroll(), 429, Some("rate_limited")).await;
}

#[tokio::test]
async fn metrics_count_requests_errors_and_sync_items() {
    let f = fixture().await;
    check(&f, req("GET", "/v1/feed"), 401, None).await;
    let one_unknown_item = &b"TMS\x01\x01\x01x\x01\x00"[..];
    let sync = req("POST", "/v1/sync")
        .token(&f.token)
        .body(one_unknown_item);
    check(&f, sync, 200, None).await;
    let text = String::from_utf8(check(&f, req("GET", "/metrics"), 200, None).await).unwrap();
    for line in [
        r#"tidemark_requests_total{route="/v1/feed",status="401"} 1"#,
        r#"tidemark_errors_total{code="unauthorized"} 1"#,
        r#"tidemark_sync_items_total{code="not_found"} 1"#,
        "tidemark_sync_rounds_total 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
}
