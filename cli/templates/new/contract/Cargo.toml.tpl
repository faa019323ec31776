[package]
name = "{{name}}"
version.workspace = true
edition.workspace = true
publish.workspace = true

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
keel-sdk.workspace = true
parity-scale-codec.workspace = true
