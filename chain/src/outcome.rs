//! [`Outcome`]: a receipt with the label of what ran, and readable accessors.

use keel_engine::{Event, Receipt, Status};
use parity_scale_codec::Decode;

use crate::Error;

/// The result of one transaction: the engine's [`Receipt`], unchanged, plus what was run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The engine's receipt.
    pub receipt: Receipt,
    /// What was run: `"contract.method"`, `"deploy"` or `"instantiate"`.
    pub label: String,
}

impl Outcome {
    /// The receipt's status.
    pub fn status(&self) -> &Status {
        &self.receipt.status
    }

    /// Whether the transaction succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self.receipt.status, Status::Success)
    }

    /// Gas charged.
    pub fn gas_used(&self) -> u64 {
        self.receipt.gas_used
    }

    /// The raw return data.
    pub fn return_data(&self) -> &[u8] {
        &self.receipt.return_data
    }

    /// The return data decoded as `T` (every byte must be used).
    pub fn decode<T: Decode>(&self) -> Result<T, Error> {
        decode_all(&self.receipt.return_data)
    }

    /// The events emitted (none if the transaction failed: they were rolled back).
    pub fn events(&self) -> &[Event] {
        &self.receipt.events
    }

    /// The `debug_log` messages, in order.
    pub fn logs(&self) -> Vec<String> {
        self.receipt.logs.clone()
    }

    /// The revert message as text ([`revert_text`]), if the transaction reverted.
    ///
    /// Contracts revert with raw UTF-8 (`revert_str`, a panic message) or with a SCALE-encoded
    /// error (a method returning `Err(e)`).
    pub fn revert_message(&self) -> Option<String> {
        match &self.receipt.status {
            Status::Reverted(msg) => Some(revert_text(msg)),
            _ => None,
        }
    }

    /// The raw revert bytes, if the transaction reverted (decode a typed error from them).
    pub fn revert_data(&self) -> Option<&[u8]> {
        match &self.receipt.status {
            Status::Reverted(msg) => Some(msg),
            _ => None,
        }
    }

    /// A one-line description of the status, with the revert message if any.
    pub fn status_text(&self) -> String {
        match &self.receipt.status {
            Status::Success => "success".to_string(),
            Status::Reverted(msg) => format!("reverted: {}", revert_text(msg)),
            other => format!("{other:?}"),
        }
    }
}

/// Decodes `bytes` as `T`, requiring every byte to be used; the error shows the bytes.
pub fn decode_all<T: Decode>(bytes: &[u8]) -> Result<T, Error> {
    let mut input = bytes;
    let v = T::decode(&mut input)
        .map_err(|e| Error::Decode(format!("{e} (data 0x{})", crate::hex_encode(bytes))))?;
    if !input.is_empty() {
        return Err(Error::Decode(format!(
            "{} bytes left over (data 0x{})",
            input.len(),
            crate::hex_encode(bytes)
        )));
    }
    Ok(v)
}

/// A revert message as text: one exact SCALE string if it is one; the text if the bytes are
/// printable UTF-8; otherwise `0x` and the hex of the bytes (a SCALE-encoded typed error,
/// e.g. `0x02` for the third variant of an error enum).
pub fn revert_text(msg: &[u8]) -> String {
    let printable = |s: &str| !s.is_empty() && s.chars().all(|c| !c.is_control() || c == '\n');
    let mut input = msg;
    if let Ok(s) = String::decode(&mut input)
        && input.is_empty()
        && printable(&s)
    {
        return s;
    }
    match std::str::from_utf8(msg) {
        Ok(s) if printable(s) => s.to_string(),
        _ => format!("0x{}", crate::hex_encode(msg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::Encode;

    #[test]
    fn revert_texts() {
        assert_eq!(
            revert_text(b"panicked at x.rs:1:1: boom"),
            "panicked at x.rs:1:1: boom"
        );
        assert_eq!(revert_text(&"typed".to_string().encode()), "typed");
        assert_eq!(revert_text(&[2]), "0x02");
        assert_eq!(revert_text(&[]), "0x");
    }
}
