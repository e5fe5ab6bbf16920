//! Small measuring helpers: percentiles, memory from `/proc`, compressed sizes, the machine.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

/// Milliseconds as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p`-th percentile (0–100) of `values` by nearest rank; 0 when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// A `kB` field of `/proc/PID/status` (`VmHWM` = peak resident set, `VmRSS` = now), in bytes.
pub fn proc_status_kb(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// User plus system CPU time of a process (this one with `None`) so far, in seconds.
pub fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks: 100 per second on Linux.
    Some((utime + stime) / 100.0)
}

/// A process's CPU time ([`cpu_secs`]) read every `every` on a thread of its own, so that
/// the CPU it spent in a stretch of time known only afterwards (S5's first wave, found from the
/// proxy's record) can be looked up. The kernel counts in hundredths of a second, so a stretch
/// of a second is known to about 2 %.
pub struct CpuSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<CpuSamples>>,
}

impl CpuSampler {
    /// Starts reading process `pid`'s CPU time.
    pub fn start(pid: u32, every: Duration) -> CpuSampler {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopping = std::sync::Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("bench-cpu-sampler".into())
            .spawn(move || {
                let mut samples = Vec::new();
                while !stopping.load(Ordering::Relaxed) {
                    match cpu_secs(Some(pid)) {
                        Some(cpu) => samples.push((std::time::Instant::now(), cpu)),
                        None => break,
                    }
                    std::thread::sleep(every);
                }
                CpuSamples(samples)
            })
            .ok();
        CpuSampler { stop, thread }
    }

    /// Stops reading; what was read (nothing if the thread could not start).
    pub fn finish(mut self) -> CpuSamples {
        self.stop_thread().unwrap_or(CpuSamples(Vec::new()))
    }

    fn stop_thread(&mut self) -> Option<CpuSamples> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take()?.join().ok()
    }
}

impl Drop for CpuSampler {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// A process's CPU time (seconds) at moments, in order.
#[derive(Debug, Clone, Default)]
pub struct CpuSamples(pub Vec<(std::time::Instant, f64)>);

impl CpuSamples {
    /// CPU seconds spent from `from` to `to`, each read between the samples around it; `None`
    /// when either lies outside what was sampled.
    pub fn between(&self, from: std::time::Instant, to: std::time::Instant) -> Option<f64> {
        Some(self.at(to)? - self.at(from)?)
    }

    fn at(&self, t: std::time::Instant) -> Option<f64> {
        let after = self.0.iter().position(|(at, _)| *at >= t)?;
        let (t1, c1) = self.0[after];
        if after == 0 {
            return (t1 == t).then_some(c1);
        }
        let (t0, c0) = self.0[after - 1];
        let span = t1.duration_since(t0).as_secs_f64();
        if span <= 0.0 {
            return Some(c1);
        }
        let part = t.duration_since(t0).as_secs_f64() / span;
        Some(c0 + (c1 - c0) * part)
    }
}

/// Peak resident set size of a process (this one with `None`), in bytes.
pub fn peak_rss(pid: Option<u32>) -> Option<u64> {
    proc_status_kb(pid, "VmHWM")
}

/// Resets a process's peak resident set size to its current size (Linux `clear_refs` 5), so
/// that a later [`peak_rss`] covers only what happens after. Best effort.
pub fn reset_peak_rss(pid: Option<u32>) -> bool {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/clear_refs"),
        None => "/proc/self/clear_refs".to_string(),
    };
    std::fs::write(path, "5").is_ok()
}

/// zstd level-3 size of `bytes` (the compressed-JSON baseline's level).
pub fn zstd3(bytes: &[u8]) -> anyhow::Result<usize> {
    Ok(zstd::bulk::compress(bytes, 3)?.len())
}

/// Total size of the files in `dir` whose names start with `prefix` (a database with its WAL and
/// shared-memory files).
pub fn files_size(dir: &Path, prefix: &str) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The machine the run happened on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `nproc`: CPUs available.
    pub cpus: usize,
    /// `/proc/cpuinfo` model name.
    pub cpu: String,
    /// Total memory in bytes.
    pub memory: u64,
    /// Operating system (`/etc/os-release` PRETTY_NAME).
    pub os: String,
    /// Kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads the machine's description from `/proc` and `/etc`.
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| "unknown".to_string(), |s| s.trim().to_string());
        let os = std::fs::read_to_string("/etc/os-release")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map_or_else(
                || "unknown".to_string(),
                |s| s.trim_matches('"').to_string(),
            );
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_string(), |s| s.trim().to_string());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024);
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            memory,
            os,
            kernel,
        }
    }
}

/// Bytes in a human unit (B, KB, MB; powers of 1000).
pub fn human_bytes(b: f64) -> String {
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} KB", b / 1e3)
    } else {
        format!("{b:.0} B")
    }
}

/// The machine's CPUs split in two for a load test: the relay's process (and the wire, the
/// simulated network) on the upper half, the simulated devices on the lower, as if the devices
/// were other machines instead of taking the relay's CPU. Undone (this process on every CPU
/// again) when dropped. `taskset` (util-linux) does the pinning.
pub struct CpuSplit {
    all: String,
    devices: String,
    server: String,
}

impl CpuSplit {
    /// Splits the CPUs between process `relay` (all its threads, and this process's thread
    /// named `wire`) and the rest of this process; `None` (nothing pinned) on a single CPU or
    /// when pinning fails.
    pub fn new(relay: u32, wire: &str) -> Option<CpuSplit> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        if n < 2 {
            return None;
        }
        let range = |a: usize, b: usize| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        };
        let all = range(0, n - 1);
        let devices = range(0, n / 2 - 1);
        let server = range(n / 2, n - 1);
        let own = std::process::id().to_string();
        let ok = taskset(&["-a", "-p", "-c", &server, &relay.to_string()])
            && taskset(&["-a", "-p", "-c", &devices, &own])
            && threads_named(wire)
                .iter()
                .all(|tid| taskset(&["-p", "-c", &server, &tid.to_string()]));
        let split = CpuSplit {
            all,
            devices,
            server,
        };
        ok.then_some(split)
    }

    /// Which CPUs went where, for the report.
    pub fn describe(&self) -> String {
        format!(
            "relay and wire on CPU {}, simulated devices on CPU {}",
            self.server, self.devices
        )
    }
}

impl Drop for CpuSplit {
    fn drop(&mut self) {
        let own = std::process::id().to_string();
        taskset(&["-a", "-p", "-c", &self.all, &own]);
    }
}

fn taskset(args: &[&str]) -> bool {
    std::process::Command::new("taskset")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Ids of this process's threads named `name`.
fn threads_named(name: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn cpu_between_two_moments_is_read_between_the_samples_around_them() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let s = CpuSamples(vec![
            (at(0), 1.0),
            (at(100), 1.1),
            (at(200), 1.1),
            (at(300), 1.4),
        ]);
        let near = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
        assert!(near(s.between(at(0), at(300)), 0.4));
        assert!(
            near(s.between(at(50), at(250)), 0.2),
            "0.05 before 100, 0.15 after 200"
        );
        assert!(near(s.between(at(100), at(200)), 0.0), "idle between");
        assert!(
            s.between(at(50), at(400)).is_none(),
            "after the last sample"
        );
        assert!(
            s.between(t0 - Duration::from_millis(1), at(100)).is_none(),
            "before the first"
        );
        assert!(CpuSamples::default().between(at(0), at(0)).is_none());
    }

    #[test]
    fn the_sampler_sees_a_process_spend_its_cpu() {
        let sampler = CpuSampler::start(std::process::id(), Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(20));
        let (from, at_from) = (Instant::now(), cpu_secs(None).unwrap());
        // Busy until this process has spent 0.2 s of CPU, however long that takes here.
        let mut x = 0u64;
        while cpu_secs(None).unwrap() - at_from < 0.2 {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
        }
        std::hint::black_box(x);
        let (to, at_to) = (Instant::now(), cpu_secs(None).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        let spent = sampler.finish().between(from, to).unwrap();
        // What the process read itself at those moments (other tests' threads included), within
        // a tick of 10 ms at each end and what changed between two samples.
        let direct = at_to - at_from;
        assert!(direct >= 0.2);
        assert!(
            (spent - direct).abs() < 0.05,
            "{spent} s sampled, {direct} s read"
        );
    }
}
