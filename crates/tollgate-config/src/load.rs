use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::{ConfigError, Settings};

/// Environment variables starting with this override settings (`TOLLGATE_SERVER__BIND`).
pub const ENV_PREFIX: &str = "TOLLGATE_";

/// Variables with the prefix that are not settings (the CLI reads them itself).
const NOT_SETTINGS: &[&str] = &["TOLLGATE_CONFIG", "TOLLGATE_MOCK_API_KEY"];

/// Seed 001's variable names, read as the settings they name (the `TOLLGATE_` one wins).
const SEED_ALIASES: &[(&str, &str)] = &[
    ("ENABLE_RETENTION_SCHEDULER", "TOLLGATE_RETENTION__ENABLED"),
    (
        "RETENTION_CLEANUP_INTERVAL_HOURS",
        "TOLLGATE_RETENTION__INTERVAL_HOURS",
    ),
];

/// Variables of the test kit and benchmarks, never settings.
const TEST_PREFIX: &str = "TOLLGATE_TEST_";

/// Where the settings file comes from.
#[derive(Clone, Debug)]
pub enum ConfigSource {
    /// No file: defaults and environment only.
    None,
    /// Read the file if it exists (the default `tollgate.toml`).
    IfPresent(PathBuf),
    /// The file must exist (given with `--config`).
    Required(PathBuf),
}

/// Loads the settings: defaults, then the file, then `TOLLGATE_*` variables from `env`.
pub fn load(
    file: &ConfigSource,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let defaults = defaults_table();
    let mut merged = Table::new();
    let mut origins: BTreeMap<String, String> = BTreeMap::new();

    if let Some((path, table)) = read_file(file)? {
        let origin = path.display().to_string();
        for key in leaf_paths(&table, "") {
            origins.insert(key, origin.clone());
        }
        merge(&mut merged, table);
    }

    let env: Vec<(String, String)> = env.into_iter().collect();
    // (variable, the setting's variable name, value)
    let mut vars: Vec<(String, String, String)> = env
        .iter()
        .filter(|(k, _)| {
            k.starts_with(ENV_PREFIX)
                && !k.starts_with(TEST_PREFIX)
                && !NOT_SETTINGS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), k.clone(), v.clone()))
        .collect();
    for (alias, name) in SEED_ALIASES {
        if let Some((_, raw)) = env.iter().find(|(k, _)| k == alias) {
            if !env.iter().any(|(k, _)| k == name) {
                vars.push((alias.to_string(), name.to_string(), raw.clone()));
            }
        }
    }
    vars.sort_by(|a, b| a.1.cmp(&b.1));
    for (variable, name, raw) in vars {
        let path: Vec<String> = name[ENV_PREFIX.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        let key = path.join(".");
        let template = provider_template(&path);
        let Some(default) = lookup(&defaults, &path).or(template.as_ref()) else {
            return Err(ConfigError::UnknownEnvKey { variable, key });
        };
        let value = env_value(default, &raw).map_err(|message| ConfigError::Invalid {
            key: key.clone(),
            source_name: format!("environment variable {variable}"),
            message,
        })?;
        insert(&mut merged, &path, value);
        origins.insert(key, format!("environment variable {variable}"));
    }

    let origin_of = |key: &str| {
        origins
            .get(key)
            .cloned()
            .unwrap_or_else(|| "defaults".to_string())
    };
    keep_the_mock(&mut merged);
    let settings: Settings =
        serde_path_to_error::deserialize(Value::Table(merged)).map_err(|err| {
            // The TOML deserializer appends "in `section`"; the key path already says where.
            let inner = err.inner().to_string();
            let message = inner.lines().next().unwrap_or_default().to_string();
            let key = error_key(err.path().to_string(), &message);
            ConfigError::Invalid {
                source_name: origin_of(&key),
                message,
                key,
            }
        })?;
    settings
        .check()
        .map_err(|(key, message)| ConfigError::Invalid {
            source_name: origin_of(&key),
            key,
            message,
        })?;
    Ok(settings)
}

fn read_file(file: &ConfigSource) -> Result<Option<(PathBuf, Table)>, ConfigError> {
    let path: &Path = match file {
        ConfigSource::None => return Ok(None),
        ConfigSource::IfPresent(p) if !p.exists() => return Ok(None),
        ConfigSource::IfPresent(p) | ConfigSource::Required(p) => p,
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let table = text.parse::<Table>().map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string().trim().to_string(),
    })?;
    Ok(Some((path.to_path_buf(), table)))
}

fn defaults_table() -> Table {
    match Value::try_from(Settings::default()) {
        Ok(Value::Table(t)) => t,
        _ => Table::new(),
    }
}

/// The dotted key an error is about: serde reports an unknown field at its parent's path.
fn error_key(path: String, message: &str) -> String {
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match unknown {
        Some(field) if path == "." || path.is_empty() => field.to_string(),
        Some(field) if !path.ends_with(field) => format!("{path}.{field}"),
        _ => path,
    }
}

/// Parses an environment value into the shape the default value has.
fn env_value(default: &Value, raw: &str) -> Result<Value, String> {
    match default {
        Value::String(_) => Ok(Value::String(raw.to_string())),
        Value::Integer(_) => raw
            .trim()
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("expected a whole number, got `{raw}`")),
        Value::Float(_) => raw
            .trim()
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|_| format!("expected a number, got `{raw}`")),
        Value::Boolean(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Boolean(false)),
            _ => Err(format!("expected true or false, got `{raw}`")),
        },
        Value::Array(_) => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        )),
        Value::Table(_) => Err("this is a section; set one of its keys instead".to_string()),
        Value::Datetime(_) => Ok(Value::String(raw.to_string())),
    }
}

/// The built-in mock stays available whatever providers the file adds, and `[providers.mock]`
/// tunes it without having to say `kind = "mock"`.
fn keep_the_mock(merged: &mut Table) {
    let providers = merged
        .entry("providers")
        .or_insert_with(|| Value::Table(Table::new()));
    if let Value::Table(providers) = providers {
        let mock = providers
            .entry("mock")
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(mock) = mock {
            mock.entry("kind")
                .or_insert_with(|| Value::String("mock".to_string()));
        }
    }
}

/// The shape of `providers.NAME.FIELD` for a provider the defaults do not have, so a provider
/// defined in the file (or by the environment alone) takes its key from the environment.
fn provider_template(path: &[String]) -> Option<Value> {
    let [section, _name, field] = path else {
        return None;
    };
    if section != "providers" {
        return None;
    }
    match Value::try_from(crate::ProviderSettings::default()) {
        Ok(Value::Table(t)) => t.get(field).cloned(),
        _ => None,
    }
}

fn lookup<'a>(table: &'a Table, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = table.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Value::Table(t) => lookup(t, rest),
        _ => None,
    }
}

fn insert(table: &mut Table, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return;
    }
    let entry = table
        .entry(first.clone())
        .or_insert_with(|| Value::Table(Table::new()));
    if !entry.is_table() {
        *entry = Value::Table(Table::new());
    }
    if let Value::Table(inner) = entry {
        insert(inner, rest, value);
    }
}

fn merge(into: &mut Table, from: Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(incoming)) => merge(existing, incoming),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

fn leaf_paths(table: &Table, prefix: &str) -> Vec<String> {
    table
        .iter()
        .flat_map(|(key, value)| {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                Value::Table(t) => leaf_paths(t, &path),
                _ => vec![path],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
