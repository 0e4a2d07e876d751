//! The built-in recognizers: a pattern that finds candidates of one shape, and a check that
//! confirms them (checksum, allocation rules, boundaries, nearby words) and may narrow the span.

use crate::entity::{EntityType, SecretKind};
use crate::names;
use crate::text::{
    alnum, at, before, digits, isolated, number_continues, one_separator, preceded_by, Phrases,
};
use crate::validate;

/// A confirmed span and how sure the check is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Confirmed {
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
}

/// `check(text, start, end)` of a candidate; `None` rejects it.
pub(crate) type Check = fn(&str, usize, usize) -> Option<Confirmed>;

/// One recognizer.
pub(crate) struct Recognizer {
    pub kind: EntityType,
    pub secret: Option<SecretKind>,
    pub pattern: &'static str,
    /// The capture group that is the finding (0: the whole match).
    pub group: usize,
    pub check: Check,
    /// For an identifier built around digits: it runs only where a run of digits
    /// (`crate::runs`) allows it, not on the whole text.
    pub numeric: Option<Numeric>,
    /// Whether it runs on its own instead of in the scanner's combined first pass (its
    /// pattern, with Unicode letter classes, would make the combined automaton far slower).
    pub own_pass: bool,
}

/// Which runs of digits a recognizer looks at, and where around them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Numeric {
    /// Least digits in the run.
    pub digits: usize,
    /// Least dots in the run.
    pub dots: usize,
    /// Where its matches may lie.
    pub window: Window,
}

/// Where a recognizer's matches may lie, given a run of digits.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Window {
    /// Inside the run.
    Run,
    /// From `letters` ASCII letters right before the run (a space between them and the run
    /// allowed when `space`), `len` bytes at most: IBANs (`GB82 WEST …`) and NINOs.
    Lead {
        letters: usize,
        space: bool,
        len: usize,
    },
}

const fn r(kind: EntityType, pattern: &'static str, check: Check) -> Recognizer {
    Recognizer {
        kind,
        secret: None,
        pattern,
        group: 0,
        check,
        numeric: None,
        own_pass: false,
    }
}

/// A recognizer of a number of at least `digits` digits and `dots` dots.
const fn number(
    kind: EntityType,
    digits: usize,
    dots: usize,
    pattern: &'static str,
    check: Check,
) -> Recognizer {
    Recognizer {
        kind,
        secret: None,
        pattern,
        group: 0,
        check,
        numeric: Some(Numeric {
            digits,
            dots,
            window: Window::Run,
        }),
        own_pass: false,
    }
}

/// A credential of `kind`.
const fn secret(kind: SecretKind, pattern: &'static str, group: usize, check: Check) -> Recognizer {
    Recognizer {
        kind: EntityType::Secret,
        secret: Some(kind),
        pattern,
        group,
        check,
        numeric: None,
        own_pass: false,
    }
}

fn sure(start: usize, end: usize, confidence: f32) -> Option<Confirmed> {
    Some(Confirmed {
        start,
        end,
        confidence,
    })
}

/// The words a password or key follows in config lines and prompts, as people write them:
/// lower case, capitalised, upper case (mixed case such as `PassWord` is not looked for: a
/// case-insensitive search costs ten times as much).
macro_rules! config_keywords {
    () => {
        "password|Password|PASSWORD|passwd|Passwd|PASSWD|pwd|Pwd|PWD|passphrase|Passphrase|PASSPHRASE|secret|Secret|SECRET|client_secret|Client_secret|CLIENT_SECRET|api_key|Api_key|API_KEY|apikey|Apikey|APIKEY|api-key|Api-key|API-KEY|access_token|Access_token|ACCESS_TOKEN|auth_token|Auth_token|AUTH_TOKEN|passwort|Passwort|PASSWORT|kennwort|Kennwort|KENNWORT|mot de passe|Mot de passe|MOT DE PASSE|mdp|Mdp|MDP"
    };
}

/// Words that say a number nearby is an order, a ticket, a version, not a person's.
static NOT_PERSONAL: Phrases = Phrases::new(&[
    "order", "ticket", "invoice", "tracking", "ref", "case", "version", "build", "serial", "sku",
    "part no", "isbn", "bestell", "rechnung", "auftrag", "vorgang", "sendung", "commande",
    "facture", "dossier", "suivi", "colis", "#",
]);

/// Words that name a Steuer-ID, an SSN or ITIN, a NINO.
static TAX_WORDS: Phrases =
    Phrases::new(&["steuer", "idnr", "tax id", "tin", "identifikationsnummer"]);
static SSN_WORDS: Phrases = Phrases::new(&["ssn", "social security", "itin", "taxpayer", "tin"]);
static NINO_WORDS: Phrases = Phrases::new(&["nino", "national insurance", "ni number", "ni no"]);
/// Words that make a dotted quad a version.
static VERSION_WORDS: Phrases = Phrases::new(&["version", "release", "build", "ver.", "v."]);

/// Whether `text` holds a word the recognizers read as context (a phone word, a word naming
/// an identifier or a password, one saying a number is an order or a version): only then can
/// text placed before a value change what is found in it.
pub(crate) fn gives_context(text: &str) -> bool {
    let lower = text.to_lowercase();
    let keywords = config_keywords!().split('|').map(str::to_lowercase);
    [
        &NOT_PERSONAL,
        &PHONE_WORDS,
        &TAX_WORDS,
        &SSN_WORDS,
        &NINO_WORDS,
        &VERSION_WORDS,
    ]
    .iter()
    .any(|words| words.in_text(&lower))
        || keywords.into_iter().any(|k| lower.contains(&k))
        || crate::names::introduced_by(&lower)
}

pub(crate) fn builtin() -> Vec<Recognizer> {
    use EntityType as T;
    use SecretKind as S;
    vec![
        // Secrets first: they win overlaps, and their prefixes make them cheap to find.
        secret(
            S::CloudKey,
            r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)[A-Z0-9]{16}",
            0,
            token,
        ),
        secret(S::CloudKey, r"AIza[0-9A-Za-z_-]{35}", 0, token),
        secret(S::CloudKey, r"ya29\.[0-9A-Za-z_-]{30,}", 0, token),
        secret(
            S::CloudKey,
            r#"(?i)aws_?secret_?access_?key["']?\s{0,8}[:=]\s{0,8}["']?([A-Za-z0-9/+]{40})"#,
            1,
            token,
        ),
        secret(
            S::CloudKey,
            r"AccountKey=([A-Za-z0-9+/]{86}==)",
            1,
            anywhere,
        ),
        secret(S::SourceHostToken, r"gh[pousr]_[A-Za-z0-9]{36,}", 0, token),
        secret(
            S::SourceHostToken,
            r"github_pat_[A-Za-z0-9_]{22,}",
            0,
            token,
        ),
        secret(S::SourceHostToken, r"glpat-[A-Za-z0-9_-]{20,}", 0, token),
        secret(S::SourceHostToken, r"ATBB[A-Za-z0-9_=.-]{28,}", 0, token),
        secret(S::ModelProviderKey, r"sk-ant-[A-Za-z0-9_-]{20,}", 0, token),
        secret(
            S::ModelProviderKey,
            r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
            0,
            token,
        ),
        secret(
            S::ModelProviderKey,
            r"(?:hf_[A-Za-z0-9]{30,}|gsk_[A-Za-z0-9]{40,}|r8_[A-Za-z0-9]{30,}|xai-[A-Za-z0-9]{40,}|pplx-[A-Za-z0-9]{40,})",
            0,
            token,
        ),
        secret(
            S::ModelProviderKey,
            r"tg_(?:gw|adm|dev)_[A-Za-z0-9]{20,}",
            0,
            token,
        ),
        secret(
            S::PaymentKey,
            r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
            0,
            token,
        ),
        secret(S::PaymentKey, r"whsec_[A-Za-z0-9]{24,}", 0, token),
        secret(
            S::PaymentKey,
            r"sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}",
            0,
            token,
        ),
        secret(
            S::PaymentKey,
            r"access_token\$production\$[a-z0-9]{16}\$[a-f0-9]{32}",
            0,
            token,
        ),
        secret(S::ChatBotToken, r"xox[abposr]-[A-Za-z0-9-]{10,}", 0, token),
        secret(
            S::ChatBotToken,
            r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+",
            0,
            anywhere,
        ),
        secret(
            S::ChatBotToken,
            r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_-]+",
            0,
            anywhere,
        ),
        secret(
            S::ChatBotToken,
            r"[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}",
            0,
            token,
        ),
        secret(
            S::ChatBotToken,
            r"[0-9]{8,10}:AA[A-Za-z0-9_-]{33}",
            0,
            token,
        ),
        secret(
            S::Jwt,
            r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
            0,
            token,
        ),
        secret(
            S::PrivateKey,
            // The whole block, to its END line or, when it was cut off, to the end of the text:
            // one match per block, found in one pass (no search per header).
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\z)",
            0,
            anywhere,
        ),
        secret(
            S::Password,
            r"[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@]{1,128}:([^\s@/]{1,128})@",
            1,
            password,
        ),
        secret(
            S::Password,
            concat!(
                "(?:",
                config_keywords!(),
                r#")["']?\s{0,8}(?:[:=]|=>)\s{0,8}["']?([^\s"',;]{6,128})"#
            ),
            1,
            password,
        ),
        r(
            T::Email,
            r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}",
            email,
        ),
        Recognizer {
            numeric: Some(Numeric {
                digits: 2,
                dots: 0,
                window: Window::Lead {
                    letters: 2,
                    space: false,
                    len: 48,
                },
            }),
            ..r(
                T::Iban,
                r"[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}",
                iban,
            )
        },
        number(
            T::CreditCard,
            13,
            0,
            r"[0-9]{4}(?:[ -]?[0-9]{4}){2}[ -]?[0-9]{1,7}|[0-9]{4}[ -]?[0-9]{6}[ -]?[0-9]{4,5}",
            card,
        ),
        number(
            T::FrNir,
            13,
            0,
            r"[1-478] ?[0-9]{2} ?[0-9]{2} ?(?:[0-9]{2}|2[ABab]) ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}",
            nir,
        ),
        number(
            T::DeTaxId,
            11,
            0,
            r"[1-9][0-9](?:[ ./]?[0-9]{3}){3}",
            tax_id,
        ),
        number(
            T::UsSsn,
            9,
            0,
            r"[0-9]{3}[ -][0-9]{2}[ -][0-9]{4}|[0-9]{9}",
            ssn,
        ),
        Recognizer {
            numeric: Some(Numeric {
                digits: 6,
                dots: 0,
                window: Window::Lead {
                    letters: 2,
                    space: true,
                    len: 13,
                },
            }),
            ..r(
                T::UkNino,
                r"[A-Za-z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-Da-d]",
                nino,
            )
        },
        number(
            T::IpAddress,
            4,
            3,
            r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
            ipv4,
        ),
        Recognizer {
            ..r(
                T::IpAddress,
                r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}",
                ipv6,
            )
        },
        number(
            T::Phone,
            8,
            0,
            r"(?:\+|00)[1-9][0-9]{0,2}[ .-]?(?:\(0?[0-9]{1,4}\)[ .-]?)?[0-9]{1,4}(?:[ .-]?[0-9]{2,4}){1,5}",
            phone_international,
        ),
        number(
            T::Phone,
            10,
            0,
            r"\(?[2-9][0-9]{2}\)?[ .-]?[2-9][0-9]{2}[ .-][0-9]{4}",
            phone_nanp,
        ),
        number(T::Phone, 10, 0, r"0[1-9](?:[ .-]?[0-9]{2}){4}", phone_fr),
        number(
            T::Phone,
            9,
            0,
            r"0[1-9][0-9]{1,4}(?:[ /-]|\) ?)?[0-9]{3,8}(?:[ -][0-9]{1,5})?|\(0[1-9][0-9]{1,4}\) ?[0-9]{3,8}",
            phone_national,
        ),
        // Names and addresses (`crate::names`): lexicon and context, no checksum.
        Recognizer {
            own_pass: true,
            ..r(
            T::Person,
            concat!(
                "[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?",
                "(?: (?:(?:von|van|de|du|le|da|di|der|den) )?[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?){1,2}"
            ),
            names::person,
        )
        },
        Recognizer {
            group: 1,
            own_pass: true,
            ..r(
                T::Person,
                r"(?:(?-u:\b)(?:Mr|Mrs|Ms|Dr|Prof|Herr|Frau|Mme|Mlle)\.? |(?-u:\b)M\. )([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?)",
                names::titled,
            )
        },
        Recognizer {
            own_pass: true,
            ..r(
            T::Address,
            concat!(
                r"[0-9]{1,5}[A-Za-z]? (?:[A-Z][a-z]+ ){1,3}(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Lane|Drive|Boulevard|Blvd\.|Way|Place|Court|Terrace|Close|Square)",
                r"(?:,? [A-Z][a-z]+(?: [A-Z][a-z]+){0,2})?(?:,? [A-Z]{1,2}[0-9][0-9A-Z]? ?[0-9][A-Z]{2}|,? [A-Z]{2} [0-9]{5})?"
            ),
            names::address,
        )
        },
        Recognizer {
            own_pass: true,
            ..r(
            T::Address,
            concat!(
                r"(?:[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer)|[A-ZÄÖÜ][a-zäöüß]+ (?:Straße|Strasse|Weg|Platz|Allee)) [0-9]{1,4}[a-z]?",
                r"(?:,? [0-9]{5} [A-ZÄÖÜ][a-zäöüß]+(?:[- ][A-ZÄÖÜ][a-zäöüß]+)?)?"
            ),
            names::address,
        )
        },
        Recognizer {
            own_pass: true,
            ..r(
            T::Address,
            concat!(
                r"[0-9]{1,4}(?: ?(?:bis|ter))?,? (?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai|route|cours) (?:(?:de la|de l'|du|des|de|d') ?)?[A-ZÀ-Ý][a-zà-ÿ'-]+(?: [A-ZÀ-Ý][a-zà-ÿ'-]+)*",
                r"(?:,? [0-9]{5} [A-ZÀ-Ý][a-zà-ÿ-]+(?: [A-ZÀ-Ý][a-zà-ÿ-]+)*)?"
            ),
            names::address,
        )
        },
    ]
}

/// A key-shaped token: nothing glued to either end.
fn token(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let glued =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!glued(before(text, start)) && !glued(at(text, end))).then_some(Confirmed {
        start,
        end,
        confidence: 0.99,
    })
}

/// Unambiguous by its shape wherever it is.
fn anywhere(_text: &str, start: usize, end: usize) -> Option<Confirmed> {
    sure(start, end, 0.99)
}

/// A password value: not a placeholder, a reference to somewhere else, or a plain word of the
/// config language.
fn password(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let value = text.get(start..end)?;
    let lower = value.to_ascii_lowercase();
    let first = value.chars().next()?;
    let placeholder = matches!(first, '<' | '{' | '$' | '%' | '[' | '(' | '*')
        || value.contains("...")
        || value.chars().all(|c| c == first)
        || lower.starts_with("your")
        || lower.contains("os.environ")
        || lower.contains("process.env")
        || lower.contains("getenv")
        || lower.starts_with("env(")
        || [
            "required",
            "optional",
            "string",
            "null",
            "none",
            "true",
            "false",
            "undefined",
            "redacted",
            "hidden",
            "secret",
            "password",
        ]
        .contains(&lower.trim_end_matches(['.', ')', '}']));
    (!placeholder).then_some(Confirmed {
        start,
        end,
        confidence: 0.9,
    })
}

/// File names that look like addresses (`logo@2x.png`).
const FILE_ENDINGS: &[&str] = &["png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js"];

fn email(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    let (local, domain) = s.split_once('@')?;
    let tld = domain.rsplit('.').next()?.to_ascii_lowercase();
    if local.ends_with('.') || local.contains("..") || FILE_ENDINGS.contains(&tld.as_str()) {
        return None;
    }
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '@');
    (!glued(before(text, start)) && !glued(at(text, end))).then_some(Confirmed {
        start,
        end,
        confidence: 0.99,
    })
}

fn iban(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    if before(text, start).is_some_and(|c| c.is_alphanumeric()) {
        return None;
    }
    // The pattern may run into the next word: try each length from the longest, keeping
    // the groups people type (four characters apart, or none).
    let mut ends = Vec::new();
    let mut n = 0;
    for (i, c) in s.char_indices() {
        if c.is_ascii_alphanumeric() {
            n += 1;
            ends.push((n, i + 1));
        }
    }
    ends.iter().rev().find_map(|&(n, e)| {
        let candidate = &s[..e];
        (n >= 15
            && validate::iban_is_valid(&alnum(candidate))
            && !at(text, start + e).is_some_and(|c| c.is_alphanumeric()))
        .then_some(Confirmed {
            start,
            end: start + e,
            confidence: 0.99,
        })
    })
}

fn card(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    let d = digits(s);
    (isolated(text, start, end) && one_separator(s) && validate::card_issuer_known(&d)).then_some(
        Confirmed {
            start,
            end,
            confidence: 0.97,
        },
    )
}

fn nir(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    (isolated(text, start, end) && validate::fr_nir_is_valid(&alnum(s))).then_some(Confirmed {
        start,
        end,
        confidence: 0.97,
    })
}

fn tax_id(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    let ok = isolated(text, start, end)
        && !number_continues(text, start, end)
        && one_separator(s)
        && validate::de_tax_id_is_valid(&digits(s))
        && !preceded_by(text, start, 32, &NOT_PERSONAL);
    ok.then(|| {
        let named = preceded_by(text, start, 48, &TAX_WORDS);
        Confirmed {
            start,
            end,
            confidence: if named { 0.97 } else { 0.85 },
        }
    })
}

fn ssn(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    if !isolated(text, start, end)
        || number_continues(text, start, end)
        || !one_separator(s)
        || !validate::us_ssn_is_valid(&digits(s))
    {
        return None;
    }
    let named = preceded_by(text, start, 48, &SSN_WORDS);
    let separated = s.len() == 11;
    if preceded_by(text, start, 32, &NOT_PERSONAL) && !named {
        return None;
    }
    // Nine digits in a row are anything; with separators or a name they are an SSN.
    (separated || named).then_some(Confirmed {
        start,
        end,
        confidence: if named { 0.97 } else { 0.85 },
    })
}

fn nino(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    let ok = isolated(text, start, end) && validate::uk_nino_is_valid(&alnum(s));
    // Lower case is only taken when named.
    let upper = s.chars().all(|c| !c.is_ascii_lowercase());
    let named = preceded_by(text, start, 48, &NINO_WORDS);
    (ok && (upper || named)).then_some(Confirmed {
        start,
        end,
        confidence: 0.95,
    })
}

fn ipv4(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    let octets: Vec<&str> = s.split('.').collect();
    let valid = octets.len() == 4
        && octets.iter().all(|o| {
            o.parse::<u16>().is_ok_and(|v| v <= 255) && !(o.len() > 1 && o.starts_with('0'))
        });
    // A host in a URL or a connection string (`@10.0.3.17:5432`) counts; a piece of a dotted
    // version or a longer number does not.
    let glued_left =
        before(text, start).is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_');
    let glued_right = at(text, end).is_some_and(|c| c.is_alphanumeric() || c == '_')
        || (at(text, end) == Some('.') && at(text, end + 1).is_some_and(|c| c.is_ascii_digit()));
    if !valid || glued_left || glued_right {
        return None;
    }
    let addr: std::net::Ipv4Addr = s.parse().ok()?;
    let looks_like_version = before(text, start).is_some_and(|c| c == 'v' || c == 'V')
        || preceded_by(text, start, 16, &VERSION_WORDS);
    if addr.is_loopback() || addr.is_unspecified() || addr.octets()[0] == 255 || looks_like_version
    {
        return None;
    }
    sure(start, end, 0.95)
}

fn ipv6(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    let groups = s.split(':').filter(|g| !g.is_empty()).count();
    let addr: std::net::Ipv6Addr = s.parse().ok()?;
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == ':' || c == '.');
    // A full stop ends a sentence; a dot followed by more is an IPv4 tail or a name.
    let glued_right = match at(text, end) {
        Some('.') => at(text, end + 1).is_some_and(|c| c.is_alphanumeric()),
        c => glued(c),
    };
    if groups < 3
        || addr.is_loopback()
        || addr.is_unspecified()
        || glued(before(text, start))
        || glued_right
    {
        return None;
    }
    sure(start, end, 0.95)
}

/// Words that say a number is a phone number.
static PHONE_WORDS: Phrases = Phrases::new(&[
    "phone",
    "tel",
    "call",
    "mobile",
    "cell",
    "fax",
    "whatsapp",
    "sms",
    "reach me",
    "telefon",
    "handy",
    "ruf",
    "mobil",
    "anrufen",
    "téléphone",
    "telephone",
    "portable",
    "appel",
    "joindre",
]);

fn phone_checked(
    text: &str,
    start: usize,
    end: usize,
    min: usize,
    max: usize,
    need_word: bool,
) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    let n = digits(s).len();
    if !(min..=max).contains(&n)
        || !isolated(text, start, end)
        || number_continues(text, start, end)
    {
        return None;
    }
    let named = preceded_by(text, start, 40, &PHONE_WORDS);
    if !named && (need_word || preceded_by(text, start, 32, &NOT_PERSONAL)) {
        return None;
    }
    sure(start, end, if named { 0.95 } else { 0.8 })
}

fn phone_international(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    let d = digits(s).len() - if s.starts_with("00") { 2 } else { 0 };
    // E.164: at most 15 digits; a `+` or `00` is a strong sign already.
    if !(8..=15).contains(&d) {
        return None;
    }
    phone_checked(text, start, end, 8, 17, false)
}

fn phone_nanp(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    let parens = s.starts_with('(') == s.contains(')');
    if !parens || before(text, start) == Some('+') {
        return None;
    }
    phone_checked(text, start, end, 10, 10, false)
}

fn phone_fr(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    if !one_separator(s) {
        return None;
    }
    phone_checked(text, start, end, 10, 10, false)
}

fn phone_national(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    // A run of digits with no separator is only a phone number when named.
    let separated = s.contains([' ', '/', '-', ')']);
    phone_checked(text, start, end, 9, 12, !separated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for r in builtin() {
            assert!(regex::Regex::new(r.pattern).is_ok(), "{}", r.pattern);
        }
    }
}
