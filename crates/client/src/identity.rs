//! This device's identity: a stable Automerge actor, a device id, the user and the unit.
//!
//! Created once at `init` and kept in the store's metadata, so every commit this device ever
//! makes carries the same actor (architecture decision 5).

use automerge::ActorId;
use rand::RngCore;
use tidemark_store::Store;

use crate::ClientError;

/// Who this device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The Automerge actor of every change made here.
    pub actor: ActorId,
    /// Device id (`dev-` + 8 hex digits), shown in history and, later, to the relay.
    pub device_id: String,
    /// The unit this device belongs to.
    pub unit: String,
    /// The person using it.
    pub user: String,
}

impl Identity {
    /// Reads the identity from the store, if `init` has run.
    pub fn load(store: &Store) -> Result<Option<Identity>, ClientError> {
        let (Some(actor), Some(device_id), Some(unit), Some(user)) = (
            store.meta("actor")?,
            store.meta("device_id")?,
            store.meta("unit")?,
            store.meta("user")?,
        ) else {
            return Ok(None);
        };
        let actor = hex::decode(&actor).map_err(|_| {
            ClientError::Store(tidemark_store::StoreError::Corrupt(
                "bad actor id in metadata".into(),
            ))
        })?;
        Ok(Some(Identity {
            actor: ActorId::from(actor),
            device_id,
            unit,
            user,
        }))
    }

    /// Makes a new identity with random actor and device ids and stores it.
    pub fn create(store: &mut Store, unit: &str, user: &str) -> Result<Identity, ClientError> {
        let mut actor = [0u8; 16];
        rand::rng().fill_bytes(&mut actor);
        let device_id = format!("dev-{}", hex::encode(&actor[..4]));
        let actor_hex = hex::encode(actor);
        let created = crate::now_secs().to_string();
        store.set_meta_many(&[
            ("actor", &actor_hex),
            ("device_id", &device_id),
            ("unit", unit),
            ("user", user),
            ("created_at", &created),
        ])?;
        Ok(Identity {
            actor: ActorId::from(actor.to_vec()),
            device_id,
            unit: unit.to_string(),
            user: user.to_string(),
        })
    }
}
