//! Signed changes (issue 10, item 4): this device's Ed25519 key signs every change it makes,
//! in the same transaction that stores the change; signatures travel with changes in sync and
//! bundles; the history says, entry by entry, whether a change verifies under the key the relay
//! registered for its author.
//!
//! The key's secret seed lives in the store's metadata, so it is encrypted with the store.

use std::collections::HashMap;

use automerge::{Change, ChangeHash, ChangeMetadata};
use rand::RngCore;
use tidemark_domain::document::RecordDoc;
use tidemark_store::{Signature, Store, Tx};
use tidemark_sync_protocol::signature::{judge, ChangeSignature, SigningKey};
use tidemark_sync_protocol::Verdict;

use crate::{Client, ClientError, Identity};

/// Metadata key of the signing seed (hex).
const SEED: &str = "sign_seed";

fn key_from_hex(hex_seed: &str) -> Result<SigningKey, ClientError> {
    let seed = hex::decode(hex_seed)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            ClientError::Store(tidemark_store::StoreError::Corrupt(
                "bad signing key in metadata".into(),
            ))
        })?;
    Ok(SigningKey::from_seed(&seed))
}

/// This device's signing key, made on first use. A store from before signed changes gets its
/// key now, and every change this device made before is signed with it in the same
/// transaction, so nothing of its own is left unsigned.
pub(crate) fn ensure_key(
    store: &mut Store,
    identity: &Identity,
) -> Result<SigningKey, ClientError> {
    if let Some(seed) = store.meta(SEED)? {
        return key_from_hex(&seed);
    }
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = SigningKey::from_seed(&seed);
    let ids = store.doc_ids()?;
    let tx = store.begin()?;
    let mut signed = 0usize;
    for id in ids {
        let Some(bytes) = tx.load_doc(&id)? else {
            continue;
        };
        let mut doc = RecordDoc::load(&bytes, &identity.actor)?;
        let sigs = sign_own(
            &key,
            &identity.actor,
            &doc.automerge().get_changes_meta(&[]),
        );
        signed += sigs.len();
        tx.put_signatures(&sigs)?;
    }
    tx.set_meta(SEED, &hex::encode(seed))?;
    tx.commit()?;
    tracing::info!(signed, "signing key created");
    Ok(key)
}

/// Signatures of `actor`'s changes among `changes` (metadata only: rebuilding whole changes to
/// learn their authors would cost more than the rest of storing a received document).
fn sign_own(
    key: &SigningKey,
    actor: &automerge::ActorId,
    changes: &[ChangeMetadata<'_>],
) -> Vec<Signature> {
    changes
        .iter()
        .filter(|c| c.actor.as_ref() == actor)
        .map(|c| {
            let s = key.sign(&c.hash.0);
            (s.hash, s.sig)
        })
        .collect()
}

/// Signs this device's changes among those `doc` gained since `heads`, inside `tx`.
pub(crate) fn sign_new(
    tx: &Tx<'_>,
    doc: &mut RecordDoc,
    heads: &[ChangeHash],
) -> Result<(), ClientError> {
    let am = doc.automerge();
    let actor = am.get_actor().clone();
    let changes = am.get_changes_meta(heads);
    if !changes.iter().any(|c| c.actor.as_ref() == &actor) {
        return Ok(());
    }
    let Some(seed) = tx.meta(SEED)? else {
        // A store being created: the key is made right after the identity.
        return Ok(());
    };
    let key = key_from_hex(&seed)?;
    tx.put_signatures(&sign_own(&key, &actor, &changes))?;
    Ok(())
}

/// Signatures as the wire carries them.
pub(crate) fn to_wire(sigs: Vec<Signature>) -> Vec<ChangeSignature> {
    sigs.into_iter()
        .map(|(hash, sig)| ChangeSignature { hash, sig })
        .collect()
}

/// Signatures as the store keeps them.
pub(crate) fn from_wire(sigs: &[ChangeSignature]) -> Vec<Signature> {
    sigs.iter().map(|s| (s.hash, s.sig)).collect()
}

/// Judges changes by their authors' keys: the relay's directory, and this device's own key for
/// its own changes (known even before the directory arrives).
pub(crate) struct Judge {
    keys: HashMap<String, Vec<u8>>,
}

impl Judge {
    pub(crate) fn new(client: &Client) -> Result<Judge, ClientError> {
        let mut keys: HashMap<String, Vec<u8>> = client
            .store()
            .sign_keys()?
            .into_iter()
            .map(|(actor, k)| (actor, k.key))
            .collect();
        keys.insert(
            client.identity().actor.to_hex_string(),
            client.sign_public_key()?.to_vec(),
        );
        Ok(Judge { keys })
    }

    /// The verdict on each change, by hex hash.
    pub(crate) fn judge(
        &self,
        store: &Store,
        changes: &[Change],
    ) -> Result<HashMap<String, Verdict>, ClientError> {
        let hashes: Vec<[u8; 32]> = changes.iter().map(|c| c.hash().0).collect();
        Ok(self.judge_with(changes, store.signatures_for(&hashes)?))
    }

    /// The verdict on each change given the signatures known for them, by hex hash.
    pub(crate) fn judge_with(
        &self,
        changes: &[Change],
        sigs: Vec<Signature>,
    ) -> HashMap<String, Verdict> {
        let mut known: HashMap<[u8; 32], Vec<ChangeSignature>> = HashMap::new();
        for (hash, sig) in sigs {
            known
                .entry(hash)
                .or_default()
                .push(ChangeSignature { hash, sig });
        }
        changes
            .iter()
            .map(|c| {
                let key = self.keys.get(&c.actor_id().to_hex_string());
                let sigs = known.get(&c.hash().0).map(Vec::as_slice).unwrap_or(&[]);
                (c.hash().to_string(), judge(key.map(Vec::as_slice), sigs))
            })
            .collect()
    }
}

impl Client {
    /// This device's public signing key (registered at the relay at enrolment).
    pub fn sign_public_key(&self) -> Result<[u8; 32], ClientError> {
        let seed = self.store.meta(SEED)?.ok_or_else(|| {
            ClientError::Store(tidemark_store::StoreError::Corrupt(
                "no signing key in metadata".into(),
            ))
        })?;
        Ok(key_from_hex(&seed)?.public())
    }
}
