//! Contract metadata: a description of a contract's methods, error type and events, which
//! `#[contract]` writes into the wasm custom section [`SECTION`] at compile time.
//!
//! # The type language
//!
//! Every type in a method signature or event implements [`TypeInfo`], whose [`Ty`] renders as
//! one of (no spaces; names are Rust identifiers):
//!
//! | type | written |
//! |---|---|
//! | `()`, `bool`, `u8`…`u128`, `i8`…`i128` | `()`, `bool`, `u8`, …, `i128` |
//! | `String` | `string` |
//! | `Vec<u8>` | `bytes` |
//! | `Address` | `address` |
//! | `[T; N]` | `[T;N]` (so `[u8;32]`) |
//! | `Option<T>`, `Vec<T>` | `option<T>`, `vec<T>` |
//! | `Result<T, E>` | `result<T,E>` |
//! | tuples | `(A,B,…)` |
//! | a struct or enum (`#[derive(TypeInfo)]`) | `Name`, defined once in the document's `types` |
//!
//! A definition in `types` is `struct Name{field:T,…}` (a tuple struct: `struct Name(T,…)`, a
//! unit struct `struct Name{}`) or `enum Name{A,B(T,…),C{field:T,…}}`; the types inside are
//! written as above. SCALE encodes a struct as its fields in order and an enum as a one-byte
//! variant index (declaration order) followed by that variant's fields, so a type and the
//! `types` list say how to decode any value. Named types are identified by name: two different
//! types with one name in a contract's metadata fail to compile. Recursive types cannot be
//! described (the walk would not end: a compile error).
//!
//! # The document
//!
//! The section holds one JSON object, without whitespace, keys in this order:
//!
//! ```text
//! {"keel_meta":1,"contract":"Escrow",
//!  "methods":[{"name":"deposit","args":[{"name":"id","type":"u64"},…],"returns":"()",
//!              "error":"EscrowError"},…],
//!  "events":[{"name":"Deposited","topics":["id"],"type":"Deposited"},…],
//!  "types":["enum EscrowError{…}","struct Deposited{…}",…]}
//! ```
//!
//! `error` is `null` for a method that does not return `Result`; `returns` is then the whole
//! return type. Methods are in source order; events in the order of `#[contract(events(…))]`;
//! `types` in the order of first use (a depth-first walk of the methods, then the events).
//! The bytes depend only on the source: they are built by `const` evaluation.
//!
//! # Gas
//!
//! The section is an ordinary custom section. Upload validation accepts it like any other
//! custom section and the engine never reads it: it is stored, hashed and priced per byte with
//! the rest of the code, and changes no execution gas. The file a test deploys (built by
//! `keel_testkit::build_wasm` or `keel build`) is byte for byte the file a node deploys.

/// The name of the custom section holding the metadata.
pub const SECTION: &str = "keel:meta";

/// The version of the metadata document (`"keel_meta"` in it).
pub const VERSION: u32 = 1;

/// A type, as the metadata describes it. See the [module docs](self) for how each renders.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// `()`.
    Unit,
    /// `bool`.
    Bool,
    /// An integer type, by its Rust name (`u8` … `i128`).
    Int(&'static str),
    /// `String`.
    Str,
    /// `Vec<u8>`.
    Bytes,
    /// `keel_sdk::Address`.
    Address,
    /// `[T; N]`.
    Array(&'static Ty, usize),
    /// `Option<T>`.
    Option(&'static Ty),
    /// `Vec<T>` (other than `Vec<u8>`).
    Vec(&'static Ty),
    /// `Result<T, E>`.
    Result(&'static Ty, &'static Ty),
    /// A tuple.
    Tuple(&'static [&'static Ty]),
    /// A struct with named fields, or a tuple struct (fields named `0`, `1`, …).
    Struct(&'static str, &'static [Field]),
    /// An enum.
    Enum(&'static str, &'static [Variant]),
}

/// A named field of a struct or a struct-like variant. Positional fields are named `0`, `1`, ….
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The field name.
    pub name: &'static str,
    /// Its type.
    pub ty: &'static Ty,
}

/// An enum variant: no fields, positional fields (named `0`, `1`, …) or named fields.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// The variant name.
    pub name: &'static str,
    /// Its fields.
    pub fields: &'static [Field],
}

/// A type the metadata can describe. Derive it with `#[derive(keel_sdk::TypeInfo)]`.
pub trait TypeInfo {
    /// The description.
    const TY: Ty;
}

/// One method, for [`Contract`].
#[derive(Debug, Clone, Copy)]
pub struct Method {
    /// The export name.
    pub name: &'static str,
    /// (name, type) of each argument.
    pub args: &'static [Field],
    /// The return type (for `Result<T, E>`, `T`).
    pub returns: &'static Ty,
    /// For `Result<T, E>`, `E`.
    pub error: Option<&'static Ty>,
}

/// One event, for [`Contract`].
#[derive(Debug, Clone, Copy)]
pub struct EventInfo {
    /// The event name (its first topic).
    pub name: &'static str,
    /// The `#[topic]` fields, in topic order.
    pub topics: &'static [&'static str],
    /// The event's type (its data is the SCALE encoding of it).
    pub ty: &'static Ty,
}

/// A whole contract's description, built by `#[contract]`.
#[derive(Debug, Clone, Copy)]
pub struct Contract {
    /// The contract type's name.
    pub name: &'static str,
    /// Its methods, in source order.
    pub methods: &'static [Method],
    /// Its events.
    pub events: &'static [EventInfo],
}

macro_rules! leaf {
    ($($t:ty => $v:expr),* $(,)?) => {$(
        impl TypeInfo for $t {
            const TY: Ty = $v;
        }
    )*};
}

leaf! {
    () => Ty::Unit,
    bool => Ty::Bool,
    u8 => Ty::Int("u8"), u16 => Ty::Int("u16"), u32 => Ty::Int("u32"), u64 => Ty::Int("u64"),
    u128 => Ty::Int("u128"), i8 => Ty::Int("i8"), i16 => Ty::Int("i16"), i32 => Ty::Int("i32"),
    i64 => Ty::Int("i64"), i128 => Ty::Int("i128"),
    crate::Address => Ty::Address,
}

#[cfg(feature = "alloc")]
leaf! { alloc::string::String => Ty::Str }

#[cfg(feature = "alloc")]
impl<T: TypeInfo> TypeInfo for alloc::vec::Vec<T> {
    const TY: Ty = match T::TY {
        Ty::Int(n) if is_u8(n) => Ty::Bytes,
        _ => Ty::Vec(&T::TY),
    };
}

#[cfg(feature = "alloc")]
const fn is_u8(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() == 2 && b[0] == b'u' && b[1] == b'8'
}

impl<T: TypeInfo, const N: usize> TypeInfo for [T; N] {
    const TY: Ty = Ty::Array(&T::TY, N);
}

impl<T: TypeInfo> TypeInfo for Option<T> {
    const TY: Ty = Ty::Option(&T::TY);
}

impl<T: TypeInfo, E: TypeInfo> TypeInfo for Result<T, E> {
    const TY: Ty = Ty::Result(&T::TY, &E::TY);
}

impl<T: TypeInfo> TypeInfo for crate::BigEndian<T> {
    const TY: Ty = T::TY;
}

macro_rules! tuple {
    ($($n:ident),+) => {
        impl<$($n: TypeInfo),+> TypeInfo for ($($n,)+) {
            const TY: Ty = Ty::Tuple(&[$(&$n::TY),+]);
        }
    };
}
tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
tuple!(A, B, C, D, E);
tuple!(A, B, C, D, E, F);
tuple!(A, B, C, D, E, F, G);
tuple!(A, B, C, D, E, F, G, H);

impl<E: TypeInfo> TypeInfo for crate::CallError<E> {
    const TY: Ty = Ty::Enum(
        "CallError",
        &[
            Variant {
                name: "Contract",
                fields: &[Field {
                    name: "0",
                    ty: &E::TY,
                }],
            },
            Variant {
                name: "Reverted",
                fields: &[],
            },
            Variant {
                name: "Trapped",
                fields: &[],
            },
            Variant {
                name: "Refused",
                fields: &[],
            },
            Variant {
                name: "InvalidReturn",
                fields: &[],
            },
            Variant {
                name: "Unknown",
                fields: &[Field {
                    name: "0",
                    ty: &<i32 as TypeInfo>::TY,
                }],
            },
        ],
    );
}

impl TypeInfo for crate::NoError {
    const TY: Ty = Ty::Enum("NoError", &[]);
}

// ------------------------------------------------------------------------------ encoding

/// A writer that counts what does not fit: run once on an empty buffer for the length, once
/// on a buffer of that length for the bytes.
struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    const fn byte(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
        }
        self.len += 1;
    }

    const fn str(&mut self, s: &str) {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            self.byte(b[i]);
            i += 1;
        }
    }

    const fn usize(&mut self, mut n: usize) {
        let mut digits = [0u8; 20];
        let mut k = 0;
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            k += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while k > 0 {
            k -= 1;
            self.byte(digits[k]);
        }
    }

    const fn fields(&mut self, fields: &[Field], named: bool) {
        let mut i = 0;
        while i < fields.len() {
            if i > 0 {
                self.byte(b',');
            }
            if named {
                self.str(fields[i].name);
                self.byte(b':');
            }
            self.ty(fields[i].ty);
            i += 1;
        }
    }

    /// `{a:T,…}` for named fields, `(T,…)` for positional ones, nothing for none.
    const fn field_list(&mut self, fields: &[Field]) {
        if fields.is_empty() {
            return;
        }
        let positional = is_positional(fields);
        self.byte(if positional { b'(' } else { b'{' });
        self.fields(fields, !positional);
        self.byte(if positional { b')' } else { b'}' });
    }

    /// A type where it is used: a struct or enum is written as its name (its definition is in
    /// the document's `types`).
    const fn ty(&mut self, t: &Ty) {
        match t {
            Ty::Struct(name, _) | Ty::Enum(name, _) => self.str(name),
            _ => self.def(t),
        }
    }

    /// A type written out: for a struct or enum, its definition (fields and variants; the
    /// types in them are written as uses).
    const fn def(&mut self, t: &Ty) {
        match t {
            Ty::Unit => self.str("()"),
            Ty::Bool => self.str("bool"),
            Ty::Int(n) => self.str(n),
            Ty::Str => self.str("string"),
            Ty::Bytes => self.str("bytes"),
            Ty::Address => self.str("address"),
            Ty::Array(t, n) => {
                self.byte(b'[');
                self.ty(t);
                self.byte(b';');
                self.usize(*n);
                self.byte(b']');
            }
            Ty::Option(t) => {
                self.str("option<");
                self.ty(t);
                self.byte(b'>');
            }
            Ty::Vec(t) => {
                self.str("vec<");
                self.ty(t);
                self.byte(b'>');
            }
            Ty::Result(t, e) => {
                self.str("result<");
                self.ty(t);
                self.byte(b',');
                self.ty(e);
                self.byte(b'>');
            }
            Ty::Tuple(ts) => {
                self.byte(b'(');
                let mut i = 0;
                while i < ts.len() {
                    if i > 0 {
                        self.byte(b',');
                    }
                    self.ty(ts[i]);
                    i += 1;
                }
                self.byte(b')');
            }
            Ty::Struct(name, fields) => {
                self.str("struct ");
                self.str(name);
                if fields.is_empty() {
                    self.str("{}");
                } else {
                    self.field_list(fields);
                }
            }
            Ty::Enum(name, variants) => {
                self.str("enum ");
                self.str(name);
                self.byte(b'{');
                let mut i = 0;
                while i < variants.len() {
                    if i > 0 {
                        self.byte(b',');
                    }
                    self.str(variants[i].name);
                    self.field_list(variants[i].fields);
                    i += 1;
                }
                self.byte(b'}');
            }
        }
    }

    const fn quoted_ty(&mut self, t: &Ty) {
        self.byte(b'"');
        self.ty(t);
        self.byte(b'"');
    }

    const fn quoted(&mut self, s: &str) {
        self.byte(b'"');
        self.str(s);
        self.byte(b'"');
    }

    const fn contract(&mut self, c: &Contract) {
        self.str("{\"keel_meta\":");
        self.usize(VERSION as usize);
        self.str(",\"contract\":");
        self.quoted(c.name);
        self.str(",\"methods\":[");
        let mut i = 0;
        while i < c.methods.len() {
            let m = &c.methods[i];
            if i > 0 {
                self.byte(b',');
            }
            self.str("{\"name\":");
            self.quoted(m.name);
            self.str(",\"args\":[");
            let mut j = 0;
            while j < m.args.len() {
                if j > 0 {
                    self.byte(b',');
                }
                self.str("{\"name\":");
                self.quoted(m.args[j].name);
                self.str(",\"type\":");
                self.quoted_ty(m.args[j].ty);
                self.byte(b'}');
                j += 1;
            }
            self.str("],\"returns\":");
            self.quoted_ty(m.returns);
            self.str(",\"error\":");
            match m.error {
                Some(e) => self.quoted_ty(e),
                None => self.str("null"),
            }
            self.byte(b'}');
            i += 1;
        }
        self.str("],\"events\":[");
        let mut i = 0;
        while i < c.events.len() {
            let e = &c.events[i];
            if i > 0 {
                self.byte(b',');
            }
            self.str("{\"name\":");
            self.quoted(e.name);
            self.str(",\"topics\":[");
            let mut j = 0;
            while j < e.topics.len() {
                if j > 0 {
                    self.byte(b',');
                }
                self.quoted(e.topics[j]);
                j += 1;
            }
            self.str("],\"type\":");
            self.quoted_ty(e.ty);
            self.byte(b'}');
            i += 1;
        }
        self.str("],\"types\":[");
        // Every struct and enum reachable from the methods and events, once, in the order of
        // first use (a depth-first walk of methods, then events).
        let mut k = 0;
        let mut written = 0;
        while let Some(t) = nth_named(c, k) {
            let mut first = true;
            let mut j = 0;
            while j < k {
                if let Some(u) = nth_named(c, j)
                    && str_eq(name_of(u), name_of(t))
                {
                    assert!(
                        same(u, t),
                        "two different types with the same name in one contract's metadata"
                    );
                    first = false;
                    break;
                }
                j += 1;
            }
            if first {
                if written > 0 {
                    self.byte(b',');
                }
                self.byte(b'"');
                self.def(t);
                self.byte(b'"');
                written += 1;
            }
            k += 1;
        }
        self.str("]}");
    }
}

const fn name_of(t: &Ty) -> &str {
    match t {
        Ty::Struct(n, _) | Ty::Enum(n, _) => n,
        _ => "",
    }
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn fields_same(a: &[Field], b: &[Field]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !str_eq(a[i].name, b[i].name) || !same(a[i].ty, b[i].ty) {
            return false;
        }
        i += 1;
    }
    true
}

/// Structural equality of two descriptions.
const fn same(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Unit, Ty::Unit)
        | (Ty::Bool, Ty::Bool)
        | (Ty::Str, Ty::Str)
        | (Ty::Bytes, Ty::Bytes)
        | (Ty::Address, Ty::Address) => true,
        (Ty::Int(x), Ty::Int(y)) => str_eq(x, y),
        (Ty::Array(x, n), Ty::Array(y, m)) => *n == *m && same(x, y),
        (Ty::Option(x), Ty::Option(y)) | (Ty::Vec(x), Ty::Vec(y)) => same(x, y),
        (Ty::Result(x, e), Ty::Result(y, f)) => same(x, y) && same(e, f),
        (Ty::Tuple(xs), Ty::Tuple(ys)) => {
            if xs.len() != ys.len() {
                return false;
            }
            let mut i = 0;
            while i < xs.len() {
                if !same(xs[i], ys[i]) {
                    return false;
                }
                i += 1;
            }
            true
        }
        (Ty::Struct(n, xs), Ty::Struct(m, ys)) => str_eq(n, m) && fields_same(xs, ys),
        (Ty::Enum(n, xs), Ty::Enum(m, ys)) => {
            if !str_eq(n, m) || xs.len() != ys.len() {
                return false;
            }
            let mut i = 0;
            while i < xs.len() {
                if !str_eq(xs[i].name, ys[i].name) || !fields_same(xs[i].fields, ys[i].fields) {
                    return false;
                }
                i += 1;
            }
            true
        }
        _ => false,
    }
}

/// The `k`-th struct or enum occurrence (0-based) in a depth-first walk of `t`; `k` counts
/// down through the occurrences seen.
const fn walk(t: &'static Ty, k: &mut usize) -> Option<&'static Ty> {
    match t {
        Ty::Unit | Ty::Bool | Ty::Int(_) | Ty::Str | Ty::Bytes | Ty::Address => None,
        Ty::Array(x, _) | Ty::Option(x) | Ty::Vec(x) => walk(x, k),
        Ty::Result(x, e) => match walk(x, k) {
            Some(t) => Some(t),
            None => walk(e, k),
        },
        Ty::Tuple(xs) => {
            let mut i = 0;
            while i < xs.len() {
                if let Some(t) = walk(xs[i], k) {
                    return Some(t);
                }
                i += 1;
            }
            None
        }
        Ty::Struct(_, fields) => {
            if *k == 0 {
                return Some(t);
            }
            *k -= 1;
            walk_fields(fields, k)
        }
        Ty::Enum(_, variants) => {
            if *k == 0 {
                return Some(t);
            }
            *k -= 1;
            let mut i = 0;
            while i < variants.len() {
                if let Some(t) = walk_fields(variants[i].fields, k) {
                    return Some(t);
                }
                i += 1;
            }
            None
        }
    }
}

const fn walk_fields(fields: &'static [Field], k: &mut usize) -> Option<&'static Ty> {
    let mut i = 0;
    while i < fields.len() {
        if let Some(t) = walk(fields[i].ty, k) {
            return Some(t);
        }
        i += 1;
    }
    None
}

/// The `k`-th struct or enum occurrence in the contract's methods (arguments, return type,
/// error, in order) and then its events.
const fn nth_named(c: &Contract, k: usize) -> Option<&'static Ty> {
    let mut k = k;
    let mut i = 0;
    while i < c.methods.len() {
        let m = &c.methods[i];
        if let Some(t) = walk_fields(m.args, &mut k) {
            return Some(t);
        }
        if let Some(t) = walk(m.returns, &mut k) {
            return Some(t);
        }
        if let Some(e) = m.error
            && let Some(t) = walk(e, &mut k)
        {
            return Some(t);
        }
        i += 1;
    }
    let mut i = 0;
    while i < c.events.len() {
        if let Some(t) = walk(c.events[i].ty, &mut k) {
            return Some(t);
        }
        i += 1;
    }
    None
}

const fn is_positional(fields: &[Field]) -> bool {
    let mut i = 0;
    while i < fields.len() {
        let b = fields[i].name.as_bytes();
        if b.is_empty() || !b[0].is_ascii_digit() {
            return false;
        }
        i += 1;
    }
    true
}

/// The length of [`encode`]'s output for `c`.
pub const fn encoded_len(c: &Contract) -> usize {
    let mut w = Writer {
        buf: &mut [],
        len: 0,
    };
    w.contract(c);
    w.len
}

/// The metadata document of `c` (`N` must be [`encoded_len`]`(c)`; a compile-time error
/// otherwise, when used in a `const` or `static`).
pub const fn encode<const N: usize>(c: &Contract) -> [u8; N] {
    let mut buf = [0u8; N];
    let mut w = Writer {
        buf: &mut buf,
        len: 0,
    };
    w.contract(c);
    assert!(w.len == N, "metadata length mismatch");
    buf
}

/// The rendering of one type as a definition (a struct or enum with its fields or variants,
/// the types inside written as uses), for tests and tools: writes into `buf`, returns the
/// length (which may exceed `buf.len()`: then the output was cut).
pub const fn render(t: &Ty, buf: &mut [u8]) -> usize {
    let mut w = Writer { buf, len: 0 };
    w.def(t);
    w.len
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    fn r(t: &Ty) -> String {
        let mut buf = [0u8; 256];
        let n = render(t, &mut buf);
        String::from_utf8(buf[..n].to_vec()).unwrap_or_default()
    }

    #[test]
    fn types_render_in_the_documented_language() {
        assert_eq!(r(&<u64 as TypeInfo>::TY), "u64");
        assert_eq!(r(&<() as TypeInfo>::TY), "()");
        assert_eq!(
            r(&<(bool, [u8; 32], Option<crate::Address>) as TypeInfo>::TY),
            "(bool,[u8;32],option<address>)"
        );
        assert_eq!(
            r(&<Result<u128, crate::CallError<crate::NoError>> as TypeInfo>::TY),
            "result<u128,CallError>"
        );
        const S: Ty = Ty::Struct(
            "P",
            &[
                Field {
                    name: "a",
                    ty: &<u8 as TypeInfo>::TY,
                },
                Field {
                    name: "b",
                    ty: &<i32 as TypeInfo>::TY,
                },
            ],
        );
        assert_eq!(r(&S), "struct P{a:u8,b:i32}");
        const E: Ty = Ty::Enum(
            "E",
            &[
                Variant {
                    name: "A",
                    fields: &[],
                },
                Variant {
                    name: "B",
                    fields: &[Field {
                        name: "0",
                        ty: &<u8 as TypeInfo>::TY,
                    }],
                },
                Variant {
                    name: "C",
                    fields: &[Field { name: "x", ty: &S }],
                },
            ],
        );
        assert_eq!(r(&E), "enum E{A,B(u8),C{x:P}}");
        assert_eq!(
            r(&<crate::CallError<crate::NoError> as TypeInfo>::TY),
            "enum CallError{Contract(NoError),Reverted,Trapped,Refused,InvalidReturn,Unknown(i32)}"
        );
    }

    #[test]
    fn documents_are_const_and_exactly_sized() {
        const C: Contract = Contract {
            name: "C",
            methods: &[Method {
                name: "m",
                args: &[Field {
                    name: "x",
                    ty: &<u64 as TypeInfo>::TY,
                }],
                returns: &<() as TypeInfo>::TY,
                error: Some(&<u8 as TypeInfo>::TY),
            }],
            events: &[EventInfo {
                name: "Ev",
                topics: &["x"],
                ty: &<u64 as TypeInfo>::TY,
            }],
        };
        const N: usize = encoded_len(&C);
        const DOC: [u8; N] = encode::<N>(&C);
        assert_eq!(
            core::str::from_utf8(&DOC).unwrap_or(""),
            r#"{"keel_meta":1,"contract":"C","methods":[{"name":"m","args":[{"name":"x","type":"u64"}],"returns":"()","error":"u8"}],"events":[{"name":"Ev","topics":["x"],"type":"u64"}],"types":[]}"#
        );
    }
}
