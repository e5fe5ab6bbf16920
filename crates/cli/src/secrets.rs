//! Where the CLI gets passphrases: `TIDEMARK_PASSPHRASE` (and `TIDEMARK_NEW_PASSPHRASE` when
//! changing it) for scripted use, else a prompt on the terminal that does not echo.

use std::io::IsTerminal;

use tidemark_client::Passphrase;
use tidemark_domain::Lang;

use crate::output::t;
use crate::Failure;

/// The environment variable holding the passphrase for scripted use.
pub const ENV: &str = "TIDEMARK_PASSPHRASE";
/// The environment variable holding the new passphrase for `tidemark passphrase`.
pub const ENV_NEW: &str = "TIDEMARK_NEW_PASSPHRASE";

fn from_env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

fn can_prompt() -> bool {
    std::io::stdin().is_terminal() || std::io::stderr().is_terminal()
}

fn prompt(text: &str) -> Result<String, Failure> {
    rpassword::prompt_password(text)
        .map_err(|e| Failure::User(format!("cannot read the passphrase from the terminal: {e}")))
}

/// The passphrase that unlocks an existing store.
pub fn unlock(lang: Lang) -> Result<Passphrase, Failure> {
    if let Some(p) = from_env(ENV) {
        return Ok(Passphrase::new(p));
    }
    if !can_prompt() {
        return Err(Failure::User(
            t(
                lang,
                "Kho dữ liệu đã được mã hóa: đặt biến TIDEMARK_PASSPHRASE hoặc chạy trong cửa sổ dòng lệnh để nhập mật khẩu.",
                "The store is encrypted: set TIDEMARK_PASSPHRASE or run in a terminal to type the passphrase.",
            )
            .into(),
        ));
    }
    Ok(Passphrase::new(prompt(t(
        lang,
        "Mật khẩu: ",
        "Passphrase: ",
    ))?))
}

/// A new passphrase to protect a store with, from `var` or typed twice; `None` when there is
/// neither (no variable, no terminal).
pub fn new(var: &str, lang: Lang) -> Result<Option<Passphrase>, Failure> {
    let fail = |e| Failure::from_client(e, lang);
    if let Some(p) = from_env(var) {
        return Passphrase::new_for_store(p).map(Some).map_err(fail);
    }
    if !can_prompt() {
        return Ok(None);
    }
    let first = prompt(t(lang, "Mật khẩu mới: ", "New passphrase: "))?;
    let pass = Passphrase::new_for_store(first.clone()).map_err(fail)?;
    let again = prompt(t(lang, "Nhập lại mật khẩu mới: ", "New passphrase again: "))?;
    if again != first {
        return Err(Failure::User(
            t(
                lang,
                "Hai lần nhập không khớp; không có gì thay đổi.",
                "The two entries differ; nothing was changed.",
            )
            .into(),
        ));
    }
    Ok(Some(pass))
}
