//! `tollgate pii scan`: the detector on files or stdin, JSONL out (one line per document:
//! `{"id","spans":[{"start","end","type"}],"risk"}`), offsets in bytes or characters.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use tollgate_pii::{byte_to_char_offsets, EntityType, Scanner, Thresholds};

#[derive(Debug, Subcommand)]
pub(super) enum PiiCommand {
    /// Find personal data and secrets. Reads each FILE (or stdin) as one text, or with
    /// --jsonl as lines of {"id": ..., "text": ...}; writes one JSON line per text with its
    /// spans and risk. Nothing but offsets and types is written: never the values.
    Scan(ScanArgs),
    /// Score the detector on a generated, labelled set (en/de/fr, every type, hard negatives,
    /// prompts without personal data): precision, recall and F1 per type, strict and by
    /// overlap, false alarms and speed.
    Eval(EvalArgs),
}

#[derive(Debug, clap::Args)]
pub(super) struct EvalArgs {
    /// Prompts to generate.
    #[arg(long, default_value_t = 3000)]
    count: usize,
    /// The generator's seed (the same seed, the same set).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Also write the set as JSONL ({"id", "text", "spans"}) to this file.
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(super) struct ScanArgs {
    /// Files to read; none or `-` reads stdin.
    files: Vec<PathBuf>,
    /// Input is JSONL, one {"id", "text"} object per line (the default for files ending in
    /// .jsonl).
    #[arg(long)]
    jsonl: bool,
    /// Count offsets in bytes of UTF-8 or in Unicode characters (code points).
    #[arg(long, value_enum, default_value_t = Offsets::Bytes)]
    offsets: Offsets,
    /// Only these types (comma-separated, e.g. EMAIL,IBAN); all by default.
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Offsets {
    Bytes,
    Chars,
}

#[derive(Deserialize)]
struct Document {
    id: serde_json::Value,
    text: String,
}

#[derive(Serialize)]
struct Span {
    start: usize,
    end: usize,
    #[serde(rename = "type")]
    kind: EntityType,
    #[serde(skip_serializing_if = "Option::is_none")]
    subtype: Option<&'static str>,
}

#[derive(Serialize)]
struct Line<'a> {
    id: &'a serde_json::Value,
    spans: Vec<Span>,
    risk: &'static str,
}

/// `tollgate scan`: a guard for pipelines and commit hooks.
#[derive(Debug, clap::Args)]
pub(super) struct GuardArgs {
    /// Files to check; none or `-` reads stdin.
    files: Vec<PathBuf>,
    /// The risk that fails the check (exit 1): red (the default) or amber.
    #[arg(long, value_enum, default_value_t = FailOn::Red)]
    fail_on: FailOn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FailOn {
    Amber,
    Red,
}

/// Checks each input and says, per input, its risk and what was found where (type and line,
/// never the value); exits 1 when one reaches `--fail-on`.
pub(super) fn guard(args: GuardArgs) -> anyhow::Result<ExitCode> {
    let scanner = Scanner::new();
    let thresholds = Thresholds::default();
    let fail_at = match args.fail_on {
        FailOn::Amber => tollgate_pii::Risk::Amber,
        FailOn::Red => tollgate_pii::Risk::Red,
    };
    let mut failed = false;
    for input in inputs(&args.files) {
        let (name, text) = read_text(input.as_ref())?;
        let findings = scanner.scan(&text);
        let risk = thresholds.risk(&findings);
        failed |= risk >= fail_at;
        say!("{name}: {}", risk.as_str());
        // Lines counted as the findings go by (they are in order): one pass over the text.
        let (mut line, mut counted) = (1, 0);
        for f in &findings {
            line += text
                .get(counted..f.start)
                .map_or(0, |t| t.matches('\n').count());
            counted = f.start;
            match f.secret {
                Some(kind) => say!("  line {line}: {} ({})", f.kind, kind.as_str()),
                None => say!("  line {line}: {}", f.kind),
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The files to read: `None` is stdin.
fn inputs(files: &[PathBuf]) -> Vec<Option<PathBuf>> {
    if files.is_empty() {
        return vec![None];
    }
    files
        .iter()
        .map(|f| (f.as_os_str() != "-").then(|| f.clone()))
        .collect()
}

/// The input's name and whole text.
fn read_text(input: Option<&PathBuf>) -> anyhow::Result<(String, String)> {
    let name = input.map_or_else(|| "-".to_string(), |p| p.display().to_string());
    let mut text = String::new();
    let read = match input {
        Some(path) => std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)),
        None => std::io::stdin().lock().read_to_string(&mut text),
    };
    read.with_context(|| format!("cannot read {name} as UTF-8 text"))?;
    Ok((name, text))
}

pub(super) fn run(cmd: PiiCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PiiCommand::Scan(args) => scan(args),
        PiiCommand::Eval(args) => eval(args),
    }
}

fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    use tollgate_pii::eval::{generate, Report};
    let samples = generate(args.seed, args.count);
    if let Some(path) = &args.write {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        );
        for s in &samples {
            serde_json::to_writer(&mut file, s)?;
            file.write_all(b"\n")?;
        }
        file.flush()?;
    }
    let scanner = Scanner::new();
    let started = std::time::Instant::now();
    let found: Vec<_> = samples.iter().map(|s| scanner.scan(&s.text)).collect();
    let secs = started.elapsed().as_secs_f64();
    let mut report = Report::default();
    for (s, f) in samples.iter().zip(&found) {
        report.add(s, f);
    }
    say!(
        "{} prompts (seed {}), {} labelled spans",
        samples.len(),
        args.seed,
        samples.iter().map(|s| s.spans.len()).sum::<usize>()
    );
    say!(
        "{:<12} {:>6}   strict P / R / F1        overlap P / R / F1",
        "type",
        "spans"
    );
    for (kind, strict) in &report.strict {
        let overlap = report.overlap.get(kind).copied().unwrap_or_default();
        say!(
            "{:<12} {:>6}   {:.3} / {:.3} / {:.3}    {:.3} / {:.3} / {:.3}",
            kind.as_str(),
            strict.tp + strict.fn_,
            strict.precision(),
            strict.recall(),
            strict.f1(),
            overlap.precision(),
            overlap.recall(),
            overlap.f1()
        );
    }
    let not_built = [EntityType::Person, EntityType::Address];
    let built: Vec<EntityType> = EntityType::ALL
        .into_iter()
        .filter(|t| !not_built.contains(t))
        .collect();
    for (label, types) in [
        ("micro, all types", &[][..]),
        ("micro, without PERSON/ADDRESS", &built[..]),
    ] {
        let (s, o) = (report.micro(true, types), report.micro(false, types));
        say!(
            "{label:<30} strict F1 {:.3}   overlap F1 {:.3}",
            s.f1(),
            o.f1()
        );
    }
    say!(
        "prompts without personal data flagged: {} of {} ({:.1}%)",
        report.flagged,
        report.clean,
        report.false_alarm_rate() * 100.0
    );
    let bytes: usize = samples.iter().map(|s| s.text.len()).sum();
    say!(
        "speed: {:.0} prompts/s, {:.1} MB/s on one core (this build; use --release for real figures)",
        samples.len() as f64 / secs,
        bytes as f64 / secs / 1e6
    );
    Ok(ExitCode::SUCCESS)
}

fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let mut builder = Scanner::builder();
    if !args.types.is_empty() {
        let mut only = Vec::new();
        for name in &args.types {
            let kind = EntityType::parse(name.trim()).with_context(|| {
                let names: Vec<&str> = EntityType::ALL.iter().map(|t| t.as_str()).collect();
                format!("unknown type {name:?}; the types are {}", names.join(", "))
            })?;
            only.push(kind);
        }
        builder = builder.only(&only);
    }
    let scanner = builder.build()?;
    let thresholds = Thresholds::default();
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    for input in inputs(&args.files) {
        let name = input
            .as_ref()
            .map_or_else(|| "-".to_string(), |p| p.display().to_string());
        if !(args.jsonl || name.ends_with(".jsonl")) {
            let (name, text) = read_text(input.as_ref())?;
            let id = serde_json::Value::String(name);
            write_line(&mut out, &scanner, &thresholds, &id, &text, args.offsets)?;
            continue;
        }
        let reader: Box<dyn Read> = match &input {
            Some(path) => {
                Box::new(std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?)
            }
            None => Box::new(std::io::stdin().lock()),
        };
        for (n, line) in std::io::BufReader::new(reader).lines().enumerate() {
            let line = line.with_context(|| format!("cannot read {name}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let doc: Document = serde_json::from_str(&line).with_context(|| {
                format!(
                    "{name} line {}: expected a JSON object with \"id\" and \"text\"",
                    n + 1
                )
            })?;
            write_line(
                &mut out,
                &scanner,
                &thresholds,
                &doc.id,
                &doc.text,
                args.offsets,
            )?;
        }
    }
    out.flush().ok();
    Ok(ExitCode::SUCCESS)
}

fn write_line(
    out: &mut impl Write,
    scanner: &Scanner,
    thresholds: &Thresholds,
    id: &serde_json::Value,
    text: &str,
    offsets: Offsets,
) -> anyhow::Result<()> {
    let findings = scanner.scan(text);
    let mut spans: Vec<Span> = findings
        .iter()
        .map(|f| Span {
            start: f.start,
            end: f.end,
            kind: f.kind,
            subtype: f.secret.map(|s| s.as_str()),
        })
        .collect();
    if offsets == Offsets::Chars {
        let bytes: Vec<usize> = spans.iter().flat_map(|s| [s.start, s.end]).collect();
        let chars = byte_to_char_offsets(text, &bytes);
        for (span, pair) in spans.iter_mut().zip(chars.chunks(2)) {
            if let [start, end] = pair {
                (span.start, span.end) = (*start, *end);
            }
        }
    }
    let line = Line {
        id,
        spans,
        risk: thresholds.risk(&findings).as_str(),
    };
    serde_json::to_writer(&mut *out, &line)?;
    // A closed pipe (`| head`) ends the output quietly.
    let _ = out.write_all(b"\n");
    Ok(())
}
