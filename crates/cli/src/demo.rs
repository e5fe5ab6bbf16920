//! `tidemark demo`: the whole story told on this machine, headless — a relay on loopback with
//! a demo province, six device stores, a day without signal, a conflict, a USB bundle.

use std::path::PathBuf;

use tidemark_domain::Lang;
use tidemark_province::story::{self, Narrator};
use tidemark_province::Province;

use crate::output::t;
use crate::Failure;

struct Printer(Lang);

impl Narrator for Printer {
    fn chapter(&mut self, vi: &str, en: &str) {
        say!("\n▶ {}", t(self.0, vi, en));
    }
    fn line(&mut self, text: &str) {
        say!("{text}");
    }
}

/// Runs the story in `dir` (a temporary directory, removed afterwards, when `None`).
pub fn run(dir: Option<PathBuf>, serve: bool, lang: Lang) -> Result<(), Failure> {
    let tmp;
    let root = match dir {
        Some(d) => d,
        None => {
            tmp = tempfile::tempdir().map_err(|e| {
                Failure::Internal(format!("cannot make a temporary directory: {e}"))
            })?;
            tmp.path().to_path_buf()
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start the async runtime: {e}")))?;
    let started = std::time::Instant::now();
    let figures = rt.block_on(async {
        let p = Province::start(&root).await?;
        say!(
            "{} {} ({} {})",
            t(lang, "Máy chủ trung chuyển chạy tại", "Relay running at"),
            p.relay_url(),
            t(lang, "dữ liệu trong", "data in"),
            root.display()
        );
        say!(
            "{} “{}”",
            t(
                lang,
                "Kho dữ liệu của Bộ Chỉ huy và đồn đầu tiên được mã hóa (SQLCipher, khóa từ mật khẩu qua Argon2id); mật khẩu thử:",
                "HQ's and the first station's stores are encrypted (SQLCipher, key from the passphrase via Argon2id); demo passphrase:"
            ),
            tidemark_province::PASSPHRASE
        );
        let fig = story::run(&p, &mut Printer(lang), lang).await;
        if serve && fig.is_ok() {
            std::fs::write(root.join("relay.url"), p.relay_url())?;
            say!(
                "\n{} {} — {} {}/hq",
                t(
                    lang,
                    "Máy chủ trung chuyển vẫn chạy tại",
                    "The relay keeps running at"
                ),
                p.relay_url(),
                t(
                    lang,
                    "ứng dụng mở thiết bị của Bộ Chỉ huy:",
                    "the app opens HQ's device:"
                ),
                root.display()
            );
            let _ = tokio::signal::ctrl_c().await;
        }
        p.stop().await?;
        fig
    });
    let fig = figures.map_err(|e| Failure::Internal(format!("the demo failed: {e:#}")))?;
    say!(
        "\n{} {:.1} s: {} {}, {} {}, {} {}.",
        t(lang, "Xong trong", "Done in"),
        started.elapsed().as_secs_f64(),
        fig.patrols_at_hq,
        t(lang, "chuyến tuần tra tại Bộ Chỉ huy", "patrols at HQ"),
        fig.conflicts_seen,
        t(
            lang,
            "trường xung đột đã giải quyết",
            "conflicting fields resolved"
        ),
        fig.requests,
        t(lang, "lượt gửi nhận HTTP", "HTTP round trips")
    );
    if !fig.converged {
        return Err(Failure::Internal("the devices did not converge".into()));
    }
    Ok(())
}
