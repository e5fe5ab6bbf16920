//! `tidemark-bench [all|s1|s2|s3|s4|s5|s6|s7]… [--quick] [--out DIR] [--set NAME=VALUE]…`: runs the
//! scenarios, writes `DIR/bench.json` and `DIR/bench.md` (default `target/bench`) and prints the
//! markdown. `__relay DIR` and `__pull DIR` are its own child processes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use tidemark_bench::harness::RelayMode;
use tidemark_bench::measure::Machine;
use tidemark_bench::report::{Outcome, Run, Target};
use tidemark_bench::scenarios::{bulk, catchup, crypto, load, local, plan, Ctx, Sizes};

const USAGE: &str =
    "usage: tidemark-bench [all|s1|s2|s3|s4|s5|s6|s7]... [--quick] [--out DIR] [--set NAME=VALUE]... [--seed N]
sizes for --set: history_days, year_days, edits_per_unit, plan_items, records, query_runs,
devices, sessions_per_device, weak_hq";

struct Args {
    scenarios: Vec<String>,
    quick: bool,
    out: PathBuf,
    sets: Vec<String>,
    seed: u64,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut a = Args {
        scenarios: Vec::new(),
        quick: false,
        out: PathBuf::from("target/bench"),
        sets: Vec::new(),
        seed: 2025,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--out" => a.out = it.next().context("--out needs a directory")?.into(),
            "--seed" => {
                a.seed = it
                    .next()
                    .context("--seed needs a number")?
                    .parse()
                    .context("--seed needs a number")?
            }
            "--set" => a
                .sets
                .push(it.next().context("--set needs NAME=VALUE")?.clone()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "all" => a
                .scenarios
                .extend(["s1", "s2", "s3", "s4", "s5", "s6", "s7"].map(String::from)),
            s if matches!(s, "s1" | "s2" | "s3" | "s4" | "s5" | "s6" | "s7") => {
                a.scenarios.push(s.into())
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    if a.scenarios.is_empty() {
        a.scenarios
            .extend(["s1", "s2", "s3", "s4", "s5", "s6", "s7"].map(String::from));
    }
    // S6 compares its bytes with S1's: S1 runs too.
    if a.scenarios.iter().any(|s| s == "s6") && !a.scenarios.iter().any(|s| s == "s1") {
        a.scenarios.insert(0, "s1".into());
    }
    a.scenarios.sort();
    a.scenarios.dedup();
    Ok(a)
}

/// A directory on a RAM disk for throw-away device stores, if there is one.
fn ram_dir(fallback: &std::path::Path) -> Result<(Option<tempfile::TempDir>, PathBuf)> {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::Builder::new()
            .prefix("tidemark-bench-")
            .tempdir_in(shm)
        {
            let p = d.path().to_path_buf();
            return Ok((Some(d), p));
        }
    }
    Ok((None, fallback.join("ram")))
}

async fn run_one(name: &str, ctx: &Ctx, done: &[Outcome]) -> Result<Outcome> {
    match name {
        "s1" => catchup::s1(ctx).await,
        "s2" => bulk::s2(ctx).await,
        "s3" => plan::s3(ctx).await,
        "s4" => local::s4(ctx).await,
        "s5" => load::s5(ctx).await,
        "s7" => crypto::s7(ctx).await,
        _ => catchup::s6(ctx, done.iter().find(|o| o.id == "S1")).await,
    }
}

async fn bench(args: Args) -> Result<()> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let work = tempfile::Builder::new()
        .prefix("tidemark-bench-")
        .tempdir()?;
    let (_ram_guard, ram_root) = ram_dir(work.path())?;
    let mut sizes = if args.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    for s in &args.sets {
        sizes.set(s)?;
    }
    let ctx = Ctx {
        quick: args.quick,
        relay: RelayMode::Child(exe),
        root: work.path().to_path_buf(),
        ram_root,
        seed: args.seed,
        sizes,
    };
    let mode = if args.quick { "quick" } else { "full" };
    let mut command = format!(
        "cargo run --release -p tidemark-bench -- {}",
        if args.scenarios.len() == 7 {
            "all".to_string()
        } else {
            args.scenarios.join(" ")
        }
    );
    if args.quick {
        command.push_str(" --quick");
    }
    for s in &args.sets {
        command.push_str(&format!(" --set {s}"));
    }
    if args.seed != 2025 {
        command.push_str(&format!(" --seed {}", args.seed));
    }
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut outcomes: Vec<Outcome> = Vec::new();
    for name in &args.scenarios {
        eprintln!("==> {} ({mode})", name.to_uppercase());
        let t = Instant::now();
        let mut o = match run_one(name, &ctx, &outcomes).await {
            Ok(o) => o,
            Err(e) => {
                let mut o = Outcome::new(&name.to_uppercase(), "failed");
                o.targets.push(Target::new(
                    "completes",
                    "completes",
                    format!("failed: {e:#}"),
                    false,
                ));
                o
            }
        };
        o.scenario_secs = t.elapsed().as_secs_f64();
        eprintln!("    {} done in {:.1} s", o.id, o.scenario_secs);
        outcomes.push(o);
    }
    let run = Run {
        mode: mode.into(),
        machine: Machine::read(),
        command,
        started: started_at,
        total_secs: started.elapsed().as_secs_f64(),
        scenarios: outcomes,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let md = run.markdown();
    std::fs::write(
        args.out.join("bench.json"),
        serde_json::to_string_pretty(&run)?,
    )?;
    std::fs::write(args.out.join("bench.md"), &md)?;
    println!("{md}");
    eprintln!(
        "wrote {} and {}",
        args.out.join("bench.json").display(),
        args.out.join("bench.md").display()
    );
    Ok(())
}

/// The allocator `tidemark-server`, the app and the `tidemark` command use, so that the relay
/// child (this executable with `__relay`) and the pulling child (`__pull`) measure what the real
/// relay and device would do and hold.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("__relay") => {
            let dir = args.get(1).context("__relay needs a directory")?;
            return tidemark_bench::child::relay_main(std::path::Path::new(dir));
        }
        Some("__pull") => {
            let dir = args.get(1).context("__pull needs a directory")?;
            return tidemark_bench::child::pull_main(std::path::Path::new(dir));
        }
        _ => {}
    }
    let args = parse(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    runtime.block_on(bench(args))
}
