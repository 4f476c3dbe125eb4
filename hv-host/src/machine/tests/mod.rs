//! Unit tests of the machine as a whole: programs assembled with
//! [`super::asm`], run from kseg0, checked through registers, CP0 and
//! console output. One file per area:
//!
//! - [`alu`]: arithmetic, logic, shifts, multiply/divide, bit fields;
//! - [`branch`]: branches, jumps, delay slots, branch-likely;
//! - [`loadstore`]: sized, unaligned and linked accesses, bus errors;
//! - [`exceptions`]: vectors, EPC/BD, nesting, ERET, traps, SYSCALL/BREAK,
//!   RI/CpU, SDBBP, RDHWR, privileged no-ops;
//! - [`tlb`]: refill/invalid/modified, ASIDs, page sizes, Wired/Random,
//!   TLBP/TLBR, translation-cache invalidation;
//! - [`segments`]: the segment rules per mode, misaligned and bus-error
//!   fetches;
//! - [`timer`]: Count/Compare, interrupt gating, software interrupts, WAIT;
//! - [`devices`]: the UART and UHI semihosting;
//! - [`routing`]: exceptions routed to the host;
//! - [`decode`]: classification of every encoder and disassembly.
//!
//! This file holds the shared support: loading several code blobs, stop
//! handlers at every exception vector, mode switches and TLB writes.

mod alu;
mod branch;
mod decode;
mod devices;
mod exceptions;
mod loadstore;
mod malta;
mod routing;
mod segments;
mod timer;
mod tlb;

use super::asm::*;
use super::cp0::{cause, reg, status};
use super::insn::Reg;
use super::*;

/// Where test programs are loaded: kseg0 0x8000_1000 (physical 0x1000).
pub(crate) const ORIGIN: u32 = 0x8000_1000;

/// The exception base the tests program when they leave the boot vectors.
pub(crate) const EBASE: u32 = 0x8000_0000;

/// Where user and supervisor programs run (kuseg, mapped by [`map_user`]).
pub(crate) const USER_VA: u32 = 0x0040_0000;
/// The physical page pair behind [`USER_VA`].
pub(crate) const USER_PA: u32 = 0x0004_0000;

/// Status.IM7: the timer interrupt.
pub(crate) const IM7: u32 = 1 << 15;
/// Status.IM4: the UART interrupt.
pub(crate) const IM4: u32 = 1 << 12;
/// Status.IM1 and IM0: the software interrupts.
pub(crate) const IM1: u32 = 1 << 9;
/// Status.IM0.
pub(crate) const IM0: u32 = 1 << 8;
/// Cause.IP0 and IP1: the software interrupt requests.
pub(crate) const IP0: u32 = 1 << 8;
/// Cause.IP1.
pub(crate) const IP1: u32 = 1 << 9;
/// Cause.IP7: the timer interrupt line.
pub(crate) const IP7: u32 = 1 << 15;
/// Cause.IP4: the UART interrupt line.
pub(crate) const IP4: u32 = 1 << 12;

/// A 1 MiB machine with `words` loaded at [`ORIGIN`] and booted there.
pub(crate) fn machine_with(words: &[u32]) -> Machine {
    let mut m = Machine::new(MachineConfig { ram_bytes: 1 << 20 }).expect("valid size");
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.write_phys(MachineAddr::new(ORIGIN & 0x1fff_ffff), &bytes)
        .expect("fits");
    m.boot(GuestVirtAddr::new(ORIGIN));
    m
}

/// Appends a UHI exit with the code in `a0`.
pub(crate) fn exit_with_a0(a: &mut Asm) {
    a.li(T9, 1);
    a.emit(sdbbp(1));
    a.nop();
}

/// Appends a UHI exit with code 0.
pub(crate) fn exit_ok(a: &mut Asm) {
    a.li(A0, 0);
    exit_with_a0(a);
}

/// The exception vectors, each of which gets a stop handler whose exit
/// code tells the vector and Cause.ExcCode apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vector {
    /// EBase + 0x000: TLB refill with EXL=0, BEV=0.
    Refill,
    /// EBase + 0x180: everything else, BEV=0.
    General,
    /// EBase + 0x200: interrupts with Cause.IV=1, BEV=0.
    Interrupt,
    /// 0xbfc0_0200: TLB refill with BEV=1.
    BevRefill,
    /// 0xbfc0_0380: general, BEV=1.
    BevGeneral,
    /// 0xbfc0_0400: interrupts with Cause.IV=1, BEV=1.
    BevInterrupt,
}

impl Vector {
    /// Every vector.
    pub(crate) const ALL: [Vector; 6] = [
        Vector::Refill,
        Vector::General,
        Vector::Interrupt,
        Vector::BevRefill,
        Vector::BevGeneral,
        Vector::BevInterrupt,
    ];

    /// The vector's address with EBase = [`EBASE`].
    pub(crate) fn addr(self) -> u32 {
        self.addr_with(EBASE)
    }

    /// The vector's address with EBase = `ebase`.
    pub(crate) fn addr_with(self, ebase: u32) -> u32 {
        match self {
            Vector::Refill => ebase,
            Vector::General => ebase + 0x180,
            Vector::Interrupt => ebase + 0x200,
            Vector::BevRefill => 0xbfc0_0200,
            Vector::BevGeneral => 0xbfc0_0380,
            Vector::BevInterrupt => 0xbfc0_0400,
        }
    }

    /// The exit-code base of the vector's stop handler.
    pub(crate) fn tag(self) -> i32 {
        (self as i32 + 1) << 8
    }

    /// What `run` returns when the stop handler at this vector catches an
    /// exception with `code`.
    pub(crate) fn exit(self, code: ExcCode) -> Exit {
        Exit::Shutdown {
            code: self.tag() + code as i32,
        }
    }
}

/// An exception handler at `origin`: for its first `skips` exceptions it
/// counts them in `k1` and returns to EPC + 4 (so not for exceptions in a
/// delay slot); then it stops the machine with exit code `tag` +
/// Cause.ExcCode. Clobbers `k0`, `k1`, `a0`, `t9`.
pub(crate) fn handler(origin: u32, tag: i32, skips: u16) -> Asm {
    let mut a = Asm::new(origin);
    let stop = a.new_label();
    a.emit(addiu(K1, K1, 1));
    a.emit(sltiu(K0, K1, (skips + 1) as i16));
    a.beq(K0, ZERO, stop);
    a.nop();
    a.emit(mfc0(K0, reg::EPC, 0));
    a.emit(addiu(K0, K0, 4));
    a.emit(mtc0(K0, reg::EPC, 0));
    a.emit(eret());
    a.bind(stop);
    stop_code(&mut a, tag);
    a
}

/// Appends the stop sequence: UHI exit with `tag` + Cause.ExcCode.
pub(crate) fn stop_code(a: &mut Asm, tag: i32) {
    a.emit(mfc0(K0, reg::CAUSE, 0));
    a.emit(srl(K0, K0, 2));
    a.emit(andi(K0, K0, 0x1f));
    a.emit(addiu(A0, K0, tag as i16));
    exit_with_a0(a);
}

/// Writes program `a` at the physical address of its origin (kseg0,
/// kseg1, or kuseg taken as physical).
pub(crate) fn place(m: &mut Machine, a: Asm) {
    let pa = a.origin() & 0x1fff_ffff;
    place_at(m, pa, a);
}

/// Writes program `a` at physical address `pa`.
pub(crate) fn place_at(m: &mut Machine, pa: u32, a: Asm) {
    let bytes = a.finish_bytes().expect("assembles");
    m.write_phys(MachineAddr::new(pa), &bytes)
        .expect("fits in memory");
}

/// A machine of `ram_bytes` with a stop handler at every vector, `extra`
/// programs placed over them (in order), and `main` placed and booted at
/// its origin.
pub(crate) fn boot_ram(ram_bytes: u32, main: Asm, extra: impl IntoIterator<Item = Asm>) -> Machine {
    let mut m = Machine::new(MachineConfig { ram_bytes }).expect("valid size");
    for v in Vector::ALL {
        place(&mut m, handler(v.addr(), v.tag(), 0));
    }
    for a in extra {
        place(&mut m, a);
    }
    let entry = main.origin();
    place(&mut m, main);
    m.boot(GuestVirtAddr::new(entry));
    m
}

/// [`boot_ram`] with 1 MiB of RAM.
pub(crate) fn boot(main: Asm, extra: impl IntoIterator<Item = Asm>) -> Machine {
    boot_ram(1 << 20, main, extra)
}

/// Runs `body` at [`ORIGIN`] in the boot state (kernel mode, ERL=1)
/// followed by a UHI exit(0), asserts that it exits cleanly within a small
/// budget, and returns the machine for inspection.
pub(crate) fn run_kernel(body: impl FnOnce(&mut Asm)) -> Machine {
    let mut a = Asm::new(ORIGIN);
    body(&mut a);
    exit_ok(&mut a);
    let mut m = boot(a, []);
    assert_eq!(m.run(100_000), Exit::Shutdown { code: 0 });
    m
}

/// Emits the switch to the normal vectors: EBase = [`EBASE`], Status = 0
/// (kernel mode; BEV, ERL, EXL, IE and IM clear). Clobbers `at`.
pub(crate) fn normal_vectors(a: &mut Asm) {
    a.li(AT, EBASE);
    a.emit(mtc0(AT, reg::PRID, 1));
    a.emit(mtc0(ZERO, reg::STATUS, 0));
    a.emit(ehb());
}

/// An EntryLo value mapping physical `pa` with `flags` (`tlb::lo` bits).
pub(crate) fn entry_lo(pa: u32, flags: u32) -> u32 {
    ((pa >> 12) << crate::machine::tlb::lo::PFN_SHIFT) | flags
}

/// Emits a TLBWI of the entry (`entry_hi`, `lo0`, `lo1`, `page_mask`) at
/// `index`. Clobbers `at`.
pub(crate) fn tlb_write(
    a: &mut Asm,
    index: u32,
    entry_hi: u32,
    lo0: u32,
    lo1: u32,
    page_mask: u32,
) {
    for (value, rd) in [
        (index, reg::INDEX),
        (entry_hi, reg::ENTRYHI),
        (lo0, reg::ENTRYLO0),
        (lo1, reg::ENTRYLO1),
        (page_mask, reg::PAGEMASK),
    ] {
        a.li(AT, value);
        a.emit(mtc0(AT, rd, 0));
    }
    a.emit(tlbwi());
}

/// Emits the global mapping of [`USER_VA`]'s page pair to [`USER_PA`]
/// (valid, dirty) at TLB index 31.
pub(crate) fn map_user(a: &mut Asm) {
    use crate::machine::tlb::lo::{D, G, V};
    tlb_write(
        a,
        31,
        USER_VA,
        entry_lo(USER_PA, V | D | G),
        entry_lo(USER_PA + 0x1000, V | D | G),
        0,
    );
}

/// Emits an ERET into mode `ksu` (a Status.KSU value) at `entry`, with
/// `status_extra` (IE, IM, CU0 bits) set in Status. Clobbers `at`.
pub(crate) fn eret_to(a: &mut Asm, ksu: u32, entry: u32, status_extra: u32) {
    a.li(AT, ksu | status::EXL | status_extra);
    a.emit(mtc0(AT, reg::STATUS, 0));
    a.li(AT, entry);
    a.emit(mtc0(AT, reg::EPC, 0));
    a.emit(ehb());
    a.emit(eret());
}

/// A machine that switches to the normal vectors, maps [`USER_VA`], and
/// runs `user` (assembled at [`USER_VA`], placed at [`USER_PA`]) in mode
/// `ksu` with `status_extra`. `extra` programs are placed over the stop
/// handlers.
pub(crate) fn boot_user(
    ksu: u32,
    status_extra: u32,
    user: Asm,
    extra: impl IntoIterator<Item = Asm>,
) -> Machine {
    assert_eq!(
        user.origin() & !0x1fff,
        USER_VA,
        "user code sits in the mapped pair"
    );
    let offset = user.origin() - USER_VA;
    let mut k = Asm::new(ORIGIN);
    normal_vectors(&mut k);
    map_user(&mut k);
    eret_to(&mut k, ksu, user.origin(), status_extra);
    let mut m = boot(k, extra);
    place_at(&mut m, USER_PA + offset, user);
    m
}

/// Cause.ExcCode of the last exception.
pub(crate) fn exc_code(m: &Machine) -> u32 {
    (m.read_cp0(reg::CAUSE, 0) >> 2) & 0x1f
}

/// Cause.CE of the last exception.
pub(crate) fn cause_ce(m: &Machine) -> u32 {
    (m.read_cp0(reg::CAUSE, 0) >> 28) & 3
}

/// Whether Cause.BD is set.
pub(crate) fn cause_bd(m: &Machine) -> bool {
    m.read_cp0(reg::CAUSE, 0) & cp0::cause::BD != 0
}

/// Reads the little-endian word at physical `pa`.
pub(crate) fn phys_word(m: &Machine, pa: u32) -> u32 {
    let b = m.read_phys(MachineAddr::new(pa), 4).expect("inside memory");
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Writes the little-endian word `v` at physical `pa`.
pub(crate) fn set_phys_word(m: &mut Machine, pa: u32, v: u32) {
    m.write_phys(MachineAddr::new(pa), &v.to_le_bytes())
        .expect("inside memory");
}

#[test]
fn sum_loop_and_semihosting_exit() {
    let mut a = Asm::new(ORIGIN);
    a.li(T0, 100).li(A0, 0);
    let top = a.here();
    a.emit(addu(A0, A0, T0));
    a.emit(addiu(T0, T0, -1));
    a.bgtz(T0, top);
    a.nop();
    exit_with_a0(&mut a);
    let mut m = machine_with(&a.finish().expect("assembles"));
    let exit = m.run(10_000);
    assert_eq!(exit, Exit::Shutdown { code: 5050 });
    assert_eq!(m.gpr(A0.num()), 5050);
    // li (2) + li (1) + 100 * 4 + li + sdbbp.
    assert!(
        m.instructions() > 400 && m.instructions() < 420,
        "{}",
        m.instructions()
    );
}

#[test]
fn budget_exhausted_then_resumed() {
    let mut a = Asm::new(ORIGIN);
    let top = a.here();
    a.b(top);
    a.nop();
    let mut m = machine_with(&a.finish().expect("assembles"));
    assert_eq!(m.run(1000), Exit::BudgetExhausted);
    assert_eq!(m.instructions(), 1000);
    assert_eq!(m.run(500), Exit::BudgetExhausted);
    assert_eq!(m.instructions(), 1500);
}

#[test]
fn uart_output_is_captured_in_order() {
    let mut a = Asm::new(ORIGIN);
    a.li(T0, 0xbfd0_03f8);
    for b in b"hi\n" {
        a.li(T1, u32::from(*b));
        a.emit(sb(T1, 0, T0));
    }
    a.li(A0, 0);
    exit_with_a0(&mut a);
    let mut m = machine_with(&a.finish().expect("assembles"));
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.take_stdout(), b"hi\n");
}

#[test]
fn stop_handlers_report_their_vector() {
    // The support itself: a syscall in the boot state lands on the BEV
    // general vector's handler, which reports it.
    let mut a = Asm::new(ORIGIN);
    a.emit(syscall(0));
    let mut m = boot(a, []);
    assert_eq!(m.run(1000), Vector::BevGeneral.exit(ExcCode::Sys));
    assert_eq!(exc_code(&m), ExcCode::Sys as u32);
}

#[test]
fn traced_run_records_each_instruction_with_its_disassembly() {
    let mut a = Asm::new(ORIGIN);
    a.li(A0, 7);
    exit_with_a0(&mut a);
    let mut m = machine_with(&a.finish().expect("assembles"));
    let mut trace = Vec::new();
    assert_eq!(m.run_traced(100, &mut trace), Exit::Shutdown { code: 7 });
    let lines: Vec<String> = trace
        .iter()
        .map(|t| format!("{} {} {}", t.icount, t.pc, t.insn))
        .collect();
    assert_eq!(
        lines,
        [
            "0 0x80001000 addiu a0, zero, 7",
            "1 0x80001004 addiu t9, zero, 1",
            "2 0x80001008 sdbbp 0x1",
        ]
    );
    assert_eq!(m.instructions(), 3);
}
