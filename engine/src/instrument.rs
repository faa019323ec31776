//! The profiler's instrumented copy of a module ([`crate::TraceDetail::Functions`]).
//!
//! Used only by traces: never stored, hashed or cached. Two imports are appended,
//! `keel_profile.enter` and `keel_profile.exit` (`(f64) -> ()`, the argument the function's
//! index in the original module), so defined functions move up by two: every `call`, `ref.func`,
//! export and element segment is renumbered. Each function body becomes
//!
//! ```text
//! f64.const F  call $enter
//! block (result R)  loop (result R)     ;; the body's own fuel region, after the entry hook
//!   BODY   ;; branches to the function label retargeted to the block; each `return` preceded
//!          ;; by  f64.const F  call $exit;  each `call` by  f32.const 0  drop
//! end end
//! f64.const F  call $exit
//! ```
//!
//! The copy runs in a wasmi engine of its own whose operator prices are Keel's except three
//! that Keel code never contains or that only the hooks need: `call` is free, `f32.const` costs
//! what `call` costs (so every original call pays its price in its own fuel region), and
//! `f64.const` is free. The hooks therefore cost nothing wherever wasmi places them, reachable
//! or not; the one extra fuel region (the body's `loop`, which wasmi charges 1 when entered)
//! is refunded by the entry hook; `block`, `loop` and `end` cost nothing in Keel's schedule.
//! Every original operator is in the same fuel region as before (the body's region takes the
//! place of the function's) and costs the same, so a profiled call uses exactly the production
//! gas (checked by the golden tests, which simulate every transaction profiled).

use wasmparser::{
    CompositeInnerType, ElementItems, ElementKind, Operator, Parser, Payload, ValType,
};

/// The import module of the hooks.
pub(crate) const HOOK_MODULE: &str = "keel_profile";

/// Why a module cannot be instrumented.
#[derive(Debug)]
pub(crate) struct Unsupported(#[allow(dead_code)] pub String);

impl From<wasmparser::BinaryReaderError> for Unsupported {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Unsupported(e.to_string())
    }
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn sleb(out: &mut Vec<u8>, mut v: i64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
        out.push(if done { b } else { b | 0x80 });
        if done {
            return;
        }
    }
}

fn name(out: &mut Vec<u8>, s: &str) {
    leb(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn valtype(out: &mut Vec<u8>, t: &ValType) -> Result<(), Unsupported> {
    match t {
        ValType::I32 => out.push(0x7f),
        ValType::I64 => out.push(0x7e),
        ValType::F64 => out.push(0x7c),
        ValType::Ref(r) if *r == wasmparser::RefType::FUNCREF => out.push(0x70),
        ValType::Ref(r) if *r == wasmparser::RefType::EXTERNREF => out.push(0x6f),
        other => return Err(Unsupported(format!("value type {other:?}"))),
    }
    Ok(())
}

fn section(out: &mut Vec<u8>, id: u8, contents: &[u8]) {
    out.push(id);
    leb(out, contents.len() as u64);
    out.extend_from_slice(contents);
}

type FuncSig = (Vec<ValType>, Vec<ValType>);

struct Ctx {
    imported_funcs: u32,
    enter: u32,
    exit: u32,
    /// Per type index: the block type of a body returning that type's results.
    block_types: Vec<Vec<u8>>,
}

impl Ctx {
    fn func(&self, f: u32) -> u32 {
        if f < self.imported_funcs { f } else { f + 2 }
    }

    fn hook(&self, out: &mut Vec<u8>, hook: u32, func: u32) {
        out.push(0x44); // f64.const
        out.extend_from_slice(&f64::from(func).to_le_bytes());
        out.push(0x10); // call
        leb(out, u64::from(hook));
    }
}

/// The instrumented copy of `code` (already in its metered form, `validate::meter_locals`).
pub(crate) fn instrument(code: &[u8]) -> Result<Vec<u8>, Unsupported> {
    let mut out = code.get(..8).unwrap_or(&[]).to_vec();
    let mut types: Vec<FuncSig> = Vec::new();
    let mut hook_type = 0u32;
    let mut block_types: Vec<Vec<u8>> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut imported_funcs = 0u32;
    let mut ctx: Option<Ctx> = None;
    let mut code_out: Vec<u8> = Vec::new();
    let mut code_count = 0u32;
    let mut saw_imports = false;
    let mut body_index = 0u32;
    for payload in Parser::new(0).parse_all(code) {
        let payload = payload?;
        // Sections after the import section need the renumbering.
        let needs_ctx = !matches!(
            payload,
            Payload::Version { .. }
                | Payload::TypeSection(_)
                | Payload::ImportSection(_)
                | Payload::CustomSection(_)
                | Payload::End(_)
        );
        if needs_ctx && ctx.is_none() {
            if !saw_imports {
                if types.is_empty() {
                    return Err(Unsupported("no type section".into()));
                }
                let mut s = Vec::new();
                leb(&mut s, 2);
                push_hooks(&mut s, hook_type);
                section(&mut out, 2, &s);
                saw_imports = true;
            }
            ctx = Some(Ctx {
                imported_funcs,
                enter: imported_funcs,
                exit: imported_funcs + 1,
                block_types: std::mem::take(&mut block_types),
            });
        }
        match payload {
            Payload::Version { .. } | Payload::CustomSection(_) | Payload::End(_) => {}
            Payload::TypeSection(r) => {
                for group in r {
                    let group = group?;
                    for sub in group.types() {
                        let CompositeInnerType::Func(f) = &sub.composite_type.inner else {
                            return Err(Unsupported("a non-function type".into()));
                        };
                        types.push((f.params().to_vec(), f.results().to_vec()));
                    }
                }
                let mut extra: Vec<FuncSig> = Vec::new();
                let find = |sig: FuncSig, extra: &mut Vec<FuncSig>| -> u32 {
                    if let Some(i) = types.iter().chain(extra.iter()).position(|t| *t == sig) {
                        return i as u32;
                    }
                    extra.push(sig);
                    (types.len() + extra.len() - 1) as u32
                };
                hook_type = find((vec![ValType::F64], vec![]), &mut extra);
                for (_, results) in types.clone() {
                    let mut bt = Vec::new();
                    match results.as_slice() {
                        [] => bt.push(0x40),
                        [one] => valtype(&mut bt, one)?,
                        _ => {
                            let i = find((vec![], results.clone()), &mut extra);
                            sleb(&mut bt, i64::from(i));
                        }
                    }
                    block_types.push(bt);
                }
                let mut s = Vec::new();
                leb(&mut s, (types.len() + extra.len()) as u64);
                for (params, results) in types.iter().chain(extra.iter()) {
                    s.push(0x60);
                    leb(&mut s, params.len() as u64);
                    for p in params {
                        valtype(&mut s, p)?;
                    }
                    leb(&mut s, results.len() as u64);
                    for p in results {
                        valtype(&mut s, p)?;
                    }
                }
                section(&mut out, 1, &s);
            }
            Payload::ImportSection(r) => {
                saw_imports = true;
                if types.is_empty() {
                    return Err(Unsupported("no type section".into()));
                }
                let mut s = Vec::new();
                leb(&mut s, u64::from(r.count()) + 2);
                for import in r {
                    let import = import?;
                    // Keel's validation admits only function imports.
                    let wasmparser::TypeRef::Func(t) = import.ty else {
                        return Err(Unsupported("a non-function import".into()));
                    };
                    imported_funcs += 1;
                    name(&mut s, import.module);
                    name(&mut s, import.name);
                    s.push(0x00);
                    leb(&mut s, u64::from(t));
                }
                push_hooks(&mut s, hook_type);
                section(&mut out, 2, &s);
            }
            Payload::FunctionSection(r) => {
                for t in r.clone() {
                    func_types.push(t?);
                }
                section(&mut out, 3, code.get(r.range()).unwrap_or(&[]));
            }
            Payload::ExportSection(r) => {
                let ctx = ctx.as_ref().ok_or_else(|| Unsupported("order".into()))?;
                let mut s = Vec::new();
                leb(&mut s, u64::from(r.count()));
                for e in r {
                    let e = e?;
                    name(&mut s, e.name);
                    let (kind, index) = match e.kind {
                        wasmparser::ExternalKind::Func => (0, ctx.func(e.index)),
                        wasmparser::ExternalKind::Table => (1, e.index),
                        wasmparser::ExternalKind::Memory => (2, e.index),
                        wasmparser::ExternalKind::Global => (3, e.index),
                        wasmparser::ExternalKind::Tag => (4, e.index),
                    };
                    s.push(kind);
                    leb(&mut s, u64::from(index));
                }
                section(&mut out, 7, &s);
            }
            Payload::GlobalSection(r) => {
                for g in r.clone() {
                    for op in g?.init_expr.get_operators_reader() {
                        if matches!(op?, Operator::RefFunc { .. }) {
                            return Err(Unsupported("ref.func in a global".into()));
                        }
                    }
                }
                section(&mut out, 6, code.get(r.range()).unwrap_or(&[]));
            }
            Payload::ElementSection(r) => {
                let ctx = ctx.as_ref().ok_or_else(|| Unsupported("order".into()))?;
                let mut s = Vec::new();
                leb(&mut s, u64::from(r.count()));
                for e in r {
                    element(&mut s, code, ctx, e?)?;
                }
                section(&mut out, 9, &s);
            }
            Payload::CodeSectionStart { count, .. } => code_count = count,
            Payload::CodeSectionEntry(body) => {
                let ctx = ctx.as_ref().ok_or_else(|| Unsupported("order".into()))?;
                let ty = *func_types
                    .get(body_index as usize)
                    .ok_or_else(|| Unsupported("a body without a function".into()))?;
                let bt = ctx
                    .block_types
                    .get(ty as usize)
                    .ok_or_else(|| Unsupported("a bad type index".into()))?;
                let index = ctx.imported_funcs + body_index;
                let b = function(code, ctx, &body, bt, index)?;
                leb(&mut code_out, b.len() as u64);
                code_out.extend_from_slice(&b);
                body_index += 1;
                if body_index == code_count {
                    let mut s = Vec::new();
                    leb(&mut s, u64::from(code_count));
                    s.append(&mut code_out);
                    section(&mut out, 10, &s);
                }
            }
            Payload::StartSection { .. } => return Err(Unsupported("a start function".into())),
            other => {
                let Some((id, range)) = other.as_section() else {
                    return Err(Unsupported("an unknown payload".into()));
                };
                section(&mut out, id, code.get(range).unwrap_or(&[]));
            }
        }
    }
    Ok(out)
}

fn push_hooks(s: &mut Vec<u8>, hook_type: u32) {
    for hook in ["enter", "exit"] {
        name(s, HOOK_MODULE);
        name(s, hook);
        s.push(0x00);
        leb(s, u64::from(hook_type));
    }
}

/// A const expression with `ref.func` renumbered, `end` included.
fn const_expr(
    out: &mut Vec<u8>,
    code: &[u8],
    ctx: &Ctx,
    expr: &wasmparser::ConstExpr<'_>,
) -> Result<(), Unsupported> {
    let mut r = expr.get_operators_reader();
    loop {
        let start = r.original_position();
        let op = r.read()?;
        let end = r.original_position();
        match op {
            Operator::RefFunc { function_index } => {
                out.push(0xd2);
                leb(out, u64::from(ctx.func(function_index)));
            }
            Operator::End => {
                out.push(0x0b);
                return Ok(());
            }
            _ => out.extend_from_slice(code.get(start..end).unwrap_or(&[])),
        }
    }
}

fn element(
    s: &mut Vec<u8>,
    code: &[u8],
    ctx: &Ctx,
    e: wasmparser::Element<'_>,
) -> Result<(), Unsupported> {
    let reftype = |s: &mut Vec<u8>, t: wasmparser::RefType| -> Result<(), Unsupported> {
        valtype(s, &ValType::Ref(t))
    };
    let exprs = matches!(e.items, ElementItems::Expressions(..));
    match (&e.kind, exprs) {
        (
            ElementKind::Active {
                table_index,
                offset_expr,
            },
            _,
        ) => {
            let flag = match (table_index, exprs) {
                (None, false) => 0,
                (Some(_), false) => 2,
                (None, true) => 4,
                (Some(_), true) => 6,
            };
            leb(s, flag);
            if let Some(t) = table_index {
                leb(s, u64::from(*t));
            }
            const_expr(s, code, ctx, offset_expr)?;
            if table_index.is_some() {
                match &e.items {
                    ElementItems::Functions(_) => s.push(0x00),
                    ElementItems::Expressions(t, _) => reftype(s, *t)?,
                }
            }
        }
        (ElementKind::Passive, _) | (ElementKind::Declared, _) => {
            let passive = matches!(e.kind, ElementKind::Passive);
            leb(
                s,
                match (passive, exprs) {
                    (true, false) => 1,
                    (false, false) => 3,
                    (true, true) => 5,
                    (false, true) => 7,
                },
            );
            match &e.items {
                ElementItems::Functions(_) => s.push(0x00),
                ElementItems::Expressions(t, _) => reftype(s, *t)?,
            }
        }
    }
    match e.items {
        ElementItems::Functions(r) => {
            leb(s, u64::from(r.count()));
            for f in r {
                leb(s, u64::from(ctx.func(f?)));
            }
        }
        ElementItems::Expressions(_, r) => {
            leb(s, u64::from(r.count()));
            for x in r {
                const_expr(s, code, ctx, &x?)?;
            }
        }
    }
    Ok(())
}

/// One instrumented function body (without its size prefix).
fn function(
    code: &[u8],
    ctx: &Ctx,
    body: &wasmparser::FunctionBody<'_>,
    block_type: &[u8],
    index: u32,
) -> Result<Vec<u8>, Unsupported> {
    let range = body.range();
    let mut ops = body.get_operators_reader()?;
    let ops_start = ops.original_position();
    let mut out = code.get(range.start..ops_start).unwrap_or(&[]).to_vec();
    ctx.hook(&mut out, ctx.enter, index);
    out.push(0x02); // block
    out.extend_from_slice(block_type);
    out.push(0x03); // loop
    out.extend_from_slice(block_type);
    // Open control frames inside the original body; a branch whose depth equals it targets
    // the function's label, now the block (one further out than the loop).
    let mut depth: u32 = 0;
    let retarget = |d: u32, depth: u32| if d == depth { d + 1 } else { d };
    while !ops.eof() {
        let start = ops.original_position();
        let op = ops.read()?;
        let end = ops.original_position();
        let bytes = code.get(start..end).unwrap_or(&[]);
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                depth += 1;
                out.extend_from_slice(bytes);
            }
            Operator::End if depth == 0 => {
                out.push(0x0b); // the loop
                out.push(0x0b); // the block
                ctx.hook(&mut out, ctx.exit, index);
                out.push(0x0b); // the function
            }
            Operator::End => {
                depth -= 1;
                out.extend_from_slice(bytes);
            }
            Operator::Br { relative_depth } => {
                out.push(0x0c);
                leb(&mut out, u64::from(retarget(relative_depth, depth)));
            }
            Operator::BrIf { relative_depth } => {
                out.push(0x0d);
                leb(&mut out, u64::from(retarget(relative_depth, depth)));
            }
            Operator::BrTable { targets } => {
                out.push(0x0e);
                leb(&mut out, u64::from(targets.len()));
                for t in targets.targets() {
                    leb(&mut out, u64::from(retarget(t?, depth)));
                }
                leb(&mut out, u64::from(retarget(targets.default(), depth)));
            }
            Operator::Return => {
                ctx.hook(&mut out, ctx.exit, index);
                out.push(0x0f);
            }
            Operator::Call { function_index } => {
                // The call's price, moved to an operator only the profiler uses (the
                // profiler's `call` is free, so that the hooks cost nothing).
                out.extend_from_slice(&[0x43, 0, 0, 0, 0, 0x1a]); // f32.const 0, drop
                out.push(0x10);
                leb(&mut out, u64::from(ctx.func(function_index)));
            }
            Operator::RefFunc { function_index } => {
                out.push(0xd2);
                leb(&mut out, u64::from(ctx.func(function_index)));
            }
            Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. }
            | Operator::Try { .. }
            | Operator::TryTable { .. }
            | Operator::Delegate { .. } => {
                return Err(Unsupported(format!("operator {op:?}")));
            }
            _ => out.extend_from_slice(bytes),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn instrumented_modules_validate_and_keep_their_exports() {
        let wasm = wat::parse_str(
            r#"(module
            (import "keel" "set_return" (func $ret (param i32 i32)))
            (type $two (func (result i32 i64)))
            (memory (export "memory") 1)
            (table 2 funcref)
            (elem (i32.const 0) $a $b)
            (func $a (type $two) (i32.const 1) (i64.const 2))
            (func $b (param i32) (result i32)
                (block (br_if 1 (local.get 0) (local.get 0)) (drop))
                (if (local.get 0) (then (return (i32.const 7))))
                (br_table 0 0 (i32.const 3) (local.get 0)))
            (func (export "m") (drop (drop (call $a))) (drop (call $b (i32.const 0)))
                (call $ret (i32.const 0) (i32.const 0))))"#,
        )
        .unwrap();
        let out = instrument(&wasm).unwrap();
        let mut features = crate::config::keel_features();
        features.set(wasmparser::WasmFeatures::FLOATS, true);
        let mut v = wasmparser::Validator::new_with_features(features);
        v.validate_all(&out).unwrap();
        let mut exports = Vec::new();
        let mut imports = Vec::new();
        for p in Parser::new(0).parse_all(&out) {
            match p.unwrap() {
                Payload::ExportSection(r) => {
                    for e in r {
                        let e = e.unwrap();
                        exports.push((e.name.to_string(), e.index));
                    }
                }
                Payload::ImportSection(r) => {
                    for i in r {
                        let i = i.unwrap();
                        imports.push(format!("{}.{}", i.module, i.name));
                    }
                }
                _ => {}
            }
        }
        assert_eq!(
            imports,
            ["keel.set_return", "keel_profile.enter", "keel_profile.exit"]
        );
        // `m` was function 3; defined functions move up by the two hooks.
        assert!(exports.contains(&("m".to_string(), 5)), "{exports:?}");
        assert!(instrument(b"\0asm\x01\0\0\0\x08\x01\x00").is_err());
    }
}
