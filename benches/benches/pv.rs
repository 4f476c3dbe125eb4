//! Paravirtualization on its real paths: the monitor with
//! `MonitorConfig { hypercalls: true, .. }` (`--mode para`) running the
//! hand-assembled kernels of `hv_benches` that make `HYPCALL`s:
//!
//! - `hypercall/discover_version`: a kernel looping on `Discover(Version)`
//!   (v0 = 1, a0 = 0); time per round trip.
//! - `tlb_install/{batch,trapped}/{8,32}`: N TLB entries installed by one
//!   `TlbInstallBatch` hypercall (20-byte records in kseg0) vs N times
//!   `mtc0` EntryHi, EntryLo0, EntryLo1, PageMask, Index and `tlbwi`, each
//!   trapped and emulated; time per entry.
//! - `page_zeroed/hypercall`: the guest asks `PageZeroed` about 32 frames
//!   it never touched (one hypercall) and skips zeroing them;
//!   `page_zeroed/guest_zeroes`: the guest zeroes fresh frames itself with
//!   1024 word stores each, where the first touch of each frame also costs
//!   the monitor's mapping and zeroing of it (and, since "page already
//!   zeroed" is offered, the write-tracking fault of its first store).
//!   Time per frame.
//!
//! The demo OS native vs full vs para is the `demo_os` group of the
//! `monitor` bench.
//!
//! Before each group a line on stdout gives the deterministic figures:
//! clock ticks (virtual cycles) and exits per unit.
//! Run with `cargo bench -p hv-benches --bench pv`.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hv_abi::Hypercall;
use hv_benches::{
    RAM_BYTES, ZERO_BATCH, ZERO_FRAMES, ZERO_RAM_BYTES, bench_units, hypercall_kernel,
    page_zeroed_kernel, tlb_batch_kernel, tlb_trapped_kernel, zero_frames_kernel,
};
use hv_host::machine::elf::ElfImage;
use hv_host::machine::{Exit, Machine, MachineConfig};
use hv_host::monitor::stats::{ExitReason, VmStats};
use hv_host::monitor::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};

/// Ticks run before a profile is taken (boot, first fills).
const WARM_TICKS: u64 = 500_000;
/// Ticks over which the per-unit figures are taken.
const PROFILE_TICKS: u64 = 5_000_000;
/// Index of `tlbwi` in `VmStats::privileged` (`stats::PRIV_NAMES`).
const TLBWI: usize = 5;

// ----- set-up -----

fn monitor(image: &ElfImage, ram_bytes: u32, hypercalls: bool) -> Monitor {
    let config = MonitorConfig {
        hypercalls,
        ..MonitorConfig::default()
    };
    let vm = VmConfig {
        ram_bytes,
        ..VmConfig::default()
    };
    let mut m = Monitor::new(config, &[vm]).expect("valid VM");
    m.load(VmId(0), image).expect("the image fits");
    m
}

/// `--mode para`: hypercalls offered.
fn para(image: &ElfImage, ram_bytes: u32) -> Monitor {
    monitor(image, ram_bytes, true)
}

/// Runs `m` for `ticks`, which must not stop the VM.
fn run_monitor(m: &mut Monitor, ticks: u64) {
    assert_eq!(m.run(ticks), MonitorExit::BudgetExhausted);
    assert_eq!(m.stop_reason(VmId(0)), None, "the VM stopped");
}

/// What the VM did over a span.
#[derive(Clone, Debug)]
struct Span {
    ticks: u64,
    guest_instructions: u64,
    monitor_cycles: u64,
    exits: u64,
    hypercall_exits: u64,
    privileged_exits: u64,
    tlb_exits: u64,
    hypercalls: [u64; 16],
    tlbwi: u64,
    frames_zeroed: u64,
    dirty_tracking_faults: u64,
    unmapped_fills: u64,
}

impl Span {
    fn between(t0: u64, a: &VmStats, t1: u64, b: &VmStats) -> Self {
        let tlb = |s: &VmStats| {
            s.exit_count(ExitReason::TlbMissLd)
                + s.exit_count(ExitReason::TlbMissSt)
                + s.exit_count(ExitReason::TlbMod)
        };
        Span {
            ticks: t1 - t0,
            guest_instructions: b.guest_instructions - a.guest_instructions,
            monitor_cycles: b.monitor_cycles - a.monitor_cycles,
            exits: b.exits_total() - a.exits_total(),
            hypercall_exits: b.exit_count(ExitReason::Hypercall)
                - a.exit_count(ExitReason::Hypercall),
            privileged_exits: b.exit_count(ExitReason::CopUnusable)
                - a.exit_count(ExitReason::CopUnusable),
            tlb_exits: tlb(b) - tlb(a),
            hypercalls: std::array::from_fn(|i| b.hypercalls[i] - a.hypercalls[i]),
            tlbwi: b.privileged[TLBWI] - a.privileged[TLBWI],
            frames_zeroed: b.frames_zeroed - a.frames_zeroed,
            dirty_tracking_faults: b.dirty_tracking_faults - a.dirty_tracking_faults,
            unmapped_fills: b.unmapped_fills - a.unmapped_fills,
        }
    }

    fn virtual_cycles(&self) -> u64 {
        self.guest_instructions + self.monitor_cycles
    }

    fn calls(&self, call: Hypercall) -> u64 {
        self.hypercalls[call.number() as usize]
    }
}

/// Warms `m` up, then returns what a profile span does.
fn profile(m: &mut Monitor) -> Span {
    run_monitor(m, WARM_TICKS);
    let (t0, a) = (m.ticks(), m.stats(VmId(0)).expect("VM 0"));
    run_monitor(m, PROFILE_TICKS);
    Span::between(t0, &a, m.ticks(), &m.stats(VmId(0)).expect("VM 0"))
}

fn per(n: u64, d: u64) -> f64 {
    n as f64 / d.max(1) as f64
}

// ----- 1. a hypercall round trip -----

fn hypercall(c: &mut Criterion) {
    let mut m = para(&hypercall_kernel(), RAM_BYTES);
    let s = profile(&mut m);
    let calls = s.calls(Hypercall::Discover);
    assert_eq!(calls, s.hypercall_exits, "every exit is a Discover");
    let tpu = per(s.ticks, calls);
    println!(
        "hypercall: Discover(Version): {tpu:.1} ticks per round trip ({:.1} virtual cycles = \
         {:.1} guest instructions + {:.1} monitor cycles), {:.2} exits per call",
        per(s.virtual_cycles(), calls),
        per(s.guest_instructions, calls),
        per(s.monitor_cycles, calls),
        per(s.exits, calls),
    );
    let mut g = c.benchmark_group("hypercall");
    bench_units(&mut g, "discover_version", tpu, |t| run_monitor(&mut m, t));
    g.finish();
}

// ----- 2. a TLB batch vs trapped tlbwi -----

fn tlb_install(c: &mut Criterion) {
    let mut g = c.benchmark_group("tlb_install");
    for n in [8u32, 32] {
        let mut batch = para(&tlb_batch_kernel(n), RAM_BYTES);
        let sb = profile(&mut batch);
        let eb = sb.calls(Hypercall::TlbInstallBatch) * u64::from(n);
        let mut trapped = para(&tlb_trapped_kernel(n), RAM_BYTES);
        let st = profile(&mut trapped);
        let et = st.tlbwi;
        let (bt, tt) = (per(sb.ticks, eb), per(st.ticks, et));
        println!(
            "tlb_install/{n}: batch {bt:.1} ticks per entry ({:.1} virtual cycles, {:.1} monitor; \
             {:.3} exits, {:.1} ticks per call); trapped {tt:.1} ticks per entry ({:.1} virtual \
             cycles, {:.1} monitor; {:.2} exits: {:.2} privileged, {:.2} TLB); \
             trapped/batch {:.1}x",
            per(sb.virtual_cycles(), eb),
            per(sb.monitor_cycles, eb),
            per(sb.exits, eb),
            bt * f64::from(n),
            per(st.virtual_cycles(), et),
            per(st.monitor_cycles, et),
            per(st.exits, et),
            per(st.privileged_exits, et),
            per(st.tlb_exits, et),
            tt / bt,
        );
        g.throughput(Throughput::Elements(1));
        bench_units(&mut g, &format!("batch/{n}"), bt, |t| {
            run_monitor(&mut batch, t)
        });
        bench_units(&mut g, &format!("trapped/{n}"), tt, |t| {
            run_monitor(&mut trapped, t)
        });
    }
    g.finish();
}

// ----- 3. "page already zeroed" vs the guest zeroing -----

/// Runs the zeroing kernel for `budget` ticks, starting a fresh VM
/// (untimed) whenever it has zeroed all its frames; returns the time spent
/// in `run`.
fn run_zeroing(m: &mut Monitor, image: &ElfImage, budget: u64) -> Duration {
    let mut left = budget;
    let mut spent = Duration::ZERO;
    loop {
        if m.stop_reason(VmId(0)).is_some() {
            assert_eq!(m.stop_reason(VmId(0)), Some(&VmStop::Exited(0)));
            *m = para(image, ZERO_RAM_BYTES);
        }
        let t0 = m.ticks();
        let start = Instant::now();
        let exit = m.run(left);
        spent += start.elapsed();
        left = left.saturating_sub(m.ticks() - t0);
        match exit {
            MonitorExit::BudgetExhausted => return spent,
            MonitorExit::AllStopped if left == 0 => return spent,
            MonitorExit::AllStopped => {}
            MonitorExit::OutputPending => unreachable!("the kernel prints nothing"),
        }
    }
}

fn page_zeroed(c: &mut Criterion) {
    // (a) one PageZeroed per 32 untouched frames, no zeroing.
    let mut a = para(&page_zeroed_kernel(), ZERO_RAM_BYTES);
    let sa = profile(&mut a);
    let fa = sa.calls(Hypercall::PageZeroed) * u64::from(ZERO_BATCH);
    assert_eq!(sa.frames_zeroed, 0, "the guest touches none of them");
    let a_tpu = per(sa.ticks, fa);

    // (b) the guest zeroes fresh frames; under the monitor the first touch
    // maps (and zeroes) each frame.
    let image = zero_frames_kernel();
    let mut b = para(&image, ZERO_RAM_BYTES);
    let sb = profile(&mut b);
    let fb = sb.frames_zeroed;
    let b_tpu = per(sb.ticks, fb);
    // The same guest under --mode full (no write tracking) and natively.
    let mut f = monitor(&image, ZERO_RAM_BYTES, false);
    let sf = profile(&mut f);
    let mut n = Machine::new(MachineConfig {
        ram_bytes: ZERO_RAM_BYTES,
    })
    .expect("valid RAM size");
    n.load_elf(&image).expect("the image fits");
    assert_eq!(n.run(u64::MAX), Exit::Shutdown { code: 0 });
    let n_tpu = per(n.ticks(), u64::from(ZERO_FRAMES));
    println!(
        "page_zeroed: hypercall {a_tpu:.1} ticks per frame ({:.1} per call of {ZERO_BATCH} \
         frames, {:.3} exits per frame); guest zeroes {b_tpu:.1} ticks per frame ({:.1} guest \
         instructions + {:.1} monitor cycles; {:.2} exits: {:.2} kseg0 fills, {:.2} \
         write-tracking faults), {:.0}x the hypercall; the same guest under --mode full \
         {:.1} ticks per frame ({:.2} exits), natively {n_tpu:.1} cycles per frame",
        a_tpu * f64::from(ZERO_BATCH),
        per(sa.exits, fa),
        per(sb.guest_instructions, fb),
        per(sb.monitor_cycles, fb),
        per(sb.exits, fb),
        per(sb.unmapped_fills, fb),
        per(sb.dirty_tracking_faults, fb),
        b_tpu / a_tpu,
        per(sf.ticks, sf.frames_zeroed),
        per(sf.exits, sf.frames_zeroed),
    );

    let mut g = c.benchmark_group("page_zeroed");
    g.throughput(Throughput::Elements(1));
    bench_units(&mut g, "hypercall", a_tpu, |t| run_monitor(&mut a, t));
    g.bench_function("guest_zeroes", |bch| {
        bch.iter_custom(|iters| {
            let budget = ((iters as f64 * b_tpu).round() as u64).max(1);
            run_zeroing(&mut b, &image, budget)
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = hypercall, tlb_install, page_zeroed
}
criterion_main!(benches);
