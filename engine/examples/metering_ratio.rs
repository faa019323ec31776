//! Metering overhead, robust to a shared machine: runs the same kernels in plain wasmi (fuel
//! off) and with Keel's configuration (fuel on), alternating, many rounds, and reports the
//! ratio of the minimum times (the least-disturbed runs).
//! `cargo run --release -p keel-engine --example metering_ratio`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use keel_engine::{EngineConfig, wasmi_config};

const KERNEL: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "mix") (param $n i32) (result i64) (local $i i32) (local $x i64)
    (local.set $x (i64.const 0x1E3779B97F4A7C15))
    (loop $l
      (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
      (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
      (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
      (local.set $x (i64.add (local.get $x) (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $x))
  (func $fib (export "fib") (param $n i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else (i64.add (call $fib (i64.sub (local.get $n) (i64.const 1)))
                     (call $fib (i64.sub (local.get $n) (i64.const 2))))))))"#;

struct Runner {
    store: wasmi::Store<()>,
    mix: wasmi::TypedFunc<i32, i64>,
    fib: wasmi::TypedFunc<i64, i64>,
    fuel: bool,
}

impl Runner {
    fn new(config: &wasmi::Config, fuel: bool) -> Self {
        let wasm = wat::parse_str(KERNEL).unwrap();
        let engine = wasmi::Engine::new(config);
        let module = wasmi::Module::new(&engine, &wasm).unwrap();
        let mut store = wasmi::Store::new(&engine, ());
        let instance = wasmi::Linker::<()>::new(&engine)
            .instantiate_and_start(&mut store, &module)
            .unwrap();
        let mix = instance.get_typed_func(&store, "mix").unwrap();
        let fib = instance.get_typed_func(&store, "fib").unwrap();
        Self {
            store,
            mix,
            fib,
            fuel,
        }
    }

    fn time(&mut self, which: usize) -> Duration {
        if self.fuel {
            self.store.set_fuel(u64::MAX).unwrap();
        }
        let start = Instant::now();
        match which {
            0 => {
                self.mix.call(&mut self.store, 200_000).unwrap();
            }
            _ => {
                self.fib.call(&mut self.store, 24).unwrap();
            }
        }
        start.elapsed()
    }
}

fn main() {
    let keel = wasmi_config(&EngineConfig::default());
    let mut plain = keel.clone();
    plain.consume_fuel(false);
    let mut off = Runner::new(&plain, false);
    let mut on = Runner::new(&keel, true);
    for (which, name) in [(0, "mix(200k)"), (1, "fib(24)")] {
        let (mut best_off, mut best_on) = (Duration::MAX, Duration::MAX);
        for _ in 0..60 {
            best_off = best_off.min(off.time(which));
            best_on = best_on.min(on.time(which));
        }
        println!(
            "{name}: fuel off {best_off:?}, Keel fuel on {best_on:?}, ratio {:.3}",
            best_on.as_secs_f64() / best_off.as_secs_f64()
        );
    }
}
