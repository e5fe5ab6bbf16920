//! Signed changes (issue 10, item 4): every change new to the relay whose author's device
//! registered a signing key must come with a signature that verifies under that key.
//!
//! - A signature that does not verify (and no other that does): `forged_signature`, the whole
//!   item is refused and nothing is stored.
//! - No signature from a device that has a key: `unsigned_change`, refused the same way.
//! - A device enrolled before signing existed and that has not registered a key yet: its
//!   changes are accepted unsigned (devices show them as such in the history).
//!
//! Signatures whose change has not arrived yet (Automerge may hold a change back until its
//! dependencies come) are kept and checked when the change lands.

use std::collections::HashMap;

use automerge::{AutoCommit, ChangeHash};
use tidemark_sync_protocol::signature::{
    first_valid, judge, ChangeSignature, HASH_LEN, SIGNATURE_LEN,
};
use tidemark_sync_protocol::Verdict;

use crate::db::Db;
use crate::sync::{ItemError, NewChange};

/// Signatures to store once the item commits: (hex change hash, signature bytes).
pub(crate) type ToStore = Vec<(String, Vec<u8>)>;

/// Checks the signatures of `new_changes` (new to the relay, already applied to `fork`) against
/// those that came with them and those stored earlier. Returns what to store.
pub(crate) fn check_signatures(
    db: &Db,
    fork: &mut AutoCommit,
    new_changes: &[NewChange],
    incoming: &[ChangeSignature],
) -> Result<ToStore, ItemError> {
    let mut by_hash: HashMap<[u8; HASH_LEN], Vec<ChangeSignature>> = HashMap::new();
    for sig in incoming {
        by_hash.entry(sig.hash).or_default().push(*sig);
    }
    let hexes: Vec<String> = new_changes.iter().map(|c| c.hash.to_string()).collect();
    let stored = db.signatures_for(&hexes)?;
    let mut keys: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
    let mut keep: ToStore = Vec::new();
    for (change, hex) in new_changes.iter().zip(&hexes) {
        let actor = change.actor.to_bytes().to_vec();
        let key = match keys.get(&actor) {
            Some(k) => k.clone(),
            None => {
                let k = db.actor_key(&change.actor.to_hex_string())?;
                keys.insert(actor, k.clone());
                k
            }
        };
        let hash = change.hash.0;
        let mut candidates: Vec<ChangeSignature> = by_hash.remove(&hash).unwrap_or_default();
        for raw in stored.get(hex).into_iter().flatten() {
            if let Ok(sig) = <[u8; SIGNATURE_LEN]>::try_from(raw.as_slice()) {
                candidates.push(ChangeSignature { hash, sig });
            }
        }
        if let Some(good) = key.as_deref().and_then(|k| first_valid(k, &candidates)) {
            keep.push((hex.clone(), good.sig.to_vec()));
            continue;
        }
        match judge(key.as_deref(), &candidates) {
            Verdict::Forged => {
                return Err(ItemError(
                    "forged_signature",
                    format!(
                        "change {} does not carry a valid signature of its author's device",
                        &hex[..12]
                    ),
                ))
            }
            Verdict::Unsigned if key.is_some() => {
                return Err(ItemError(
                    "unsigned_change",
                    format!(
                        "change {} comes without the signature its author's device must give",
                        &hex[..12]
                    ),
                ))
            }
            // A device that has not registered a key yet: kept for when it does.
            Verdict::UnknownKey => {
                keep.extend(candidates.iter().map(|s| (hex.clone(), s.sig.to_vec())));
            }
            Verdict::Verified | Verdict::Unsigned => {}
        }
    }
    // Signatures of changes not here yet.
    for (hash, sigs) in by_hash {
        if fork.get_change_meta_by_hash(&ChangeHash(hash)).is_none() {
            let hex = ChangeHash(hash).to_string();
            keep.extend(sigs.into_iter().map(|s| (hex.clone(), s.sig.to_vec())));
        }
    }
    Ok(keep)
}

/// The stored signatures of `hashes`, to send with the changes.
pub(crate) fn signatures_to_send(
    db: &Db,
    hashes: &[ChangeHash],
) -> Result<Vec<ChangeSignature>, ItemError> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let hexes: Vec<String> = hashes.iter().map(ChangeHash::to_string).collect();
    let stored = db.signatures_for(&hexes)?;
    let mut out = Vec::with_capacity(hashes.len());
    for (hash, hex) in hashes.iter().zip(&hexes) {
        for raw in stored.get(hex).into_iter().flatten() {
            if let Ok(sig) = <[u8; SIGNATURE_LEN]>::try_from(raw.as_slice()) {
                out.push(ChangeSignature { hash: hash.0, sig });
            }
        }
    }
    Ok(out)
}
