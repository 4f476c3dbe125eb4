//! Native execution speed of the machine, in guest instructions per second.
//!
//! Each benchmark boots a small kernel-mode program that loops forever and
//! measures `Machine::run` over a fixed tick budget; throughput is reported
//! in elements (= guest instructions) per second, so criterion's
//! "thrpt" figure in Melem/s is million guest instructions per second.
//!
//! Each program runs on both engines (`interp/...`, `jit/...`): the
//! translating tier's figure is after its blocks are hot (the first
//! iterations translate them).
//!
//! Run with `cargo bench -p hv-benches --bench machine`.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hv_host::addr::{GuestVirtAddr, MachineAddr};
use hv_host::machine::asm::*;
use hv_host::machine::{Engine, Exit, Machine, MachineConfig};

const ORIGIN: u32 = 0x8000_1000;
const BUDGET: u64 = 2_000_000;

fn boot(words: &[u32], engine: Engine) -> Machine {
    let mut m = Machine::new(MachineConfig {
        ram_bytes: 16 << 20,
    })
    .expect("valid RAM size");
    m.set_engine(engine)
        .expect("the engine is available on this host");
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.write_phys(MachineAddr::new(ORIGIN & 0x1fff_ffff), &bytes)
        .expect("program fits");
    m.boot(GuestVirtAddr::new(ORIGIN));
    m
}

/// (a) A tight ALU loop: eight register-to-register operations and a taken
/// branch per iteration. The branch compares `sltu`'s result (0 or 1) with
/// 2, so the loop never ends (comparing the counter would end it after
/// 2^32 passes, which the translating engine reaches within one criterion
/// run).
fn alu_loop() -> Vec<u32> {
    let mut a = Asm::new(ORIGIN);
    a.li(T0, 1).li(T6, 2);
    let top = a.here();
    a.emit(addu(T1, T1, T0));
    a.emit(xor(T2, T2, T1));
    a.emit(sll(T3, T1, 3));
    a.emit(subu(T4, T3, T2));
    a.emit(or(T5, T4, T0));
    a.emit(sltu(T7, T5, T1));
    a.emit(addiu(T0, T0, 1));
    a.bne(T7, T6, top);
    a.emit(and(T8, T8, T5));
    a.finish().expect("assembles")
}

/// (b) Loads, stores and taken branches: walk a 64 KiB array in kseg0,
/// reading, updating and writing each word, with an inner and an outer
/// loop.
fn memory_loop() -> Vec<u32> {
    let mut a = Asm::new(ORIGIN);
    let outer = a.here();
    a.li(T0, 0x8010_0000); // array base (physical 1 MiB)
    a.li(T1, 0x8011_0000); // end
    let inner = a.here();
    a.emit(lw(T2, 0, T0));
    a.emit(lw(T3, 4, T0));
    a.emit(addu(T2, T2, T3));
    a.emit(sw(T2, 0, T0));
    a.emit(sb(T3, 4, T0));
    a.emit(addiu(T0, T0, 8));
    a.bne(T0, T1, inner);
    a.emit(lhu(T4, -2, T0));
    a.b(outer);
    a.nop();
    a.finish().expect("assembles")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("native");
    g.throughput(Throughput::Elements(BUDGET));
    for engine in [Engine::Interp, Engine::Jit] {
        for (name, program) in [
            ("alu_loop", alu_loop()),
            ("load_store_branch", memory_loop()),
        ] {
            let mut m = boot(&program, engine);
            g.bench_function(format!("{}/{name}", engine.name()), |b| {
                b.iter(|| {
                    let exit = m.run(BUDGET);
                    assert_eq!(exit, Exit::BudgetExhausted);
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
