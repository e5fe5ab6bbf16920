//! The decoders that take bytes from outside — the network, a USB stick, an imported file — as
//! the fuzz targets in `fuzz/` call them. Each function must return (an error is fine) for any
//! input: a panic, a hang or an abort is a bug. `tests/corpus.rs` replays the committed corpus
//! and every crash ever found (`fuzz/regressions/<target>/`) on stable Rust in the normal suite.

use tidemark_domain::track::{codec, gpx, nmea};
use tidemark_sync_protocol::{decode, decode_bundle, decode_response, BundleLimits, Limits};

/// A fuzz target: its name (the folder of its corpus) and the function it drives.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("envelope", envelope),
    ("response", response),
    ("bundle", bundle),
    ("interchange", interchange),
    ("gpx", gpx_text),
    ("nmea", nmea_text),
    ("track", track),
];

/// Small limits, so that inputs reach the limit checks too.
fn limits() -> Limits {
    Limits {
        max_items: 64,
        max_message: 64 * 1024,
        max_doc_id: 256,
        max_signatures: 64,
    }
}

/// A sync request body as the relay decodes it.
pub fn envelope(data: &[u8]) {
    let _ = decode(data, &limits());
}

/// A sync response as the client decodes it.
pub fn response(data: &[u8]) {
    let _ = decode_response(data, &limits());
}

/// A USB bundle as devices and the relay decode it.
pub fn bundle(data: &[u8]) {
    let limits = BundleLimits {
        max_bytes: 1024 * 1024,
        ..BundleLimits::default()
    };
    let _ = decode_bundle(data, &limits);
}

/// One JSON Lines record as the importer reads it: parsed, then validated.
pub fn interchange(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines() {
        if let Ok(parsed) = tidemark_domain::interchange::parse_line(line) {
            let _ = tidemark_domain::validate::validate(
                &parsed.record,
                &tidemark_domain::validate::Context::default(),
            );
        }
    }
}

/// A GPX file.
pub fn gpx_text(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gpx::parse_gpx(text);
    }
}

/// An NMEA 0183 log.
pub fn nmea_text(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = nmea::parse_nmea(text);
    }
}

/// A compact GPS track from a document.
pub fn track(data: &[u8]) {
    if let Ok(points) = codec::decode(data) {
        // What decodes must encode back to the same points.
        let again = codec::decode(&codec::encode(&points));
        assert_eq!(again.ok().as_deref(), Some(points.as_slice()));
    }
}
