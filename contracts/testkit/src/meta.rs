//! Reading a contract's metadata (the `keel:meta` custom section `#[contract]` writes; its
//! format is documented in `keel_sdk::meta`) out of a wasm module.

use crate::Error;

/// The custom section holding a contract's metadata (`keel_sdk::meta::SECTION`).
pub const METADATA_SECTION: &str = "keel:meta";

/// One top-level section of a module: (id, custom-section name if any, the whole section's
/// byte range including its id and size, the payload's range after a custom name).
struct Section<'a> {
    id: u8,
    name: Option<&'a [u8]>,
    whole: std::ops::Range<usize>,
    payload: std::ops::Range<usize>,
}

fn leb_u32(b: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let mut v: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *b.get(i)?;
        i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return usize::try_from(v).ok().map(|v| (v, i));
        }
    }
    None
}

fn sections(wasm: &[u8]) -> Result<Vec<Section<'_>>, Error> {
    let bad = |what: &str| Error::Decode(format!("not a wasm module: {what}"));
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(bad("no wasm header"));
    }
    let mut out = Vec::new();
    let mut i = 8;
    while i < wasm.len() {
        let start = i;
        let id = wasm[i];
        let (len, body) = leb_u32(wasm, i + 1).ok_or_else(|| bad("bad section size"))?;
        let end = body
            .checked_add(len)
            .filter(|e| *e <= wasm.len())
            .ok_or_else(|| bad("section past the end"))?;
        let (name, payload) = if id == 0 {
            let (nlen, nstart) = leb_u32(wasm, body).ok_or_else(|| bad("bad custom name"))?;
            let nend = nstart
                .checked_add(nlen)
                .filter(|e| *e <= end)
                .ok_or_else(|| bad("custom name past its section"))?;
            (Some(&wasm[nstart..nend]), nend..end)
        } else {
            (None, body..end)
        };
        out.push(Section {
            id,
            name,
            whole: start..end,
            payload,
        });
        i = end;
    }
    Ok(out)
}

/// The metadata document (JSON, see `keel_sdk::meta`) of a module, or `None` if it has no
/// `keel:meta` section. A module with two such sections, or one that is not UTF-8, is an error.
pub fn contract_metadata(wasm: &[u8]) -> Result<Option<String>, Error> {
    let mut found = None;
    for s in sections(wasm)? {
        if s.id == 0 && s.name == Some(METADATA_SECTION.as_bytes()) {
            if found.is_some() {
                return Err(Error::Decode("two keel:meta sections".into()));
            }
            let text = std::str::from_utf8(&wasm[s.payload])
                .map_err(|e| Error::Decode(format!("keel:meta is not UTF-8: {e}")))?;
            found = Some(text.to_string());
        }
    }
    Ok(found)
}

/// The module without its `keel:meta` section (every other byte unchanged).
pub fn strip_metadata(wasm: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = wasm.get(..8).unwrap_or_default().to_vec();
    for s in sections(wasm)? {
        if !(s.id == 0 && s.name == Some(METADATA_SECTION.as_bytes())) {
            out.extend_from_slice(&wasm[s.whole]);
        }
    }
    Ok(out)
}

/// Whether a custom section is a toolchain's (names, debug info, producers, target features,
/// source maps) rather than the contract's own: what a stripped build leaves out.
fn is_tool_section(name: &[u8]) -> bool {
    matches!(
        name,
        b"name" | b"producers" | b"target_features" | b"sourceMappingURL" | b"external_debug_info"
    ) || name.starts_with(b".debug")
}

/// `wasm` without the toolchain's custom sections (`name`, `producers`, `target_features`,
/// `.debug_*`, source maps); every other section, `keel:meta` and the module's own custom
/// sections included, is kept byte for byte and in order. So a module and its stripped copy
/// have the same code, and a profile can name the stripped copy's functions from the module's
/// name section.
pub(crate) fn strip_tool_sections(wasm: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = wasm.get(..8).unwrap_or_default().to_vec();
    for s in sections(wasm)? {
        if !(s.id == 0 && s.name.is_some_and(is_tool_section)) {
            out.extend_from_slice(&wasm[s.whole]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module_with(custom: &[(&str, &[u8])]) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        // A type section with no types.
        m.extend_from_slice(&[1, 1, 0]);
        for (name, data) in custom {
            let mut body = vec![u8::try_from(name.len()).unwrap_or(0)];
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(data);
            m.push(0);
            m.push(u8::try_from(body.len()).unwrap_or(0));
            m.extend_from_slice(&body);
        }
        m
    }

    #[test]
    fn strips_the_toolchain_sections_and_keeps_the_rest() -> Result<(), Error> {
        let m = module_with(&[
            ("name", b"x"),
            (METADATA_SECTION, b"{}"),
            (".debug_info", b"d"),
            ("producers", b"p"),
            ("mine", b"kept"),
            ("target_features", b"t"),
        ]);
        let stripped = strip_tool_sections(&m)?;
        assert_eq!(
            stripped,
            module_with(&[(METADATA_SECTION, b"{}"), ("mine", b"kept")])
        );
        assert_eq!(strip_tool_sections(&stripped)?, stripped);
        assert!(strip_tool_sections(b"nope").is_err());
        Ok(())
    }

    #[test]
    fn finds_and_strips_only_the_metadata_section() -> Result<(), Error> {
        let m = module_with(&[("name", b"x"), (METADATA_SECTION, b"{\"a\":1}")]);
        assert_eq!(contract_metadata(&m)?.as_deref(), Some("{\"a\":1}"));
        let stripped = strip_metadata(&m)?;
        assert_eq!(stripped, module_with(&[("name", b"x")]));
        assert_eq!(contract_metadata(&stripped)?, None);
        let two = module_with(&[(METADATA_SECTION, b"1"), (METADATA_SECTION, b"2")]);
        assert!(contract_metadata(&two).is_err());
        assert!(contract_metadata(b"\0asm\x01\0\0\0\x00\x05").is_err());
        assert!(contract_metadata(b"nope").is_err());
        Ok(())
    }
}
