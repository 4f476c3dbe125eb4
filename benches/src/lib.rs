//! Guest kernels for the benchmarks in `benches/benches/`, hand-assembled
//! with [`hv_host::machine::asm`] and packed as ELF images, so that the
//! very same image runs natively on a [`Machine`](hv_host::machine::Machine)
//! and under the [`Monitor`](hv_host::monitor::Monitor).
//!
//! [`syscall_kernel`] and [`tlb_kernel`] share one small kernel: it leaves
//! the boot vectors (EBase = 0x8000_0000), points Context at a linear page
//! table, wires a TLB entry for the user code, optionally preloads the TLB
//! with the user's data pages, and enters user mode with `eret`. Its
//! vectors, as a real kernel's:
//!
//! - EBase + 0x000, TLB refill: the R4000 manual's (and Linux's, for a
//!   linear page table) handler: `mfc0 Context`, load the PTE pair,
//!   `mtc0 EntryLo0/1`, `tlbwr`, `eret`;
//! - EBase + 0x180, general exceptions: reads Cause and EPC with `mfc0`;
//!   on a system call advances EPC by 4 with `mtc0` and `eret`s; anything
//!   else stops the machine (UHI exit with 0x100 + ExcCode), so that a
//!   benchmark never measures a guest gone astray.
//!
//! [`spin_kernel`] just counts in kernel mode forever.
//!
//! The paravirtualization kernels ([`hypercall_kernel`],
//! [`tlb_batch_kernel`], [`tlb_trapped_kernel`], [`page_zeroed_kernel`],
//! [`zero_frames_kernel`]) run in kernel mode straight from boot, out of
//! kseg0, and make `HYPCALL`s (`hv_abi::HYPCALL`, `docs/ABI.md`); they are
//! meant for a monitor with `MonitorConfig { hypercalls: true, .. }`.
//! Each checks every hypercall's status (and value) and stops the machine
//! with UHI exit [`PV_FAILED`] if one is not what it expects.

use hv_abi::{HYPCALL, Hypercall, TlbEntryRecord, TlbSlot};
use hv_host::machine::asm::*;
use hv_host::machine::cp0::{reg, status};
use hv_host::machine::elf::ElfImage;
use hv_host::machine::tlb::lo;
use hv_tests::elf_writer::ElfBuilder;

/// The exception base the kernel sets (kseg0, physical 0).
pub const EBASE: u32 = 0x8000_0000;
/// Where the kernel's boot code is loaded and entered.
pub const KERNEL: u32 = 0x8000_1000;
/// The user program's virtual address (a wired, global TLB pair).
pub const USER_VA: u32 = 0x0040_0000;
/// The physical page pair behind [`USER_VA`].
pub const USER_PA: u32 = 0x0004_0000;
/// The first of the user's data page pairs (one TLB entry each).
pub const DATA_VA: u32 = 0x0100_0000;
/// The physical frames behind [`DATA_VA`] (contiguous).
pub const DATA_PA: u32 = 0x0020_0000;
/// The page table's base (Context.PTEBase), in kseg0: 16 bytes per page
/// pair (EntryLo0 at +0, EntryLo1 at +8), indexed by VA\[31:13\].
pub const PTE_BASE: u32 = 0x8080_0000;
/// The RAM the kernels need (natively and per VM).
pub const RAM_BYTES: u32 = 16 << 20;
/// The largest number of data page pairs [`tlb_kernel`] can map.
pub const MAX_PAIRS: u32 = 256;
/// UHI exit code base of the general handler's stop path.
pub const UNEXPECTED: i32 = 0x100;

/// UHI exit code of a paravirtualization kernel whose hypercall failed.
pub const PV_FAILED: i32 = 0x200;
/// Where the TLB kernels keep their [`TlbEntryRecord`] array (kseg0).
pub const RECORDS: u32 = 0x8000_8000;
/// RAM of the "page already zeroed" kernels (per VM, and natively).
pub const ZERO_RAM_BYTES: u32 = 64 << 20;
/// The first frame (guest-physical) the "page already zeroed" kernels ask
/// about or zero; they walk from here to the end of [`ZERO_RAM_BYTES`].
pub const ZERO_FIRST: u32 = 0x0010_0000;
/// Frames per `PageZeroed` call (`hv_abi::PAGE_ZEROED_MAX`).
pub const ZERO_BATCH: u32 = hv_abi::PAGE_ZEROED_MAX;
/// Frames [`zero_frames_kernel`] zeroes before it exits.
pub const ZERO_FRAMES: u32 = (ZERO_RAM_BYTES - ZERO_FIRST) / 4096;

/// Appends a UHI `exit(a0)`.
fn exit_a0(a: &mut Asm) {
    a.li(T9, 1);
    a.emit(sdbbp(1));
    a.nop();
}

/// The TLB refill handler at EBase + 0x000.
fn refill_handler() -> Asm {
    let mut a = Asm::new(EBASE);
    a.emit(mfc0(K1, reg::CONTEXT, 0));
    a.emit(lw(K0, 0, K1));
    a.emit(lw(K1, 8, K1));
    a.emit(mtc0(K0, reg::ENTRYLO0, 0));
    a.emit(mtc0(K1, reg::ENTRYLO1, 0));
    a.emit(ehb());
    a.emit(tlbwr());
    a.emit(eret());
    a
}

/// The general exception handler at EBase + 0x180.
fn general_handler() -> Asm {
    let mut a = Asm::new(EBASE + 0x180);
    let other = a.new_label();
    a.emit(mfc0(K0, reg::CAUSE, 0));
    a.emit(andi(K0, K0, 0x7c));
    a.emit(addiu(K1, K0, -(8 << 2))); // ExcCode 8: Sys
    a.bne(K1, ZERO, other);
    a.emit(mfc0(K1, reg::EPC, 0)); // delay slot
    a.emit(addiu(K1, K1, 4));
    a.emit(mtc0(K1, reg::EPC, 0));
    a.emit(ehb());
    a.emit(eret());
    a.bind(other);
    a.emit(srl(K0, K0, 2));
    a.emit(addiu(A0, K0, UNEXPECTED as i16));
    exit_a0(&mut a);
    a
}

/// EntryLo for physical `pa`, valid and dirty, plus `flags`.
fn entry_lo(pa: u32, flags: u32) -> u32 {
    ((pa >> 12) << lo::PFN_SHIFT) | lo::V | lo::D | flags
}

/// Emits a `tlbwi` of (`hi`, `lo0`, `lo1`) at `index`, 4 KiB pages.
fn tlb_write(a: &mut Asm, index: u32, hi: u32, lo0: u32, lo1: u32) {
    for (v, rd) in [
        (index, reg::INDEX),
        (hi, reg::ENTRYHI),
        (lo0, reg::ENTRYLO0),
        (lo1, reg::ENTRYLO1),
    ] {
        a.li(AT, v);
        a.emit(mtc0(AT, rd, 0));
    }
    a.emit(tlbwi());
}

/// The EntryLo pair of data page pair `i`.
fn data_pair(i: u32) -> (u32, u32) {
    let pa = DATA_PA + i * 0x2000;
    (entry_lo(pa, 0), entry_lo(pa + 0x1000, 0))
}

/// The boot code: normal vectors, Context, Wired = 1 with the user code
/// at index 0, data pairs `0..preload` at indices 1.., then `eret` to
/// user mode at [`USER_VA`].
fn boot_code(preload: u32) -> Asm {
    let mut a = Asm::new(KERNEL);
    a.li(AT, EBASE);
    a.emit(mtc0(AT, reg::PRID, 1)); // EBase
    a.emit(mtc0(ZERO, reg::STATUS, 0)); // leave BEV/ERL
    a.emit(ehb());
    a.li(AT, PTE_BASE);
    a.emit(mtc0(AT, reg::CONTEXT, 0));
    a.emit(mtc0(ZERO, reg::PAGEMASK, 0));
    a.li(AT, 1);
    a.emit(mtc0(AT, reg::WIRED, 0));
    tlb_write(
        &mut a,
        0,
        USER_VA,
        entry_lo(USER_PA, lo::G),
        entry_lo(USER_PA + 0x1000, lo::G),
    );
    for i in 0..preload {
        let (lo0, lo1) = data_pair(i);
        tlb_write(&mut a, 1 + i, DATA_VA + i * 0x2000, lo0, lo1);
    }
    a.emit(mtc0(ZERO, reg::ENTRYHI, 0)); // ASID 0
    a.li(AT, status::KSU_USER | status::EXL);
    a.emit(mtc0(AT, reg::STATUS, 0));
    a.li(AT, USER_VA);
    a.emit(mtc0(AT, reg::EPC, 0));
    a.emit(ehb());
    a.emit(eret());
    a
}

fn words(a: Asm) -> Vec<u32> {
    a.finish().expect("the benchmark kernels assemble")
}

/// Packs the kernel, its handlers, `user` and the page table of `pairs`
/// data page pairs into an image.
fn kernel_image(preload: u32, user: Asm, pairs: u32) -> ElfImage {
    assert!(pairs <= MAX_PAIRS && preload <= pairs);
    let mut table = Vec::with_capacity(pairs as usize * 16);
    for i in 0..pairs {
        let (lo0, lo1) = data_pair(i);
        for w in [lo0, 0, lo1, 0] {
            table.extend_from_slice(&w.to_le_bytes());
        }
    }
    let first = PTE_BASE + ((DATA_VA >> 13) << 4);
    let mut b = ElfBuilder::new(KERNEL)
        .code(EBASE, &words(refill_handler()))
        .code(EBASE + 0x180, &words(general_handler()))
        .code(KERNEL, &words(boot_code(preload)))
        .code(USER_PA | 0x8000_0000, &words(user));
    if pairs > 0 {
        b = b.data(first, table);
    }
    ElfImage::parse(&b.build()).expect("the benchmark image is valid")
}

/// A kernel whose user program loops on `syscall` forever; each system
/// call is served by the general handler (`mfc0` Cause and EPC, `mtc0`
/// EPC + 4, `eret`). 3 user and 9 kernel instructions per round trip.
pub fn syscall_kernel() -> ElfImage {
    let mut u = Asm::new(USER_VA);
    let top = u.here();
    u.emit(syscall(0));
    u.b(top);
    u.nop();
    kernel_image(0, u, 0)
}

/// A kernel whose user program loads one word from each of `pairs` data
/// page pairs in turn, forever (4 instructions per touch); the TLB holds
/// the first `preload` of them at the start, the refill handler brings in
/// the others from the page table.
pub fn tlb_kernel(pairs: u32, preload: u32) -> ElfImage {
    assert!(pairs >= 1);
    let mut u = Asm::new(USER_VA);
    let top = u.here();
    u.li(T0, DATA_VA);
    u.li(T1, DATA_VA + pairs * 0x2000);
    let inner = u.here();
    u.emit(lw(T2, 0, T0));
    u.emit(addiu(T0, T0, 0x2000));
    u.bne(T0, T1, inner);
    u.nop();
    u.b(top);
    u.nop();
    kernel_image(preload, u, pairs)
}

/// A kernel that counts in a loop forever, in kernel mode, from boot.
pub fn spin_kernel() -> ElfImage {
    let mut a = Asm::new(KERNEL);
    let top = a.here();
    a.emit(addiu(T0, T0, 1));
    a.emit(xor(T1, T1, T0));
    a.b(top);
    a.emit(addu(T2, T2, T1));
    ElfImage::parse(&ElfBuilder::new(KERNEL).code(KERNEL, &words(a)).build())
        .expect("the benchmark image is valid")
}

/// A kernel that idles: it arms its timer 100 M ticks ahead, unmasks the
/// timer's interrupt (IE stays off: `wait` ends without an exception) and
/// executes `wait`, forever. Under the monitor it waits nearly all the
/// time, descheduled.
pub fn idle_kernel() -> ElfImage {
    let mut a = Asm::new(KERNEL);
    let top = a.here();
    a.emit(mfc0(T0, reg::COUNT, 0));
    a.li(T1, 100_000_000);
    a.emit(addu(T0, T0, T1));
    a.emit(mtc0(T0, reg::COMPARE, 0));
    a.li(T2, 0x8000); // IM7: the timer, IE off, ERL and BEV cleared
    a.emit(mtc0(T2, reg::STATUS, 0));
    a.emit(wait(0));
    a.b(top);
    a.emit(nop());
    ElfImage::parse(&ElfBuilder::new(KERNEL).code(KERNEL, &words(a)).build())
        .expect("the benchmark image is valid")
}

/// Packs kernel-mode `code` at [`KERNEL`] (and `data` at kseg0 `at`).
fn flat_image(code: Asm, data: Option<(u32, Vec<u8>)>) -> ElfImage {
    let mut b = ElfBuilder::new(KERNEL).code(KERNEL, &words(code));
    if let Some((at, bytes)) = data {
        b = b.data(at, bytes);
    }
    ElfImage::parse(&b.build()).expect("the benchmark image is valid")
}

/// Appends the failure path: UHI exit with [`PV_FAILED`].
fn fail_path(a: &mut Asm) {
    a.li(A0, PV_FAILED as u32);
    exit_a0(a);
}

/// A kernel that loops on `Discover(Version)` forever: `HYPCALL` with
/// v0 = 1, a0 = 0, then a branch back on success whose delay slot reloads
/// v0 (3 guest instructions per call, the hypercall included).
pub fn hypercall_kernel() -> ElfImage {
    let mut a = Asm::new(KERNEL);
    let fail = a.new_label();
    a.li(A0, hv_abi::DiscoverLeaf::Version as u32);
    a.li(V0, Hypercall::Discover.number());
    let top = a.here();
    a.emit(HYPCALL);
    a.beq(V0, ZERO, top);
    a.emit(addiu(V0, ZERO, Hypercall::Discover.number() as i16)); // delay slot
    a.bind(fail);
    fail_path(&mut a);
    flat_image(a, None)
}

/// The `n` TLB records of the TLB kernels: data page pair `i` (4 KiB
/// pages, ASID 0, frames inside [`RAM_BYTES`]) at TLB index `i`.
pub fn tlb_records(n: u32) -> Vec<TlbEntryRecord> {
    assert!(n <= hv_host::machine::tlb::TLB_ENTRIES as u32);
    (0..n)
        .map(|i| {
            let (lo0, lo1) = data_pair(i);
            TlbEntryRecord::new(DATA_VA + i * 0x2000, lo0, lo1, 0, TlbSlot::Index(i))
        })
        .collect()
}

fn records_data(n: u32) -> Option<(u32, Vec<u8>)> {
    let bytes = tlb_records(n).iter().flat_map(|r| r.to_wire()).collect();
    Some((RECORDS, bytes))
}

/// A kernel that installs the `n` entries of [`tlb_records`] with one
/// `TlbInstallBatch` hypercall, forever (6 guest instructions per batch:
/// v0, the call, the checks of v0 and of v1 = `n`).
pub fn tlb_batch_kernel(n: u32) -> ElfImage {
    let mut a = Asm::new(KERNEL);
    let fail = a.new_label();
    a.li(A0, RECORDS);
    a.li(A1, n);
    let top = a.here();
    a.li(V0, Hypercall::TlbInstallBatch.number());
    a.emit(HYPCALL);
    a.bne(V0, ZERO, fail);
    a.nop();
    a.beq(V1, A1, top);
    a.nop();
    a.bind(fail);
    fail_path(&mut a);
    flat_image(a, records_data(n))
}

/// A kernel that installs the same `n` entries as [`tlb_batch_kernel`]
/// the classic way, forever: for each record it loads the five words,
/// writes EntryHi, EntryLo0, EntryLo1, PageMask and Index with `mtc0`
/// and executes `ehb`, `tlbwi` (15 guest instructions per entry, 6 of
/// them privileged).
pub fn tlb_trapped_kernel(n: u32) -> ElfImage {
    assert!(n >= 1);
    let mut a = Asm::new(KERNEL);
    let top = a.here();
    a.li(T0, RECORDS);
    a.li(T6, RECORDS + n * TlbEntryRecord::SIZE as u32);
    let each = a.here();
    for (i, r) in [T1, T2, T3, T4, T5].into_iter().enumerate() {
        a.emit(lw(r, 4 * i as i16, T0));
    }
    a.emit(mtc0(T1, reg::ENTRYHI, 0));
    a.emit(mtc0(T2, reg::ENTRYLO0, 0));
    a.emit(mtc0(T3, reg::ENTRYLO1, 0));
    a.emit(mtc0(T4, reg::PAGEMASK, 0));
    a.emit(mtc0(T5, reg::INDEX, 0));
    a.emit(ehb());
    a.emit(tlbwi());
    a.emit(addiu(T0, T0, TlbEntryRecord::SIZE as i16));
    a.bne(T0, T6, each);
    a.nop();
    a.b(top);
    a.nop();
    flat_image(a, records_data(n))
}

/// A kernel that asks `PageZeroed` about [`ZERO_BATCH`] frames at a time
/// from [`ZERO_FIRST`] to the end of [`ZERO_RAM_BYTES`] and around again,
/// forever, and (every frame vouched for) zeroes none of them: 9 guest
/// instructions per call.
pub fn page_zeroed_kernel() -> ElfImage {
    let mut a = Asm::new(KERNEL);
    let fail = a.new_label();
    let all = if ZERO_BATCH == 32 {
        u32::MAX
    } else {
        (1 << ZERO_BATCH) - 1
    };
    a.li(T1, all);
    a.li(T2, ZERO_BATCH * 4096);
    a.li(T8, ZERO_RAM_BYTES);
    a.li(A1, ZERO_BATCH);
    let wrap = a.here();
    a.li(A0, ZERO_FIRST);
    let top = a.here();
    a.li(V0, Hypercall::PageZeroed.number());
    a.emit(HYPCALL);
    a.bne(V0, ZERO, fail);
    a.nop();
    a.bne(V1, T1, fail);
    a.nop();
    a.emit(addu(A0, A0, T2));
    a.bne(A0, T8, top);
    a.nop();
    a.b(wrap);
    a.nop();
    a.bind(fail);
    fail_path(&mut a);
    flat_image(a, None)
}

/// A kernel that zeroes the [`ZERO_FRAMES`] frames from [`ZERO_FIRST`]
/// through kseg0, 1024 word stores per frame (8 `sw`, `addiu` and `bne` per
/// 32-byte step: 1280 guest instructions per frame), then exits with 0.
pub fn zero_frames_kernel() -> ElfImage {
    let mut a = Asm::new(KERNEL);
    a.li(T0, 0x8000_0000 | ZERO_FIRST);
    a.li(T8, 0x8000_0000 | ZERO_RAM_BYTES);
    let each = a.here();
    a.emit(addiu(T0, T0, 32));
    for i in 0..7 {
        a.emit(sw(ZERO, 4 * i - 32, T0));
    }
    a.bne(T0, T8, each);
    a.emit(sw(ZERO, -4, T0)); // delay slot
    a.li(A0, 0);
    exit_a0(&mut a);
    flat_image(a, None)
}

/// Registers a benchmark whose iteration is one unit of `ticks_per_unit`
/// clock ticks on average: `iters` units are one `run` of that many ticks.
pub fn bench_units(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    ticks_per_unit: f64,
    mut run: impl FnMut(u64),
) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let budget = ((iters as f64 * ticks_per_unit).round() as u64).max(1);
            let start = std::time::Instant::now();
            run(budget);
            start.elapsed()
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use hv_host::machine::exception::ExcCode;
    use hv_host::machine::{Exit, Machine, MachineConfig};
    use hv_host::monitor::stats::{ExitReason, VmStats};
    use hv_host::monitor::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};

    fn native(image: &ElfImage) -> Machine {
        let mut m = Machine::new(MachineConfig {
            ram_bytes: RAM_BYTES,
        })
        .unwrap();
        m.load_elf(image).unwrap();
        m
    }

    fn full(image: &ElfImage, vtlb_entries: usize) -> Monitor {
        let vm = VmConfig {
            ram_bytes: RAM_BYTES,
            vtlb_entries,
            ..VmConfig::default()
        };
        let mut m = Monitor::new(MonitorConfig::default(), &[vm]).unwrap();
        m.load(VmId(0), image).unwrap();
        m
    }

    #[test]
    fn syscall_loop_runs_natively_and_under_the_monitor() {
        let img = syscall_kernel();
        let mut m = native(&img);
        assert_eq!(m.run(120_000), Exit::BudgetExhausted);
        let sys = m.stats().exceptions[ExcCode::Sys as usize];
        assert!(sys > 9_000, "{sys} system calls");

        let mut v = full(&img, 32);
        assert_eq!(v.run(1_000_000), MonitorExit::BudgetExhausted);
        assert_eq!(v.stop_reason(VmId(0)), None);
        let s = v.stats(VmId(0)).unwrap();
        assert!(s.exit_count(ExitReason::Syscall) > 1000, "{s:?}");
        // Only the first fills of the kernel's and the user's pages.
        assert!(s.exit_count(ExitReason::TlbMissLd) <= 2, "{s:?}");
    }

    #[test]
    fn tlb_loop_refills_from_the_page_table() {
        let img = tlb_kernel(64, 31);
        let mut m = native(&img);
        assert_eq!(m.run(1_000_000), Exit::BudgetExhausted);
        assert!(m.stats().exceptions[ExcCode::Tlbl as usize] > 1000);

        let mut v = full(&img, 32);
        assert_eq!(v.run(2_000_000), MonitorExit::BudgetExhausted);
        assert_eq!(v.stop_reason(VmId(0)), None);
        let s = v.stats(VmId(0)).unwrap();
        assert!(s.refills_forwarded > 1000, "{s:?}");
    }

    #[test]
    fn tlb_loop_that_fits_the_virtual_tlb_is_served_by_the_software_tlb() {
        let img = tlb_kernel(40, 40);
        let mut v = full(&img, 64);
        assert_eq!(v.run(2_000_000), MonitorExit::BudgetExhausted);
        assert_eq!(v.stop_reason(VmId(0)), None);
        let s = v.stats(VmId(0)).unwrap();
        assert_eq!(s.refills_forwarded, 0, "{s:?}");
        assert!(s.stlb_refills > 1000, "{s:?}");
    }

    #[test]
    fn spin_kernel_spins() {
        let mut v = full(&spin_kernel(), 32);
        assert_eq!(v.run(100_000), MonitorExit::BudgetExhausted);
        assert_eq!(v.stop_reason(VmId(0)), None);
    }

    fn para(image: &ElfImage, ram_bytes: u32) -> Monitor {
        let config = MonitorConfig {
            hypercalls: true,
            ..MonitorConfig::default()
        };
        let vm = VmConfig {
            ram_bytes,
            ..VmConfig::default()
        };
        let mut m = Monitor::new(config, &[vm]).unwrap();
        m.load(VmId(0), image).unwrap();
        m
    }

    fn runs_on(m: &mut Monitor, ticks: u64) -> VmStats {
        assert_eq!(m.run(ticks), MonitorExit::BudgetExhausted);
        assert_eq!(m.stop_reason(VmId(0)), None);
        m.stats(VmId(0)).unwrap()
    }

    #[test]
    fn hypercall_loop_calls_discover() {
        let mut m = para(&hypercall_kernel(), RAM_BYTES);
        let s = runs_on(&mut m, 1_000_000);
        let n = s.hypercalls[Hypercall::Discover.number() as usize];
        assert!(n > 500, "{s:?}");
        assert_eq!(s.exit_count(ExitReason::Hypercall), n);
        // Without hypercalls HYPCALL is a reserved instruction: the kernel
        // has no handler for it and goes astray.
        let mut f = full(&hypercall_kernel(), 32);
        f.run(1_000_000);
        let s = f.stats(VmId(0)).unwrap();
        assert_eq!(s.hypercalls.iter().sum::<u64>(), 0);
    }

    #[test]
    fn tlb_batch_and_trapped_install_the_same_entries() {
        for n in [8, 32] {
            let mut b = para(&tlb_batch_kernel(n), RAM_BYTES);
            let s = runs_on(&mut b, 1_000_000);
            let calls = s.hypercalls[Hypercall::TlbInstallBatch.number() as usize];
            assert!(calls > 100, "{s:?}");
            assert_eq!(s.exit_count(ExitReason::CopUnusable), 0, "{s:?}");

            let mut t = para(&tlb_trapped_kernel(n), RAM_BYTES);
            let s = runs_on(&mut t, 1_000_000);
            let tlbwi = s.privileged[5];
            assert!(tlbwi > 100, "{s:?}");
            let mtc0 = s.privileged[1];
            assert!(
                (5 * tlbwi..5 * tlbwi + 5).contains(&mtc0),
                "5 mtc0 per tlbwi: {s:?}"
            );
            assert_eq!(s.hypercalls.iter().sum::<u64>(), 0);
            let (bt, tt) = (b.vm(VmId(0)).unwrap().tlb(), t.vm(VmId(0)).unwrap().tlb());
            for (i, r) in tlb_records(n).iter().enumerate() {
                assert_eq!(bt.entry(i), tt.entry(i), "entry {i}");
                assert_eq!(
                    tt.entry(i).entry_hi,
                    r.to_wire()[..4]
                        .iter()
                        .rev()
                        .fold(0, |v, b| v << 8 | u32::from(*b))
                );
            }
        }
    }

    #[test]
    fn page_zeroed_loop_gets_every_frame_vouched_for() {
        let mut m = para(&page_zeroed_kernel(), ZERO_RAM_BYTES);
        let s = runs_on(&mut m, 2_000_000);
        let calls = s.hypercalls[Hypercall::PageZeroed.number() as usize];
        assert!(calls > 1000, "{s:?}");
        assert_eq!(s.frames_vouched, calls * u64::from(ZERO_BATCH));
    }

    #[test]
    fn zero_frames_kernel_zeroes_every_frame_and_exits() {
        let mut n = Machine::new(MachineConfig {
            ram_bytes: ZERO_RAM_BYTES,
        })
        .unwrap();
        n.load_elf(&zero_frames_kernel()).unwrap();
        assert_eq!(n.run(u64::MAX), Exit::Shutdown { code: 0 });
        let per_frame = n.instructions() as f64 / f64::from(ZERO_FRAMES);
        assert!((1280.0..1281.0).contains(&per_frame), "{per_frame}");

        let mut m = para(&zero_frames_kernel(), ZERO_RAM_BYTES);
        assert_eq!(m.run(u64::MAX), MonitorExit::AllStopped);
        assert_eq!(m.stop_reason(VmId(0)), Some(&VmStop::Exited(0)));
        let s = m.stats(VmId(0)).unwrap();
        assert!(s.frames_zeroed >= u64::from(ZERO_FRAMES), "{s:?}");
    }
}
