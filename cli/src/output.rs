//! Output: receipts and values as human text or JSON, and stdout that may be closed.
//!
//! All of stdout goes through [`write_out`] (the `outln!`/`out!` macros). When the reader
//! goes away (`keel ... | head -1`), the write fails with a broken pipe: from then on output
//! is dropped, long commands stop early, and `keel` exits quietly with [`BROKEN_PIPE`], the
//! status a shell reports for a process ended by SIGPIPE.

use std::io::Write;
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;

use keel_chain::Outcome;
use keel_engine::Status;

/// Exit status when stdout was closed: 128 + SIGPIPE (13).
pub const BROKEN_PIPE: u8 = 141;

/// The first failed write to stdout: its kind and message.
static STDOUT_FAILED: OnceLock<(std::io::ErrorKind, String)> = OnceLock::new();

/// Writes to stdout; after a failed write (a closed pipe, a full disk) later output is
/// dropped, and [`stdout_failure`] tells what happened.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    if STDOUT_FAILED.get().is_some() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        let _ = STDOUT_FAILED.set((e.kind(), e.to_string()));
    }
}

/// Whether writing to stdout has failed (output is being dropped).
pub fn stdout_closed() -> bool {
    STDOUT_FAILED.get().is_some()
}

/// Why writing to stdout failed: `None` if it has not, or if its reader closed it (a broken
/// pipe, which is not an error); else the message.
pub fn stdout_failure() -> Option<Option<String>> {
    STDOUT_FAILED
        .get()
        .map(|(kind, msg)| (*kind != std::io::ErrorKind::BrokenPipe).then(|| msg.clone()))
}

/// Writes one line to stderr, ignoring failures (there is nowhere else to report them).
pub fn warn(line: &str) {
    let _ = writeln!(std::io::stderr(), "warning: {line}");
}

/// `println!` through [`write_out`].
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` through [`write_out`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!($($arg)*))
    };
}

/// Hex with a `0x` prefix.
pub fn hx(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// An event, for output.
#[derive(Debug, Serialize)]
pub struct EventView {
    /// The emitting contract (hex).
    pub emitter: String,
    /// Topics (hex).
    pub topics: Vec<String>,
    /// The event name, if the first topic looks like a keel-sdk name topic.
    pub name: Option<String>,
    /// Data (hex).
    pub data: String,
}

/// A receipt, for output.
#[derive(Debug, Serialize)]
pub struct ReceiptView {
    /// What ran.
    pub label: String,
    /// `success`, `reverted`, `out_of_gas`, `trapped` or `invalid`.
    pub status: String,
    /// The revert message, trap or rejection reason.
    pub message: Option<String>,
    /// The raw revert data (hex), if it reverted: decode typed errors from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revert_data: Option<String>,
    /// Gas charged.
    pub gas_used: u64,
    /// Return data (hex).
    pub return_data: String,
    /// Return data decoded with `--decode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<String>,
    /// Events.
    pub events: Vec<EventView>,
    /// debug_log messages.
    pub logs: Vec<String>,
}

/// The name in an sdk-style name topic: printable ASCII, zero-padded.
fn topic_name(t: &[u8; 32]) -> Option<String> {
    let end = t.iter().position(|&b| b == 0).unwrap_or(32);
    if end == 0 || t[end..].iter().any(|&b| b != 0) {
        return None;
    }
    let s = std::str::from_utf8(&t[..end]).ok()?;
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then(|| s.to_string())
}

/// The status's short name and its detail.
pub fn status_parts(s: &Status) -> (String, Option<String>) {
    match s {
        Status::Success => ("success".into(), None),
        Status::Reverted(m) => ("reverted".into(), Some(keel_chain::revert_text(m))),
        Status::OutOfGas => ("out_of_gas".into(), None),
        Status::Trapped(t) => ("trapped".into(), Some(format!("{t:?}"))),
        Status::Invalid(i) => ("invalid".into(), Some(format!("{i:?}"))),
    }
}

impl ReceiptView {
    /// From an outcome, decoding return data with `decode` if given.
    pub fn new(o: &Outcome, decode: Option<&str>) -> Self {
        let (status, message) = status_parts(o.status());
        let decoded = match decode {
            Some(types) if o.is_success() => Some(
                crate::args::decode_value(types, o.return_data())
                    .unwrap_or_else(|e| format!("(does not decode: {e})")),
            ),
            _ => None,
        };
        ReceiptView {
            label: o.label.clone(),
            status,
            message,
            revert_data: o.revert_data().map(hx),
            gas_used: o.gas_used(),
            return_data: hx(o.return_data()),
            decoded,
            events: o
                .events()
                .iter()
                .map(|e| EventView {
                    emitter: hx(&e.contract),
                    topics: e.topics.iter().map(|t| hx(t)).collect(),
                    name: e.topics.first().and_then(topic_name),
                    data: hx(&e.data),
                })
                .collect(),
            logs: o.logs(),
        }
    }

    /// As JSON.
    pub fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// As human text, indented by `indent` spaces.
    pub fn human(&self, indent: usize) -> String {
        let p = " ".repeat(indent);
        let mut s = String::new();
        let status = match &self.message {
            Some(m) => format!("{} ({m})", self.status),
            None => self.status.clone(),
        };
        s.push_str(&format!("{p}{}: {status}\n", self.label));
        s.push_str(&format!("{p}  gas used:    {}\n", self.gas_used));
        if self.return_data != "0x" {
            s.push_str(&format!("{p}  return data: {}\n", self.return_data));
        }
        if let Some(d) = &self.decoded {
            s.push_str(&format!("{p}  decoded:     {d}\n"));
        }
        for e in &self.events {
            let name = e.name.clone().unwrap_or_else(|| "event".into());
            let topics = e.topics.iter().skip(usize::from(e.name.is_some()));
            let topics: Vec<&str> = topics.map(String::as_str).collect();
            s.push_str(&format!(
                "{p}  event {name} from {} topics=[{}] data={}\n",
                e.emitter,
                topics.join(", "),
                e.data
            ));
        }
        for l in &self.logs {
            s.push_str(&format!("{p}  log: {l}\n"));
        }
        s
    }
}

/// Prints a JSON value on stdout.
pub fn print_json(v: &Value) {
    crate::outln!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        let mut t = [0u8; 32];
        t[..8].copy_from_slice(b"Transfer");
        assert_eq!(topic_name(&t).as_deref(), Some("Transfer"));
        assert_eq!(topic_name(&[0u8; 32]), None);
        assert_eq!(topic_name(&[7u8; 32]), None);
    }
}
