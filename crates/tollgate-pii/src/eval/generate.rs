//! A labelled evaluation set, generated from a seed: prompts in English, German and French
//! with every type in the forms people type, hard negatives (look-alikes that must not be
//! found) and prompts without personal data. The same seed always gives the same set.

use crate::entity::EntityType;
use crate::validate::{iban_is_valid, iso7064_mod11_10, luhn_is_valid, nir_key};

/// One labelled prompt.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Sample {
    /// `en-12`, `de-7`, …
    pub id: String,
    /// The prompt.
    pub text: String,
    /// What is in it, by byte range.
    pub spans: Vec<Span>,
}

/// A labelled span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    /// Byte offset of the start.
    pub start: usize,
    /// Byte offset just past the end.
    pub end: usize,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: EntityType,
}

/// SplitMix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

const FIRST: &[&str] = &[
    "jane", "john", "maria", "hans", "claire", "pierre", "sophie", "lukas", "emma", "noah",
    "amelie", "thomas", "lea", "oliver", "chloe", "felix",
];
const LAST: &[&str] = &[
    "doe", "smith", "mueller", "schmidt", "dubois", "martin", "bernard", "weber", "taylor",
    "fischer", "moreau", "brown", "wagner", "lefebvre",
];
/// Names outside the en/de/fr given-name lexicon.
const ELSEWHERE: &[&str] = &[
    "Zoltan Kovacs",
    "Aiko Tanaka",
    "Priya Sharma",
    "Oluwaseun Adeyemi",
    "Mateo Fernández",
    "Ines Kowalczyk",
    "Dmitri Volkov",
    "Siobhan Gallagher",
    "Kwame Mensah",
    "Ngoc Anh Tran",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "firma.de",
    "entreprise.fr",
    "mail.co.uk",
    "acme-corp.io",
    "web.de",
    "orange.fr",
    "company.org",
];

/// Values of each type, in the forms people type.
fn value(rng: &mut Rng, kind: EntityType) -> String {
    match kind {
        EntityType::Email => {
            let (f, l, d) = (rng.pick(FIRST), rng.pick(LAST), rng.pick(DOMAINS));
            match rng.below(6) {
                4 => format!("{}.{}@mail.eu.{d}", capital(f), capital(l)),
                5 => format!("{f}-{l}@{}", d.to_uppercase()),
                0 => format!("{f}.{l}@{d}"),
                1 => format!("{}{l}@{d}", &f[..1]),
                2 => format!("{f}_{l}+ai@{d}"),
                _ => format!("{f}{}@{d}", rng.below(100)),
            }
        }
        EntityType::Phone => match rng.below(14) {
            8 => format!("+1 415 555 {}", rng.digits(4)),
            9 => format!("07700 {}", rng.digits(6)),
            10 => format!(
                "+33 (0)1 {} {} {} {}",
                rng.digits(2),
                rng.digits(2),
                rng.digits(2),
                rng.digits(2)
            ),
            11 => format!("0049 89 {}", rng.digits(7)),
            12 => format!("+44 (0)20 {} {}", rng.digits(4), rng.digits(4)),
            13 => format!("089/{}", rng.digits(7)),
            0 => format!("+44 20 {} {}", rng.digits(4), rng.digits(4)),
            1 => format!(
                "({}{}) 555-{}",
                2 + rng.below(8),
                rng.digits(2),
                rng.digits(4)
            ),
            2 => format!(
                "{}{}-{}{}-{}",
                2 + rng.below(8),
                rng.digits(2),
                2 + rng.below(8),
                rng.digits(2),
                rng.digits(4)
            ),
            3 => format!("030 {}", rng.digits(7)),
            4 => format!("+49 170 {}", rng.digits(7)),
            5 => format!(
                "06 {} {} {} {}",
                rng.digits(2),
                rng.digits(2),
                rng.digits(2),
                rng.digits(2)
            ),
            6 => format!(
                "+33 6 {} {} {} {}",
                rng.digits(2),
                rng.digits(2),
                rng.digits(2),
                rng.digits(2)
            ),
            _ => format!(
                "01.{}.{}.{}.{}",
                rng.digits(2),
                rng.digits(2),
                rng.digits(2),
                rng.digits(2)
            ),
        },
        EntityType::CreditCard => {
            let (prefix, len) = match rng.below(3) {
                0 => ("4", 16),
                1 => ("5", 16),
                _ => ("37", 15),
            };
            let mut d = format!(
                "{prefix}{}",
                if prefix == "5" {
                    (1 + rng.below(5)).to_string()
                } else {
                    String::new()
                }
            );
            d.push_str(&rng.digits(len - 1 - d.len()));
            let digits = complete_luhn(&d);
            let sep = rng.pick(&[" ", "-", ""]);
            if len == 15 {
                format!(
                    "{}{sep}{}{sep}{}",
                    &digits[..4],
                    &digits[4..10],
                    &digits[10..]
                )
            } else {
                let groups: Vec<&str> = (0..4).map(|i| &digits[i * 4..i * 4 + 4]).collect();
                groups.join(sep)
            }
        }
        EntityType::Iban => {
            let (cc, bban) = match rng.below(4) {
                0 => ("DE", rng.digits(18)),
                1 => ("FR", format!("{}{}", rng.digits(10), rng.digits(13))),
                2 => (
                    "GB",
                    format!("{}{}", rng.pick(&["WEST", "NWBK", "BARC"]), rng.digits(14)),
                ),
                _ => (
                    "NL",
                    format!("{}{}", rng.pick(&["ABNA", "INGB", "RABO"]), rng.digits(10)),
                ),
            };
            let iban = with_iban_check(cc, &bban);
            if rng.below(2) == 0 {
                iban
            } else {
                iban.as_bytes()
                    .chunks(4)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        }
        EntityType::UsSsn => {
            let area = loop {
                let a = 1 + rng.below(899);
                if a != 666 {
                    break a;
                }
            };
            let (group, serial) = (1 + rng.below(99), 1 + rng.below(9999));
            let sep = rng.pick(&["-", " "]);
            format!("{area:03}{sep}{group:02}{sep}{serial:04}")
        }
        EntityType::UkNino => {
            let first = rng.pick(&[
                "A", "B", "C", "E", "H", "J", "K", "L", "M", "P", "R", "S", "T", "W",
            ]);
            let second = rng.pick(&[
                "A", "B", "C", "E", "H", "J", "K", "L", "M", "P", "R", "S", "W",
            ]);
            let d = rng.digits(6);
            let suffix = rng.pick(&["A", "B", "C", "D"]);
            if rng.below(2) == 0 {
                format!(
                    "{first}{second} {} {} {} {suffix}",
                    &d[..2],
                    &d[2..4],
                    &d[4..]
                )
            } else {
                format!("{first}{second}{d}{suffix}")
            }
        }
        EntityType::DeTaxId => {
            let id = steuer_id(rng);
            if rng.below(3) == 0 {
                id
            } else if rng.below(2) == 0 {
                format!("{}.{}.{}.{}", &id[..2], &id[2..5], &id[5..8], &id[8..])
            } else {
                format!("{} {} {} {}", &id[..2], &id[2..5], &id[5..8], &id[8..])
            }
        }
        EntityType::FrNir => {
            let first13 = format!(
                "{}{:02}{:02}{:02}{}{}",
                1 + rng.below(2),
                rng.below(100),
                1 + rng.below(12),
                1 + rng.below(95),
                rng.digits(3),
                rng.digits(3)
            );
            let key = nir_key(first13.as_bytes()).unwrap_or(0);
            let n = format!("{first13}{key:02}");
            if rng.below(2) == 0 {
                n
            } else {
                format!(
                    "{} {} {} {} {} {} {}",
                    &n[..1],
                    &n[1..3],
                    &n[3..5],
                    &n[5..7],
                    &n[7..10],
                    &n[10..13],
                    &n[13..]
                )
            }
        }
        EntityType::IpAddress => match rng.below(5) {
            3 => format!("192.168.{}.{}", rng.below(256), 1 + rng.below(254)),
            4 => format!("172.16.{}.{}", rng.below(256), 1 + rng.below(254)),
            0 => format!(
                "10.{}.{}.{}",
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            ),
            1 => format!(
                "{}.{}.{}.{}",
                11 + rng.below(180),
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            ),
            _ => format!(
                "2001:db8:{:x}::{:x}",
                rng.below(65536),
                1 + rng.below(65535)
            ),
        },
        EntityType::Secret => {
            let alnum = |rng: &mut Rng, n: usize| -> String {
                const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                (0..n).map(|_| char::from(A[rng.below(A.len())])).collect()
            };
            match rng.below(6) {
                0 => format!("AKIA{}", alnum(rng, 16).to_uppercase()),
                1 => format!("ghp_{}", alnum(rng, 36)),
                2 => format!("sk-proj-{}", alnum(rng, 40)),
                3 => format!("sk_live_{}", alnum(rng, 24)),
                4 => format!("xoxb-{}-{}", rng.digits(12), alnum(rng, 24)),
                _ => format!(
                    "eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}",
                    alnum(rng, 20),
                    alnum(rng, 32)
                ),
            }
        }
        // Three in ten are names from elsewhere, which the detector's lexicon does not hold:
        // they are found only where words before them introduce a person.
        EntityType::Person if rng.below(10) < 3 => rng.pick(ELSEWHERE).to_string(),
        EntityType::Person => format!("{} {}", capital(rng.pick(FIRST)), capital(rng.pick(LAST))),
        EntityType::Address => match rng.below(3) {
            0 => format!("{} Baker Street, London NW1 6XE", 1 + rng.below(200)),
            1 => format!("Hauptstraße {}, 10115 Berlin", 1 + rng.below(120)),
            _ => format!("{} rue de la Paix, 75002 Paris", 1 + rng.below(80)),
        },
        EntityType::Custom => String::new(),
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn complete_luhn(body: &str) -> String {
    (b'0'..=b'9')
        .map(|d| format!("{body}{}", char::from(d)))
        .find(|n| luhn_is_valid(n.as_bytes()))
        .unwrap_or_default()
}

/// The IBAN of `bban` in country `cc`: the check digits that make it valid.
fn with_iban_check(cc: &str, bban: &str) -> String {
    (2..=98)
        .map(|check| format!("{cc}{check:02}{bban}"))
        .find(|iban| iban_is_valid(iban.as_bytes()))
        .unwrap_or_default()
}

/// Ten digits with one repeated, none three in a row, no leading zero, and the check digit.
fn steuer_id(rng: &mut Rng) -> String {
    loop {
        let mut pool: Vec<u8> = (b'0'..=b'9').collect();
        let mut d: Vec<u8> = (0..9).map(|_| pool.remove(rng.below(pool.len()))).collect();
        let twice = d[rng.below(9)];
        d.insert(rng.below(10), twice);
        if d[0] == b'0' || d.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
            continue;
        }
        d.push(b'0' + iso7064_mod11_10(&d));
        return String::from_utf8_lossy(&d).into_owned();
    }
}

/// Prompt templates: `{TYPE}` is a slot for a value of that type.
const WITH_PII: &[(&str, &str)] = &[
    (
        "en",
        "Please draft a reply to {PERSON} at {EMAIL} about the late delivery.",
    ),
    (
        "en",
        "Customer called from {PHONE} and disputes the charge on card {CREDIT_CARD}.",
    ),
    (
        "en",
        "Refund the deposit to IBAN {IBAN} and confirm by email to {EMAIL}.",
    ),
    ("en", "Fill in the W-9: SSN {US_SSN}, address {ADDRESS}."),
    (
        "en",
        "My NI number is {UK_NINO}, can you check my tax code?",
    ),
    (
        "en",
        "The staging box at {IP_ADDRESS} uses key {SECRET}, rotate it.",
    ),
    (
        "en",
        "Why does this fail? export OPENAI_API_KEY={SECRET} && python run.py",
    ),
    (
        "en",
        "Summarise the ticket: user {EMAIL} cannot log in from {IP_ADDRESS}.",
    ),
    (
        "de",
        "Bitte schreibe an {PERSON} ({EMAIL}), dass die Rechnung bezahlt ist.",
    ),
    (
        "de",
        "Meine Steuer-ID ist {DE_TAX_ID}, die Telefonnummer {PHONE}.",
    ),
    (
        "de",
        "Überweise den Betrag auf {IBAN} und schick die Bestätigung an {EMAIL}.",
    ),
    (
        "de",
        "Der Kunde wohnt in der {ADDRESS} und zahlt mit Karte {CREDIT_CARD}.",
    ),
    (
        "de",
        "Ruf mich unter {PHONE} zurück, bevor du den Vertrag schickst.",
    ),
    (
        "fr",
        "Merci d'écrire à {PERSON} à l'adresse {EMAIL} pour confirmer.",
    ),
    (
        "fr",
        "Mon numéro de sécurité sociale est {FR_NIR}, pouvez-vous vérifier ?",
    ),
    (
        "fr",
        "Le virement doit partir sur {IBAN} avant vendredi, appelle le {PHONE}.",
    ),
    (
        "fr",
        "Le client habite {ADDRESS}, sa carte {CREDIT_CARD} a été refusée.",
    ),
    (
        "fr",
        "Voici la config : DATABASE_URL={SECRET} — pourquoi ça plante ?",
    ),
    // Names where no phrase introduces them: only the given-name lexicon finds these.
    (
        "en",
        "Meeting notes: {PERSON} will send the draft by Friday.",
    ),
    (
        "en",
        "Please forward the signed contract to {PERSON} before noon.",
    ),
    ("de", "Laut {PERSON} ist die Lieferung verspätet."),
    ("fr", "Hier, {PERSON} a appelé le service client."),
    (
        "en",
        "Can you reply to {PERSON} that the refund went out today?",
    ),
];

/// Look-alikes: none of these is personal data or a secret.
const HARD_NEGATIVES: &[(&str, &str)] = &[
    (
        "en",
        "Upgrade to version 2.14.3.1 before the 2024-03-15 release.",
    ),
    (
        "en",
        "Order 4111 1111 1111 1112 shipped; tracking 1Z999AA10123456784.",
    ),
    ("en", "Ticket #123456789 was closed on 15/01/2024 at 14:35."),
    ("en", "The job id is 123e4567-e89b-12d3-a456-426614174000."),
    (
        "en",
        "Checksum: sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ),
    (
        "en",
        "Point the client at 127.0.0.1:8080 or ::1 for local tests.",
    ),
    (
        "en",
        "Set OPENAI_API_KEY=<YOUR_API_KEY> and api_key = sk-... in the example.",
    ),
    ("en", "An SSN such as 000-12-3456 is never issued."),
    (
        "de",
        "Die Bestellnummer 30123456789 wurde am 15.01.2024 verschickt.",
    ),
    ("de", "Rechnung Nr. 2024-0915 über 1.234,56 EUR ist fällig."),
    ("fr", "La commande 0612345678 a été livrée le 12/03/2024."),
    ("fr", "La version 3.2.1 corrige le bug n° 4521."),
    ("en", "Call extension 4521 or meet in room 4.12 at 9:30."),
    (
        "en",
        "ISBN 978-3-16-148410-0, flight LH 1234 at 10:45, gate B22.",
    ),
    (
        "en",
        "The MAC address 00:1A:2B:3C:4D:5E and timestamp 1700000000000 are in the log.",
    ),
    (
        "en",
        "Coordinates 48.8566, 2.3522; elevation 35 m; population 2,102,650.",
    ),
    (
        "en",
        "An IBAN looks like DE00 0000 0000 0000 0000 00, but this one is made up.",
    ),
    (
        "de",
        "Der Preis beträgt 1.234.567,89 EUR, Lieferung in KW 12/2024.",
    ),
    ("de", "Paketnummer 00340434161094012345 wurde zugestellt."),
    (
        "fr",
        "Le colis 6A12345678901 est arrivé ; code postal 75002.",
    ),
    // Capitalised words after a phrase that often introduces a person: teams, not people.
    (
        "en",
        "Please write to Product Marketing about the launch date.",
    ),
    ("en", "Reply to Customer Support with the order history."),
    ("de", "Bitte schreibe an Vertrieb Nord wegen des Angebots."),
    ("fr", "Merci d'écrire à Service Client pour la facture."),
    (
        "en",
        "Set up a meeting with Legal Team and Finance Department next week.",
    ),
];

const WITHOUT_PII: &[(&str, &str)] = &[
    (
        "en",
        "Summarise this article about the 2024 Olympics in Paris in five bullet points.",
    ),
    (
        "en",
        "Write a Python function that sorts a list of 10000 numbers in O(n log n).",
    ),
    (
        "en",
        "Explain the difference between TCP and UDP for a junior engineer.",
    ),
    (
        "en",
        "Draft a polite email declining the meeting on Thursday at 3 pm.",
    ),
    (
        "en",
        "What are the main risks of running PostgreSQL 15 on 2 cores?",
    ),
    ("de", "Übersetze bitte: Der Zug fährt um 14:35 von Gleis 7."),
    (
        "de",
        "Fasse die Protokolle der letzten drei Sitzungen zusammen.",
    ),
    (
        "de",
        "Schreib eine freundliche Absage für das Angebot vom 3. März.",
    ),
    ("fr", "Explique-moi la photosynthèse en 3 phrases."),
    ("fr", "Rédige un résumé de la réunion du comité de mardi."),
    (
        "fr",
        "Quelles sont les étapes pour migrer une base de données ?",
    ),
];

/// `count` samples from `seed`: 60% with personal data, 15% hard negatives, 25% without.
pub fn generate(seed: u64, count: usize) -> Vec<Sample> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|i| {
            let roll = rng.below(100);
            let (lang, template) = if roll < 60 {
                WITH_PII[rng.below(WITH_PII.len())]
            } else if roll < 75 {
                HARD_NEGATIVES[rng.below(HARD_NEGATIVES.len())]
            } else {
                WITHOUT_PII[rng.below(WITHOUT_PII.len())]
            };
            let (text, spans) = fill(&mut rng, template);
            Sample {
                id: format!("{lang}-{i}"),
                text,
                spans,
            }
        })
        .collect()
}

fn fill(rng: &mut Rng, template: &str) -> (String, Vec<Span>) {
    let mut text = String::new();
    let mut spans = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        text.push_str(&rest[..open]);
        match EntityType::parse(&rest[open + 1..close]) {
            Some(kind) => {
                let v = value(rng, kind);
                spans.push(Span {
                    start: text.len(),
                    end: text.len() + v.len(),
                    kind,
                });
                text.push_str(&v);
            }
            None => text.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    text.push_str(rest);
    (text, spans)
}
