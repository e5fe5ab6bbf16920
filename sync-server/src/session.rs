//! Sync sessions: the relay's full in-memory `automerge::sync::State` per (document, device)
//! while one client session lasts.
//!
//! Only the shared heads are persisted (`State::encode`); the rest of the state (what was sent,
//! what the peer has said) belongs to one session. A client names its session with the
//! `Tidemark-Session` header; the same name finds the relay's state from the previous round,
//! so the relay replies only when it has something new and the client's loop ends. A new name,
//! or no header at all, starts from the persisted state.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use automerge::sync::State;

/// Most session states held at once; beyond it the oldest go first.
const MAX_STATES: usize = 100_000;

/// In-memory sync states of open sessions.
#[derive(Debug)]
pub struct Sessions {
    idle: Duration,
    states: HashMap<(String, String), Entry>,
}

#[derive(Debug)]
struct Entry {
    session: String,
    state: State,
    at: Instant,
}

impl Sessions {
    /// Session states that leave after `idle` unused.
    pub fn new(idle: Duration) -> Sessions {
        Sessions {
            idle,
            states: HashMap::new(),
        }
    }

    /// Removes and returns the state of (document, device) if it belongs to `session`.
    pub fn take(&mut self, doc: &str, device: &str, session: &str) -> Option<State> {
        let key = (doc.to_string(), device.to_string());
        let entry = self.states.remove(&key)?;
        (entry.session == session).then_some(entry.state)
    }

    /// Keeps the state of (document, device) for `session`.
    pub fn put(&mut self, doc: &str, device: &str, session: &str, state: State, now: Instant) {
        if self.states.len() >= MAX_STATES {
            let idle = self.idle;
            self.states.retain(|_, e| now.duration_since(e.at) < idle);
            while self.states.len() >= MAX_STATES {
                let Some(oldest) = self
                    .states
                    .iter()
                    .min_by_key(|(_, e)| e.at)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                self.states.remove(&oldest);
            }
        }
        let entry = Entry {
            session: session.to_string(),
            state,
            at: now,
        };
        self.states
            .insert((doc.to_string(), device.to_string()), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_found_only_by_its_own_session() {
        let mut s = Sessions::new(Duration::from_secs(60));
        let now = Instant::now();
        s.put("doc", "dev", "s1", State::new(), now);
        assert!(s.take("doc", "dev", "s2").is_none());
        assert!(
            s.take("doc", "dev", "s1").is_none(),
            "a wrong session drops it"
        );
        s.put("doc", "dev", "s1", State::new(), now);
        assert!(s.take("doc", "dev", "s1").is_some());
    }
}
