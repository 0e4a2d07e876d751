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

pub(super) fn run(cmd: PiiCommand) -> anyhow::Result<ExitCode> {
    let PiiCommand::Scan(args) = cmd;
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
    let inputs: Vec<Option<PathBuf>> = if args.files.is_empty() {
        vec![None]
    } else {
        args.files
            .iter()
            .map(|f| (f.as_os_str() != "-").then(|| f.clone()))
            .collect()
    };
    for input in inputs {
        let name = input
            .as_ref()
            .map_or_else(|| "-".to_string(), |p| p.display().to_string());
        let reader: Box<dyn Read> = match &input {
            Some(path) => {
                Box::new(std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?)
            }
            None => Box::new(std::io::stdin().lock()),
        };
        let jsonl = args.jsonl || name.ends_with(".jsonl");
        if jsonl {
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
        } else {
            let mut text = String::new();
            std::io::BufReader::new(reader)
                .read_to_string(&mut text)
                .with_context(|| format!("cannot read {name} as UTF-8 text"))?;
            let id = serde_json::Value::String(name);
            write_line(&mut out, &scanner, &thresholds, &id, &text, args.offsets)?;
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
