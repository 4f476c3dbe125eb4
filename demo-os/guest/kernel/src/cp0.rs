//! Coprocessor 0: the named registers the kernel reads and writes, their
//! bits, and the few other privileged instructions it uses (`ehb`, `wait`).
//!
//! Together with `tlb.rs` (the TLB instructions), the assembly in
//! `trap.rs` (exception entry and `eret`) and `boot.rs` (the first Status
//! write), this is the only place the kernel executes privileged
//! instructions: when it runs deprivileged under a monitor, these are the
//! instructions that trap.
//!
//! Every access is an `mfc0`/`mtc0` of one register. Reading a CP0 register
//! has no memory effect. Writing one cannot break Rust's memory safety by
//! itself: the kernel runs unmapped in kseg0, so a register write changes
//! how user memory is mapped or when exceptions come, never what kernel
//! references point at. The writes are still `unsafe` where a wrong value
//! would derail execution (Status, EBase).

use core::arch::asm;

/// Reads CP0 register `REG`, select `SEL`.
#[inline(always)]
fn read<const REG: u32, const SEL: u32>() -> u32 {
    let value: u32;
    // SAFETY: mfc0 only copies a CP0 register into a GPR.
    unsafe {
        asm!(".set push", ".set noat", "mfc0 {0}, ${1}, {2}", ".set pop",
             out(reg) value, const REG, const SEL, options(nomem, nostack, preserves_flags));
    }
    value
}

/// Writes CP0 register `REG`, select `SEL`, then clears the execution
/// hazard (`ehb`) so that the next instruction sees the new value.
///
/// # Safety
///
/// The caller must know the write keeps the CPU in a state the kernel
/// expects (see each wrapper).
#[inline(always)]
unsafe fn write<const REG: u32, const SEL: u32>(value: u32) {
    // SAFETY: the caller vouches for the effect of the write (see above).
    unsafe {
        asm!(".set push", ".set noat", "mtc0 {0}, ${1}, {2}", "ehb", ".set pop",
             in(reg) value, const REG, const SEL, options(nostack, preserves_flags));
    }
}

/// Status: interrupts enabled (when EXL and ERL are clear).
pub const STATUS_IE: u32 = 1 << 0;
/// Status: exception level.
pub const STATUS_EXL: u32 = 1 << 1;
/// Status: the KSU field (the mode once EXL and ERL are clear).
pub const STATUS_KSU_MASK: u32 = 0b11 << 3;
/// Status: KSU = user mode.
pub const STATUS_KSU_USER: u32 = 0b10 << 3;
/// Status: interrupt mask bit 7, the timer (Count/Compare) interrupt.
pub const STATUS_IM7: u32 = 1 << 15;

/// Cause: the exception happened in a branch delay slot.
pub const CAUSE_BD: u32 = 1 << 31;
/// Cause: a timer interrupt is pending.
pub const CAUSE_TI: u32 = 1 << 30;
/// Cause: interrupt pending bit 7 (the timer).
pub const CAUSE_IP7: u32 = 1 << 15;

/// The exception code of a Cause value.
#[must_use]
pub const fn exc_code(cause: u32) -> u32 {
    (cause >> 2) & 0x1f
}

/// CP0 Count (9, 0): the free-running counter.
#[must_use]
pub fn count() -> u32 {
    read::<9, 0>()
}

/// Writes CP0 Compare (11, 0): the next timer deadline; also acknowledges
/// a pending timer interrupt.
pub fn set_compare(value: u32) {
    // SAFETY: Compare only decides when the timer interrupt is raised.
    unsafe { write::<11, 0>(value) }
}

/// Writes CP0 Status (12, 0).
///
/// # Safety
///
/// The new mode, exception level, vector base (BEV) and interrupt mask
/// must be what the code that runs next expects: e.g. clearing BEV needs
/// the vectors at EBase installed, and setting IE needs a handler ready.
pub unsafe fn set_status(value: u32) {
    // SAFETY: the caller vouches for the new state.
    unsafe { write::<12, 0>(value) }
}

/// Writes CP0 Cause (13, 0): only IV, DC and the two software interrupt
/// bits are writable; the kernel writes 0 (general vector for interrupts,
/// Count running).
pub fn set_cause(value: u32) {
    // SAFETY: the writable Cause bits select the interrupt vector, stop or
    // run Count and raise software interrupts, which the kernel masks.
    unsafe { write::<13, 0>(value) }
}

/// CP0 PRId (15, 0): the processor's identity.
#[must_use]
pub fn prid() -> u32 {
    read::<15, 0>()
}

/// Writes CP0 EBase (15, 1): the exception vector base.
///
/// # Safety
///
/// Status.BEV must be set (the architecture leaves an EBase change under
/// BEV = 0 undefined), and the vectors must be at `value` before BEV is
/// cleared.
pub unsafe fn set_ebase(value: u32) {
    // SAFETY: the caller guarantees BEV = 1, so no vector moves under us.
    unsafe { write::<15, 1>(value) }
}

/// CP0 Config1 (16, 1): MMU size and cache geometry.
#[must_use]
pub fn config1() -> u32 {
    read::<16, 1>()
}

/// CP0 Index (0, 0).
#[must_use]
pub fn index() -> u32 {
    read::<0, 0>()
}

/// Writes CP0 Index (0, 0).
pub fn set_index(value: u32) {
    // SAFETY: Index only selects the entry the next tlbr/tlbwi uses.
    unsafe { write::<0, 0>(value) }
}

/// Writes CP0 EntryLo0 (2, 0).
pub fn set_entry_lo0(value: u32) {
    // SAFETY: EntryLo0 is staging for the next TLB write.
    unsafe { write::<2, 0>(value) }
}

/// Writes CP0 EntryLo1 (3, 0).
pub fn set_entry_lo1(value: u32) {
    // SAFETY: EntryLo1 is staging for the next TLB write.
    unsafe { write::<3, 0>(value) }
}

/// Writes CP0 PageMask (5, 0).
pub fn set_page_mask(value: u32) {
    // SAFETY: PageMask is staging for the next TLB write.
    unsafe { write::<5, 0>(value) }
}

/// Writes CP0 Wired (6, 0): the TLB entries below it are never chosen by
/// `tlbwr`.
pub fn set_wired(value: u32) {
    // SAFETY: Wired only limits which entries tlbwr may replace.
    unsafe { write::<6, 0>(value) }
}

/// CP0 EntryHi (10, 0): VPN2 and the current ASID.
#[must_use]
pub fn entry_hi() -> u32 {
    read::<10, 0>()
}

/// Writes CP0 EntryHi (10, 0); its ASID field is the current address
/// space of user accesses.
pub fn set_entry_hi(value: u32) {
    // SAFETY: EntryHi selects the ASID of mapped (user) accesses and stages
    // the next TLB write; the kernel itself never uses mapped addresses.
    unsafe { write::<10, 0>(value) }
}

/// Waits for an interrupt (`wait`). Returns once one was taken, or at once
/// if the CPU does not wait with interrupts masked.
pub fn wait() {
    // SAFETY: wait only stops the pipeline until an interrupt is pending.
    unsafe { asm!("wait", options(nomem, nostack, preserves_flags)) }
}
