//! The monitor's costs on its real paths, each beside the bare machine
//! where the comparison means something:
//!
//! - `syscall_round_trip/{native,full}`: user `syscall` → guest kernel's
//!   general handler (`mfc0` Cause/EPC, `mtc0` EPC, `eret`) → user; under
//!   the monitor the exception is forwarded and the four privileged
//!   instructions are emulated. Time is per round trip.
//! - `tlb_miss/stlb`: a user loop over 40 page pairs, all in a 64-entry
//!   virtual TLB but not in the 32-entry real one: every miss is refilled
//!   by the software TLB without entering the guest. Time is per miss.
//! - `tlb_miss/forwarded`: a loop over 64 page pairs with a 32-entry
//!   virtual TLB: guest-visible misses go to the guest's refill handler
//!   (`mfc0 Context`, two `lw`, `mtc0 EntryLo0/1`, `tlbwr`, `eret`), and
//!   the retried access is refilled by the software TLB. Time is per
//!   guest-visible miss, everything included.
//! - `tlb_miss/native`: the same image as `forwarded` on the bare machine;
//!   time per refill exception.
//! - `machine_switch/two_vms`: two VMs spinning, 1000-tick slices; time
//!   per machine switch (including the slice of guest work and the kseg0
//!   refill after the TLB flush). `machine_switch/one_vm` is one VM with
//!   the same slices and no switches: the difference is the switch.
//! - `demo_os/{native,full,para}`: the demo OS from boot to shutdown on
//!   the bare machine and under the monitor: the unmodified image natively
//!   and with `--mode full`, the PV image with `--mode para` (hypercalls
//!   offered); thrpt in Melem/s is guest MIPS.
//!
//! Before each group a line on stdout gives the deterministic figures:
//! virtual cycles (clock ticks) per unit, exits, the software TLB's share.
//! Run with `cargo bench -p hv-benches --bench monitor`.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hv_benches::{RAM_BYTES, bench_units, idle_kernel, spin_kernel, syscall_kernel, tlb_kernel};
use hv_host::machine::elf::ElfImage;
use hv_host::machine::exception::ExcCode;
use hv_host::machine::{Exit, Machine, MachineConfig};
use hv_host::monitor::stats::{ExitReason, VmStats};
use hv_host::monitor::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};

/// Ticks run before a profile is taken (boot, first fills).
const WARM_TICKS: u64 = 500_000;
/// Ticks over which the per-unit figures are taken.
const PROFILE_TICKS: u64 = 5_000_000;

// ----- set-up -----

fn native(image: &ElfImage) -> Machine {
    let mut m = Machine::new(MachineConfig {
        ram_bytes: RAM_BYTES,
    })
    .expect("valid RAM size");
    m.load_elf(image).expect("the image fits");
    m
}

fn full(images: &[&ElfImage], config: MonitorConfig, vtlb_entries: usize) -> Monitor {
    let vm = VmConfig {
        ram_bytes: RAM_BYTES,
        vtlb_entries,
        ..VmConfig::default()
    };
    let mut m = Monitor::new(config, &vec![vm; images.len()]).expect("valid VMs");
    for (i, img) in images.iter().enumerate() {
        m.load(VmId(i), img).expect("the image fits");
    }
    m
}

/// The counters of every VM, summed, and the clock.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    ticks: u64,
    guest_instructions: u64,
    monitor_cycles: u64,
    exits: u64,
    syscalls: u64,
    privileged: u64,
    stlb_refills: u64,
    refills_forwarded: u64,
    unmapped_fills: u64,
    switches: u64,
}

impl Sample {
    fn of(m: &Monitor) -> Self {
        let mut s = Sample {
            ticks: m.ticks(),
            ..Sample::default()
        };
        for i in 0..m.vm_count() {
            let v: VmStats = m.stats(VmId(i)).expect("VM exists");
            s.guest_instructions += v.guest_instructions;
            s.monitor_cycles += v.monitor_cycles;
            s.exits += v.exits_total();
            s.syscalls += v.exit_count(ExitReason::Syscall);
            s.privileged += v.exit_count(ExitReason::CopUnusable);
            s.stlb_refills += v.stlb_refills;
            s.refills_forwarded += v.refills_forwarded;
            s.unmapped_fills += v.unmapped_fills;
            s.switches += v.machine_switches;
        }
        s
    }

    fn minus(self, o: Self) -> Self {
        Sample {
            ticks: self.ticks - o.ticks,
            guest_instructions: self.guest_instructions - o.guest_instructions,
            monitor_cycles: self.monitor_cycles - o.monitor_cycles,
            exits: self.exits - o.exits,
            syscalls: self.syscalls - o.syscalls,
            privileged: self.privileged - o.privileged,
            stlb_refills: self.stlb_refills - o.stlb_refills,
            refills_forwarded: self.refills_forwarded - o.refills_forwarded,
            unmapped_fills: self.unmapped_fills - o.unmapped_fills,
            switches: self.switches - o.switches,
        }
    }

    fn virtual_cycles(&self) -> u64 {
        self.guest_instructions + self.monitor_cycles
    }
}

/// Runs `m` for `ticks`, which must not stop any VM.
fn run_monitor(m: &mut Monitor, ticks: u64) {
    assert_eq!(m.run(ticks), MonitorExit::BudgetExhausted);
    for i in 0..m.vm_count() {
        assert_eq!(m.stop_reason(VmId(i)), None, "vm{i} stopped");
    }
}

/// Warms `m` up, then returns what a profile span does.
fn profile_monitor(m: &mut Monitor) -> Sample {
    run_monitor(m, WARM_TICKS);
    let a = Sample::of(m);
    run_monitor(m, PROFILE_TICKS);
    Sample::of(m).minus(a)
}

/// Warms `m` up, then returns (ticks, exceptions with `code`) over a
/// profile span.
fn profile_native(m: &mut Machine, code: ExcCode) -> (u64, u64) {
    assert_eq!(m.run(WARM_TICKS), Exit::BudgetExhausted);
    let (t, n) = (m.ticks(), m.stats().exceptions[code as usize]);
    assert_eq!(m.run(PROFILE_TICKS), Exit::BudgetExhausted);
    (m.ticks() - t, m.stats().exceptions[code as usize] - n)
}

fn per(n: u64, d: u64) -> f64 {
    n as f64 / d.max(1) as f64
}

// ----- 1. a forwarded system call -----

fn syscall_round_trip(c: &mut Criterion) {
    let img = syscall_kernel();
    let mut n = native(&img);
    let (nt, ns) = profile_native(&mut n, ExcCode::Sys);
    let native_tpu = per(nt, ns);
    let mut f = full(&[&img], MonitorConfig::default(), 32);
    let s = profile_monitor(&mut f);
    let full_tpu = per(s.ticks, s.syscalls);
    println!(
        "syscall_round_trip: native {native_tpu:.1} cycles/round trip; full {full_tpu:.1} \
         ticks ({:.1} virtual cycles = {:.1} guest instructions + {:.1} monitor) and {:.2} exits \
         ({:.2} privileged) per round trip: {:.1}x native cycles",
        per(s.virtual_cycles(), s.syscalls),
        per(s.guest_instructions, s.syscalls),
        per(s.monitor_cycles, s.syscalls),
        per(s.exits, s.syscalls),
        per(s.privileged, s.syscalls),
        full_tpu / native_tpu,
    );

    let mut g = c.benchmark_group("syscall_round_trip");
    bench_units(&mut g, "native", native_tpu, |t| {
        assert_eq!(n.run(t), Exit::BudgetExhausted)
    });
    bench_units(&mut g, "full", full_tpu, |t| run_monitor(&mut f, t));
    g.finish();
}

// ----- 2. TLB misses: software TLB vs the guest's refill handler -----

fn tlb_miss(c: &mut Criterion) {
    // (a) 40 pairs, all in a 64-entry virtual TLB (preloaded by the
    // kernel), thrashing the 32-entry real TLB.
    let fits = tlb_kernel(40, 40);
    let mut a = full(&[&fits], MonitorConfig::default(), 64);
    let sa = profile_monitor(&mut a);
    assert_eq!(sa.refills_forwarded, 0, "the virtual TLB holds every pair");
    let a_tpu = per(sa.ticks, sa.stlb_refills);
    let touches_a = sa.guest_instructions as f64 / 4.0;
    println!(
        "tlb_miss/stlb: 40 pairs, vtlb 64: {:.1} ticks per miss, {:.2} misses per touch, \
         100.0% served by the software TLB ({} refills, {} forwarded), {:.2} exits per miss",
        a_tpu,
        sa.stlb_refills as f64 / touches_a,
        sa.stlb_refills,
        sa.refills_forwarded,
        per(sa.exits, sa.stlb_refills),
    );

    // (b) 64 pairs with a 32-entry virtual TLB (31 after the wired user
    // code): guest-visible misses run the guest's refill handler.
    let spills = tlb_kernel(64, 31);
    let mut b = full(&[&spills], MonitorConfig::default(), 32);
    let sb = profile_monitor(&mut b);
    let b_tpu = per(sb.ticks, sb.refills_forwarded);
    let mut n = native(&spills);
    let (nt, nm) = profile_native(&mut n, ExcCode::Tlbl);
    let n_tpu = per(nt, nm);
    let share = sb.stlb_refills as f64 * 100.0 / (sb.stlb_refills + sb.refills_forwarded) as f64;
    println!(
        "tlb_miss/forwarded: 64 pairs, vtlb 32: {b_tpu:.1} ticks per guest-visible miss \
         ({:.1} virtual cycles, {:.2} exits: {:.2} privileged, {:.2} software TLB refills); \
         real-TLB misses {:.1}% served by the software TLB ({} stlb, {} forwarded); \
         native: {n_tpu:.1} cycles per refill, {:.1}x",
        per(sb.virtual_cycles(), sb.refills_forwarded),
        per(sb.exits, sb.refills_forwarded),
        per(sb.privileged, sb.refills_forwarded),
        per(sb.stlb_refills, sb.refills_forwarded),
        share,
        sb.stlb_refills,
        sb.refills_forwarded,
        b_tpu / n_tpu,
    );

    let mut g = c.benchmark_group("tlb_miss");
    bench_units(&mut g, "stlb", a_tpu, |t| run_monitor(&mut a, t));
    bench_units(&mut g, "forwarded", b_tpu, |t| run_monitor(&mut b, t));
    bench_units(&mut g, "native", n_tpu, |t| {
        assert_eq!(n.run(t), Exit::BudgetExhausted)
    });
    g.finish();
}

// ----- 3. machine switches -----

/// `n` VMs of 1 MiB (so that 1,000 fit), VM `i` booting `image(i)`,
/// warmed up; and their clock ticks per machine switch.
fn switching<'a>(
    config: MonitorConfig,
    n: usize,
    image: impl Fn(usize) -> &'a ElfImage,
) -> (Monitor, f64) {
    let vm = VmConfig {
        ram_bytes: 1 << 20,
        ..VmConfig::default()
    };
    let mut m = Monitor::new(config, &vec![vm; n]).expect("valid VMs");
    for i in 0..n {
        m.load(VmId(i), image(i)).expect("the image fits");
    }
    let s = profile_monitor(&mut m);
    (m, per(s.ticks, s.switches))
}

fn machine_switch(c: &mut Criterion) {
    const SLICE: u64 = 1000;
    let img = spin_kernel();
    let config = MonitorConfig {
        slice_ticks: SLICE,
        ..MonitorConfig::default()
    };
    let mut two = full(&[&img, &img], config, 32);
    let s = profile_monitor(&mut two);
    let tpu = per(s.ticks, s.switches);
    println!(
        "machine_switch: slice {SLICE} ticks: {tpu:.1} ticks per switch ({:.1} guest \
         instructions, {:.1} monitor cycles, {:.2} exits, {:.2} kseg0 refills per switch)",
        per(s.guest_instructions, s.switches),
        per(s.monitor_cycles, s.switches),
        per(s.exits, s.switches),
        per(s.unmapped_fills, s.switches),
    );
    let mut one = full(&[&img], config, 32);
    let s1 = profile_monitor(&mut one);
    assert_eq!(s1.switches, 0);

    // Many VMs (1 MiB of RAM each, so that 1,000 fit in the machine): the
    // cost of a switch should not grow with their number.
    let mut many: Vec<(usize, Monitor, f64)> = [2, 100, 1000]
        .into_iter()
        .map(|n| {
            let (m, tpu) = switching(config, n, |_| &img);
            println!("machine_switch/vms_{n}: {tpu:.1} ticks per switch");
            (n, m, tpu)
        })
        .collect();

    // Two busy VMs among many idle ones (descheduled, waiting for their
    // timer): a switch should not look at the idle ones either.
    let idle = idle_kernel();
    let mut among_idle: Vec<(usize, Monitor, f64)> = [2, 100, 1000]
        .into_iter()
        .map(|n| {
            let (m, tpu) = switching(config, n, |i| if i < 2 { &img } else { &idle });
            println!(
                "machine_switch/busy2_idle{}: {tpu:.1} ticks per switch",
                n - 2
            );
            (n, m, tpu)
        })
        .collect();

    let mut g = c.benchmark_group("machine_switch");
    bench_units(&mut g, "two_vms", tpu, |t| run_monitor(&mut two, t));
    for (n, m, tpu) in &mut among_idle {
        bench_units(&mut g, &format!("busy2_idle{}", *n - 2), *tpu, |t| {
            run_monitor(m, t)
        });
    }
    // One slice of the same length and nothing else.
    bench_units(&mut g, "one_vm", SLICE as f64, |t| run_monitor(&mut one, t));
    for (n, m, tpu) in &mut many {
        bench_units(&mut g, &format!("vms_{n}"), *tpu, |t| run_monitor(m, t));
    }
    g.finish();
}

// ----- 4. the demo OS: native, full, para -----

fn demo_native(image: &ElfImage) -> Machine {
    let mut m = Machine::new(MachineConfig::default()).expect("default machine");
    m.load_elf(image).expect("the demo image fits");
    assert_eq!(m.run(u64::MAX), Exit::Shutdown { code: 0 });
    m
}

/// The demo OS under the monitor: `--mode full`, or with `hypercalls`
/// `--mode para`.
fn demo_monitored(image: &ElfImage, hypercalls: bool) -> Monitor {
    let config = MonitorConfig {
        hypercalls,
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(config, &[VmConfig::default()]).expect("one VM");
    m.load(VmId(0), image).expect("the demo image fits");
    loop {
        match m.run(u64::MAX) {
            MonitorExit::AllStopped => break,
            MonitorExit::OutputPending => drop(m.take_console(VmId(0))),
            MonitorExit::BudgetExhausted => unreachable!("unbounded budget"),
        }
    }
    assert_eq!(m.stop_reason(VmId(0)), Some(&VmStop::Exited(0)));
    m
}

fn demo_os(c: &mut Criterion) {
    let image = ElfImage::parse(demo_os::UNMODIFIED_IMAGE).expect("valid demo image");
    let pv_image = ElfImage::parse(demo_os::PV_IMAGE).expect("valid demo image");
    let t = Instant::now();
    let n = demo_native(&image);
    let native_wall = t.elapsed();
    let t = Instant::now();
    let f = demo_monitored(&image, false);
    let full_wall = t.elapsed();
    let t = Instant::now();
    let p = demo_monitored(&pv_image, true);
    let para_wall = t.elapsed();
    let s = f.stats(VmId(0)).expect("VM 0");
    let ps = p.stats(VmId(0)).expect("VM 0");
    println!(
        "demo_os: native {} instructions, {} virtual cycles (machine ticks, {} idle); full {} \
         guest instructions, {} virtual cycles (monitor ticks, {} idle, {} monitor cycles), \
         {:.3}x native; {} exits ({} privileged, {} forwarded, {} software TLB refills, {} \
         refills forwarded: {:.1}% served by the software TLB); one cold run each: \
         {native_wall:.2?} native, {full_wall:.2?} full",
        n.instructions(),
        n.ticks(),
        n.stats().idle_ticks,
        s.guest_instructions,
        f.ticks(),
        s.idle_ticks,
        s.monitor_cycles,
        f.ticks() as f64 / n.ticks() as f64,
        s.exits_total(),
        s.exit_count(ExitReason::CopUnusable),
        s.forwarded,
        s.stlb_refills,
        s.refills_forwarded,
        s.stlb_hit_percent().unwrap_or(0.0),
    );
    println!(
        "demo_os: para (PV image) {} guest instructions, {} virtual cycles (monitor ticks, {} \
         idle, {} monitor cycles), {:.3}x native, {:.3}x full; {} exits ({} privileged, {} \
         hypercalls, {} forwarded, {} software TLB refills, {} walked refills, {} refills \
         forwarded, {} write-tracking faults, {} frames vouched zero); one cold run: \
         {para_wall:.2?}",
        ps.guest_instructions,
        p.ticks(),
        ps.idle_ticks,
        ps.monitor_cycles,
        p.ticks() as f64 / n.ticks() as f64,
        p.ticks() as f64 / f.ticks() as f64,
        ps.exits_total(),
        ps.exit_count(ExitReason::CopUnusable),
        ps.exit_count(ExitReason::Hypercall),
        ps.forwarded,
        ps.stlb_refills,
        ps.walked_refills,
        ps.refills_forwarded,
        ps.dirty_tracking_faults,
        ps.frames_vouched,
    );

    let mut g = c.benchmark_group("demo_os");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n.instructions()));
    g.bench_function("native", |b| b.iter(|| demo_native(&image).instructions()));
    g.throughput(Throughput::Elements(s.guest_instructions));
    g.bench_function("full", |b| b.iter(|| demo_monitored(&image, false).ticks()));
    g.throughput(Throughput::Elements(ps.guest_instructions));
    g.bench_function("para", |b| {
        b.iter(|| demo_monitored(&pv_image, true).ticks())
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = syscall_round_trip, tlb_miss, machine_switch, demo_os
}
criterion_main!(benches);
