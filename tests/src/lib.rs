//! A province on one machine: an in-process relay on loopback with the province's unit tree,
//! and one enrolled device store per unit (HQ, three coastal stations, two district
//! committees). The end-to-end tests, the catch-up benchmark and `tidemark demo` all run on it.

pub mod sim;
pub mod story;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context as _, Result};
use tidemark_client::sync::{self, SharedClient, SyncError, SyncOptions, SyncReport};
use tidemark_client::Client;
use tidemark_sync_server::EmbeddedRelay;

/// The provincial Border Guard command.
pub const HQ: &str = "Bộ Chỉ huy BĐBP tỉnh Tiền Giang";
/// The three coastal stations of the story.
pub const STATIONS: [&str; 3] = [
    "Đồn Biên phòng Tân Thành",
    "Đồn Biên phòng Kiểng Phước",
    "Đồn Biên phòng Vàm Láng",
];
/// The two district Party committees.
pub const COMMITTEES: [&str; 2] = ["Huyện ủy Gò Công Đông", "Huyện ủy Tân Phú Đông"];

/// Every coastal station of the province (code, name); the story uses the first three.
pub const ALL_STATIONS: [(&str, &str); 6] = [
    ("tt", "Đồn Biên phòng Tân Thành"),
    ("kp", "Đồn Biên phòng Kiểng Phước"),
    ("vl", "Đồn Biên phòng Vàm Láng"),
    ("pt", "Đồn Biên phòng Phú Tân"),
    ("pd", "Đồn Biên phòng Phú Đông"),
    ("ct", "Đồn Biên phòng Cửa Tiểu"),
];

/// The passphrase of the encrypted device stores (HQ's and the first station's).
pub const PASSPHRASE: &str = "Bộ Chỉ huy BĐBP — mật khẩu thử";

/// Short keys of the devices, in the order of [`Province::devices`].
pub const KEYS: [&str; 6] = ["hq", "tt", "kp", "vl", "gcd", "tpd"];

/// Station codes as the test corpus uses them in record ids.
pub const STATION_CODES: [&str; 3] = ["TT", "KP", "VL"];

/// One unit's device.
#[derive(Debug)]
pub struct Device {
    /// Short key (`hq`, `tt`, `kp`, `vl`, `gcd`, `tpd`).
    pub key: &'static str,
    /// The unit's full name.
    pub unit: &'static str,
    /// The device store's directory.
    pub dir: PathBuf,
    /// The open store, shared with sync.
    pub client: SharedClient,
}

impl Device {
    /// Runs `f` with the device's client locked.
    pub fn with<R>(&self, f: impl FnOnce(&mut Client) -> R) -> R {
        let mut c = self.client.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c)
    }
}

/// The relay and the devices.
#[derive(Debug)]
pub struct Province {
    /// Where everything lives.
    pub root: PathBuf,
    /// The relay (restartable).
    pub relay: Option<EmbeddedRelay>,
    /// The devices, in [`KEYS`] order.
    pub devices: Vec<Device>,
    /// Options every sync of the province uses.
    pub opts: SyncOptions,
}

/// The unit of each key.
pub fn unit_of(key: &str) -> &'static str {
    match key {
        "hq" => HQ,
        "gcd" => COMMITTEES[0],
        "tpd" => COMMITTEES[1],
        k => ALL_STATIONS
            .iter()
            .find(|s| s.0 == k)
            .map_or(STATIONS[0], |s| s.1),
    }
}

const USERS: [&str; 6] = [
    "Thiếu tá Phạm Quang Huy",
    "Trung úy Lê Quốc Vũ",
    "Đại úy Nguyễn Văn Đạt",
    "Thượng úy Huỳnh Thanh Hải",
    "Đồng chí Trần Thị Hường",
    "Đồng chí Võ Minh Tâm",
];

impl Province {
    /// Starts a relay under `root/relay` with the province's units, and creates and enrols a
    /// device store per unit under `root/<key>`.
    pub async fn start(root: &Path) -> Result<Province> {
        Province::start_with_stations(root, 3).await
    }

    /// Like [`Province::start`] with `stations` coastal stations (3 to 6): keys `hq`, the
    /// station codes of [`ALL_STATIONS`], `gcd`, `tpd`.
    pub async fn start_with_stations(root: &Path, stations: usize) -> Result<Province> {
        let stations = stations.clamp(1, ALL_STATIONS.len());
        let mut keys: Vec<&'static str> = vec!["hq"];
        keys.extend(ALL_STATIONS.iter().take(stations).map(|s| s.0));
        keys.extend(["gcd", "tpd"]);
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let relay = EmbeddedRelay::start(&root.join("relay"))
            .await
            .map_err(|e| anyhow!("starting the relay: {e}"))?;
        relay
            .add_unit(HQ, None)
            .map_err(|e| anyhow!("adding {HQ}: {e}"))?;
        for u in ALL_STATIONS
            .iter()
            .take(stations)
            .map(|s| &s.1)
            .chain(COMMITTEES.iter())
        {
            relay
                .add_unit(u, Some(HQ))
                .map_err(|e| anyhow!("adding a unit: {e}"))?;
        }
        let opts = SyncOptions {
            request_timeout: std::time::Duration::from_secs(10),
            ..SyncOptions::default()
        };
        let mut devices = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let unit = unit_of(key);
            let dir = root.join(key);
            // HQ and the first station keep encrypted stores, the others do not: every
            // scenario runs across both kinds (sealed attachment downloads included).
            let pass = (i <= 1).then(|| tidemark_client::Passphrase::new(PASSPHRASE));
            let client = Client::init_with(&dir, unit, USERS[i % USERS.len()], pass.as_ref())?;
            let shared: SharedClient = Arc::new(Mutex::new(client));
            let code = relay
                .enrolment_code(unit, &format!("máy {key}"))
                .map_err(|e| anyhow!("enrolment code: {e}"))?;
            sync::enroll(&shared, &relay.url, &code, opts.request_timeout)
                .await
                .map_err(|e| anyhow!("enrolling {key}: {e}"))?;
            devices.push(Device {
                key,
                unit,
                dir,
                client: shared,
            });
        }
        Ok(Province {
            root: root.to_path_buf(),
            relay: Some(relay),
            devices,
            opts,
        })
    }

    /// The device with short key `key`.
    pub fn dev(&self, key: &str) -> &Device {
        self.devices
            .iter()
            .find(|d| d.key == key)
            .unwrap_or(&self.devices[0])
    }

    /// The relay's URL.
    pub fn relay_url(&self) -> String {
        self.relay
            .as_ref()
            .map(|r| r.url.clone())
            .unwrap_or_default()
    }

    /// A second, unencrypted device of `key`'s unit under `root/<key>-2`, enrolled with the
    /// relay (a station's spare laptop); it has not synced yet.
    pub async fn second_device(&self, key: &str, user: &str) -> Result<SharedClient> {
        let unit = unit_of(key);
        let client = Client::init(&self.root.join(format!("{key}-2")), unit, user)?;
        let shared: SharedClient = Arc::new(Mutex::new(client));
        let code = self
            .relay
            .as_ref()
            .ok_or_else(|| anyhow!("the relay is stopped"))?
            .enrolment_code(unit, "máy thứ hai")?;
        sync::enroll(&shared, &self.relay_url(), &code, self.opts.request_timeout)
            .await
            .map_err(|e| anyhow!("enrolment: {e}"))?;
        Ok(shared)
    }

    /// One sync session of device `key`.
    pub async fn sync(&self, key: &str) -> Result<SyncReport, SyncError> {
        sync::sync_once(&self.dev(key).client, &self.opts, &|_| {}).await
    }

    /// Syncs every device, in `order`, until a whole pass moves nothing (at most 4 passes).
    /// Returns the reports of every session.
    pub async fn settle(&self, order: &[&str]) -> Result<Vec<(String, SyncReport)>> {
        let mut all = Vec::new();
        for _ in 0..4 {
            let mut moved = 0;
            for key in order {
                let r = self
                    .sync(key)
                    .await
                    .map_err(|e| anyhow!("sync of {key}: {e}"))?;
                moved += r.changes_sent + r.changes_received + r.created;
                all.push((key.to_string(), r));
            }
            if moved == 0 {
                break;
            }
        }
        Ok(all)
    }

    /// Stops the relay and starts it again on the same port with the same database.
    pub async fn restart_relay(&mut self) -> Result<()> {
        let relay = self
            .relay
            .take()
            .ok_or_else(|| anyhow!("no relay running"))?;
        let addr = relay.addr;
        let settings = relay.settings().clone();
        relay
            .stop()
            .await
            .map_err(|e| anyhow!("stopping the relay: {e}"))?;
        self.relay = Some(
            EmbeddedRelay::start_on(addr, settings)
                .await
                .map_err(|e| anyhow!("restarting the relay: {e}"))?,
        );
        Ok(())
    }

    /// Points every device at another relay URL (a proxy in front of the relay), keeping its
    /// token, device id and sync states.
    pub fn use_url(&self, url: &str) -> Result<()> {
        for d in &self.devices {
            d.with(|c| c.set_relay_url(url))?;
        }
        Ok(())
    }

    /// Stops the relay.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(r) = self.relay.take() {
            r.stop()
                .await
                .map_err(|e| anyhow!("stopping the relay: {e}"))?;
        }
        Ok(())
    }
}
