//! Default grants by record kind, applied when a document is created (issue 3's defaults).
//!
//! A station's patrols and activities are its own and, through the unit tree, its parents'
//! (no grant needed); an information exchange belongs to its sender and its recipients, who
//! write into it to acknowledge; a coordination plan and its items are written by every unit
//! party to them. Explicit grants in the request come after the defaults and win for the same
//! unit.

use crate::db::{Access, Grant};
use crate::AppError;

/// The grants a new document gets: defaults for `kind` to `parties`, then `explicit`.
pub fn grants(
    kind: Option<&str>,
    parties: &[String],
    explicit: &[Grant],
) -> Result<Vec<Grant>, AppError> {
    let default_access = match kind {
        None
        | Some("patrol")
        | Some("community_activity")
        | Some("review_meeting")
        | Some("unit") => None,
        Some("info_exchange") | Some("plan") | Some("plan_item") => Some(Access::Write),
        Some(other) => {
            return Err(AppError::bad(
                "bad_kind",
                format!("unknown record kind `{other}`"),
            ))
        }
    };
    let mut out: Vec<Grant> = Vec::new();
    if let Some(access) = default_access {
        for unit in parties {
            out.push(Grant {
                unit: unit.clone(),
                access,
            });
        }
    }
    for g in explicit {
        out.retain(|d| d.unit != g.unit);
        out.push(g.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(unit: &str, access: Access) -> Grant {
        Grant {
            unit: unit.into(),
            access,
        }
    }

    #[test]
    fn exchange_recipients_and_plan_parties_write_by_default() {
        let parties = vec!["Huyện ủy Gò Công Đông".to_string(), "HQ".to_string()];
        for kind in ["info_exchange", "plan", "plan_item"] {
            let got = grants(Some(kind), &parties, &[]).expect("known kind");
            assert_eq!(
                got,
                vec![
                    g("Huyện ủy Gò Công Đông", Access::Write),
                    g("HQ", Access::Write)
                ]
            );
        }
    }

    #[test]
    fn patrols_get_no_grants_and_explicit_grants_win() {
        let parties = vec!["KP".to_string()];
        assert!(grants(Some("patrol"), &parties, &[])
            .expect("patrol")
            .is_empty());
        let got =
            grants(Some("info_exchange"), &parties, &[g("KP", Access::Read)]).expect("exchange");
        assert_eq!(got, vec![g("KP", Access::Read)]);
        assert_eq!(
            grants(Some("tau_ca"), &parties, &[])
                .expect_err("unknown kind")
                .code(),
            "bad_kind"
        );
    }
}
