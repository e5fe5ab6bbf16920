//! Relay configuration in one struct: defaults < TOML file < `TIDEMARK_*` environment < flags.
//!
//! The binary applies flags last; the library only knows [`Settings::load`] (file and
//! environment) and the plain struct, so tests build settings directly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything the relay can be configured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory holding the relay's SQLite database.
    pub data_dir: PathBuf,
    /// Largest request body accepted, before and after decompression, in bytes.
    pub max_request_bytes: usize,
    /// Largest single sync message inside an envelope, in bytes.
    pub max_message_bytes: usize,
    /// Most documents in one sync request.
    pub max_items: usize,
    /// PEM certificate chain for HTTPS (with `tls_key`); without both, the relay speaks HTTP.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    pub allow_insecure: bool,
    /// Seconds a request may take before it is answered with 408.
    pub request_timeout_secs: u64,
    /// Requests handled at once; later ones wait.
    pub max_concurrent_requests: usize,
    /// Seconds an enrolment code stays valid.
    pub enrol_code_ttl_secs: u64,
    /// Memory budget of loaded documents kept between sync rounds, in (estimated) bytes.
    pub doc_cache_bytes: usize,
    /// Seconds a loaded document stays in memory unused.
    pub doc_idle_secs: u64,
    /// Enrolment attempts allowed per client address per minute (0: no limit).
    pub max_enrolments_per_minute: u32,
    /// Failed authentications allowed per client address per minute before 429 (0: no limit).
    pub max_failed_auth_per_minute: u32,
    /// Largest bundle accepted by `POST /v1/bundles`, before and after decompression, in bytes.
    pub max_bundle_bytes: usize,
    /// Seconds a bundle upload may take before it is answered with 408.
    pub bundle_timeout_secs: u64,
    /// Largest attachment (photo or file) accepted, in bytes.
    pub max_attachment_bytes: u64,
    /// Bytes of attachments each unit may upload in all (attachments the relay already has
    /// cost nothing).
    pub attachment_quota_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            data_dir: PathBuf::from("tidemark-relay"),
            max_request_bytes: 32 * 1024 * 1024,
            max_message_bytes: 16 * 1024 * 1024,
            max_items: 10_000,
            tls_cert: None,
            tls_key: None,
            allow_insecure: false,
            request_timeout_secs: 30,
            max_concurrent_requests: 64,
            enrol_code_ttl_secs: 24 * 3600,
            doc_cache_bytes: 256 * 1024 * 1024,
            doc_idle_secs: 300,
            max_enrolments_per_minute: 10,
            max_failed_auth_per_minute: 30,
            max_bundle_bytes: 256 * 1024 * 1024,
            bundle_timeout_secs: 600,
            max_attachment_bytes: 64 * 1024 * 1024,
            attachment_quota_bytes: 4 * 1024 * 1024 * 1024,
        }
    }
}

/// Why settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for [`Settings`].
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An environment variable has an invalid value.
    #[error("invalid value for {name}")]
    Env {
        /// The variable.
        name: &'static str,
    },
}

impl Settings {
    /// Defaults, then the TOML file (if given), then `TIDEMARK_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let mut s = match file {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        s.apply_env(env)?;
        Ok(s)
    }

    fn from_file(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| SettingsError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), SettingsError> {
        fn parse<T: std::str::FromStr>(
            env: &impl Fn(&str) -> Option<String>,
            name: &'static str,
            slot: &mut T,
        ) -> Result<(), SettingsError> {
            if let Some(v) = env(name) {
                *slot = v.trim().parse().map_err(|_| SettingsError::Env { name })?;
            }
            Ok(())
        }
        parse(&env, "TIDEMARK_LISTEN", &mut self.listen)?;
        parse(&env, "TIDEMARK_DATA_DIR", &mut self.data_dir)?;
        parse(
            &env,
            "TIDEMARK_MAX_REQUEST_BYTES",
            &mut self.max_request_bytes,
        )?;
        parse(
            &env,
            "TIDEMARK_MAX_MESSAGE_BYTES",
            &mut self.max_message_bytes,
        )?;
        parse(&env, "TIDEMARK_MAX_ITEMS", &mut self.max_items)?;
        if let Some(v) = env("TIDEMARK_TLS_CERT") {
            self.tls_cert = Some(PathBuf::from(v));
        }
        if let Some(v) = env("TIDEMARK_TLS_KEY") {
            self.tls_key = Some(PathBuf::from(v));
        }
        parse(&env, "TIDEMARK_ALLOW_INSECURE", &mut self.allow_insecure)?;
        parse(
            &env,
            "TIDEMARK_REQUEST_TIMEOUT_SECS",
            &mut self.request_timeout_secs,
        )?;
        parse(
            &env,
            "TIDEMARK_MAX_CONCURRENT_REQUESTS",
            &mut self.max_concurrent_requests,
        )?;
        parse(
            &env,
            "TIDEMARK_ENROL_CODE_TTL_SECS",
            &mut self.enrol_code_ttl_secs,
        )?;
        parse(&env, "TIDEMARK_DOC_CACHE_BYTES", &mut self.doc_cache_bytes)?;
        parse(&env, "TIDEMARK_DOC_IDLE_SECS", &mut self.doc_idle_secs)?;
        parse(
            &env,
            "TIDEMARK_MAX_ENROLMENTS_PER_MINUTE",
            &mut self.max_enrolments_per_minute,
        )?;
        parse(
            &env,
            "TIDEMARK_MAX_FAILED_AUTH_PER_MINUTE",
            &mut self.max_failed_auth_per_minute,
        )?;
        parse(
            &env,
            "TIDEMARK_MAX_BUNDLE_BYTES",
            &mut self.max_bundle_bytes,
        )?;
        parse(
            &env,
            "TIDEMARK_BUNDLE_TIMEOUT_SECS",
            &mut self.bundle_timeout_secs,
        )?;
        parse(
            &env,
            "TIDEMARK_MAX_ATTACHMENT_BYTES",
            &mut self.max_attachment_bytes,
        )?;
        parse(
            &env,
            "TIDEMARK_ATTACHMENT_QUOTA_BYTES",
            &mut self.attachment_quota_bytes,
        )?;
        Ok(())
    }

    /// The settings as a commented TOML file (what `example-config` prints).
    pub fn example_toml() -> String {
        let body = toml::to_string_pretty(&Settings::default()).unwrap_or_default();
        format!(
            "# tidemark-server configuration. Precedence: defaults < this file < TIDEMARK_* \
             environment (e.g. TIDEMARK_LISTEN) < command-line flags.\n\
             # HTTPS: set both (PEM files); without them the relay speaks plain HTTP, which it\n\
             # refuses outside loopback unless allow_insecure = true.\n\
             # tls_cert = \"/etc/tidemark/relay-cert.pem\"\n\
             # tls_key = \"/etc/tidemark/relay-key.pem\"\n\
             # Attachments: max_attachment_bytes caps one file; attachment_quota_bytes caps what\n\
             # each unit uploads in all (a file the relay already has costs nothing).\n{body}"
        )
    }

    /// Envelope decoding caps derived from these settings.
    pub fn limits(&self) -> tidemark_sync_protocol::Limits {
        tidemark_sync_protocol::Limits {
            max_items: self.max_items,
            max_message: self.max_message_bytes,
            ..tidemark_sync_protocol::Limits::default()
        }
    }

    /// Bundle decoding caps derived from these settings.
    pub fn bundle_limits(&self) -> tidemark_sync_protocol::BundleLimits {
        tidemark_sync_protocol::BundleLimits {
            max_bytes: self.max_bundle_bytes,
            ..tidemark_sync_protocol::BundleLimits::default()
        }
    }

    /// Path of the SQLite database inside the data directory.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("relay.sqlite3")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nmax_items = 5\n").expect("write");
        let env = |name: &str| (name == "TIDEMARK_MAX_ITEMS").then(|| "7".to_string());
        let s = Settings::load(Some(&path), env).expect("load");
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.max_items, 7);
        assert_eq!(s.max_message_bytes, Settings::default().max_message_bytes);
    }

    #[test]
    fn example_config_parses_back_to_defaults() {
        let s: Settings = toml::from_str(&Settings::example_toml()).expect("parse");
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn attachment_limits_layer_like_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.toml");
        std::fs::write(&path, "max_attachment_bytes = 1048576\n").expect("write");
        let env =
            |name: &str| (name == "TIDEMARK_ATTACHMENT_QUOTA_BYTES").then(|| "2097152".to_string());
        let s = Settings::load(Some(&path), env).expect("load");
        assert_eq!(s.max_attachment_bytes, 1 << 20);
        assert_eq!(s.attachment_quota_bytes, 2 << 20);
        assert_eq!(Settings::default().attachment_quota_bytes, 4 << 30);
    }

    #[test]
    fn bad_env_value_is_named() {
        let env = |name: &str| (name == "TIDEMARK_LISTEN").then(|| "nowhere".to_string());
        let err = Settings::load(None, env).expect_err("must fail");
        assert!(err.to_string().contains("TIDEMARK_LISTEN"));
    }
}
