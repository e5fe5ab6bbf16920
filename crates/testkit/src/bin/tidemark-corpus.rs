//! Writes a deterministic Vietnamese corpus in the interchange format:
//! `tidemark-corpus RECORDS [SEED] > corpus.jsonl`.

use std::io::Write;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let records: usize = args.next().unwrap_or_else(|| "1000".into()).parse()?;
    let seed: u64 = args.next().unwrap_or_else(|| "1".into()).parse()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in tidemark_testkit::corpus(seed, records) {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}
