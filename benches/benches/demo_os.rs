//! The demo OS from boot to shutdown on the bare machine: a realistic mix
//! of user code, system calls, timer interrupts, TLB refills from the
//! kernel's handler, page faults and idle time.
//!
//! Two figures per image: the wall time of a whole run, and the throughput
//! in elements (= guest instructions) per second, so criterion's "thrpt" in
//! Melem/s is million guest instructions per second. Each image runs on
//! both engines (`interp/...`, `jit/...`); a run is short (3.6 million
//! instructions), so the translating tier pays its compile time in every
//! iteration, as a user does. Run with
//! `cargo bench -p hv-benches --bench demo_os`.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hv_host::machine::elf::ElfImage;
use hv_host::machine::{Engine, Exit, Machine, MachineConfig};

fn boot(image: &ElfImage, engine: Engine) -> Machine {
    let mut m = Machine::new(MachineConfig::default()).expect("default machine");
    m.set_engine(engine)
        .expect("the engine is available on this host");
    m.load_elf(image).expect("the demo image fits");
    m
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("demo_os_native");
    for (engine, (name, bytes)) in [Engine::Interp, Engine::Jit].into_iter().flat_map(|e| {
        [
            ("unmodified", demo_os::UNMODIFIED_IMAGE),
            ("pv", demo_os::PV_IMAGE),
        ]
        .map(|img| (e, img))
    }) {
        let image = ElfImage::parse(bytes).expect("valid demo image");
        // One run up front gives the instruction count (it is the same on
        // every run: the machine is deterministic).
        let mut m = boot(&image, engine);
        assert!(matches!(m.run(u64::MAX), Exit::Shutdown { code: 0 }));
        g.throughput(Throughput::Elements(m.instructions()));
        g.bench_function(format!("{}/{name}", engine.name()), |b| {
            b.iter(|| {
                let mut m = boot(&image, engine);
                let exit = m.run(u64::MAX);
                assert_eq!(exit, Exit::Shutdown { code: 0 });
                m.instructions()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
