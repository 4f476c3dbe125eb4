//! Exceptions: the vectors, the register save/restore around the Rust
//! handler, and the dispatch on Cause.ExcCode.
//!
//! # How a trap works
//!
//! The refill handler (at EBase + 0x000) walks the current page table as
//! Linux does on MIPS32 and writes a random TLB entry; it never reaches
//! Rust. Every other exception (EBase + 0x180) jumps to `trap_entry`,
//! which saves the interrupted context into `CURRENT_FRAME` (the
//! [`TrapFrame`] of the running process, of the idle context, or the boot
//! frame), switches to the trap stack and calls [`trap_handler`]. The
//! handler returns the frame to resume, which may belong to another
//! context (a context switch is just that); `trap_resume` restores it and
//! executes `eret`.
//!
//! The whole handler runs with Status.EXL set: interrupts are off and no
//! exception can nest, because the kernel touches only kseg0 (user memory
//! is reached through the page tables, never through user addresses). One
//! trap stack therefore serves every context, and nothing the kernel does
//! can be interrupted half-way.
//!
//! The vectors are copied to EBase at boot ([`install_vectors`]); the
//! copied code uses absolute addresses only.
//!
//! In the paravirtualized build `trap_entry` and `trap_resume` first test
//! `PV_COMMPAGE`: with the monitor's shared page of CP0 registers they
//! load EPC, Status, Cause and BadVAddr from it and store EPC and Status
//! to it (applied at the trapping `eret`), instead of `mfc0`/`mtc0`. With
//! the monitor's refill walk on, the refill handler runs only for the
//! refills the monitor leaves to it. The unmodified build assembles
//! exactly the `mfc0`/`mtc0` paths.

use core::arch::global_asm;
use core::mem::{offset_of, size_of};
use hv_abi::regs;

use crate::cp0;

/// The saved state of an interrupted context.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct TrapFrame {
    /// General-purpose registers by number (`regs[0]`, `k0`, `k1` unused).
    pub regs: [u32; 32],
    /// HI.
    pub hi: u32,
    /// LO.
    pub lo: u32,
    /// Where execution resumes (CP0 EPC).
    pub epc: u32,
    /// CP0 Status to resume with (EXL is forced on by `trap_resume`, so
    /// `eret` enters the mode in KSU).
    pub status: u32,
    /// CP0 Cause at the trap.
    pub cause: u32,
    /// CP0 BadVAddr at the trap.
    pub badvaddr: u32,
}

// The assembly below hard-codes this layout.
const _: () = assert!(size_of::<TrapFrame>() == 152);
const _: () = assert!(offset_of!(TrapFrame, hi) == 128);
const _: () = assert!(offset_of!(TrapFrame, lo) == 132);
const _: () = assert!(offset_of!(TrapFrame, epc) == 136);
const _: () = assert!(offset_of!(TrapFrame, status) == 140);
const _: () = assert!(offset_of!(TrapFrame, cause) == 144);
const _: () = assert!(offset_of!(TrapFrame, badvaddr) == 148);

impl TrapFrame {
    /// A fresh frame that starts at `entry` with stack `sp` and `status`.
    #[must_use]
    pub fn new(entry: u32, sp: u32, status: u32) -> Self {
        let mut frame = Self {
            epc: entry,
            status,
            ..Self::default()
        };
        frame.set_gpr(regs::SP, sp);
        frame
    }

    /// General-purpose register `r` (a number of [`hv_abi::regs`]).
    #[must_use]
    pub fn gpr(&self, r: u8) -> u32 {
        self.regs[usize::from(r)]
    }

    /// Sets general-purpose register `r` (a number of [`hv_abi::regs`]).
    pub fn set_gpr(&mut self, r: u8, value: u32) {
        self.regs[usize::from(r)] = value;
    }

    /// Tells whether the trap came from user mode.
    #[must_use]
    pub fn trapped_in_user(&self) -> bool {
        self.status & cp0::STATUS_KSU_MASK == cp0::STATUS_KSU_USER
    }

    /// The exception code (Cause.ExcCode).
    #[must_use]
    pub fn exc_code(&self) -> u32 {
        cp0::exc_code(self.cause)
    }
}

/// The exception codes the kernel tells apart (Cause.ExcCode).
pub mod exc {
    /// Interrupt.
    pub const INT: u32 = 0;
    /// TLB modification: a store to a page without the D bit.
    pub const MOD: u32 = 1;
    /// TLB miss or invalid entry on a load or fetch.
    pub const TLBL: u32 = 2;
    /// TLB miss or invalid entry on a store.
    pub const TLBS: u32 = 3;
    /// Address error on a load or fetch.
    pub const ADEL: u32 = 4;
    /// Address error on a store.
    pub const ADES: u32 = 5;
    /// `syscall`.
    pub const SYS: u32 = 8;
    /// `break`.
    pub const BP: u32 = 9;
    /// Reserved instruction.
    pub const RI: u32 = 10;
    /// Coprocessor unusable.
    pub const CPU: u32 = 11;
}

/// The frame `trap_entry` saves into: the running context's. Written by
/// the scheduler (and boot), read by the assembly.
#[unsafe(no_mangle)]
pub static mut CURRENT_FRAME: *mut TrapFrame = core::ptr::null_mut();

/// The page directory the refill handler walks: 1024 kseg0 pointers to
/// page tables, one per 4 MiB of address space. Written by the scheduler.
#[unsafe(no_mangle)]
pub static mut PGD_CURRENT: *const u32 = core::ptr::null();

/// The kseg0 address of the page of CP0 registers the monitor shares
/// (`CommpageSet`), or 0: the trap assembly reads and writes EPC, Status,
/// Cause and BadVAddr there instead of with `mfc0`/`mtc0` when it is set.
/// Written at boot, and by `pv::Pv::unshare` (at shutdown, or when memory
/// runs out), never while the trap assembly runs.
#[cfg(feature = "pv")]
#[unsafe(no_mangle)]
pub static mut PV_COMMPAGE: u32 = 0;

/// TLB refills done by the refill handler (it increments this itself).
#[unsafe(no_mangle)]
pub static mut TLB_REFILLS: u32 = 0;

/// Where the vectors go: EBase, the start of kseg0.
pub const EBASE: u32 = 0x8000_0000;

/// The general exception vector's offset from EBase.
const GENERAL_OFFSET: u32 = 0x180;

// The refill handler (copied to EBase + 0): k0/k1 only, no stack, no
// Rust. PTEs are stored in EntryLo format, so the pair is loaded as is.
// Context.BadVPN2 (bits 22..4) shifted right by one and masked with 0xff8
// is the byte offset of the even/odd PTE pair within its page table.
//
// The general vector (copied to EBase + 0x180) jumps to trap_entry.
//
// The CP0 reads of trap_entry and writes of trap_resume: `mfc0`/`mtc0`
// in the unmodified build. The paravirtualized build tests PV_COMMPAGE
// first: when the monitor shares its page of CP0 registers, EPC, Status,
// Cause and BadVAddr are loaded from it and EPC and Status stored to it
// (the monitor applies them at the `eret`, which still traps), with no
// exit for each. The registers saved in the frame are free to use there.
#[cfg(not(feature = "pv"))]
macro_rules! trap_entry_cp0 {
    () => {
        r#"
    mfc0  $k1, $14              # EPC
    sw    $k1, 136($k0)
    mfc0  $k1, $12              # Status
    sw    $k1, 140($k0)
    mfc0  $k1, $13              # Cause
    sw    $k1, 144($k0)
    mfc0  $k1, $8               # BadVAddr
    sw    $k1, 148($k0)
"#
    };
}

#[cfg(not(feature = "pv"))]
macro_rules! trap_resume_cp0 {
    () => {
        r#"
    lw    $k1, 136($k0)
    mtc0  $k1, $14              # EPC
    lw    $k1, 140($k0)
    ori   $k1, $k1, 2           # keep EXL set until eret
    mtc0  $k1, $12              # Status
"#
    };
}

#[cfg(feature = "pv")]
macro_rules! trap_entry_cp0 {
    () => {
        r#"
    lui   $t0, %hi(PV_COMMPAGE)
    lw    $t0, %lo(PV_COMMPAGE)($t0)
    beqz  $t0, 1f
    nop
    lw    $k1, 8($t0)               # EPC (shared page)
    sw    $k1, 136($k0)
    lw    $k1, 0($t0)               # Status (shared page)
    sw    $k1, 140($k0)
    lw    $k1, 4($t0)               # Cause (shared page)
    sw    $k1, 144($k0)
    lw    $k1, 12($t0)              # BadVAddr (shared page)
    b     2f
    sw    $k1, 148($k0)             # (delay slot)
1:
    mfc0  $k1, $14              # EPC
    sw    $k1, 136($k0)
    mfc0  $k1, $12              # Status
    sw    $k1, 140($k0)
    mfc0  $k1, $13              # Cause
    sw    $k1, 144($k0)
    mfc0  $k1, $8               # BadVAddr
    sw    $k1, 148($k0)
2:
"#
    };
}

#[cfg(feature = "pv")]
macro_rules! trap_resume_cp0 {
    () => {
        r#"
    lui   $t0, %hi(PV_COMMPAGE)
    lw    $t0, %lo(PV_COMMPAGE)($t0)
    beqz  $t0, 1f
    nop
    lw    $k1, 136($k0)
    sw    $k1, 8($t0)               # EPC (shared page)
    lw    $k1, 140($k0)
    ori   $k1, $k1, 2               # keep EXL set until eret
    b     2f
    sw    $k1, 0($t0)               # (delay slot) Status (shared page)
1:
    lw    $k1, 136($k0)
    mtc0  $k1, $14              # EPC
    lw    $k1, 140($k0)
    ori   $k1, $k1, 2           # keep EXL set until eret
    mtc0  $k1, $12              # Status
2:
"#
    };
}

global_asm!(concat!(
    r#"
    .section .text.vectors, "ax"
    .set push
    .set noreorder
    .set noat

    .globl refill_vector_start
    .globl refill_vector_end
refill_vector_start:
    mfc0  $k0, $8               # BadVAddr
    lui   $k1, %hi(PGD_CURRENT)
    lw    $k1, %lo(PGD_CURRENT)($k1)
    srl   $k0, $k0, 22          # page directory index
    sll   $k0, $k0, 2
    addu  $k1, $k1, $k0
    mfc0  $k0, $4               # Context
    lw    $k1, 0($k1)           # the page table (kseg0)
    srl   $k0, $k0, 1
    andi  $k0, $k0, 0xff8       # offset of the PTE pair
    addu  $k1, $k1, $k0
    lw    $k0, 0($k1)
    lw    $k1, 4($k1)
    mtc0  $k0, $2               # EntryLo0
    mtc0  $k1, $3               # EntryLo1
    lui   $k0, %hi(TLB_REFILLS)
    lw    $k1, %lo(TLB_REFILLS)($k0)
    addiu $k1, $k1, 1
    sw    $k1, %lo(TLB_REFILLS)($k0)
    ehb
    tlbwr
    eret
refill_vector_end:

    .globl general_vector_start
    .globl general_vector_end
general_vector_start:
    lui   $k0, %hi(trap_entry)
    addiu $k0, $k0, %lo(trap_entry)
    jr    $k0
    nop
general_vector_end:

    .section .text.trap, "ax"
    .globl trap_entry
trap_entry:
    lui   $k0, %hi(CURRENT_FRAME)
    lw    $k0, %lo(CURRENT_FRAME)($k0)
    sw    $1, 4($k0)
    sw    $2, 8($k0)
    sw    $3, 12($k0)
    sw    $4, 16($k0)
    sw    $5, 20($k0)
    sw    $6, 24($k0)
    sw    $7, 28($k0)
    sw    $8, 32($k0)
    sw    $9, 36($k0)
    sw    $10, 40($k0)
    sw    $11, 44($k0)
    sw    $12, 48($k0)
    sw    $13, 52($k0)
    sw    $14, 56($k0)
    sw    $15, 60($k0)
    sw    $16, 64($k0)
    sw    $17, 68($k0)
    sw    $18, 72($k0)
    sw    $19, 76($k0)
    sw    $20, 80($k0)
    sw    $21, 84($k0)
    sw    $22, 88($k0)
    sw    $23, 92($k0)
    sw    $24, 96($k0)
    sw    $25, 100($k0)
    sw    $28, 112($k0)
    sw    $29, 116($k0)
    sw    $30, 120($k0)
    sw    $31, 124($k0)
    mfhi  $k1
    sw    $k1, 128($k0)
    mflo  $k1
    sw    $k1, 132($k0)"#,
    trap_entry_cp0!(),
    r#"    lui   $sp, %hi(trap_stack_top)
    addiu $sp, $sp, %lo(trap_stack_top)
    jal   trap_handler
    move  $4, $k0               # (delay slot) a0 = the frame

    move  $4, $2
    .globl trap_resume
trap_resume:                    # a0 = the frame to resume
    move  $k0, $4
    lw    $k1, 128($k0)
    mthi  $k1
    lw    $k1, 132($k0)
    mtlo  $k1"#,
    trap_resume_cp0!(),
    r#"    lw    $1, 4($k0)
    lw    $2, 8($k0)
    lw    $3, 12($k0)
    lw    $4, 16($k0)
    lw    $5, 20($k0)
    lw    $6, 24($k0)
    lw    $7, 28($k0)
    lw    $8, 32($k0)
    lw    $9, 36($k0)
    lw    $10, 40($k0)
    lw    $11, 44($k0)
    lw    $12, 48($k0)
    lw    $13, 52($k0)
    lw    $14, 56($k0)
    lw    $15, 60($k0)
    lw    $16, 64($k0)
    lw    $17, 68($k0)
    lw    $18, 72($k0)
    lw    $19, 76($k0)
    lw    $20, 80($k0)
    lw    $21, 84($k0)
    lw    $22, 88($k0)
    lw    $23, 92($k0)
    lw    $24, 96($k0)
    lw    $25, 100($k0)
    lw    $28, 112($k0)
    lw    $29, 116($k0)
    lw    $30, 120($k0)
    lw    $31, 124($k0)
    ehb
    eret

    .section "#,
    stack_section!(),
    r#".trap_stack, "aw", @nobits
    .balign 16
    .space 16384
trap_stack_top:
    .set pop
"#
));

unsafe extern "C" {
    static refill_vector_start: u8;
    static refill_vector_end: u8;
    static general_vector_start: u8;
    static general_vector_end: u8;
    fn trap_resume(frame: *mut TrapFrame) -> !;
}

/// Copies the refill and general vectors to EBase + 0 and EBase + 0x180.
///
/// # Safety
///
/// Status.BEV must still be set (nothing may use the vectors while they
/// are written), and the page at EBase must be the kernel's: the linker
/// script keeps 0x8000_0000..0x8000_1000 free for them.
pub unsafe fn install_vectors() {
    // SAFETY: the start/end symbols bracket the vector code in .text (see
    // the assembly), the targets lie in the page reserved for vectors below
    // the kernel image, and the two copies do not overlap: the refill code
    // is checked to fit below the general vector.
    unsafe {
        let refill = symbol_range(&raw const refill_vector_start, &raw const refill_vector_end);
        assert!(
            refill.len() <= GENERAL_OFFSET as usize,
            "refill handler too long"
        );
        copy_to(EBASE, refill);
        let general = symbol_range(
            &raw const general_vector_start,
            &raw const general_vector_end,
        );
        copy_to(EBASE + GENERAL_OFFSET, general);
    }
}

/// The bytes between two symbols of the kernel image.
///
/// # Safety
///
/// `start..end` must be one readable range of the image.
unsafe fn symbol_range(start: *const u8, end: *const u8) -> &'static [u8] {
    // SAFETY: the caller guarantees the range; the image is never freed.
    unsafe { core::slice::from_raw_parts(start, end as usize - start as usize) }
}

/// Copies `code` to kseg0 address `to`.
///
/// No cache maintenance follows: the machines this kernel runs on (the
/// project's emulator and QEMU) do not model caches; real hardware would
/// need the copied lines written back and the I-cache invalidated.
///
/// # Safety
///
/// `to..to + code.len()` must be unused kernel memory.
unsafe fn copy_to(to: u32, code: &[u8]) {
    // SAFETY: the caller guarantees the destination is free memory.
    unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), to as *mut u8, code.len()) }
}

/// Restores `frame` and returns from the exception (boot's way into the
/// first context).
///
/// # Safety
///
/// `frame` must be a valid context (and `CURRENT_FRAME`, `PGD_CURRENT`
/// and the ASID must match it, as the scheduler arranges), and the
/// vectors must be installed: the next trap saves into `CURRENT_FRAME`.
pub unsafe fn resume(frame: *mut TrapFrame) -> ! {
    // SAFETY: the caller guarantees the frame and the CPU state.
    unsafe { trap_resume(frame) }
}

/// The Rust side of every exception but a TLB refill.
///
/// Called by `trap_entry` on the trap stack with EXL set; returns the
/// frame to resume.
#[unsafe(no_mangle)]
extern "C" fn trap_handler(frame: *mut TrapFrame) -> *mut TrapFrame {
    // SAFETY: trap_entry passes CURRENT_FRAME, which always points at a
    // live frame (a process's, the idle context's or the boot frame), and
    // nothing else uses it while the handler runs (no nesting, one CPU).
    let frame_ref = unsafe { &mut *frame };

    // A hypercall on a machine without a monitor raises RI (or CpU when
    // deprivileged): answer it first, before anything else, as the ABI
    // asks. This needs no kernel state, so it also works during boot.
    if matches!(frame_ref.exc_code(), exc::RI | exc::CPU)
        && !frame_ref.trapped_in_user()
        && crate::pv::fixup_hypercall(frame_ref)
    {
        return frame;
    }

    // SAFETY: boot initialises the kernel before it enables interrupts or
    // starts a process; until then only the fix-up above can trap. The
    // handler does not nest, so this is the only reference.
    let kernel = unsafe { crate::kernel() };
    kernel.handle_trap(frame)
}
