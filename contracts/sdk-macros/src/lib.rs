//! keel-sdk-macros: the procedural macros of the Keel SDK, re-exported by `keel-sdk`:
//! `#[contract]`, `#[interface]` and `#[derive(Event)]`. See `keel-sdk` for usage.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{
    Error, FnArg, ImplItem, ItemImpl, ItemTrait, ReturnType, Signature, TraitItem, Type,
    Visibility, parse_macro_input, spanned::Spanned,
};

/// Export names a method may not take: they are the module's own exports.
const RESERVED: &[&str] = &["memory", "keel_reentrant", "__heap_base", "__data_end"];

/// Turns the `pub fn`s of an `impl` block into contract methods.
///
/// Each `pub fn name(a: A, b: B) -> R` (an associated function: no `self`; state lives in
/// storage) becomes a wasm export `name: () -> ()` (on wasm32 only; the Rust function behind it
/// is `__keel_export_name`, so method names never clash with the module's items) that:
/// - decodes the input as the SCALE tuple `(A, B)`, reverting with
///   ``keel-sdk: invalid arguments for `name` `` if the bytes are not exactly one such tuple;
/// - calls the method;
/// - sets the SCALE encoding of the result as the return data (nothing for `()`);
/// - if `R` is written `Result<T, E>` (any path ending in `Result`), returns `T` on `Ok` and on
///   `Err(e)` reverts with the SCALE encoding of `e`.
///
/// Methods that are not `pub` are left alone (helpers). `#[contract(reentrant)]` also exports
/// `keel_reentrant`, accepting re-entry.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = TokenStream2::from(attr);
    let item = parse_macro_input!(item as ItemImpl);
    match expand_contract(attr, item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_contract(attr: TokenStream2, item: ItemImpl) -> syn::Result<TokenStream2> {
    let opts = parse_options(attr)?;
    let reentrant = opts.reentrant;
    // `impl Trait for X`: every function is a method (trait items have no `pub`), called
    // through the trait, so the trait (e.g. an `#[interface]`) and the contract cannot drift.
    let trait_path = match &item.trait_ {
        None => None,
        Some((Some(bang), _, _)) => {
            return Err(Error::new(
                bang.span(),
                "#[contract] cannot go on a negative impl",
            ));
        }
        Some((None, path, _)) => Some(path.clone()),
    };
    if !item.generics.params.is_empty() {
        return Err(Error::new(
            item.generics.span(),
            "a contract type cannot be generic",
        ));
    }
    let self_ty = &item.self_ty;
    let mut exports = Vec::new();
    let mut meta_methods = Vec::new();
    let mut client_methods = Vec::new();
    for it in &item.items {
        let ImplItem::Fn(f) = it else { continue };
        if trait_path.is_none() && !matches!(f.vis, Visibility::Public(_)) {
            continue;
        }
        let sig = &f.sig;
        check_signature(sig)?;
        let name = &sig.ident;
        let name_str = name.to_string();
        let (tys, idents) = params(sig)?;
        let call = match &trait_path {
            Some(t) => quote! { <#self_ty as #t>::#name(#(#idents),*) },
            None => quote! { <#self_ty>::#name(#(#idents),*) },
        };
        let finish = match &sig.output {
            ReturnType::Default => quote! { #call; },
            ReturnType::Type(_, ty) if is_result(ty) => {
                quote! { ::keel_sdk::rt::ret_result(#call); }
            }
            ReturnType::Type(_, _) => quote! { ::keel_sdk::rt::ret(&#call); },
        };
        let decode = if tys.is_empty() {
            quote! { let () = ::keel_sdk::rt::decode_args::<()>(#name_str, __keel_input); }
        } else {
            quote! {
                let (#(#idents,)*): (#(#tys,)*) =
                    ::keel_sdk::rt::decode_args(#name_str, __keel_input);
            }
        };
        meta_methods.push(method_meta(&name_str, sig, &tys));
        if name_str != "init" {
            client_methods.push(client_method(sig, &tys));
        }
        let doc = format!("The `{name_str}` method's wasm export.");
        // Exported under the method's name, but named `__keel_export_<name>` in Rust, so that a
        // method may share its name with any item of the contract's module.
        let export_fn = format_ident!("__keel_export_{}", name);
        exports.push(quote! {
            #[cfg(target_arch = "wasm32")]
            #[doc = #doc]
            #[unsafe(export_name = #name_str)]
            pub extern "C" fn #export_fn() {
                ::keel_sdk::rt::enter(|__keel_input: &[u8]| {
                    #decode
                    #finish
                })
            }
        });
    }
    if reentrant {
        exports.push(quote! {
            /// Marks this contract as accepting re-entry (never called).
            #[cfg(target_arch = "wasm32")]
            #[unsafe(export_name = "keel_reentrant")]
            pub extern "C" fn __keel_export_keel_reentrant() {}
        });
    }
    let contract_name = match &**self_ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        other => quote!(#other).to_string(),
    };
    let events = opts.events.iter().map(|e| {
        quote! {
            ::keel_sdk::meta::EventInfo {
                name: <#e as ::keel_sdk::Event>::NAME,
                topics: <#e as ::keel_sdk::Event>::TOPICS,
                ty: &<#e as ::keel_sdk::meta::TypeInfo>::TY,
            }
        }
    });
    let client = format_ident!("{}Client", contract_name);
    let client_doc = format!(
        "A typed host-side client of `{contract_name}` (generated by `#[contract]`; not on \
         wasm32): each method encodes its arguments, calls the contract on a \
         `keel_sdk::host::Chain` (keel-testkit's `TestChain`) and decodes the return value or \
         the contract's error type. A method named like one of the client's own functions \
         (`new`, `with_sender`, `address`, `chain`) is `call_NAME` here."
    );
    let meta_doc = format!(
        "The metadata of `{contract_name}`: what `#[contract]` writes into the wasm custom \
         section `keel:meta` (`keel_sdk::meta::encode` of it)."
    );
    Ok(quote! {
        #item
        #(#exports)*

        impl #self_ty {
            #[doc = #meta_doc]
            pub const KEEL_METADATA: ::keel_sdk::meta::Contract = ::keel_sdk::meta::Contract {
                name: #contract_name,
                methods: &[#(#meta_methods),*],
                events: &[#(#events),*],
            };
        }

        #[cfg(not(target_arch = "wasm32"))]
        #[doc = #client_doc]
        pub struct #client<'c, C: ?Sized> {
            chain: &'c mut C,
            address: ::keel_sdk::Address,
            sender: ::core::option::Option<::keel_sdk::Address>,
        }

        #[cfg(not(target_arch = "wasm32"))]
        impl<'c, C: ::keel_sdk::host::Chain + ?Sized> #client<'c, C> {
            /// A client of the contract at `address` on `chain`, sending as the chain's default
            /// sender.
            pub fn new(chain: &'c mut C, address: impl ::core::convert::Into<::keel_sdk::Address>) -> Self {
                Self { chain, address: address.into(), sender: ::core::option::Option::None }
            }

            /// The same client, sending as `sender`.
            pub fn with_sender(mut self, sender: impl ::core::convert::Into<::keel_sdk::Address>) -> Self {
                self.sender = ::core::option::Option::Some(sender.into());
                self
            }

            /// The contract's address.
            pub fn address(&self) -> ::keel_sdk::Address {
                self.address
            }

            /// The chain, for anything the client does not cover.
            pub fn chain(&mut self) -> &mut C {
                self.chain
            }

            fn __keel_sender(&self) -> ::keel_sdk::Address {
                match self.sender {
                    ::core::option::Option::Some(s) => s,
                    ::core::option::Option::None => self.chain.default_sender(),
                }
            }

            #(#client_methods)*
        }

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            const LEN: usize = ::keel_sdk::meta::encoded_len(&<#self_ty>::KEEL_METADATA);
            #[unsafe(link_section = "keel:meta")]
            static KEEL_META: [u8; LEN] =
                ::keel_sdk::meta::encode::<LEN>(&<#self_ty>::KEEL_METADATA);
        };
    })
}

/// `#[contract(...)]` options.
#[derive(Default)]
struct Options {
    reentrant: bool,
    events: Vec<syn::Path>,
}

fn parse_options(attr: TokenStream2) -> syn::Result<Options> {
    use syn::parse::Parser;
    use syn::punctuated::Punctuated;
    let mut opts = Options::default();
    let metas = Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated.parse2(attr.clone())?;
    for m in metas {
        match &m {
            syn::Meta::Path(p) if p.is_ident("reentrant") => opts.reentrant = true,
            syn::Meta::List(l) if l.path.is_ident("events") => {
                let list = Punctuated::<syn::Path, syn::Token![,]>::parse_terminated
                    .parse2(l.tokens.clone())?;
                opts.events.extend(list);
            }
            other => {
                return Err(Error::new(
                    other.span(),
                    format!(
                        "unknown #[contract] option `{}` (expected `reentrant` or `events(A, B, ...)`)",
                        quote!(#other)
                    ),
                ));
            }
        }
    }
    Ok(opts)
}

/// The functions every `#[contract]` client has, which a contract method cannot shadow.
const CLIENT_OWN_FNS: &[&str] = &["new", "with_sender", "address", "chain"];

/// One method of the host-side client.
fn client_method(sig: &Signature, tys: &[Type]) -> TokenStream2 {
    let name_str = sig.ident.unraw().to_string();
    // The client's own functions keep their names; a contract method with one of them is
    // `call_NAME` on the client (the token's `address()` is `call_address()`).
    let name = if CLIENT_OWN_FNS.contains(&name_str.as_str()) {
        format_ident!("call_{}", name_str)
    } else {
        sig.ident.clone()
    };
    let (ok, err) = match &sig.output {
        ReturnType::Default => (quote! { () }, quote! { ::keel_sdk::NoError }),
        ReturnType::Type(_, ty) => match result_parts(ty) {
            Some((t, e)) => (quote! { #t }, quote! { #e }),
            None => (quote! { #ty }, quote! { ::keel_sdk::NoError }),
        },
    };
    let mut params = Vec::new();
    let mut values = Vec::new();
    for (i, (arg, ty)) in sig.inputs.iter().zip(tys).enumerate() {
        let ident = match arg {
            FnArg::Typed(pt) => match &*pt.pat {
                syn::Pat::Ident(p) => p.ident.clone(),
                _ => format_ident!("arg{}", i),
            },
            FnArg::Receiver(_) => format_ident!("arg{}", i),
        };
        // An address parameter takes anything that converts into one (a harness's `[u8; 32]`).
        let is_address = matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Address"));
        if is_address {
            params.push(quote! { #ident: impl ::core::convert::Into<#ty> });
            values.push(quote! { ::core::convert::Into::<#ty>::into(#ident) });
        } else {
            params.push(quote! { #ident: #ty });
            values.push(quote! { #ident });
        }
    }
    let doc = format!("Calls `{name_str}` (one transaction, committed).");
    quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments)]
        pub fn #name(&mut self, #(#params),*) -> ::core::result::Result<::keel_sdk::host::Called<#ok, #err, C::Receipt>, C::Error> {
            let sender = self.__keel_sender();
            let args: (#(#tys,)*) = (#(#values,)*);
            let receipt = self.chain.call_raw(sender, self.address, #name_str, ::keel_sdk::host::encode_args(&args))?;
            ::core::result::Result::Ok(::keel_sdk::host::decode_reply(receipt))
        }
    }
}

/// The `keel_sdk::meta::Method` of one method.
fn method_meta(name: &str, sig: &Signature, tys: &[Type]) -> TokenStream2 {
    let names = param_names(sig);
    let args = names.iter().zip(tys).map(|(n, t)| {
        quote! { ::keel_sdk::meta::Field { name: #n, ty: &<#t as ::keel_sdk::meta::TypeInfo>::TY } }
    });
    let (returns, error) = match &sig.output {
        ReturnType::Default => (quote! { () }, None),
        ReturnType::Type(_, ty) => match result_parts(ty) {
            Some((t, e)) => (quote! { #t }, Some(e)),
            None => (quote! { #ty }, None),
        },
    };
    let error = match error {
        Some(e) => quote! { ::core::option::Option::Some(&<#e as ::keel_sdk::meta::TypeInfo>::TY) },
        None => quote! { ::core::option::Option::None },
    };
    quote! {
        ::keel_sdk::meta::Method {
            name: #name,
            args: &[#(#args),*],
            returns: &<#returns as ::keel_sdk::meta::TypeInfo>::TY,
            error: #error,
        }
    }
}

fn check_signature(sig: &Signature) -> syn::Result<()> {
    let name = sig.ident.to_string();
    if RESERVED.contains(&name.as_str()) || name.starts_with("__") {
        return Err(Error::new(
            sig.ident.span(),
            format!("`{name}` is a reserved export name"),
        ));
    }
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        return Err(Error::new(
            r.span(),
            "contract methods take no `self`: keep state in storage (keel_sdk::storage)",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(Error::new(
            sig.generics.span(),
            "contract methods cannot be generic",
        ));
    }
    if sig.asyncness.is_some() || sig.unsafety.is_some() || sig.variadic.is_some() {
        return Err(Error::new(
            sig.span(),
            "contract methods must be plain safe functions",
        ));
    }
    Ok(())
}

/// The parameter types, the identifiers to bind them to (`__keel_arg0`, ...: positional, so a
/// parameter named `_x` or `r#type` makes no odd generated name), and the parameter names as
/// written (for the contract's metadata and the host client: a pattern gets `argN`).
fn params(sig: &Signature) -> syn::Result<(Vec<Type>, Vec<syn::Ident>)> {
    let mut tys = Vec::new();
    let mut idents = Vec::new();
    for (i, arg) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = arg else {
            return Err(Error::new(arg.span(), "contract methods take no `self`"));
        };
        tys.push((*pt.ty).clone());
        idents.push(format_ident!("__keel_arg{}", i));
    }
    Ok((tys, idents))
}

/// The parameter names as written (a pattern parameter is `argN`; a leading `_` is kept).
fn param_names(sig: &Signature) -> Vec<String> {
    use syn::Pat;
    sig.inputs
        .iter()
        .enumerate()
        .map(|(i, arg)| match arg {
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(p) => p.ident.unraw().to_string(),
                _ => format!("arg{i}"),
            },
            FnArg::Receiver(_) => "self".to_string(),
        })
        .collect()
}

fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        _ => false,
    }
}

/// The `T` and `E` of a type written `Result<T, E>`, if it is written so.
fn result_parts(ty: &Type) -> Option<(Type, Type)> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    let mut tys = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    Some((tys.next()?, tys.next()?))
}

/// Declares another contract's interface and generates a typed client for it.
///
/// ```ignore
/// #[keel_sdk::interface]
/// pub trait Token {
///     fn transfer(to: Address, amount: u128) -> Result<(), TokenError>;
///     fn balance_of(who: Address) -> u128;
/// }
/// ```
///
/// keeps the trait and generates `pub struct TokenClient { pub address: Address, pub gas: u64 }`
/// with `TokenClient::new(address)`, `.with_gas(gas)` and one method per trait method, taking
/// `&self` and the same parameters. A method declared `-> Result<T, E>` (written with two type
/// arguments) returns `Result<T, CallError<E>>`, decoding a revert as `E` when it is one;
/// any other `-> T` returns `Result<T, CallError>`.
#[proc_macro_attribute]
pub fn interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return Error::new(Span::call_site(), "#[interface] takes no options")
            .to_compile_error()
            .into();
    }
    let item = parse_macro_input!(item as ItemTrait);
    match expand_interface(item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_interface(item: ItemTrait) -> syn::Result<TokenStream2> {
    let vis = &item.vis;
    let client = format_ident!("{}Client", item.ident);
    let client_doc = format!(
        "A typed client for a contract implementing `{}`.",
        item.ident
    );
    let mut methods = Vec::new();
    for it in &item.items {
        let TraitItem::Fn(f) = it else { continue };
        let sig = &f.sig;
        check_signature(sig)?;
        let name = &sig.ident;
        let name_str = name.to_string();
        let (tys, idents) = params(sig)?;
        let (ok, err) = match &sig.output {
            ReturnType::Default => (quote! { () }, quote! { ::keel_sdk::NoError }),
            ReturnType::Type(_, ty) => match result_parts(ty) {
                Some((t, e)) => (quote! { #t }, quote! { #e }),
                None => (quote! { #ty }, quote! { ::keel_sdk::NoError }),
            },
        };
        let doc = format!("Calls the `{name_str}` method.");
        methods.push(quote! {
            #[doc = #doc]
            pub fn #name(&self, #(#idents: #tys),*) -> ::core::result::Result<#ok, ::keel_sdk::CallError<#err>> {
                ::keel_sdk::call::invoke::<_, #ok, #err>(&self.address, #name_str, &(#(#idents,)*), self.gas)
            }
        });
    }
    Ok(quote! {
        #item

        #[doc = #client_doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #vis struct #client {
            /// The callee's address.
            pub address: ::keel_sdk::Address,
            /// The gas given to each call ([`keel_sdk::ALL_GAS`] by default: all that is left).
            pub gas: u64,
        }

        impl #client {
            /// A client for the contract at `address`, giving each call all remaining gas.
            pub const fn new(address: ::keel_sdk::Address) -> Self {
                #client { address, gas: ::keel_sdk::ALL_GAS }
            }

            /// The same client, giving each call at most `gas`.
            pub const fn with_gas(self, gas: u64) -> Self {
                #client { address: self.address, gas }
            }

            #(#methods)*
        }
    })
}

/// Derives `keel_sdk::Event` for a struct: the name topic is the type's name (at most 32 bytes),
/// fields marked `#[topic]` (at most 3, each `keel_sdk::Topic`) become indexed topics, and the
/// data is the struct's SCALE encoding (derive `Encode` too).
#[proc_macro_derive(Event, attributes(topic))]
pub fn derive_event(item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as syn::DeriveInput);
    match expand_event(item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_event(item: syn::DeriveInput) -> syn::Result<TokenStream2> {
    let name = &item.ident;
    let name_str = name.to_string();
    if name_str.len() > 32 {
        return Err(Error::new(name.span(), "event names are at most 32 bytes"));
    }
    let syn::Data::Struct(data) = &item.data else {
        return Err(Error::new(item.span(), "#[derive(Event)] supports structs"));
    };
    let mut topics = Vec::new();
    let mut topic_names: Vec<String> = Vec::new();
    for (i, field) in data.fields.iter().enumerate() {
        if !field.attrs.iter().any(|a| a.path().is_ident("topic")) {
            continue;
        }
        let member = match &field.ident {
            Some(id) => quote! { #id },
            None => {
                let idx = syn::Index::from(i);
                quote! { #idx }
            }
        };
        let slot = topics.len();
        topics.push(quote! { out[#slot] = ::keel_sdk::Topic::to_topic(&self.#member); });
        topic_names.push(match &field.ident {
            Some(id) => id.unraw().to_string(),
            None => i.to_string(),
        });
    }
    if topics.len() > 3 {
        return Err(Error::new(
            item.span(),
            "an event has at most 3 #[topic] fields",
        ));
    }
    let n = topics.len();
    let (impl_g, ty_g, where_c) = item.generics.split_for_impl();
    Ok(quote! {
        impl #impl_g ::keel_sdk::Event for #name #ty_g #where_c {
            const NAME: &'static str = #name_str;
            const NAME_TOPIC: [u8; 32] = ::keel_sdk::event::name_topic(#name_str);
            const TOPICS: &'static [&'static str] = &[#(#topic_names),*];
            fn indexed_topics(&self, out: &mut [[u8; 32]; 3]) -> usize {
                let _ = &out;
                #(#topics)*
                #n
            }
        }
    })
}

/// Derives `keel_sdk::meta::TypeInfo`: the type's description in the contract metadata (a
/// struct's fields or an enum's variants, by name, with their types). Every type in a
/// `#[contract]` method signature or a listed event needs it.
#[proc_macro_derive(TypeInfo)]
pub fn derive_type_info(item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as syn::DeriveInput);
    match expand_type_info(item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn fields_meta(fields: &syn::Fields) -> TokenStream2 {
    let list = fields.iter().enumerate().map(|(i, f)| {
        let name = match &f.ident {
            Some(id) => id.unraw().to_string(),
            None => i.to_string(),
        };
        let ty = &f.ty;
        quote! { ::keel_sdk::meta::Field { name: #name, ty: &<#ty as ::keel_sdk::meta::TypeInfo>::TY } }
    });
    quote! { &[#(#list),*] }
}

fn expand_type_info(item: syn::DeriveInput) -> syn::Result<TokenStream2> {
    let name = &item.ident;
    let name_str = name.unraw().to_string();
    let ty = match &item.data {
        syn::Data::Struct(s) => {
            let fields = fields_meta(&s.fields);
            quote! { ::keel_sdk::meta::Ty::Struct(#name_str, #fields) }
        }
        syn::Data::Enum(e) => {
            let variants = e.variants.iter().map(|v| {
                let vname = v.ident.unraw().to_string();
                let fields = fields_meta(&v.fields);
                quote! { ::keel_sdk::meta::Variant { name: #vname, fields: #fields } }
            });
            quote! { ::keel_sdk::meta::Ty::Enum(#name_str, &[#(#variants),*]) }
        }
        syn::Data::Union(_) => {
            return Err(Error::new(
                item.span(),
                "#[derive(TypeInfo)] supports structs and enums",
            ));
        }
    };
    let mut generics = item.generics.clone();
    for p in generics.type_params_mut() {
        p.bounds.push(syn::parse_quote!(::keel_sdk::meta::TypeInfo));
    }
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    Ok(quote! {
        impl #impl_g ::keel_sdk::meta::TypeInfo for #name #ty_g #where_c {
            const TY: ::keel_sdk::meta::Ty = #ty;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn contract_err(attr: TokenStream2, item: ItemImpl) -> String {
        match expand_contract(attr, item) {
            Ok(t) => panic!("expected an error, got {t}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn exports_pub_methods_only() {
        let item: ItemImpl = parse_quote! {
            impl C {
                pub fn a(x: u32, (y, z): (u8, u8)) -> u64 { 0 }
                pub fn b() -> Result<u8, E> { Ok(0) }
                fn helper() {}
            }
        };
        let out = expand_contract(TokenStream2::new(), item).map(|t| t.to_string());
        let out = out.unwrap_or_else(|e| panic!("{e}"));
        assert!(out.contains("export_name = \"a\""), "{out}");
        assert!(
            out.contains("pub extern \"C\" fn __keel_export_a ()"),
            "{out}"
        );
        assert!(out.contains("export_name = \"b\""), "{out}");
        assert!(!out.contains("helper\""), "{out}");
        assert!(out.contains("ret_result"), "{out}");
        assert!(out.contains("__keel_arg1"), "{out}");
        assert!(!out.contains("keel_reentrant"), "{out}");
    }

    #[test]
    fn underscore_and_raw_parameter_names_make_plain_generated_names() {
        let item: ItemImpl = parse_quote! {
            impl C { pub fn a(_unused: u32, r#type: u8) {} }
        };
        let sig = match &item.items[0] {
            ImplItem::Fn(f) => f.sig.clone(),
            _ => unreachable!(),
        };
        assert_eq!(param_names(&sig), ["_unused", "type"]);
        let out = expand_contract(TokenStream2::new(), item)
            .map(|t| t.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.contains("__keel__"), "{out}");
        assert!(
            out.contains("__keel_arg0") && out.contains("__keel_arg1"),
            "{out}"
        );
    }

    #[test]
    fn trait_impls_export_every_method_through_the_trait() {
        let item: ItemImpl = parse_quote! {
            impl api::Token for C {
                fn transfer(to: Address, amount: u128) -> Result<(), E> { Ok(()) }
            }
        };
        let out = expand_contract(TokenStream2::new(), item)
            .map(|t| t.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.contains("export_name = \"transfer\""), "{out}");
        assert!(out.contains("< C as api :: Token > :: transfer"), "{out}");
    }

    #[test]
    fn reentrant_option_exports_the_marker() {
        let item: ItemImpl = parse_quote! { impl C { pub fn a() {} } };
        let out = expand_contract(quote! { reentrant }, item).map(|t| t.to_string());
        assert!(
            out.unwrap_or_default()
                .contains("export_name = \"keel_reentrant\"")
        );
    }

    #[test]
    fn rejects_self_reserved_names_generics_and_unknown_options() {
        let e = contract_err(
            TokenStream2::new(),
            parse_quote! { impl C { pub fn a(&self) {} } },
        );
        assert!(e.contains("no `self`"), "{e}");
        let e = contract_err(
            TokenStream2::new(),
            parse_quote! { impl C { pub fn memory() {} } },
        );
        assert!(e.contains("reserved"), "{e}");
        let e = contract_err(
            TokenStream2::new(),
            parse_quote! { impl C { pub fn a<T>() {} } },
        );
        assert!(e.contains("generic"), "{e}");
        let e = contract_err(quote! { fast }, parse_quote! { impl C {} });
        assert!(e.contains("unknown #[contract] option"), "{e}");
    }

    #[test]
    fn interface_splits_result_types() {
        let item: ItemTrait = parse_quote! {
            pub trait Token {
                fn transfer(to: Address, amount: u128) -> Result<(), TokenError>;
                fn total() -> u128;
            }
        };
        let out = expand_interface(item)
            .map(|t| t.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.contains("pub struct TokenClient"), "{out}");
        assert!(out.contains("CallError < TokenError >"), "{out}");
        assert!(
            out.contains("invoke :: < _ , u128 , :: keel_sdk :: NoError >"),
            "{out}"
        );
    }

    #[test]
    fn event_topics_and_limits() {
        let item: syn::DeriveInput = parse_quote! {
            struct Moved { #[topic] from: Address, amount: u128 }
        };
        let out = expand_event(item)
            .map(|t| t.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.contains("\"Moved\""), "{out}");
        assert!(
            out.contains("out [0usize] = :: keel_sdk :: Topic :: to_topic (& self . from)"),
            "{out}"
        );
        let item: syn::DeriveInput = parse_quote! {
            struct E { #[topic] a: u8, #[topic] b: u8, #[topic] c: u8, #[topic] d: u8 }
        };
        assert!(expand_event(item).is_err());
    }
}
