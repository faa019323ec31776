//! [`EngineError`]: the engine's one error type. Contract failures are never errors.

/// A failure of the node's store or a misuse of the engine. Contract traps, reverts and
/// out-of-gas are receipt statuses, never this.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The state store failed (I/O, corruption).
    #[error("state store failed: {0}")]
    State(#[from] keel_state::StateError),
    /// An engine invariant was broken (a bug, or state written by something else).
    #[error("engine invariant broken: {0}")]
    Internal(String),
}
