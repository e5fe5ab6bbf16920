//! The store itself: create it, encrypt it, change its passphrase, describe it.

use std::path::Path;

use tidemark_client::{Client, ClientError};
use tidemark_domain::Lang;

use crate::output::{self, t};
use crate::{secrets, Failure};

/// `init`: a new store for `unit`, encrypted unless `unencrypted`.
pub(super) fn init(
    dir: &Path,
    unit: &str,
    user: Option<String>,
    unencrypted: bool,
    lang: Lang,
) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let user = user
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let pass = if unencrypted {
        None
    } else {
        Some(secrets::new(secrets::ENV, lang)?.ok_or_else(|| {
            Failure::User(
                t(
                    lang,
                    "Cần một mật khẩu để mã hóa kho dữ liệu: đặt biến TIDEMARK_PASSPHRASE, chạy trong cửa sổ dòng lệnh, hoặc dùng --unencrypted (không khuyến nghị).",
                    "A passphrase is needed to encrypt the store: set TIDEMARK_PASSPHRASE, run in a terminal, or pass --unencrypted (not recommended).",
                )
                .into(),
            )
        })?)
    };
    let c = Client::init_with(dir, unit, &user, pass.as_ref()).map_err(fail)?;
    say!(
        "{} {} ({}: {}, {}: {}{})",
        t(lang, "Đã tạo kho dữ liệu tại", "Created the store in"),
        dir.display(),
        t(lang, "đơn vị", "unit"),
        c.identity().unit,
        t(lang, "thiết bị", "device"),
        c.identity().device_id,
        if c.encrypted() {
            t(lang, ", đã mã hóa", ", encrypted")
        } else {
            t(lang, ", KHÔNG mã hóa", ", NOT encrypted")
        }
    );
    Ok(())
}

/// `encrypt`: the unencrypted store in `dir`, in place.
pub(super) fn encrypt(dir: &Path, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let pass = secrets::new(secrets::ENV, lang)?.ok_or_else(|| {
        Failure::User(
            t(
                lang,
                "Cần một mật khẩu mới: đặt biến TIDEMARK_PASSPHRASE hoặc chạy trong cửa sổ dòng lệnh.",
                "A new passphrase is needed: set TIDEMARK_PASSPHRASE or run in a terminal.",
            )
            .into(),
        )
    })?;
    let started = std::time::Instant::now();
    Client::encrypt(dir, &pass).map_err(fail)?;
    say!(
        "{} {} ({:.1} s)",
        t(lang, "Đã mã hóa kho dữ liệu tại", "Encrypted the store in"),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `passphrase`: a new passphrase for the encrypted store in `dir`.
pub(super) fn passphrase(dir: &Path, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let old = secrets::unlock(lang)?;
    let new = secrets::new(secrets::ENV_NEW, lang)?.ok_or_else(|| {
        Failure::User(
            t(
                lang,
                "Cần mật khẩu mới: đặt biến TIDEMARK_NEW_PASSPHRASE hoặc chạy trong cửa sổ dòng lệnh.",
                "A new passphrase is needed: set TIDEMARK_NEW_PASSPHRASE or run in a terminal.",
            )
            .into(),
        )
    })?;
    Client::change_passphrase(dir, &old, &new).map_err(fail)?;
    say!(
        "{}",
        t(lang, "Đã đổi mật khẩu.", "The passphrase was changed.")
    );
    Ok(())
}

/// `info`.
pub(super) fn info(c: &Client, json: bool, lang: Lang) -> Result<(), Failure> {
    let counts = c
        .counts()
        .map_err(|e| Failure::from_client(e.into(), lang))?;
    let id = c.identity();
    if json {
        return output::json(&serde_json::json!({
            "data_dir": c.dir(),
            "unit": id.unit,
            "user": id.user,
            "device": id.device_id,
            "records": counts.iter().map(|(k, n)| (k.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
        }));
    }
    say!("{}: {}", t(lang, "Kho", "Store"), c.dir().display());
    say!("{}: {}", t(lang, "Đơn vị", "Unit"), id.unit);
    say!("{}: {}", t(lang, "Người dùng", "User"), id.user);
    say!("{}: {}", t(lang, "Thiết bị", "Device"), id.device_id);
    for (k, n) in counts {
        say!("  {k}: {n}");
    }
    Ok(())
}
