[package]
name = "{{name}}-tests"
version.workspace = true
edition.workspace = true
publish.workspace = true

[dev-dependencies]
keel-testkit.workspace = true
{{name}}.workspace = true
