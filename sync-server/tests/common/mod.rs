//! Test harness: an in-process relay on 127.0.0.1:0 with a temp data dir, admin access to its
//! database, and simulated devices that sync Automerge documents over real HTTP.

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::collections::HashMap;

use automerge::sync::{Message, State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ReadDoc, TextEncoding, ROOT};
use tidemark_sync_protocol::{
    decode_response, encode, Bundle, BundleDoc, BundleDocMeta, BundleHeader, ChangeSignature,
    DocMessage, Envelope, Limits, SigningKey, BUNDLE_FORMAT,
};
use tidemark_sync_server::db::Db;
use tidemark_sync_server::Settings;
use tokio::sync::oneshot;

/// A running relay.
pub struct Relay {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub settings: Settings,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    pub async fn start() -> Relay {
        Relay::start_in(tempfile::tempdir().unwrap(), |_| {}).await
    }

    pub async fn start_with(edit: impl FnOnce(&mut Settings)) -> Relay {
        Relay::start_in(tempfile::tempdir().unwrap(), edit).await
    }

    pub async fn start_in(dir: tempfile::TempDir, edit: impl FnOnce(&mut Settings)) -> Relay {
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        edit(&mut settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = oneshot::channel::<()>();
        let s = settings.clone();
        let task = tokio::spawn(async move {
            tidemark_sync_server::serve(listener, s, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Relay {
            dir,
            url,
            settings,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the relay gracefully and returns its data dir for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        let Relay { dir, .. } = self;
        dir
    }

    pub fn db(&self) -> Db {
        Db::open(&self.settings.database_path()).unwrap()
    }

    pub fn add_unit(&self, name: &str, parent: Option<&str>) {
        self.db().add_unit(name, parent).unwrap();
    }

    /// Enrols a new device of `unit` over HTTP.
    /// A device enrolled without a signing key (as before signed changes).
    pub async fn device(&self, unit: &str) -> Peer {
        let (_, code) = self.db().create_enrolment(unit, "test", 3600).unwrap();
        Peer::enroll(&self.url, &code).await
    }

    /// A device whose changes are made by `actor`.
    pub async fn device_as(&self, unit: &str, actor: ActorId) -> Peer {
        let (_, code) = self.db().create_enrolment(unit, "test", 3600).unwrap();
        Peer::enroll_as(&self.url, &code, actor, None).await
    }

    /// A device enrolled with a signing key: it signs every change it makes.
    pub async fn signed_device(&self, unit: &str) -> Peer {
        let (_, code) = self.db().create_enrolment(unit, "test", 3600).unwrap();
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(ActorId::random().to_bytes());
        seed[16..].copy_from_slice(ActorId::random().to_bytes());
        Peer::enroll_with(&self.url, &code, Some(SigningKey::from_seed(&seed))).await
    }
}

impl Peer {
    /// Exchanges an enrolment code for a token at the relay at `url`.
    pub async fn enroll(url: &str, code: &str) -> Peer {
        Peer::enroll_with(url, code, None).await
    }

    /// Enrols, registering `signer`'s public key when there is one.
    pub async fn enroll_with(url: &str, code: &str, signer: Option<SigningKey>) -> Peer {
        Peer::enroll_as(url, code, ActorId::random(), signer).await
    }

    /// Enrols with `actor` for the device's changes (a test that needs the same change hashes
    /// every run gives a fixed one).
    pub async fn enroll_as(
        url: &str,
        code: &str,
        actor: ActorId,
        signer: Option<SigningKey>,
    ) -> Peer {
        let mut body = serde_json::json!({"code": code, "actor_hex": actor.to_hex_string()});
        if let Some(key) = &signer {
            body["sign_key"] = hex::encode(key.public()).into();
        }
        let resp = reqwest::Client::new()
            .post(format!("{url}/v1/enroll"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v: serde_json::Value = resp.json().await.unwrap();
        Peer {
            url: url.to_string(),
            http: reqwest::Client::new(),
            id: v["device_id"].as_str().unwrap().to_string(),
            token: v["token"].as_str().unwrap().to_string(),
            actor,
            docs: HashMap::new(),
            states: HashMap::new(),
            session: None,
            signer,
            forger: None,
            signatures: HashMap::new(),
        }
    }
}

/// A simulated device: its token, actor, documents and sync states with the relay.
pub struct Peer {
    pub url: String,
    pub http: reqwest::Client,
    pub id: String,
    pub token: String,
    pub actor: ActorId,
    pub docs: HashMap<String, AutoCommit>,
    pub states: HashMap<String, State>,
    /// The `Tidemark-Session` name of the running session, if any.
    pub session: Option<String>,
    /// The key that signs this device's changes (`None`: an unsigned, older device).
    pub signer: Option<SigningKey>,
    /// When set, this device's changes are signed with this key instead (a forgery).
    pub forger: Option<SigningKey>,
    /// Signatures known here: made here or received with changes.
    pub signatures: HashMap<[u8; 32], ChangeSignature>,
}

/// The outcome of one sync request: per-item status codes by document.
pub type Statuses = HashMap<String, String>;

impl Peer {
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    /// Registers `id` on the relay and starts it locally with a Vietnamese text field.
    pub async fn create(&mut self, id: &str, owner: &str, grants: serde_json::Value, text: &str) {
        let resp = self
            .post("/v1/documents")
            .json(&serde_json::json!({"id": id, "owner_unit": owner, "grants": grants}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        self.local(id, text);
    }

    /// Starts `id` locally only (the relay does not know it) with a text field.
    pub fn local(&mut self, id: &str, text: &str) {
        let mut doc = AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit)
            .with_actor(self.actor.clone());
        let notes = doc.put_object(ROOT, "notes", ObjType::Text).unwrap();
        doc.splice_text(&notes, 0, 0, text).unwrap();
        doc.commit();
        self.docs.insert(id.to_string(), doc);
    }

    /// [`Peer::local`] with the change made at `time` (Unix ms), so that its hash is the same
    /// every run for a fixed actor.
    pub fn local_at(&mut self, id: &str, text: &str, time: i64) {
        let mut doc = AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit)
            .with_actor(self.actor.clone());
        let notes = doc.put_object(ROOT, "notes", ObjType::Text).unwrap();
        doc.splice_text(&notes, 0, 0, text).unwrap();
        doc.commit_with(automerge::transaction::CommitOptions::default().with_time(time));
        self.docs.insert(id.to_string(), doc);
    }

    /// Hex heads of a local document.
    pub fn heads(&mut self, id: &str) -> Vec<String> {
        let doc = self.docs.get_mut(id).unwrap();
        doc.get_heads().iter().map(|h| h.to_string()).collect()
    }

    /// A bundle of full saves of local documents: (id, kind, owner unit) each.
    pub fn bundle(&mut self, unit: &str, docs: &[(&str, &str, &str)]) -> Bundle {
        let docs = docs
            .iter()
            .map(|(id, kind, owner)| {
                let heads = self.heads(id);
                BundleDoc {
                    meta: BundleDocMeta {
                        id: id.to_string(),
                        kind: kind.to_string(),
                        owner_unit: owner.to_string(),
                        parties: Vec::new(),
                        heads,
                        signatures: Default::default(),
                    },
                    data: self.docs.get_mut(*id).unwrap().save(),
                }
            })
            .collect();
        Bundle {
            header: BundleHeader {
                format: BUNDLE_FORMAT.into(),
                version: 1,
                bundle_id: format!("bundle-{}", ActorId::random().to_hex_string()),
                created_at: 1_735_687_181,
                from_unit: unit.to_string(),
                from_device: self.id.clone(),
                for_unit: None,
                since: None,
            },
            docs,
        }
    }

    /// Uploads bundle bytes: (HTTP status, JSON body).
    pub async fn upload(&self, bytes: Vec<u8>) -> (u16, serde_json::Value) {
        let resp = self.post("/v1/bundles").body(bytes).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// Appends text to the `notes` field of a document.
    pub fn append(&mut self, id: &str, text: &str) {
        let doc = self.docs.get_mut(id).unwrap();
        let (_, notes) = doc.get(ROOT, "notes").unwrap().unwrap();
        let len = doc.length(&notes);
        doc.splice_text(&notes, len, 0, text).unwrap();
        doc.commit();
    }

    pub fn notes(&self, id: &str) -> String {
        let doc = self.docs.get(id).unwrap();
        let (_, notes) = doc.get(ROOT, "notes").unwrap().unwrap();
        doc.text(&notes).unwrap()
    }

    /// Tracks `id` locally (empty) so that sync pulls it.
    pub fn follow(&mut self, id: &str) {
        self.docs.entry(id.to_string()).or_insert_with(|| {
            AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit).with_actor(self.actor.clone())
        });
    }

    /// One round: sends a message for every document that has one. `None` when nothing to send.
    pub async fn round(&mut self) -> Option<Statuses> {
        let mut items = Vec::new();
        let signer = self.forger.as_ref().or(self.signer.as_ref());
        for (id, doc) in self.docs.iter_mut() {
            let state = self.states.entry(id.clone()).or_default();
            let before = state.sent_hashes.clone();
            let message = doc.sync().generate_sync_message(state);
            if let Some(m) = message {
                let mut signatures = Vec::new();
                for hash in state.sent_hashes.difference(&before) {
                    let own = doc
                        .get_change_by_hash(hash)
                        .is_some_and(|c| c.actor_id() == &self.actor);
                    match (own, signer, self.signatures.get(&hash.0)) {
                        (true, Some(key), _) => signatures.push(key.sign(&hash.0)),
                        (false, _, Some(known)) => signatures.push(*known),
                        _ => {}
                    }
                }
                items.push(DocMessage {
                    doc_id: id.clone(),
                    message: m.encode(),
                    signatures,
                });
            }
        }
        if items.is_empty() {
            return None;
        }
        Some(self.send(Envelope { items }).await)
    }

    /// Posts an envelope and applies the replies.
    pub async fn send(&mut self, env: Envelope) -> Statuses {
        let mut req = self.post("/v1/sync").body(encode(&env));
        if let Some(session) = &self.session {
            req = req.header("tidemark-session", session);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        let bytes = resp.bytes().await.unwrap();
        let (status, replies) = decode_response(&bytes, &Limits::default()).unwrap();
        for item in replies.items {
            for sig in &item.signatures {
                self.signatures.insert(sig.hash, *sig);
            }
            let doc = self.docs.get_mut(&item.doc_id).unwrap();
            let state = self.states.entry(item.doc_id.clone()).or_default();
            let m = Message::decode(&item.message).unwrap();
            doc.sync().receive_sync_message(state, m).unwrap();
        }
        let v: serde_json::Value = serde_json::from_slice(&status).unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["doc_id"].as_str().unwrap().to_string(),
                    i["code"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Appends `text` and builds a sync message that carries the new change whatever the relay
    /// asked for (what a misbehaving client could send to a relay that only lets it read).
    pub fn forced_push(&mut self, id: &str, text: &str) -> Envelope {
        let mut relay_copy = self.docs.get_mut(id).unwrap().fork();
        self.append(id, text);
        let (mut ours, mut theirs) = (State::new(), State::new());
        let doc = self.docs.get_mut(id).unwrap();
        // The new change's signature, by whichever key this device signs with.
        let signatures: Vec<ChangeSignature> = match self.forger.as_ref().or(self.signer.as_ref()) {
            Some(key) => doc.get_heads().iter().map(|h| key.sign(&h.0)).collect(),
            None => Vec::new(),
        };
        // Usually the first message carries the change; when the relay copy's Bloom filter
        // happens to match the new change's hash (about 1 in 100), it takes another round.
        for _ in 0..8 {
            if let Some(msg) = relay_copy.sync().generate_sync_message(&mut theirs) {
                doc.sync().receive_sync_message(&mut ours, msg).unwrap();
            }
            if let Some(push) = doc.sync().generate_sync_message(&mut ours) {
                if !push.changes.is_empty() {
                    return Envelope {
                        items: vec![DocMessage {
                            doc_id: id.into(),
                            message: push.encode(),
                            signatures,
                        }],
                    };
                }
                relay_copy
                    .sync()
                    .receive_sync_message(&mut theirs, push)
                    .unwrap();
            }
        }
        panic!("no round carried the new change");
    }

    /// Rounds until this device has nothing to send; fails on any non-ok item.
    ///
    /// Each call is a new session: it starts from the persisted form of every sync state
    /// (`encode`/`decode` keeps only the shared heads), as a device does when the feed shows
    /// heads it lacks, so the first round always asks the relay what is new.
    pub async fn sync_until_quiet(&mut self) {
        for state in self.states.values_mut() {
            *state = State::decode(&state.encode()).unwrap();
        }
        self.session = Some(ActorId::random().to_hex_string());
        for _ in 0..20 {
            match self.round().await {
                None => return,
                Some(s) => assert!(s.values().all(|c| c == "ok"), "statuses: {s:?}"),
            }
        }
        panic!("sync did not become quiet in 20 rounds");
    }

    /// The feed since `cursor`: (new cursor, document ids).
    pub async fn feed(&self, cursor: i64) -> (i64, Vec<String>) {
        let resp = self
            .get(&format!("/v1/feed?since={cursor}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v: serde_json::Value = resp.json().await.unwrap();
        let ids = v["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect();
        (v["cursor"].as_i64().unwrap(), ids)
    }
}

/// The error code of a JSON error response.
pub async fn error_code(resp: reqwest::Response) -> String {
    let v: serde_json::Value = resp.json().await.unwrap();
    v["error"]["code"].as_str().unwrap().to_string()
}

/// A relay with HQ above two stations, and a district committee under HQ.
/// Counter `name` of the relay's `/metrics`; panics when it is not there.
pub async fn metric(relay: &Relay, name: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", relay.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no `{name}` in\n{text}"))
        .parse()
        .unwrap()
}

pub async fn province() -> Relay {
    let relay = Relay::start().await;
    relay.add_unit("HQ", None);
    relay.add_unit("TT", Some("HQ"));
    relay.add_unit("KP", Some("HQ"));
    relay.add_unit("DC", Some("HQ"));
    relay
}

pub fn vietnamese_doc_text() -> &'static str {
    "Tuần tra khu vực Kiểng Phước, phát hiện tàu cá không đăng ký. "
}

pub fn root_keys(doc: &AutoCommit) -> usize {
    doc.keys(ROOT).count()
}
