//! Plain wasmi: a module run with no Keel host, no gas schedule and (optionally) no fuel, to
//! measure Keel's overhead over raw execution of the same module.
//!
//! The host is the bare minimum a Keel contract imports, implemented natively and unmetered:
//! `input`, `set_return`, `revert`, `blake3`, `sha256`; any other `keel` import traps when
//! called. Each call gets a fresh `Store` and instance, as in Keel.

use wasmi::{
    Caller, CompilationMode, Config, Engine, Extern, Instance, Linker, Memory, Module, Store,
};

/// Host data of a plain call.
#[derive(Default)]
pub struct HostData {
    input: Vec<u8>,
    ret: Vec<u8>,
}

/// A compiled module and the linker for its minimal host.
pub struct PlainWasm {
    engine: Engine,
    module: Module,
    linker: Linker<HostData>,
    fuel: bool,
}

fn memory(caller: &Caller<'_, HostData>) -> Result<Memory, wasmi::Error> {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| wasmi::Error::new("no memory export"))
}

fn slice(mem: &[u8], ptr: i32, len: i32) -> Result<std::ops::Range<usize>, wasmi::Error> {
    let start = ptr as u32 as usize;
    let end = start
        .checked_add(len as u32 as usize)
        .filter(|&e| e <= mem.len())
        .ok_or_else(|| wasmi::Error::new("out of bounds"))?;
    Ok(start..end)
}

fn hash_host(
    mut caller: Caller<'_, HostData>,
    ptr: i32,
    len: i32,
    out: i32,
    f: fn(&[u8]) -> [u8; 32],
) -> Result<(), wasmi::Error> {
    let mem = memory(&caller)?;
    let data = mem.data_mut(&mut caller);
    let digest = f(&data[slice(data, ptr, len)?]);
    let r = slice(data, out, 32)?;
    data[r].copy_from_slice(&digest);
    Ok(())
}

impl PlainWasm {
    /// Compiles `code` eagerly (like Keel) with fuel metering `fuel` on or off; everything
    /// else is wasmi's default configuration.
    pub fn new(code: &[u8], fuel: bool) -> Self {
        let mut config = Config::default();
        config
            .consume_fuel(fuel)
            .compilation_mode(CompilationMode::Eager);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, code).expect("plain wasmi compile");
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(
                "keel",
                "input",
                |mut caller: Caller<'_, HostData>,
                 ptr: i32,
                 cap: i32|
                 -> Result<i32, wasmi::Error> {
                    let mem = memory(&caller)?;
                    let (data, host) = mem.data_and_store_mut(&mut caller);
                    let n = host.input.len().min(cap as u32 as usize);
                    let r = slice(data, ptr, n as i32)?;
                    data[r].copy_from_slice(&host.input[..n]);
                    Ok(host.input.len() as i32)
                },
            )
            .expect("link input")
            .func_wrap(
                "keel",
                "set_return",
                |mut caller: Caller<'_, HostData>,
                 ptr: i32,
                 len: i32|
                 -> Result<(), wasmi::Error> {
                    let mem = memory(&caller)?;
                    let (data, host) = mem.data_and_store_mut(&mut caller);
                    let r = slice(data, ptr, len)?;
                    host.ret = data[r].to_vec();
                    Ok(())
                },
            )
            .expect("link set_return")
            .func_wrap(
                "keel",
                "revert",
                |_: Caller<'_, HostData>, _: i32, _: i32| -> Result<(), wasmi::Error> {
                    Err(wasmi::Error::new("reverted"))
                },
            )
            .expect("link revert")
            .func_wrap(
                "keel",
                "blake3",
                |caller: Caller<'_, HostData>, ptr: i32, len: i32, out: i32| {
                    hash_host(caller, ptr, len, out, |b| *blake3::hash(b).as_bytes())
                },
            )
            .expect("link blake3")
            .func_wrap(
                "keel",
                "sha256",
                |caller: Caller<'_, HostData>, ptr: i32, len: i32, out: i32| {
                    hash_host(caller, ptr, len, out, sha256)
                },
            )
            .expect("link sha256");
        PlainWasm {
            engine,
            module,
            linker,
            fuel,
        }
    }

    /// Instantiates the module in a fresh store and runs `method` with `input`; returns the
    /// bytes passed to `set_return` and the fuel consumed (0 without fuel).
    pub fn call(&self, method: &str, input: &[u8]) -> (Vec<u8>, u64) {
        let mut store = Store::new(
            &self.engine,
            HostData {
                input: input.to_vec(),
                ret: Vec::new(),
            },
        );
        const FUEL: u64 = u64::MAX / 2;
        if self.fuel {
            store.set_fuel(FUEL).expect("fuel on");
        }
        let instance: Instance = self
            .linker
            .instantiate_and_start(&mut store, &self.module)
            .expect("plain wasmi instantiate");
        let func = instance
            .get_typed_func::<(), ()>(&store, method)
            .expect("method export");
        func.call(&mut store, ()).expect("plain wasmi call");
        let used = if self.fuel {
            FUEL - store.get_fuel().expect("fuel on")
        } else {
            0
        };
        (std::mem::take(&mut store.data_mut().ret), used)
    }

    /// The compiled module's engine (for compile-only benchmarks).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// Compiles (and validates) `code` with a default eager wasmi engine: the peer figure for
/// Keel's upload validation.
pub fn compile_plain(engine: &Engine, code: &[u8]) -> Module {
    Module::new(engine, code).expect("plain wasmi compile")
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}
