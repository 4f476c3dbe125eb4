//! Boot: the entry point, the machine set-up and the start of the first
//! process.
//!
//! # Boot assumptions
//!
//! - The loader jumps to `_start` (the ELF entry, 0x8000_1000, kseg0) in
//!   kernel mode with `a0` = the RAM size in bytes (the project machine's
//!   convention). Any `a0` that is not a multiple of 4 KiB between 1 MiB
//!   and 256 MiB (QEMU's mipssim passes 0) means "unknown", and the kernel
//!   assumes [`DEFAULT_RAM`] (16 MiB), which every supported machine has.
//! - `a1` = the work scale N: every user program multiplies its work by N
//!   and gets N in its `a0` at start (`demo_sys`, "Process start"). 0
//!   means 1; above `demo_sys::WORK_MAX` (1000) it is clamped.
//! - `a2` = the program mask: bit i starts program i of [`PROGRAMS`]
//!   (sieve, memory, sleeper, chatty, pages). Bits above the last program
//!   are ignored; 0 (or no valid bit) starts them all. A program keeps its
//!   pid (i + 1) whichever others start, and the `results:` line lists the
//!   started ones only.
//! - A loader that sets neither (QEMU: 0) gets today's run: every program
//!   at scale 1. With other values the kernel prints a
//!   `demo-os: work scale ..., programs ...` line after `kernel started`.
//! - Status is as at reset (BEV = 1, ERL = 1, as on QEMU) or anything
//!   else: `_start` writes it first.
//! - RAM starts at physical 0; the page at 0 is free for the vectors.

use core::arch::global_asm;

use crate::frame::{FrameAllocator, PhysAddr};
use crate::mm::MemCtx;
use crate::process::PROGRAMS;
use crate::pv::{Call, Pv};
use crate::trap::{self, TrapFrame};
use crate::{console, cp0, kprintln, timer, tlb};
use demo_sys::work_scale;

/// The RAM size assumed when the loader does not pass one.
pub const DEFAULT_RAM: u32 = 16 << 20;

/// The smallest RAM size accepted from `a0`.
const MIN_RAM: u32 = 1 << 20;

/// The largest RAM size used (kseg0 reaches 512 MiB, but the devices sit
/// at 0x1fc0_0000 and up).
const MAX_RAM: u32 = 256 << 20;

// The entry point. Status first: kernel mode, exceptions and interrupts
// off, ERL cleared (with ERL set, kuseg would be unmapped), BEV kept
// until the vectors are in place. Then .bss is cleared, the boot stack set
// up, and `kmain(a0, a1, a2)` called with the loader's a0..a2 untouched.
global_asm!(concat!(
    r#"
    .section .text._start, "ax"
    .globl _start
    .type _start, @function
    .set push
    .set noreorder
_start:
    lui   $t0, 0x0040           # Status = BEV
    mtc0  $t0, $12
    ehb
    lui   $t0, %hi(__bss_start)
    addiu $t0, $t0, %lo(__bss_start)
    lui   $t1, %hi(__bss_end)
    addiu $t1, $t1, %lo(__bss_end)
1:  beq   $t0, $t1, 2f
    nop
    sw    $zero, 0($t0)
    b     1b
    addiu $t0, $t0, 4
2:  lui   $sp, %hi(boot_stack_top)
    addiu $sp, $sp, %lo(boot_stack_top)
    jal   kmain
    nop
3:  b     3b
    nop
    .size _start, . - _start

    .section "#,
    stack_section!(),
    r#".boot_stack, "aw", @nobits
    .balign 16
    .space 16384
    .globl boot_stack_top
boot_stack_top:
    .set pop
"#
));

unsafe extern "C" {
    /// The end of the kernel image (page-aligned, from `kernel.ld`).
    static __kernel_end: u8;
}

/// The frame traps save into during boot (only the hypercall fix-up of
/// `detect` can trap then).
static mut BOOT_FRAME: TrapFrame = TrapFrame {
    regs: [0; 32],
    hi: 0,
    lo: 0,
    epc: 0,
    status: 0,
    cause: 0,
    badvaddr: 0,
};

/// The RAM size to use, from the loader's `a0`; and whether it came from
/// the loader.
fn ram_size(a0: u32) -> (u32, bool) {
    if (MIN_RAM..=u32::MAX).contains(&a0) && a0.is_multiple_of(4096) {
        (a0.min(MAX_RAM), true)
    } else {
        (DEFAULT_RAM, false)
    }
}

/// The boot arguments beyond the RAM size: what runs, and how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BootArgs {
    /// The loader's `a1`, as given.
    raw_work: u32,
    /// The work scale every program runs with ([`work_scale`] of `a1`).
    work: u32,
    /// The programs to start: bit i is [`PROGRAMS`]`[i]`, never 0.
    programs: u32,
}

impl BootArgs {
    /// Every program's bit.
    const ALL: u32 = (1 << PROGRAMS.len()) - 1;

    /// The boot arguments the loader's `a1` and `a2` mean.
    fn new(a1: u32, a2: u32) -> Self {
        Self {
            raw_work: a1,
            work: work_scale(a1),
            programs: match a2 & Self::ALL {
                0 => Self::ALL,
                mask => mask,
            },
        }
    }

    /// Whether program `i` starts.
    fn starts(&self, i: usize) -> bool {
        self.programs & (1 << i) != 0
    }

    /// Whether this is the run with no arguments: every program at scale 1.
    fn is_default(&self) -> bool {
        self.work == 1 && self.programs == Self::ALL
    }

    /// Prints the `demo-os: work scale ..., programs ...` line.
    fn announce(&self) {
        let mut names = [""; PROGRAMS.len()];
        let mut count = 0;
        for (i, program) in PROGRAMS.iter().enumerate() {
            if self.starts(i) {
                names[count] = program.name;
                count += 1;
            }
        }
        let names = &names[..count];
        let clamped = self.raw_work > self.work;
        kprintln!(
            "demo-os: work scale {}{}, programs {}",
            self.work,
            if clamped { " (clamped)" } else { "" },
            Words(names)
        );
    }
}

/// Words separated by spaces.
struct Words<'a>(&'a [&'a str]);

impl core::fmt::Display for Words<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, word) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(word)?;
        }
        Ok(())
    }
}

/// The kernel's Rust entry, on the boot stack with interrupts off, with
/// the loader's `a0` (RAM size), `a1` (work scale) and `a2` (program
/// mask).
#[unsafe(no_mangle)]
extern "C" fn kmain(a0: u32, a1: u32, a2: u32) -> ! {
    // SAFETY: BEV is set (by _start), so the vectors can be written and
    // EBase changed; CURRENT_FRAME points at the boot frame before any trap
    // can happen; Status is written last, clearing BEV once the vectors are
    // in place, with interrupts still off.
    unsafe {
        trap::CURRENT_FRAME = &raw mut BOOT_FRAME;
        trap::install_vectors();
        cp0::set_ebase(trap::EBASE);
        cp0::set_cause(0);
        cp0::set_status(0);
    }
    let pv = Pv::detect();
    if !pv.is_some_and(|pv| tlb::clear_all_batched(&pv)) {
        tlb::clear_all();
    }
    if pv.is_some_and(|pv| pv.offers(Call::Console)) {
        console::use_hypercall();
    }

    let (ram, from_loader) = ram_size(a0);
    let kernel_end = PhysAddr::from_kseg0((&raw const __kernel_end) as u32);
    assert!(
        kernel_end.raw() < ram,
        "RAM ({ram:#x} bytes) ends inside the kernel image"
    );

    // SAFETY: interrupts are off and no process runs yet, so nothing else
    // uses the kernel's state.
    let kernel = unsafe { crate::kernel() };
    kernel.frames = FrameAllocator::new(kernel_end, PhysAddr::new(ram));
    kernel.pv = pv.map(|pv| pv.share(&mut kernel.frames, &mut kernel.stats));

    kprintln!("demo-os: kernel started");
    let args = BootArgs::new(a1, a2);
    if !args.is_default() {
        args.announce();
    }
    match &kernel.pv {
        Some(pv) => kprintln!("stat boot: paravirtualized path, {}", pv.describe()),
        None => kprintln!("stat boot: unmodified path (no monitor)"),
    }
    kprintln!(
        "stat boot: ram {} KiB ({}), {} free frames, tlb {} entries, prid {:#010x}, timer tick {} count ticks",
        ram / 1024,
        if from_loader { "from a0" } else { "default" },
        (ram - kernel_end.raw()) / 4096,
        tlb::entries(),
        cp0::prid(),
        timer::INTERVAL
    );

    for (slot, program) in PROGRAMS.iter().enumerate() {
        if !args.starts(slot) {
            continue;
        }
        let mut ctx = MemCtx {
            frames: &mut kernel.frames,
            ahead: &mut kernel.ahead,
            pv: kernel.pv.as_ref(),
            stats: &mut kernel.stats,
        };
        match kernel.procs.spawn(slot, program, args.work, &mut ctx) {
            Ok(pages) => {
                kprintln!(
                    "demo-os: started pid {} ({}), image {} pages",
                    kernel.procs.get(slot).pid,
                    program.name,
                    pages
                );
                kernel.prefault_image(slot);
            }
            Err(e) => kprintln!("demo-os: cannot start {}: {e}", program.name),
        }
    }

    timer::start();
    #[cfg(feature = "pv")]
    if kernel.pv.is_some_and(|pv| pv.offers(Call::IdleYield)) {
        kernel.sched.go_tickless();
    }
    let first = kernel.sched.schedule(&mut kernel.procs, &mut kernel.stats);
    if !kernel.procs.any_live() {
        kernel.finish();
    }
    // SAFETY: the scheduler set CURRENT_FRAME, the page directory and the
    // ASID for `first`, and the vectors are installed.
    unsafe { trap::resume(first) }
}
