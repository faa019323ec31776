//! Arguments and results typed by a contract's metadata (the `keel:meta` section; its type
//! language is documented in `keel_sdk::meta`): `keel call escrow deposit 1 @bob 15000`, and
//! results and errors shown by name.
//!
//! Value syntax, one word per argument: integers `15000` (or `0x…`), `true`/`false`, addresses
//! `@name` or `0x<64 hex>`, strings as they are (or `"quoted"`), bytes and `[u8;N]` as `0x…`,
//! `none` / `some(V)` (or just `V`) for an option, `[a,b]` for a vec or array, `(a,b)` for a
//! tuple or a tuple struct, `{field:v,…}` for a struct, `Variant`, `Variant(v,…)` or
//! `Variant{field:v,…}` for an enum.

use std::collections::BTreeMap;

use parity_scale_codec::{Compact, Decode, Encode};
use serde_json::Value;

use crate::args::parse_address;

/// Whether a word is in the explicit `TYPE:VALUE` argument syntax (`u128:5`, `addr:@bob`): a
/// known type name before the first `:`.
pub fn is_explicit(word: &str) -> bool {
    let Some((ty, _)) = word.split_once(':') else {
        return false;
    };
    let ty = ty.trim().to_ascii_lowercase().replace(' ', "");
    matches!(
        ty.as_str(),
        "u8" | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "compact"
            | "bool"
            | "str"
            | "string"
            | "bytes"
            | "vec<u8>"
            | "raw"
            | "text"
            | "addr"
            | "address"
            | "account"
    ) || (ty.starts_with("[u8;") && ty.ends_with(']'))
}

/// The words with every `addr:NAME` (NAME not `@account` or `0x…`) replaced by the address
/// of the contract deployed under NAME, where `resolve` knows it.
pub fn resolve_contract_words(
    words: &[String],
    resolve: &dyn Fn(&str) -> Option<[u8; 32]>,
) -> Vec<String> {
    words
        .iter()
        .map(|w| match w.split_once(':') {
            Some((ty, name))
                if matches!(ty.trim(), "addr" | "address")
                    && !name.starts_with('@')
                    && !name.starts_with("0x") =>
            {
                match resolve(name.trim()) {
                    Some(a) => format!("addr:{}", crate::output::hx(&a)),
                    None => w.clone(),
                }
            }
            _ => w.clone(),
        })
        .collect()
}

/// A type of the metadata's type language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Unit,
    Bool,
    Int { signed: bool, bits: u32 },
    Str,
    Bytes,
    Address,
    Array(Box<Ty>, usize),
    Option(Box<Ty>),
    Vec(Box<Ty>),
    Result(Box<Ty>, Box<Ty>),
    Tuple(Vec<Ty>),
    Named(String),
}

/// A struct or enum definition from the document's `types`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Def {
    Struct(Fields),
    Enum(Vec<(String, Fields)>),
}

/// Named (`{a:T}`) or positional (`(T)`) fields; none is `Named(vec![])`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fields {
    Named(Vec<(String, Ty)>),
    Positional(Vec<Ty>),
}

/// One method's signature.
#[derive(Debug, Clone)]
pub struct Method {
    pub args: Vec<(String, Ty)>,
    pub returns: Ty,
    pub error: Option<Ty>,
}

/// A contract's metadata, parsed.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    methods: BTreeMap<String, Method>,
    types: BTreeMap<String, Def>,
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> P<'a> {
    fn new(s: &'a str) -> Self {
        P {
            s: s.as_bytes(),
            i: 0,
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{}` at {}", c as char, self.i))
        }
    }
    fn ident(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' {
                self.i += 1;
            } else {
                break;
            }
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn done(&self) -> bool {
        self.i == self.s.len()
    }
}

fn parse_ty(p: &mut P) -> Result<Ty, String> {
    if p.eat(b'(') {
        let mut items = Vec::new();
        if p.eat(b')') {
            return Ok(Ty::Unit);
        }
        loop {
            items.push(parse_ty(p)?);
            if p.eat(b')') {
                break;
            }
            p.expect(b',')?;
        }
        return Ok(Ty::Tuple(items));
    }
    if p.eat(b'[') {
        let t = parse_ty(p)?;
        p.expect(b';')?;
        let n = p.ident();
        p.expect(b']')?;
        let n = n.parse().map_err(|_| format!("bad array length {n:?}"))?;
        return Ok(Ty::Array(Box::new(t), n));
    }
    let name = p.ident();
    let generic = |p: &mut P, n: usize| -> Result<Vec<Ty>, String> {
        p.expect(b'<')?;
        let mut v = vec![parse_ty(p)?];
        while v.len() < n {
            p.expect(b',')?;
            v.push(parse_ty(p)?);
        }
        p.expect(b'>')?;
        Ok(v)
    };
    Ok(match name.as_str() {
        "bool" => Ty::Bool,
        "string" => Ty::Str,
        "bytes" => Ty::Bytes,
        "address" => Ty::Address,
        "option" => Ty::Option(Box::new(generic(p, 1)?.remove(0))),
        "vec" => Ty::Vec(Box::new(generic(p, 1)?.remove(0))),
        "result" => {
            let mut v = generic(p, 2)?;
            let e = v.remove(1);
            Ty::Result(Box::new(v.remove(0)), Box::new(e))
        }
        n if (n.starts_with('u') || n.starts_with('i'))
            && matches!(&n[1..], "8" | "16" | "32" | "64" | "128") =>
        {
            Ty::Int {
                signed: n.starts_with('i'),
                bits: n[1..].parse().unwrap_or(128),
            }
        }
        "" => return Err(format!("expected a type at {}", p.i)),
        other => Ty::Named(other.to_string()),
    })
}

fn parse_fields(p: &mut P) -> Result<Fields, String> {
    if p.eat(b'{') {
        let mut v = Vec::new();
        if p.eat(b'}') {
            return Ok(Fields::Named(v));
        }
        loop {
            let name = p.ident();
            p.expect(b':')?;
            v.push((name, parse_ty(p)?));
            if p.eat(b'}') {
                return Ok(Fields::Named(v));
            }
            p.expect(b',')?;
        }
    }
    if p.eat(b'(') {
        let mut v = Vec::new();
        loop {
            v.push(parse_ty(p)?);
            if p.eat(b')') {
                return Ok(Fields::Positional(v));
            }
            p.expect(b',')?;
        }
    }
    Ok(Fields::Named(Vec::new()))
}

fn parse_def(s: &str) -> Result<(String, Def), String> {
    let (kind, rest) = s.split_once(' ').ok_or("bad type definition")?;
    let mut p = P::new(rest);
    let name = p.ident();
    let def = match kind {
        "struct" => Def::Struct(parse_fields(&mut p)?),
        "enum" => {
            p.expect(b'{')?;
            let mut variants = Vec::new();
            if !p.eat(b'}') {
                loop {
                    let v = p.ident();
                    let f = parse_fields(&mut p)?;
                    variants.push((v, f));
                    if p.eat(b'}') {
                        break;
                    }
                    p.expect(b',')?;
                }
            }
            Def::Enum(variants)
        }
        other => return Err(format!("unknown definition kind {other:?}")),
    };
    if !p.done() {
        return Err(format!("trailing text in {s:?}"));
    }
    Ok((name, def))
}

fn ty_of(s: &str) -> Result<Ty, String> {
    let mut p = P::new(s);
    let t = parse_ty(&mut p)?;
    if p.done() {
        Ok(t)
    } else {
        Err(format!("trailing text in type {s:?}"))
    }
}

impl Meta {
    /// The metadata of a module, if it has a readable `keel:meta` section.
    pub fn from_code(code: &[u8]) -> Option<Meta> {
        let text = keel_testkit::contract_metadata(code).ok()??;
        let v: Value = serde_json::from_str(&text).ok()?;
        Meta::from_json(&v).ok()
    }

    fn from_json(v: &Value) -> Result<Meta, String> {
        let mut meta = Meta::default();
        for t in v["types"].as_array().into_iter().flatten() {
            let (name, def) = parse_def(t.as_str().unwrap_or_default())?;
            meta.types.insert(name, def);
        }
        for m in v["methods"].as_array().into_iter().flatten() {
            let name = m["name"].as_str().unwrap_or_default().to_string();
            let mut args = Vec::new();
            for a in m["args"].as_array().into_iter().flatten() {
                args.push((
                    a["name"].as_str().unwrap_or_default().to_string(),
                    ty_of(a["type"].as_str().unwrap_or_default())?,
                ));
            }
            let returns = ty_of(m["returns"].as_str().unwrap_or("()"))?;
            let error = m["error"].as_str().map(ty_of).transpose()?;
            meta.methods.insert(
                name,
                Method {
                    args,
                    returns,
                    error,
                },
            );
        }
        Ok(meta)
    }

    /// A method's signature.
    pub fn method(&self, name: &str) -> Option<&Method> {
        self.methods.get(name)
    }

    /// `deposit(id: u64, to: address) -> () ! EscrowError`.
    pub fn signature(&self, name: &str) -> String {
        match self.methods.get(name) {
            None => format!("{name}: not in the metadata"),
            Some(m) => {
                let args: Vec<String> = m
                    .args
                    .iter()
                    .map(|(n, t)| format!("{n}: {}", show_ty(t)))
                    .collect();
                let err = m
                    .error
                    .as_ref()
                    .map(|e| format!(" ! {}", show_ty(e)))
                    .unwrap_or_default();
                format!(
                    "{name}({}) -> {}{err}",
                    args.join(", "),
                    show_ty(&m.returns)
                )
            }
        }
    }

    /// Encodes the words of a call (one per argument) as the method's argument tuple.
    /// An address word is `@account`, `0x<64 hex>` or the name of a contract (`resolve`).
    pub fn encode_args(
        &self,
        method: &str,
        words: &[String],
        resolve: &dyn Fn(&str) -> Option<[u8; 32]>,
    ) -> Result<Vec<u8>, String> {
        let m = self
            .methods
            .get(method)
            .ok_or_else(|| format!("method {method:?} is not in the contract's metadata"))?;
        if words.len() != m.args.len() {
            return Err(format!(
                "{} takes {} argument(s), got {}",
                self.signature(method),
                m.args.len(),
                words.len()
            ));
        }
        let mut out = Vec::new();
        for ((name, ty), w) in m.args.iter().zip(words) {
            let mut p = VP::new(w, resolve);
            self.encode_value(ty, &mut p, &mut out)
                .and_then(|()| {
                    if p.done() {
                        Ok(())
                    } else {
                        Err(format!("unexpected {:?}", p.rest()))
                    }
                })
                .map_err(|e| format!("argument `{name}` ({}): {e}", show_ty(ty)))?;
        }
        Ok(out)
    }

    fn encode_value(&self, ty: &Ty, p: &mut VP, out: &mut Vec<u8>) -> Result<(), String> {
        match ty {
            Ty::Unit => {
                p.eat_str("()");
            }
            Ty::Bool => match p.atom().as_str() {
                "true" => true.encode_to(out),
                "false" => false.encode_to(out),
                other => return Err(format!("{other:?} is not a bool")),
            },
            Ty::Int { signed, bits } => {
                let a = p.atom();
                let v: i128 = if let Some(h) = a.strip_prefix("0x") {
                    i128::from_str_radix(h, 16).map_err(|e| format!("{a:?}: {e}"))?
                } else if *signed {
                    a.replace('_', "")
                        .parse()
                        .map_err(|e| format!("{a:?}: {e}"))?
                } else {
                    let u: u128 = a
                        .replace('_', "")
                        .parse()
                        .map_err(|e| format!("{a:?}: {e}"))?;
                    if *bits == 128 {
                        u.encode_to(out);
                        return Ok(());
                    }
                    i128::try_from(u).map_err(|_| format!("{a:?} is too large"))?
                };
                let bytes = usize::try_from(*bits / 8).unwrap_or(16);
                let (lo, hi) = if *signed {
                    let half = 1i128 << (bits - 1);
                    (-half, half - 1)
                } else {
                    (
                        0,
                        if *bits == 128 {
                            i128::MAX
                        } else {
                            (1i128 << bits) - 1
                        },
                    )
                };
                if v < lo || v > hi {
                    return Err(format!("{a:?} does not fit in {}", show_ty(ty)));
                }
                out.extend_from_slice(&v.to_le_bytes()[..bytes]);
            }
            Ty::Str => p.string()?.encode_to(out),
            Ty::Bytes => p.hex()?.encode_to(out),
            Ty::Address => {
                let a = p.atom();
                let addr = if a.starts_with('@') || a.starts_with("0x") {
                    parse_address(&a)?
                } else {
                    (p.resolve)(&a).ok_or_else(|| {
                        format!("{a:?} is not @account, 0x<64 hex>, or a contract deployed here")
                    })?
                };
                out.extend_from_slice(&addr);
            }
            Ty::Array(t, n) => {
                if **t
                    == (Ty::Int {
                        signed: false,
                        bits: 8,
                    })
                    && p.peek() == Some(b'0')
                {
                    let b = p.hex()?;
                    if b.len() != *n {
                        return Err(format!("expected {n} bytes, got {}", b.len()));
                    }
                    out.extend_from_slice(&b);
                } else {
                    let items = self.list(t, p, b'[', b']', out)?;
                    if items != *n {
                        return Err(format!("expected {n} items, got {items}"));
                    }
                }
            }
            Ty::Vec(t) => {
                let mut body = Vec::new();
                let n = self.list(t, p, b'[', b']', &mut body)?;
                Compact(u32::try_from(n).map_err(|_| "too many items")?).encode_to(out);
                out.extend_from_slice(&body);
            }
            Ty::Option(t) => {
                if p.eat_str("none") {
                    out.push(0);
                } else {
                    out.push(1);
                    if p.eat_str("some(") {
                        self.encode_value(t, p, out)?;
                        p.expect(b')')?;
                    } else {
                        self.encode_value(t, p, out)?;
                    }
                }
            }
            Ty::Result(t, e) => {
                if p.eat_str("ok(") {
                    out.push(0);
                    self.encode_value(t, p, out)?;
                } else if p.eat_str("err(") {
                    out.push(1);
                    self.encode_value(e, p, out)?;
                } else {
                    return Err("expected ok(…) or err(…)".into());
                }
                p.expect(b')')?;
            }
            Ty::Tuple(ts) => {
                p.expect(b'(')?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        p.expect(b',')?;
                    }
                    self.encode_value(t, p, out)?;
                }
                p.expect(b')')?;
            }
            Ty::Named(n) => match self.types.get(n) {
                None => return Err(format!("type {n} is not defined in the metadata")),
                Some(Def::Struct(f)) => self.encode_fields(f, p, out)?,
                Some(Def::Enum(vs)) => {
                    let v = p.atom_ident();
                    let idx = vs.iter().position(|(name, _)| *name == v).ok_or_else(|| {
                        let names: Vec<&str> = vs.iter().map(|(n, _)| n.as_str()).collect();
                        format!("{v:?} is not a variant of {n} ({})", names.join(", "))
                    })?;
                    out.push(u8::try_from(idx).map_err(|_| "too many variants")?);
                    let fields = &vs[idx].1;
                    if !matches!(fields, Fields::Named(f) if f.is_empty()) {
                        self.encode_fields(fields, p, out)?;
                    }
                }
            },
        }
        Ok(())
    }

    fn encode_fields(&self, f: &Fields, p: &mut VP, out: &mut Vec<u8>) -> Result<(), String> {
        match f {
            Fields::Positional(ts) => self.encode_value(&Ty::Tuple(ts.clone()), p, out),
            Fields::Named(fs) => {
                p.expect(b'{')?;
                for (i, (name, t)) in fs.iter().enumerate() {
                    if i > 0 {
                        p.expect(b',')?;
                    }
                    let got = p.atom_ident();
                    if got != *name {
                        return Err(format!("expected field `{name}`, got `{got}`"));
                    }
                    p.expect(b':')?;
                    self.encode_value(t, p, out)?;
                }
                p.expect(b'}')
            }
        }
    }

    fn list(
        &self,
        t: &Ty,
        p: &mut VP,
        open: u8,
        close: u8,
        out: &mut Vec<u8>,
    ) -> Result<usize, String> {
        p.expect(open)?;
        let mut n = 0;
        if p.eat(close) {
            return Ok(0);
        }
        loop {
            self.encode_value(t, p, out)?;
            n += 1;
            if p.eat(close) {
                return Ok(n);
            }
            p.expect(b',')?;
        }
    }

    /// Decodes a value of `ty` from all of `data`, in the value syntax above.
    pub fn decode(&self, ty: &Ty, data: &[u8]) -> Result<String, String> {
        let mut input = data;
        let s = self.decode_value(ty, &mut input, 0)?;
        if input.is_empty() {
            Ok(s)
        } else {
            Err(format!(
                "{} bytes left after a {}",
                input.len(),
                show_ty(ty)
            ))
        }
    }

    fn decode_value(&self, ty: &Ty, input: &mut &[u8], depth: u32) -> Result<String, String> {
        if depth > 64 {
            return Err("value nested too deeply".into());
        }
        let e = |e: parity_scale_codec::Error| e.to_string();
        let take = |input: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
            if input.len() < n {
                return Err("value cut short".into());
            }
            let (a, b) = input.split_at(n);
            *input = b;
            Ok(a.to_vec())
        };
        Ok(match ty {
            Ty::Unit => "()".into(),
            Ty::Bool => bool::decode(input).map_err(e)?.to_string(),
            Ty::Int { signed, bits } => {
                let n = usize::try_from(*bits / 8).unwrap_or(16);
                let b = take(input, n)?;
                let mut buf = [0u8; 16];
                buf[..n].copy_from_slice(&b);
                if *signed && b.last().is_some_and(|x| x & 0x80 != 0) {
                    for x in &mut buf[n..] {
                        *x = 0xff;
                    }
                }
                if *signed {
                    i128::from_le_bytes(buf).to_string()
                } else {
                    u128::from_le_bytes(buf).to_string()
                }
            }
            Ty::Str => format!("{:?}", String::decode(input).map_err(e)?),
            Ty::Bytes => format!(
                "0x{}",
                crate::output::hx(&Vec::<u8>::decode(input).map_err(e)?).trim_start_matches("0x")
            ),
            Ty::Address => {
                let b = take(input, 32)?;
                crate::output::hx(&b)
            }
            Ty::Array(t, n) => {
                if **t
                    == (Ty::Int {
                        signed: false,
                        bits: 8,
                    })
                {
                    crate::output::hx(&take(input, *n)?)
                } else {
                    let items: Result<Vec<String>, String> = (0..*n)
                        .map(|_| self.decode_value(t, input, depth + 1))
                        .collect();
                    format!("[{}]", items?.join(","))
                }
            }
            Ty::Vec(t) => {
                let n = Compact::<u32>::decode(input).map_err(e)?.0;
                if usize::try_from(n).unwrap_or(usize::MAX) > input.len() {
                    return Err("vec longer than the data".into());
                }
                let items: Result<Vec<String>, String> = (0..n)
                    .map(|_| self.decode_value(t, input, depth + 1))
                    .collect();
                format!("[{}]", items?.join(","))
            }
            Ty::Option(t) => match take(input, 1)?[0] {
                0 => "none".into(),
                1 => format!("some({})", self.decode_value(t, input, depth + 1)?),
                b => return Err(format!("bad option tag {b}")),
            },
            Ty::Result(t, er) => match take(input, 1)?[0] {
                0 => format!("ok({})", self.decode_value(t, input, depth + 1)?),
                1 => format!("err({})", self.decode_value(er, input, depth + 1)?),
                b => return Err(format!("bad result tag {b}")),
            },
            Ty::Tuple(ts) => {
                let items: Result<Vec<String>, String> = ts
                    .iter()
                    .map(|t| self.decode_value(t, input, depth + 1))
                    .collect();
                format!("({})", items?.join(","))
            }
            Ty::Named(n) => match self.types.get(n) {
                None => return Err(format!("type {n} is not defined in the metadata")),
                Some(Def::Struct(f)) => self.decode_fields(f, input, depth)?,
                Some(Def::Enum(vs)) => {
                    let idx = usize::from(take(input, 1)?[0]);
                    let (name, f) = vs
                        .get(idx)
                        .ok_or_else(|| format!("variant {idx} of {n} does not exist"))?;
                    match f {
                        Fields::Named(x) if x.is_empty() => name.clone(),
                        _ => format!("{name}{}", self.decode_fields(f, input, depth)?),
                    }
                }
            },
        })
    }

    fn decode_fields(&self, f: &Fields, input: &mut &[u8], depth: u32) -> Result<String, String> {
        match f {
            Fields::Positional(ts) => self.decode_value(&Ty::Tuple(ts.clone()), input, depth + 1),
            Fields::Named(fs) => {
                let items: Result<Vec<String>, String> = fs
                    .iter()
                    .map(|(n, t)| Ok(format!("{n}:{}", self.decode_value(t, input, depth + 1)?)))
                    .collect();
                Ok(format!("{{{}}}", items?.join(",")))
            }
        }
    }
}

/// A type as the metadata writes it.
pub fn show_ty(t: &Ty) -> String {
    match t {
        Ty::Unit => "()".into(),
        Ty::Bool => "bool".into(),
        Ty::Int { signed, bits } => format!("{}{bits}", if *signed { 'i' } else { 'u' }),
        Ty::Str => "string".into(),
        Ty::Bytes => "bytes".into(),
        Ty::Address => "address".into(),
        Ty::Array(t, n) => format!("[{};{n}]", show_ty(t)),
        Ty::Option(t) => format!("option<{}>", show_ty(t)),
        Ty::Vec(t) => format!("vec<{}>", show_ty(t)),
        Ty::Result(t, e) => format!("result<{},{}>", show_ty(t), show_ty(e)),
        Ty::Tuple(ts) => format!("({})", ts.iter().map(show_ty).collect::<Vec<_>>().join(",")),
        Ty::Named(n) => n.clone(),
    }
}

/// A cursor over one argument word.
struct VP<'a> {
    s: &'a str,
    i: usize,
    resolve: &'a dyn Fn(&str) -> Option<[u8; 32]>,
}

impl<'a> VP<'a> {
    fn new(s: &'a str, resolve: &'a dyn Fn(&str) -> Option<[u8; 32]>) -> Self {
        VP {
            s: s.trim(),
            i: 0,
            resolve,
        }
    }
    fn rest(&self) -> &'a str {
        self.s.get(self.i..).unwrap_or_default()
    }
    fn peek(&self) -> Option<u8> {
        self.rest().bytes().next()
    }
    fn done(&self) -> bool {
        self.rest().is_empty()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_str(&mut self, t: &str) -> bool {
        if self.rest().starts_with(t) {
            self.i += t.len();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{}` before {:?}", c as char, self.rest()))
        }
    }
    /// Up to the next `,` `)` `]` `}` `:` at this level.
    fn atom(&mut self) -> String {
        let r = self.rest();
        let end = r.find([',', ')', ']', '}']).unwrap_or(r.len());
        self.i += end;
        r[..end].trim().to_string()
    }
    fn atom_ident(&mut self) -> String {
        let r = self.rest();
        let end = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(r.len());
        self.i += end;
        r[..end].to_string()
    }
    fn string(&mut self) -> Result<String, String> {
        if self.eat(b'"') {
            let r = self.rest();
            let end = r.find('"').ok_or("unterminated string")?;
            self.i += end + 1;
            Ok(r[..end].to_string())
        } else {
            Ok(self.atom())
        }
    }
    fn hex(&mut self) -> Result<Vec<u8>, String> {
        let a = self.atom();
        crate::args::parse_hex(&a)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn meta() -> Meta {
        let doc = serde_json::json!({
            "keel_meta": 1, "contract": "E",
            "methods": [
                {"name": "deposit", "args": [
                    {"name": "id", "type": "u64"}, {"name": "to", "type": "address"},
                    {"name": "deadline", "type": "option<u64>"}, {"name": "tags", "type": "vec<Tag>"},
                    {"name": "p", "type": "Point"}],
                 "returns": "(u32,bool)", "error": "EscrowError"}
            ],
            "events": [],
            "types": ["enum EscrowError{NotArbiter,TooLate(u64),Other{code:i8}}",
                      "enum Tag{A,B(u8)}", "struct Point{x:i32,y:i32}"]
        });
        Meta::from_json(&doc).unwrap_or_default()
    }

    #[test]
    fn words_encode_by_metadata_and_results_decode_by_name() {
        let m = meta();
        let words: Vec<String> = ["1", "@bob", "some(15000)", "[A,B(7)]", "{x:-1,y:2}"]
            .map(String::from)
            .to_vec();
        let none = |_: &str| None;
        let got = m.encode_args("deposit", &words, &none).unwrap_or_default();
        let mut want = 1u64.encode();
        want.extend_from_slice(&crate::args::named_account("bob"));
        want.extend(Some(15000u64).encode());
        want.extend([8u8, 0, 1, 7]); // compact 2, A, B(7)
        want.extend((-1i32, 2i32).encode());
        assert_eq!(got, want);
        assert!(
            m.encode_args("deposit", &words[..2], &none)
                .unwrap_err()
                .contains("takes 5")
        );
        let bad: Vec<String> = ["1", "@bob", "none", "[C]", "{x:1,y:2}"]
            .map(String::from)
            .to_vec();
        assert!(
            m.encode_args("deposit", &bad, &none)
                .unwrap_err()
                .contains("not a variant of Tag")
        );
        let err = Ty::Named("EscrowError".into());
        assert_eq!(m.decode(&err, &[0]).unwrap_or_default(), "NotArbiter");
        assert_eq!(
            m.decode(&err, &[1, 5, 0, 0, 0, 0, 0, 0, 0])
                .unwrap_or_default(),
            "TooLate(5)"
        );
        assert_eq!(
            m.decode(&err, &[2, 0xff]).unwrap_or_default(),
            "Other{code:-1}"
        );
        assert!(m.decode(&err, &[9]).is_err());
        let ret = &m
            .method("deposit")
            .map(|x| x.returns.clone())
            .unwrap_or(Ty::Unit);
        assert_eq!(
            m.decode(ret, &(3u32, true).encode()).unwrap_or_default(),
            "(3,true)"
        );
        assert!(
            m.signature("deposit")
                .starts_with("deposit(id: u64, to: address")
        );
    }
}
