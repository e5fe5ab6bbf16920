//! Change signatures: every Automerge change a device makes is signed with that device's
//! Ed25519 key, registered at the relay at enrolment. A signature covers the change hash (which
//! itself covers the actor, the dependencies, the time, the message and every operation), under
//! a fixed context so a signature made here can never be replayed as anything else.
//!
//! ```text
//! signed bytes := "tidemark-change-v1" 0x00 hash[32]
//! ```
//!
//! Signatures travel beside the changes: per document in sync envelopes and responses
//! ([`crate::DocMessage::signatures`]) and in bundles ([`crate::BundleDocMeta::signatures`]).

use ed25519_dalek::Signer;

/// Length of a change hash.
pub const HASH_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;

const CONTEXT: &[u8] = b"tidemark-change-v1\0";

/// One change's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChangeSignature {
    /// The change hash.
    pub hash: [u8; HASH_LEN],
    /// Ed25519 over `CONTEXT ‖ hash`.
    pub sig: [u8; SIGNATURE_LEN],
}

/// What a signature says about a change, given the key registered for its actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// A signature verifies under the actor's registered key.
    Verified,
    /// Signatures are present but none verifies under the actor's key.
    Forged,
    /// No signature is known for the change.
    Unsigned,
    /// A signature is present but the actor's key is not known here.
    UnknownKey,
}

impl Verdict {
    /// A stable lowercase name (`verified`, `forged`, `unsigned`, `unknown_key`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Forged => "forged",
            Verdict::Unsigned => "unsigned",
            Verdict::UnknownKey => "unknown_key",
        }
    }
}

/// A device's signing key. The seed is wiped from memory when dropped.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", hex::encode(self.public()))
    }
}

impl SigningKey {
    /// The key for a 32-byte secret seed.
    pub fn from_seed(seed: &[u8; 32]) -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The secret seed (store it encrypted).
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key to register.
    pub fn public(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0.verifying_key().to_bytes()
    }

    /// Signs one change hash.
    pub fn sign(&self, hash: &[u8; HASH_LEN]) -> ChangeSignature {
        ChangeSignature {
            hash: *hash,
            sig: self.0.sign(&signed_bytes(hash)).to_bytes(),
        }
    }
}

fn signed_bytes(hash: &[u8; HASH_LEN]) -> [u8; CONTEXT.len() + HASH_LEN] {
    let mut out = [0u8; CONTEXT.len() + HASH_LEN];
    out[..CONTEXT.len()].copy_from_slice(CONTEXT);
    out[CONTEXT.len()..].copy_from_slice(hash);
    out
}

/// Whether `key` is an Ed25519 public key (32 bytes encoding a curve point).
pub fn is_valid_key(key: &[u8]) -> bool {
    <[u8; PUBLIC_KEY_LEN]>::try_from(key)
        .ok()
        .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
        .is_some_and(|k| !k.is_weak())
}

/// Whether `sig` is a valid signature of its hash under `public_key`. A malformed or weak key
/// is simply not valid.
pub fn verify(public_key: &[u8], sig: &ChangeSignature) -> bool {
    let Ok(bytes) = <[u8; PUBLIC_KEY_LEN]>::try_from(public_key) else {
        return false;
    };
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&bytes) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(&sig.sig);
    key.verify_strict(&signed_bytes(&sig.hash), &signature)
        .is_ok()
}

/// The first of `sigs` that verifies under `key`.
pub fn first_valid<'a>(key: &[u8], sigs: &'a [ChangeSignature]) -> Option<&'a ChangeSignature> {
    sigs.iter().find(|s| verify(key, s))
}

/// The verdict on one change given every signature known for it and its actor's key.
pub fn judge(key: Option<&[u8]>, sigs: &[ChangeSignature]) -> Verdict {
    match key {
        _ if sigs.is_empty() => Verdict::Unsigned,
        None => Verdict::UnknownKey,
        Some(k) if first_valid(k, sigs).is_some() => Verdict::Verified,
        Some(_) => Verdict::Forged,
    }
}

/// Signatures as a bundle's document meta carries them: hex change hash → hex signature.
pub fn to_hex_map(
    sigs: impl IntoIterator<Item = ChangeSignature>,
) -> std::collections::BTreeMap<String, String> {
    sigs.into_iter()
        .map(|s| (hex::encode(s.hash), hex::encode(s.sig)))
        .collect()
}

/// The signatures of a bundle's hex map; malformed entries are left out.
pub fn from_hex_map(map: &std::collections::BTreeMap<String, String>) -> Vec<ChangeSignature> {
    map.iter()
        .filter_map(|(hash, sig)| {
            let hash = <[u8; HASH_LEN]>::try_from(hex::decode(hash).ok()?).ok()?;
            let sig = <[u8; SIGNATURE_LEN]>::try_from(hex::decode(sig).ok()?).ok()?;
            Some(ChangeSignature { hash, sig })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_key_and_hash() {
        let key = SigningKey::from_seed(&[7; 32]);
        let other = SigningKey::from_seed(&[8; 32]);
        let sig = key.sign(&[1; 32]);
        assert!(verify(&key.public(), &sig));
        assert!(!verify(&other.public(), &sig));
        let mut moved = sig;
        moved.hash[0] ^= 1;
        assert!(!verify(&key.public(), &moved));
        let mut bent = sig;
        bent.sig[10] ^= 0x40;
        assert!(!verify(&key.public(), &bent));
        assert!(!verify(&[0u8; 5], &sig));
        assert_eq!(SigningKey::from_seed(&key.seed()).public(), key.public());
    }

    #[test]
    fn verdicts() {
        let key = SigningKey::from_seed(&[7; 32]);
        let other = SigningKey::from_seed(&[9; 32]);
        let good = key.sign(&[2; 32]);
        let bad = other.sign(&[2; 32]);
        let public = key.public();
        assert_eq!(judge(Some(&public), &[bad, good]), Verdict::Verified);
        assert_eq!(judge(Some(&public), &[bad]), Verdict::Forged);
        assert_eq!(judge(Some(&public), &[]), Verdict::Unsigned);
        assert_eq!(judge(None, &[good]), Verdict::UnknownKey);
        let mut map = to_hex_map([good]);
        assert_eq!(from_hex_map(&map), vec![good]);
        map.insert("zz".into(), hex::encode(good.sig));
        assert_eq!(
            from_hex_map(&map),
            vec![good],
            "malformed entries are left out"
        );
    }
}
