//! A small W3C WebDriver client over reqwest: enough to drive the real app window through
//! `WebKitWebDriver` (Debian `webkit2gtk-driver`) — find, click, type, choose files, run
//! scripts, read, screenshot.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The W3C element key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running `WebKitWebDriver` on a free port, stopped on drop.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    /// Starts `WebKitWebDriver` with automation enabled for the app's web view.
    pub fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("WebKitWebDriver")
            .arg(format!("--port={port}"))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("WebKitWebDriver (apt-get install webkit2gtk-driver)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "WebKitWebDriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A session: one app window.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

/// An element reference.
#[derive(Clone, Debug)]
pub struct El(String);

impl El {
    /// The element as a script argument.
    pub fn json(&self) -> Value {
        json!({ ELEMENT: self.0 })
    }
}

impl Session {
    /// Launches `app` with `args` in a new session.
    pub async fn launch(driver: &Driver, app: &Path, args: &[String]) -> Session {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "webkitgtk:browserOptions": {"binary": app, "args": args}
        }}});
        let v: Value = http
            .post(format!("{}/session", driver.url))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        Session {
            http,
            base: format!("{}/session/{id}", driver.url),
        }
    }

    async fn req(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let v: Value = r
            .send()
            .await
            .expect("webdriver request")
            .json()
            .await
            .expect("webdriver json");
        v["value"].clone()
    }

    /// Finds an element by CSS selector, waiting up to `timeout`.
    pub async fn find_within(&self, css: &str, timeout: Duration) -> Option<El> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self
                .req(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if let Some(id) = v.get(ELEMENT).and_then(|e| e.as_str()) {
                return Some(El(id.to_string()));
            }
            if Instant::now() > deadline {
                eprintln!("webdriver: `{css}` not found: {v}");
                return None;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Finds an element by CSS selector (waiting up to 15 s), or panics with a screenshot.
    pub async fn find(&self, css: &str) -> El {
        match self.find_within(css, Duration::from_secs(15)).await {
            Some(e) => e,
            None => {
                let src = self.source().await;
                panic!("no element `{css}` in:\n{}", &src[..src.len().min(4000)]);
            }
        }
    }

    /// Every element matching `css`.
    pub async fn find_all(&self, css: &str) -> Vec<El> {
        let v = self
            .req(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.get(ELEMENT).and_then(|x| x.as_str()))
                    .map(|s| El(s.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Clicks `el`, or errs with the driver's error and message (a stale element, one
    /// covered by another, one not yet interactable).
    async fn try_click(&self, el: &El) -> Result<(), String> {
        let v = self
            .req(
                reqwest::Method::POST,
                &format!("/element/{}/click", el.0),
                Some(json!({})),
            )
            .await;
        match v.get("error") {
            Some(e) => Err(format!("{e}: {}", v["message"])),
            None => Ok(()),
        }
    }

    /// Clicks `el`; panics if the driver refuses, so a lost click fails here and not at a
    /// later, puzzling wait.
    pub async fn click(&self, el: &El) {
        if let Err(e) = self.try_click(el).await {
            panic!("webdriver: click refused: {e}");
        }
    }

    /// Finds `css` and clicks it, finding it again while the driver refuses the click (the
    /// page may have re-rendered it, or something may still cover it), for up to 15 s.
    pub async fn click_on(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let el = self.find(css).await;
            match self.try_click(&el).await {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    panic!("webdriver: click on `{css}` refused for 15 s: {e}")
                }
                Err(e) => {
                    eprintln!("webdriver: click on `{css}` refused, again: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Sets a field's value as typing would end (an `input` then a `change` event), with the
    /// caret at the end. WebKitWebDriver's key emulation drops Vietnamese letters it cannot
    /// map to the X keyboard, so text goes in through the DOM.
    pub async fn fill(&self, el: &El, text: &str) {
        self.exec(
            "const [e, v] = arguments; e.focus(); e.value = v; \
             if (e.setSelectionRange) { e.setSelectionRange(v.length, v.length); } \
             e.dispatchEvent(new Event('input', {bubbles: true})); \
             e.dispatchEvent(new Event('change', {bubbles: true}));",
            json!([el.json(), text]),
        )
        .await;
    }

    /// Inserts `text` at the caret of a text field as typing would (one `input` event).
    pub async fn insert_at_caret(&self, el: &El, text: &str) {
        self.exec(
            "const [e, v] = arguments; e.focus(); const a = e.selectionStart, b = e.selectionEnd; \
             e.value = e.value.slice(0, a) + v + e.value.slice(b); \
             e.setSelectionRange(a + v.length, a + v.length); \
             e.dispatchEvent(new InputEvent('input', {bubbles: true, data: v, inputType: 'insertText'}));",
            json!([el.json(), text]),
        )
        .await;
    }

    /// Types `text` into an element.
    pub async fn type_text(&self, el: &El, text: &str) {
        self.req(
            reqwest::Method::POST,
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Chooses a file in an `<input type="file">` (W3C "Element Send Keys" with its path).
    /// Errs with the driver's message when it refuses.
    pub async fn send_file(&self, el: &El, path: &Path) -> Result<(), String> {
        let v = self
            .req(
                reqwest::Method::POST,
                &format!("/element/{}/value", el.0),
                Some(json!({ "text": path.display().to_string() })),
            )
            .await;
        match v.get("error") {
            Some(e) => Err(format!("{e}: {}", v["message"])),
            None => Ok(()),
        }
    }

    /// Runs asynchronous JavaScript: the script calls its last argument with the result.
    pub async fn exec_async(&self, script: &str, args: Value) -> Value {
        self.req(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// The element's visible text.
    pub async fn text(&self, el: &El) -> String {
        self.req(
            reqwest::Method::GET,
            &format!("/element/{}/text", el.0),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// An attribute or property.
    pub async fn attr(&self, el: &El, name: &str) -> Option<String> {
        let v = self
            .req(
                reqwest::Method::GET,
                &format!("/element/{}/attribute/{name}", el.0),
                None,
            )
            .await;
        v.as_str().map(str::to_string)
    }

    /// Runs JavaScript in the page.
    pub async fn exec(&self, script: &str, args: Value) -> Value {
        self.req(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// The page source.
    pub async fn source(&self) -> String {
        self.req(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Saves a PNG screenshot; panics if it is empty.
    pub async fn screenshot(&self, path: &Path) {
        let v = self.req(reqwest::Method::GET, "/screenshot", None).await;
        let b64 = v.as_str().unwrap_or_default();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("screenshot base64");
        assert!(png.len() > 1000, "blank screenshot for {}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Waits until `pred` holds for the text of `css`, re-reading every 250 ms.
    pub async fn wait_text(
        &self,
        css: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(el) = self.find_within(css, Duration::from_millis(200)).await {
                let t = self.text(&el).await;
                if pred(&t) {
                    return t;
                }
                if Instant::now() > deadline {
                    panic!("`{css}` never matched; last text: {t}");
                }
            } else if Instant::now() > deadline {
                panic!("`{css}` never appeared");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Navigates inside the app (hash routes).
    pub async fn go(&self, hash: &str) {
        self.exec(
            &format!("window.location.hash = {};", json!(hash)),
            json!([]),
        )
        .await;
    }

    /// Ends the session (closes the app).
    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
