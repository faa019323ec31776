//! The testkit's error type.

use std::fmt;

use crate::Outcome;

/// Why a [`crate::TestChain`] operation failed.
///
/// A contract that reverts, traps or runs out of gas in [`crate::TestChain::call`] is *not* an
/// error: it is an [`Outcome`] with that status. Errors are for things a test cannot go on
/// after: the store failed, a deploy or query did not succeed, a result did not decode.
pub enum Error {
    /// The engine returned an error (the store failed underneath it).
    Engine(String),
    /// The state store failed.
    State(keel_state::StateError),
    /// An I/O failure (temporary directories, snapshots).
    Io(std::io::Error),
    /// A transaction that had to succeed (deploy, instantiate, query) did not.
    Failed {
        /// What was attempted.
        what: String,
        /// Its outcome, with the status, logs and revert message.
        outcome: Box<Outcome>,
    },
    /// Return data or a storage value did not decode as the requested type.
    Decode(String),
    /// No example contract with that name is built into keel-contracts.
    UnknownExample(String),
    /// A snapshot taken from another store kind.
    SnapshotMismatch,
    /// Building a contract crate to wasm failed ([`crate::build_wasm`]), with cargo's errors.
    Build(String),
    /// A block's clock would go backwards ([`crate::TestChain::set_timestamp`] before the last
    /// block's timestamp).
    Clock(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Engine(e) => write!(f, "engine error: {e}"),
            Error::State(e) => write!(f, "state error: {e}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Failed { what, outcome } => {
                write!(f, "{what} failed: {}", outcome.status_text())?;
                for log in outcome.logs() {
                    write!(f, "\n  log: {log}")?;
                }
                Ok(())
            }
            Error::Decode(e) => write!(f, "cannot decode: {e}"),
            Error::UnknownExample(n) => write!(f, "no example contract named {n:?}"),
            Error::SnapshotMismatch => f.write_str("snapshot was taken from another kind of store"),
            Error::Build(e) => write!(f, "contract build failed: {e}"),
            Error::Clock(e) => f.write_str(e),
        }
    }
}

/// `Debug` is the readable message too, so that `.unwrap()` in a test prints the status, the
/// revert message and the logs rather than raw bytes.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

impl From<keel_state::StateError> for Error {
    fn from(e: keel_state::StateError) -> Self {
        Error::State(e)
    }
}

impl From<keel_chain::Error> for Error {
    fn from(e: keel_chain::Error) -> Self {
        match e {
            keel_chain::Error::Engine(e) => Error::Engine(e),
            keel_chain::Error::State(e) => Error::State(e),
            keel_chain::Error::Decode(e) => Error::Decode(e),
            keel_chain::Error::Clock(e) => Error::Clock(e),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<parity_scale_codec::Error> for Error {
    fn from(e: parity_scale_codec::Error) -> Self {
        Error::Decode(e.to_string())
    }
}
