//! The chain's error type.

/// Why a chain operation failed. A contract that reverts, traps or runs out of gas is not an
/// error: it is an [`crate::Outcome`] with that status.
#[derive(Debug)]
pub enum Error {
    /// The engine failed (the store failed underneath it, or an engine invariant broke).
    Engine(String),
    /// The state store failed.
    State(keel_state::StateError),
    /// Bytes did not decode as the requested type.
    Decode(String),
    /// A block's clock would go backwards (an explicit timestamp before the last block's).
    Clock(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Engine(e) => write!(f, "engine error: {e}"),
            Error::State(e) => write!(f, "state error: {e}"),
            Error::Decode(e) => write!(f, "cannot decode: {e}"),
            Error::Clock(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<keel_state::StateError> for Error {
    fn from(e: keel_state::StateError) -> Self {
        Error::State(e)
    }
}

impl From<keel_engine::EngineError> for Error {
    fn from(e: keel_engine::EngineError) -> Self {
        match e {
            keel_engine::EngineError::State(s) => Error::State(s),
            other => Error::Engine(other.to_string()),
        }
    }
}
