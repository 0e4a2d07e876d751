use std::path::PathBuf;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named with `--config` does not exist or cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said, with line and column.
        message: String,
    },
    /// An environment variable names a key that does not exist.
    #[error(
        "{variable} names the unknown key `{key}`; known keys are listed by `tollgate config show`"
    )]
    UnknownEnvKey {
        /// The variable.
        variable: String,
        /// The key path it maps to.
        key: String,
    },
    /// A key is unknown or its value has the wrong form.
    #[error("invalid setting `{key}` (from {source_name}): {message}")]
    Invalid {
        /// Dotted key path, e.g. `server.bind`.
        key: String,
        /// Where the value came from: the file or the environment variable.
        source_name: String,
        /// What was expected.
        message: String,
    },
}
