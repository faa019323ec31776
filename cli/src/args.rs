//! The human-typeable argument syntax for method arguments, and its SCALE encoding.
//!
//! Each argument is one shell word, `TYPE:VALUE`. The arguments of a call are encoded one
//! after the other, so several words form a tuple ("tuples by juxtaposition"):
//! `u64:5 bool:true` encodes exactly like the Rust value `(5u64, true)`.
//!
//! | syntax | Rust type | encoding |
//! |---|---|---|
//! | `u8:7`, `u16:7`, `u32:7`, `u64:7`, `u128:7` | unsigned integers | little-endian, fixed width |
//! | `i8:-7` ... `i128:-7` | signed integers | little-endian two's complement |
//! | `bool:true`, `bool:false` | `bool` | one byte |
//! | `str:hello` | `String` | compact length, UTF-8 bytes |
//! | `bytes:0xabcd` | `Vec<u8>` | compact length, bytes |
//! | `addr:0x<64 hex>`, `addr:@alice` | `[u8; 32]` | 32 raw bytes (`@name` = a named account) |
//! | `[u8;N]:0x<2N hex>` | `[u8; N]` | N raw bytes, no length |
//! | `raw:0xabcd` | - | the bytes as they are (no length prefix) |
//! | `text:balance` | - | the UTF-8 bytes as they are (no length prefix) |
//! | `compact:5` | `Compact<u128>` | SCALE compact |
//!
//! Integers accept `_` separators (`u128:1_000_000`) and a `0x` hex form.
//! Return values are decoded with the same type names (see [`decode_value`]).

use parity_scale_codec::{Compact, Decode, Encode};

/// The address of a named account: `blake3("keel.account:" ‖ name)`, the rule shared with
/// `keel-testkit` so that `@alice` is the same account in tests and on the command line.
pub fn named_account(name: &str) -> [u8; 32] {
    keel_chain::account(name)
}

/// Parses an address: `0x<64 hex>`, `<64 hex>`, or `@name` (a named account).
pub fn parse_address(s: &str) -> Result<[u8; 32], String> {
    let s = s.trim();
    if let Some(name) = s.strip_prefix('@') {
        if name.is_empty() {
            return Err("empty account name after '@'".into());
        }
        return Ok(named_account(name));
    }
    let bytes = parse_hex(s).map_err(|e| format!("invalid address {s:?}: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "invalid address {s:?}: expected 32 bytes (64 hex digits), got {} bytes",
            bytes.len()
        )
    })
}

/// Parses hex with or without a `0x` prefix.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let h = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if !h.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", h.len()));
    }
    hex::decode(h).map_err(|e| format!("not hex: {e}"))
}

/// Encodes a list of arguments, concatenated (a tuple).
pub fn encode_args<S: AsRef<str>>(args: &[S]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let a = a.as_ref();
        let enc = encode_arg(a).map_err(|e| format!("argument {} ({a:?}): {e}", i + 1))?;
        out.extend_from_slice(&enc);
    }
    Ok(out)
}

const HELP: &str = "expected TYPE:VALUE with TYPE one of u8 u16 u32 u64 u128 i8 i16 i32 i64 i128 \
                    bool str bytes addr [u8;N] raw text compact";

fn parse_uint(v: &str, bits: u32) -> Result<u128, String> {
    let clean: String = v.chars().filter(|c| *c != '_').collect();
    let parsed = if let Some(h) = clean.strip_prefix("0x") {
        u128::from_str_radix(h, 16)
    } else {
        clean.parse::<u128>()
    };
    let n = parsed.map_err(|_| format!("{v:?} is not an unsigned integer"))?;
    if bits < 128 && n >> bits != 0 {
        return Err(format!("{v} does not fit in u{bits}"));
    }
    Ok(n)
}

fn parse_int(v: &str, bits: u32) -> Result<i128, String> {
    let clean: String = v.chars().filter(|c| *c != '_').collect();
    let n = clean
        .parse::<i128>()
        .map_err(|_| format!("{v:?} is not a signed integer"))?;
    if bits < 128 {
        let max = (1i128 << (bits - 1)) - 1;
        let min = -(1i128 << (bits - 1));
        if n > max || n < min {
            return Err(format!("{v} does not fit in i{bits}"));
        }
    }
    Ok(n)
}

/// Encodes one `TYPE:VALUE` argument.
pub fn encode_arg(arg: &str) -> Result<Vec<u8>, String> {
    let Some((ty, v)) = arg.split_once(':') else {
        return Err(format!("missing type: {HELP}"));
    };
    let ty = ty.trim().to_ascii_lowercase().replace(' ', "");
    Ok(match ty.as_str() {
        "u8" => (parse_uint(v, 8)? as u8).encode(),
        "u16" => (parse_uint(v, 16)? as u16).encode(),
        "u32" => (parse_uint(v, 32)? as u32).encode(),
        "u64" => (parse_uint(v, 64)? as u64).encode(),
        "u128" => parse_uint(v, 128)?.encode(),
        "i8" => (parse_int(v, 8)? as i8).encode(),
        "i16" => (parse_int(v, 16)? as i16).encode(),
        "i32" => (parse_int(v, 32)? as i32).encode(),
        "i64" => (parse_int(v, 64)? as i64).encode(),
        "i128" => parse_int(v, 128)?.encode(),
        "compact" => Compact(parse_uint(v, 128)?).encode(),
        "bool" => match v {
            "true" | "1" => true.encode(),
            "false" | "0" => false.encode(),
            _ => return Err(format!("{v:?} is not a bool (true or false)")),
        },
        "str" | "string" => v.to_string().encode(),
        "bytes" | "vec<u8>" => parse_hex(v)?.encode(),
        "raw" => parse_hex(v)?,
        "text" => v.as_bytes().to_vec(),
        "addr" | "address" | "account" => parse_address(v)?.to_vec(),
        other => {
            if let Some(n) = fixed_array_len(other) {
                let bytes = parse_hex(v)?;
                if bytes.len() != n {
                    return Err(format!("expected {n} bytes, got {}", bytes.len()));
                }
                bytes
            } else {
                return Err(format!("unknown type {other:?}: {HELP}"));
            }
        }
    })
}

/// `[u8;N]` → `Some(N)`.
fn fixed_array_len(ty: &str) -> Option<usize> {
    ty.strip_prefix("[u8;")?.strip_suffix(']')?.parse().ok()
}

/// Decodes `data` as a sequence of values of the given types (the same names as the
/// argument syntax; `addr` and `[u8;N]` print as hex, `raw` takes the rest). Every byte must
/// be consumed.
pub fn decode_value(types: &str, data: &[u8]) -> Result<String, String> {
    let mut input = data;
    let mut parts = Vec::new();
    for ty in types.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let ty = ty.to_ascii_lowercase().replace(' ', "");
        let err = |e: parity_scale_codec::Error| format!("cannot decode {ty}: {e}");
        let s = match ty.as_str() {
            "u8" => u8::decode(&mut input).map_err(err)?.to_string(),
            "u16" => u16::decode(&mut input).map_err(err)?.to_string(),
            "u32" => u32::decode(&mut input).map_err(err)?.to_string(),
            "u64" => u64::decode(&mut input).map_err(err)?.to_string(),
            "u128" => u128::decode(&mut input).map_err(err)?.to_string(),
            "i8" => i8::decode(&mut input).map_err(err)?.to_string(),
            "i16" => i16::decode(&mut input).map_err(err)?.to_string(),
            "i32" => i32::decode(&mut input).map_err(err)?.to_string(),
            "i64" => i64::decode(&mut input).map_err(err)?.to_string(),
            "i128" => i128::decode(&mut input).map_err(err)?.to_string(),
            "compact" => Compact::<u128>::decode(&mut input)
                .map_err(err)?
                .0
                .to_string(),
            "bool" => bool::decode(&mut input).map_err(err)?.to_string(),
            "str" | "string" => format!("{:?}", String::decode(&mut input).map_err(err)?),
            "bytes" | "vec<u8>" => format!(
                "0x{}",
                hex::encode(Vec::<u8>::decode(&mut input).map_err(err)?)
            ),
            "addr" | "address" | "account" => {
                format!(
                    "0x{}",
                    hex::encode(<[u8; 32]>::decode(&mut input).map_err(err)?)
                )
            }
            "raw" => {
                let s = format!("0x{}", hex::encode(input));
                input = &[];
                s
            }
            other => match fixed_array_len(other) {
                Some(n) if input.len() >= n => {
                    let (a, rest) = input.split_at(n);
                    input = rest;
                    format!("0x{}", hex::encode(a))
                }
                Some(n) => {
                    return Err(format!(
                        "cannot decode [u8;{n}]: only {} bytes left",
                        input.len()
                    ));
                }
                None => return Err(format!("unknown type {other:?}: {HELP}")),
            },
        };
        parts.push(s);
    }
    if !input.is_empty() {
        return Err(format!(
            "{} bytes left over after decoding {types}",
            input.len()
        ));
    }
    Ok(parts.join(", "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn integers_encode_like_scale() {
        assert_eq!(encode_arg("u64:5").unwrap(), 5u64.encode());
        assert_eq!(encode_arg("u128:1_000").unwrap(), 1000u128.encode());
        assert_eq!(encode_arg("u8:0xff").unwrap(), vec![0xff]);
        assert_eq!(encode_arg("i32:-2").unwrap(), (-2i32).encode());
        assert_eq!(
            encode_arg("i128:-170141183460469231731687303715884105728").unwrap(),
            i128::MIN.encode()
        );
        assert_eq!(encode_arg("compact:5").unwrap(), Compact(5u128).encode());
    }

    #[test]
    fn integer_range_is_checked() {
        assert!(encode_arg("u8:256").unwrap_err().contains("does not fit"));
        assert!(encode_arg("i8:128").unwrap_err().contains("does not fit"));
        assert!(encode_arg("i8:-129").unwrap_err().contains("does not fit"));
        assert!(
            encode_arg("u64:-1")
                .unwrap_err()
                .contains("not an unsigned")
        );
        assert!(encode_arg("u64:five").is_err());
    }

    #[test]
    fn other_types() {
        assert_eq!(encode_arg("bool:true").unwrap(), true.encode());
        assert_eq!(
            encode_arg("str:hello").unwrap(),
            "hello".to_string().encode()
        );
        assert_eq!(encode_arg("str:a:b").unwrap(), "a:b".to_string().encode());
        assert_eq!(
            encode_arg("bytes:0xabcd").unwrap(),
            vec![0xabu8, 0xcd].encode()
        );
        assert_eq!(encode_arg("raw:abcd").unwrap(), vec![0xab, 0xcd]);
        assert_eq!(encode_arg("text:ab").unwrap(), b"ab".to_vec());
        assert_eq!(encode_arg("[u8;2]:0xabcd").unwrap(), vec![0xab, 0xcd]);
        assert_eq!(encode_arg("[u8; 2]:0xabcd").unwrap(), vec![0xab, 0xcd]);
        assert!(encode_arg("[u8;3]:0xabcd").is_err());
        let a = format!("addr:0x{}", "11".repeat(32));
        assert_eq!(encode_arg(&a).unwrap(), vec![0x11; 32]);
        assert_eq!(
            encode_arg("addr:@alice").unwrap(),
            named_account("alice").to_vec()
        );
        assert_ne!(named_account("alice"), named_account("bob"));
    }

    #[test]
    fn errors_are_clear() {
        assert!(encode_arg("5").unwrap_err().contains("missing type"));
        assert!(
            encode_arg("float:1.0")
                .unwrap_err()
                .contains("unknown type")
        );
        assert!(encode_arg("bool:yes").unwrap_err().contains("not a bool"));
        assert!(
            encode_arg("bytes:0xabc")
                .unwrap_err()
                .contains("odd number")
        );
        assert!(encode_arg("addr:0x1234").unwrap_err().contains("32 bytes"));
        assert!(
            encode_arg("addr:@")
                .unwrap_err()
                .contains("empty account name")
        );
        let e = encode_args(&["u64:1", "u64:x"]).unwrap_err();
        assert!(e.starts_with("argument 2"), "{e}");
    }

    #[test]
    fn tuples_by_juxtaposition() {
        let enc = encode_args(&["addr:@bob", "u128:7"]).unwrap();
        assert_eq!(enc, (named_account("bob"), 7u128).encode());
    }

    #[test]
    fn decoding_round_trips() {
        let data = (5u64, true, "hi".to_string(), [7u8; 32]).encode();
        let s = decode_value("u64, bool, str, addr", &data).unwrap();
        assert_eq!(s, format!("5, true, \"hi\", 0x{}", "07".repeat(32)));
        assert!(
            decode_value("u64", &data)
                .unwrap_err()
                .contains("left over")
        );
        assert!(decode_value("u128", &[1, 2]).is_err());
        assert_eq!(decode_value("raw", &[1, 2]).unwrap(), "0x0102");
    }
}
