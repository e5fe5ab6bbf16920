//! Resumable exchanges: what a device and the relay say to each other so that a request or
//! an answer cut by the link continues where it stopped instead of crossing the link again.
//!
//! A device names an exchange with a random id in [`EXCHANGE_HEADER`]. When the link breaks it
//! asks `GET /v1/exchanges/{id}` where the exchange stands:
//! - [`STATE_RECEIVED`]: the relay holds the first [`RECEIVED_HEADER`] bytes of the request
//!   body (as sent, compressed); the device posts the rest with [`RESUME_FROM_HEADER`];
//! - [`STATE_ANSWERED`]: the relay ran the request; the answer follows from byte
//!   [`ANSWER_FROM_HEADER`] (the device sends how much of it it already has);
//! - [`STATE_RUNNING`]: the relay is still running it; ask again.
//!
//! An unknown id is 404 `unknown_exchange`: the device sends the request again, whole.

/// Request header naming the exchange (see [`valid_id`]).
pub const EXCHANGE_HEADER: &str = "tidemark-exchange";
/// Request header of a resumed upload: the body is the request's bytes from this offset on.
pub const RESUME_FROM_HEADER: &str = "tidemark-resume-from";
/// On `GET /v1/exchanges/{id}`: how many bytes of the answer the device holds already; the
/// relay echoes it on the answer it sends from there.
pub const ANSWER_FROM_HEADER: &str = "tidemark-answer-from";
/// Response header: where the exchange stands, one of the `STATE_` values.
pub const STATE_HEADER: &str = "tidemark-exchange-state";
/// Response header with [`STATE_RECEIVED`]: how many request bytes the relay holds.
pub const RECEIVED_HEADER: &str = "tidemark-received";

/// The relay holds part of the request and waits for the rest.
pub const STATE_RECEIVED: &str = "received";
/// The relay is running the request.
pub const STATE_RUNNING: &str = "running";
/// The relay ran the request; the response carries its answer.
pub const STATE_ANSWERED: &str = "answered";

/// Whether `id` can name an exchange: 16 to 64 characters of `[0-9A-Za-z_-]`.
pub fn valid_id(id: &str) -> bool {
    (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_plain_tokens() {
        assert!(valid_id("0123456789abcdef"));
        assert!(valid_id(&"a".repeat(64)));
        assert!(!valid_id("short"));
        assert!(!valid_id(&"a".repeat(65)));
        assert!(!valid_id("0123456789abcdef/../x"));
        assert!(!valid_id("0123456789abcdéf"));
    }
}
