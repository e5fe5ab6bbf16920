//! One function per subcommand: call the client crate, print the result. `run` dispatches;
//! the store itself, reading records and the interchange format have a module each.

mod interchange;
mod records;
mod store;

use std::path::Path;

use tidemark_client::report::ReportFormat;
use tidemark_client::{Client, ClientError, STORE_FILE};
use tidemark_domain::Lang;

use crate::args::{Command, DocAction, ReportFormatArg, TrackAction};
use crate::output::t;
use crate::{secrets, Failure};

/// Runs one command against the store in `dir`.
pub fn run(command: Command, dir: &Path, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    let open = || -> Result<Client, Failure> {
        let mut c = if tidemark_client::is_encrypted(dir) && dir.join(STORE_FILE).exists() {
            Client::unlock(dir, &secrets::unlock(lang)?).map_err(fail)?
        } else {
            Client::open(dir).map_err(fail)?
        };
        c.set_lang(lang);
        Ok(c)
    };
    match command {
        Command::Init {
            unit,
            user,
            unencrypted,
        } => store::init(dir, &unit, user, unencrypted, lang),
        Command::Encrypt => store::encrypt(dir, lang),
        Command::Passphrase => store::passphrase(dir, lang),
        Command::Info { out } => store::info(&open()?, out.json, lang),
        Command::Import { file, out } => interchange::import(&mut open()?, &file, out.json, lang),
        Command::Report {
            from,
            to,
            units,
            format,
            out,
            details,
            as_of,
        } => {
            let format = match format {
                ReportFormatArg::Md => ReportFormat::Md,
                ReportFormatArg::Csv => ReportFormat::Csv,
                ReportFormatArg::Xlsx => ReportFormat::Xlsx,
                ReportFormatArg::Html => ReportFormat::Html,
            };
            let request = crate::report::Request {
                from,
                to,
                units,
                as_of,
                format,
                details,
            };
            crate::report::run(&open()?, request, out.as_deref(), lang)
        }
        Command::Export { format, kind, out } => {
            interchange::export(&open()?, format, kind, out.as_deref(), lang)
        }
        Command::List {
            kind,
            unit,
            from,
            to,
            limit,
            offset,
            out,
        } => {
            let ask = records::ListAsk {
                kind,
                unit,
                from,
                to,
                limit,
                offset,
            };
            records::list(&open()?, ask, out.json, lang)
        }
        Command::Show { id, out } => records::show(&open()?, &id, out.json, lang),
        Command::Search {
            text,
            kind,
            limit,
            out,
        } => records::search(&open()?, &text, kind, limit, out.json, lang),
        Command::Edit { id, field, value } => {
            let outcome = open()?.edit(&id, &field, &value).map_err(fail)?;
            saved(lang, &id, outcome);
            Ok(())
        }
        Command::Splice {
            id,
            field,
            pos,
            delete,
            text,
        } => {
            let outcome = open()?
                .splice(&id, &field, pos, delete, &text)
                .map_err(fail)?;
            saved(lang, &id, outcome);
            Ok(())
        }
        Command::History { id, out } => records::history(&open()?, &id, out.json, lang),
        Command::Conflicts { out } => records::conflicts(&open()?, out.json, lang),
        Command::Resolve { id, field, value } => {
            let outcome = open()?.resolve(&id, &field, &value).map_err(fail)?;
            saved(lang, &id, outcome);
            Ok(())
        }
        Command::Attach {
            id,
            file,
            inspection,
            violation,
            out,
        } => crate::attachments::attach(
            &mut open()?,
            &id,
            &file,
            (inspection, violation),
            out.json,
            lang,
        ),
        Command::Attachment { action } => crate::attachments::attachment(&open()?, action, lang),
        Command::Track {
            action: TrackAction::Import { id, file, out },
        } => records::import_track(&mut open()?, &id, &file, out.json, lang),
        Command::Doc { action } => doc(&mut open()?, action, lang),
        Command::Enroll { server, code, out } => {
            crate::syncing::enroll(open()?, &server, &code, out.json, lang)
        }
        Command::Sync { once, out } => crate::syncing::sync(open()?, once, out.json, lang),
        Command::Status { out } => crate::syncing::status(&open()?, out.json, lang),
        Command::Bundle { action } => crate::syncing::bundle(open()?, action, lang),
        Command::Demo { dir, serve } => crate::demo::run(dir, serve, lang),
    }
}

fn saved(lang: Lang, id: &str, outcome: tidemark_client::WriteOutcome) {
    match outcome {
        tidemark_client::WriteOutcome::Unchanged => say!(
            "{id}: {}",
            t(lang, "không có gì thay đổi", "nothing changed")
        ),
        _ => say!(
            "{id}: {}",
            t(lang, "đã lưu trên máy", "saved on this device")
        ),
    }
}

fn doc(c: &mut Client, action: DocAction, lang: Lang) -> Result<(), Failure> {
    let fail = |e: ClientError| Failure::from_client(e, lang);
    match action {
        DocAction::Save { id, out } => {
            let bytes = c.document_bytes(&id).map_err(fail)?;
            std::fs::write(&out, &bytes)
                .map_err(|e| fail(ClientError::io(format!("writing {}", out.display()), e)))?;
            say!("{id}: {} bytes → {}", bytes.len(), out.display());
        }
        DocAction::Merge { id, file } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| fail(ClientError::io(format!("reading {}", file.display()), e)))?;
            let changed = c.apply_changes(&id, &bytes).map_err(fail)?;
            say!(
                "{id}: {}",
                if changed {
                    t(lang, "đã hợp nhất", "merged")
                } else {
                    t(lang, "không có gì mới", "nothing new")
                }
            );
        }
    }
    Ok(())
}

/// The `--kind` a command was given, checked; `None` when none was.
fn parse_kind(
    kind: Option<&str>,
    lang: Lang,
) -> Result<Option<tidemark_domain::records::RecordKind>, Failure> {
    kind.map(Client::parse_kind)
        .transpose()
        .map_err(|e| Failure::from_client(e, lang))
}
