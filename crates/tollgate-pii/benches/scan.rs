//! Scanner speed against issue 6's targets: ≥ 50 MB/s per core on typical prompts with every
//! type on, p99 ≤ 100 µs for a 4 KB prompt. Run: `cargo bench -p tollgate-pii --bench scan`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use tollgate_pii::{Act, AnswerGuard, AnswerPolicy, EntityType, Replacement, Scanner};

/// Replaces every finding: what `pii.scan_answers` with `redact` does.
struct Redact<'a>(&'a Scanner);

impl AnswerPolicy for Redact<'_> {
    fn scanner(&self) -> &Scanner {
        self.0
    }
    fn act(&self, _: EntityType) -> Act {
        Act::Replace(Replacement::Placeholder)
    }
}

/// Prompts as people write them: mostly prose and code, some with personal data or a key.
const PROMPTS: &[&str] = &[
    "Summarise the following meeting notes in five bullet points. The team discussed the Q3 roadmap, the migration of the billing service to the new cluster, and the hiring plan for 2025. Action items were assigned to the platform group.",
    "Écris un e-mail poli à notre client pour lui dire que la livraison de la commande est retardée de deux semaines à cause d'une rupture de stock chez le fournisseur.",
    "Bitte formuliere diese Kündigung freundlicher: Hiermit kündige ich den Vertrag zum nächstmöglichen Zeitpunkt. Meine Kundennummer steht auf der letzten Rechnung.",
    "Fix this function:\n\nfn parse(input: &str) -> Result<u32, Error> {\n    let v = input.trim().parse::<u32>()?;\n    if v > 1000 { return Err(Error::TooBig(v)); }\n    Ok(v * 2)\n}\n",
    "Customer Jane Doe (jane.doe@example.com, +44 20 7946 0958) disputes a charge on card 4111 1111 1111 1111. Refund to IBAN GB82 WEST 1234 5698 7654 32.",
    "Our staging config:\nDATABASE_URL=postgres://app:S3cr3tPw@10.0.3.17:5432/app\nOPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD\nLOG_LEVEL=debug",
    "Translate to German: The invoice 2024-0915 for order 5531 was paid on 15 March 2024 at 14:35. Version 2.14.3 of the app fixes the login bug.",
    "Meine Steuer-ID ist 86 095 742 719 und meine Telefonnummer 030 1234567. Bitte trage beides in das Formular ein.",
];

fn corpus(bytes: usize) -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < bytes {
        text.push_str(PROMPTS[i % PROMPTS.len()]);
        text.push_str("\n\n");
        i += 1;
    }
    text
}

fn main() {
    let scanner = Scanner::new();
    // Throughput: every prompt, one after the other, for about two seconds.
    let total: usize = PROMPTS.iter().map(|p| p.len()).sum();
    let started = Instant::now();
    let mut rounds = 0u64;
    let mut findings = 0usize;
    while started.elapsed() < Duration::from_secs(2) {
        for p in PROMPTS {
            findings += black_box(scanner.scan(black_box(p))).len();
        }
        rounds += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let mb_s = (total as f64 * rounds as f64) / secs / 1e6;
    let per_prompt_us = secs * 1e6 / (rounds as f64 * PROMPTS.len() as f64);
    println!(
        "typical prompts ({} of mean {} B): {mb_s:.1} MB/s on one core, {per_prompt_us:.1} µs per prompt, {} findings per round (target ≥ 50 MB/s)",
        PROMPTS.len(),
        total / PROMPTS.len(),
        findings as u64 / rounds
    );
    // Latency: a 4 KB prompt of the same mix, 20,000 times.
    let text = corpus(4096);
    let mut times = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let t = Instant::now();
        black_box(scanner.scan(black_box(&text)));
        times.push(t.elapsed());
    }
    times.sort();
    let pct = |p: f64| {
        times[((times.len() as f64 * p) as usize).min(times.len() - 1)].as_secs_f64() * 1e6
    };
    println!(
        "4 KB prompt ({} B): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (target p99 ≤ 100 µs)",
        text.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    // Adversarial input: time per KB must not grow with the size (no super-linear case).
    for (name, unit) in [
        ("digits and separators", "1 2-3.4 (5) 6/7 +8 90 "),
        ("at signs", "a@b@c.d@"),
        ("brackets", "[EMAIL_[[[EMAIL_1"),
        ("key prefixes", "sk-ghp_AKIAeyJ.eyJ."),
    ] {
        let per_kb: Vec<String> = [16 * 1024, 256 * 1024]
            .iter()
            .map(|&size| {
                let text = unit.repeat(size / unit.len());
                let started = Instant::now();
                let mut n = 0u32;
                while started.elapsed() < Duration::from_millis(300) {
                    black_box(scanner.scan(black_box(&text)));
                    n += 1;
                }
                let us_per_kb = started.elapsed().as_secs_f64() * 1e6
                    / f64::from(n)
                    / (text.len() as f64 / 1024.0);
                format!("{} KB {us_per_kb:.1} µs/KB", text.len() / 1024)
            })
            .collect();
        println!("adversarial {name}: {}", per_kb.join(", "));
    }
    // Prose without personal data, 64 KB: the common path.
    let plain = PROMPTS[..4]
        .join("\n")
        .repeat(64 * 1024 / PROMPTS[..4].join("\n").len());
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(1) {
        black_box(scanner.scan(black_box(&plain)));
        n += 1;
    }
    println!(
        "prose without personal data ({} KB): {:.1} MB/s",
        plain.len() / 1024,
        plain.len() as f64 * n as f64 / started.elapsed().as_secs_f64() / 1e6
    );
    // A streamed answer through the answer guard (`pii.scan_answers`): the 4 KB mix in
    // 16-byte pieces (about four tokens an event), against one scan of the whole text.
    let pieces: Vec<&str> = {
        let mut out = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let mut end = (at + 16).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            out.push(&text[at..end]);
            at = end;
        }
        out
    };
    let started = Instant::now();
    let mut n = 0u32;
    while started.elapsed() < Duration::from_secs(1) {
        let mut guard = AnswerGuard::new(Redact(&scanner), None, b"k");
        for p in &pieces {
            black_box(guard.push(black_box(p)));
        }
        black_box(guard.finish());
        n += 1;
    }
    let streamed_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let whole_us = pct(0.50);
    println!(
        "4 KB answer streamed through the guard in {} pieces: {streamed_us:.0} µs per answer, {:.1} µs per piece ({:.1}× one scan of the whole text, {whole_us:.0} µs)",
        pieces.len(),
        streamed_us / pieces.len() as f64,
        streamed_us / whole_us
    );
}
