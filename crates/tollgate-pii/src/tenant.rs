//! A tenant's firewall configuration (seed 001 `firewall_configs`): the AI tools its devices
//! watch, its risk thresholds, its own patterns and keyword lists, and how long events are
//! kept. [`FirewallConfig::from_json`] checks everything a client can get wrong and names the
//! field; [`FirewallConfig::scanner`] compiles the patterns once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::risk::Thresholds;
use crate::scan::{PatternError, Scanner};

/// Retention bounds of seed 001, in days.
pub const RETENTION_DAYS: std::ops::RangeInclusive<u16> = 30..=365;
/// Seed 001's default retention.
pub const DEFAULT_RETENTION_DAYS: u16 = 90;

const MAX_TOOLS: usize = 200;
const MAX_DOMAINS: usize = 50;
const MAX_PATTERNS: usize = 100;
const MAX_REGEX_BYTES: usize = 2_000;
const MAX_KEYWORDS: usize = 1_000;
const MAX_NAME: usize = 100;

/// An AI tool devices watch (`{"name": "ChatGPT", "domains": ["chatgpt.com"], "enabled": true}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoredTool {
    /// What people call it.
    pub name: String,
    /// Where it is used (host names; a device matches them and their subdomains).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Whether devices watch it now.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// A tenant's own pattern (`regex`) or keyword list (`keywords`): findings of type `CUSTOM`
/// labelled with `name`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    /// Its label in findings, e.g. `project_code`.
    pub name: String,
    /// A regular expression (Rust `regex` syntax: no look-around or back-references, so
    /// matching stays linear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Whole words matched in any case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
}

/// The configuration, checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FirewallConfig {
    /// Tools devices watch.
    pub monitored_tools: Vec<MonitoredTool>,
    /// How findings become green, amber or red.
    pub sensitivity_thresholds: Thresholds,
    /// The tenant's patterns and keyword lists.
    pub custom_patterns: Vec<CustomPattern>,
    /// Days AI-use events are kept.
    pub log_retention_days: u16,
}

impl Default for FirewallConfig {
    fn default() -> Self {
        Self {
            monitored_tools: Vec::new(),
            sensitivity_thresholds: Thresholds::default(),
            custom_patterns: Vec::new(),
            log_retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

/// What is wrong with one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// Where, e.g. `custom_patterns[2].regex`.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

fn error(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

/// Fields [`FirewallConfig::from_json`] takes.
const FIELDS: [&str; 4] = [
    "monitored_tools",
    "sensitivity_thresholds",
    "custom_patterns",
    "log_retention_days",
];

impl FirewallConfig {
    /// Reads and checks a configuration object; a field left out keeps its default. Every
    /// problem is reported, each with its field, and nothing is accepted unless all is well
    /// (the patterns compile, none matches empty text).
    pub fn from_json(value: &Value) -> Result<Self, Vec<ConfigError>> {
        Self::compile(value).map(|(config, _)| config)
    }

    /// [`FirewallConfig::from_json`], also returning the detector it compiled on the way.
    pub fn compile(value: &Value) -> Result<(Self, Scanner), Vec<ConfigError>> {
        let Some(object) = value.as_object() else {
            return Err(vec![error("", "send a JSON object")]);
        };
        let mut errors: Vec<ConfigError> = object
            .keys()
            .filter(|k| !FIELDS.contains(&k.as_str()))
            .map(|k| {
                error(
                    k.as_str(),
                    format!("unknown field; the fields are {}", FIELDS.join(", ")),
                )
            })
            .collect();
        let mut config = FirewallConfig::default();
        if let Some(v) = object.get("monitored_tools") {
            match Vec::<MonitoredTool>::deserialize(v) {
                Ok(tools) => config.monitored_tools = tools,
                Err(e) => errors.push(error("monitored_tools", e.to_string())),
            }
        }
        if let Some(v) = object.get("sensitivity_thresholds") {
            match Thresholds::deserialize(v) {
                Ok(t) => config.sensitivity_thresholds = t,
                Err(e) => errors.push(error("sensitivity_thresholds", e.to_string())),
            }
        }
        if let Some(v) = object.get("custom_patterns") {
            match Vec::<CustomPattern>::deserialize(v) {
                Ok(p) => config.custom_patterns = p,
                Err(e) => errors.push(error("custom_patterns", e.to_string())),
            }
        }
        if let Some(v) = object.get("log_retention_days") {
            match v.as_u64().and_then(|d| u16::try_from(d).ok()) {
                Some(d) if RETENTION_DAYS.contains(&d) => config.log_retention_days = d,
                _ => errors.push(error(
                    "log_retention_days",
                    format!(
                        "must be a whole number of days from {} to {}",
                        RETENTION_DAYS.start(),
                        RETENTION_DAYS.end()
                    ),
                )),
            }
        }
        if errors.is_empty() {
            errors = config.problems();
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // A pattern the compiler refuses is a field error too.
        match config.scanner() {
            Ok(scanner) => Ok((config, scanner)),
            Err(e) => Err(vec![pattern_error(&config, e)]),
        }
    }

    /// The checks serde cannot make.
    fn problems(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.monitored_tools.len() > MAX_TOOLS {
            errors.push(error(
                "monitored_tools",
                format!("at most {MAX_TOOLS} tools"),
            ));
        }
        for (i, tool) in self.monitored_tools.iter().enumerate() {
            if let Some(why) = bad_name(&tool.name) {
                errors.push(error(format!("monitored_tools[{i}].name"), why));
            }
            if tool.domains.len() > MAX_DOMAINS {
                errors.push(error(
                    format!("monitored_tools[{i}].domains"),
                    format!("at most {MAX_DOMAINS} domains per tool"),
                ));
            }
            for (j, domain) in tool.domains.iter().enumerate() {
                if !is_host_name(domain) {
                    errors.push(error(
                        format!("monitored_tools[{i}].domains[{j}]"),
                        "must be a host name such as chatgpt.com (letters, digits, dots and dashes; no scheme or path)",
                    ));
                }
            }
        }
        let t = &self.sensitivity_thresholds;
        if t.amber == 0 {
            errors.push(error(
                "sensitivity_thresholds.amber",
                "must be at least 1 (the number of findings that make a text amber)",
            ));
        }
        if t.red != 0 && t.red < t.amber {
            errors.push(error(
                "sensitivity_thresholds.red",
                "must be 0 (off) or at least sensitivity_thresholds.amber",
            ));
        }
        if self.custom_patterns.len() > MAX_PATTERNS {
            errors.push(error(
                "custom_patterns",
                format!("at most {MAX_PATTERNS} patterns"),
            ));
        }
        for (i, p) in self.custom_patterns.iter().enumerate() {
            let at = |f: &str| format!("custom_patterns[{i}].{f}");
            if !is_label(&p.name) {
                errors.push(error(
                    at("name"),
                    "must be 1 to 64 letters, digits, `_`, `-` or `.` (it labels findings)",
                ));
            } else if self.custom_patterns[..i].iter().any(|q| q.name == p.name) {
                errors.push(error(at("name"), "is used by an earlier pattern"));
            }
            match (&p.regex, &p.keywords) {
                (Some(regex), None) if regex.len() > MAX_REGEX_BYTES => errors.push(error(
                    at("regex"),
                    format!("is longer than {MAX_REGEX_BYTES} bytes"),
                )),
                (Some(_), None) => {}
                (None, Some(words)) if words.len() > MAX_KEYWORDS => errors.push(error(
                    at("keywords"),
                    format!("at most {MAX_KEYWORDS} keywords per list"),
                )),
                (None, Some(words)) => {
                    if words.iter().all(|w| w.trim().is_empty()) {
                        errors.push(error(at("keywords"), "holds no keyword"));
                    }
                    if let Some(j) = words.iter().position(|w| w.chars().count() > MAX_NAME) {
                        errors.push(error(
                            format!("custom_patterns[{i}].keywords[{j}]"),
                            format!("is longer than {MAX_NAME} characters"),
                        ));
                    }
                }
                _ => errors.push(error(
                    format!("custom_patterns[{i}]"),
                    "give either `regex` or `keywords`, not both or neither",
                )),
            }
        }
        errors
    }

    /// The detector with this tenant's patterns and keyword lists.
    pub fn scanner(&self) -> Result<Scanner, PatternError> {
        let mut builder = Scanner::builder();
        for p in &self.custom_patterns {
            builder = match (&p.regex, &p.keywords) {
                (Some(regex), _) => builder.pattern(&p.name, regex)?,
                (None, Some(words)) => {
                    let words: Vec<&str> = words.iter().map(String::as_str).collect();
                    builder.keywords(&p.name, &words)?
                }
                (None, None) => builder,
            };
        }
        builder.build()
    }
}

/// The field a compile error belongs to.
fn pattern_error(config: &FirewallConfig, e: PatternError) -> ConfigError {
    let name = match &e {
        PatternError::Invalid { name, .. }
        | PatternError::MatchesEmpty { name }
        | PatternError::NoKeywords { name } => name,
    };
    let field = match config.custom_patterns.iter().position(|p| &p.name == name) {
        Some(i) if config.custom_patterns[i].regex.is_some() => {
            format!("custom_patterns[{i}].regex")
        }
        Some(i) => format!("custom_patterns[{i}].keywords"),
        None => "custom_patterns".to_string(),
    };
    error(field, e.to_string())
}

fn bad_name(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("must not be empty")
    } else if name.chars().count() > MAX_NAME {
        Some("is longer than 100 characters")
    } else if name.chars().any(char::is_control) {
        Some("must not hold control characters")
    } else {
        None
    }
}

fn is_label(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn is_host_name(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    (1..=253).contains(&host.len())
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Vec<String> {
        FirewallConfig::from_json(&v)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn an_empty_object_is_the_defaults() {
        assert_eq!(
            FirewallConfig::from_json(&json!({})).unwrap(),
            FirewallConfig::default()
        );
    }

    #[test]
    fn a_full_config_is_read_and_its_patterns_find() {
        let config = FirewallConfig::from_json(&json!({
            "monitored_tools": [{"name": "ChatGPT", "domains": ["chatgpt.com"]}],
            "sensitivity_thresholds": {"amber": 1, "red": 2, "red_types": ["SECRET", "IBAN"]},
            "custom_patterns": [
                {"name": "project", "regex": "PRJ-[0-9]{4}"},
                {"name": "codenames", "keywords": ["Bluebird", "Nightjar"]}
            ],
            "log_retention_days": 30
        }))
        .unwrap();
        assert!(config.monitored_tools[0].enabled);
        let found = config.scanner().unwrap().scan("PRJ-1234 is bluebird");
        let labels: Vec<_> = found.iter().filter_map(|f| f.label.as_deref()).collect();
        assert_eq!(labels, ["project", "codenames"]);
    }

    #[test]
    fn every_problem_is_named_with_its_field() {
        assert_eq!(
            fields(json!({"log_retention_days": 7, "colour": "red", "monitored_tools": 3})),
            ["colour", "monitored_tools", "log_retention_days"]
        );
        assert_eq!(
            fields(json!({
                "monitored_tools": [{"name": ""}, {"name": "x", "domains": ["https://x.com/"]}],
                "sensitivity_thresholds": {"amber": 3, "red": 2},
                "custom_patterns": [
                    {"name": "a b", "regex": "x"},
                    {"name": "k", "keywords": [" "]},
                    {"name": "both", "regex": "x", "keywords": ["y"]}
                ]
            })),
            [
                "monitored_tools[0].name",
                "monitored_tools[1].domains[0]",
                "sensitivity_thresholds.red",
                "custom_patterns[0].name",
                "custom_patterns[1].keywords",
                "custom_patterns[2]"
            ]
        );
    }

    #[test]
    fn a_pattern_that_does_not_compile_or_matches_empty_text_is_refused() {
        let errors = FirewallConfig::from_json(&json!({
            "custom_patterns": [{"name": "ok", "regex": "a+"}, {"name": "bad", "regex": "(unclosed"}]
        }))
        .unwrap_err();
        assert_eq!(errors[0].field, "custom_patterns[1].regex");
        assert!(errors[0].message.contains("not a valid regular expression"));
        assert_eq!(
            fields(json!({"custom_patterns": [{"name": "empty", "regex": "x*"}]})),
            ["custom_patterns[0].regex"]
        );
        assert_eq!(
            fields(json!({"custom_patterns": [{"name": "look", "regex": "(?=x)"}]})),
            ["custom_patterns[0].regex"]
        );
    }

    #[test]
    fn an_unknown_type_in_red_types_is_refused() {
        assert_eq!(
            fields(json!({"sensitivity_thresholds": {"red_types": ["PASSPORT"]}})),
            ["sensitivity_thresholds"]
        );
    }
}
