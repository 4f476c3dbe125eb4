//! The demo guest kernel: a small preemptive multitasking OS for a MIPS32r2
//! little-endian machine (QEMU `mipssim` compatible), one source built
//! twice:
//!
//! - **unmodified** (default features): runs on bare hardware, or fully
//!   virtualized under the monitor; it contains no hypercall at all;
//! - **paravirtualized** (feature `pv`): links `hv-guest`, detects the
//!   monitor at boot and, if one answers, uses its hypercalls for frame
//!   zeroing, TLB fills, idling, the console and shutdown, lets the
//!   monitor walk its page tables on TLB refills, and reads and writes
//!   the CP0 registers of its exception paths in a page shared with the
//!   monitor (see [`pv`]);
//!   without a monitor it takes the unmodified paths.
//!
//! It starts the five embedded user programs ([`process::PROGRAMS`]), or
//! those its boot arguments select, as user-mode processes with their own
//! address spaces, each scaled by the boot arguments' work scale (see
//! [`boot`]: `a0` = RAM size, `a1` = work scale, `a2` = program mask);
//! schedules them round robin from the Count/Compare timer, and when all
//! have exited prints its counters (`stat` lines) and a `results:` line,
//! then stops the machine with exit code 0 if every program succeeded, 1
//! if one failed, 2 on a kernel panic.
//!
//! Modules: [`boot`] (entry, set-up), [`trap`] (vectors, dispatch),
//! [`cp0`] and [`tlb`] (the privileged instructions), [`mm`] (address
//! spaces, page faults), [`frame`] (physical frames), [`elf`],
//! [`process`], [`sched`], [`syscall`], [`timer`], [`console`],
//! [`semihost`], [`stats`] and [`pv`].
#![no_std]
#![no_main]
#![feature(asm_experimental_arch)]

/// The section prefix of the boot and trap stacks (32 KiB, most of the
/// kernel's zero-initialised memory). The paravirtualized build puts them
/// in `.noinit`, which `kernel.ld` places after `.bss`: a stack needs no
/// clearing, and this spares an idle VM's boot some 40,000 instructions.
/// The unmodified build keeps them in `.bss`, exactly as it always has.
#[cfg(feature = "pv")]
macro_rules! stack_section {
    () => {
        ".noinit"
    };
}

/// See above: the unmodified build clears its stacks with `.bss`.
#[cfg(not(feature = "pv"))]
macro_rules! stack_section {
    () => {
        ".bss"
    };
}

mod boot;
mod console;
mod cp0;
mod elf;
mod frame;
mod mm;
mod process;
mod pv;
mod sched;
mod semihost;
mod stats;
mod syscall;
mod timer;
mod tlb;
mod trap;

use core::cell::UnsafeCell;
use core::fmt;
use core::panic::PanicInfo;

use frame::{FrameAllocator, PhysAddr};
use mm::{AheadPages, MemCtx};
use process::{Exit, Process, ProcessTable};
use pv::{Call, Pv, TlbWrite};
use sched::Scheduler;
use stats::Stats;
use trap::{TrapFrame, exc};

/// Exit code: every program exited with a status `>= 0`.
const EXIT_OK: i32 = 0;
/// Exit code: a program failed (negative status, killed) or frames leaked.
const EXIT_FAILED: i32 = 1;
/// Exit code: the kernel panicked.
const EXIT_PANIC: i32 = 2;

/// The kernel's state.
pub struct Kernel {
    /// Physical frames.
    pub frames: FrameAllocator,
    /// The pages mapped ahead of use (PV).
    pub ahead: AheadPages,
    /// The processes.
    pub procs: ProcessTable,
    /// Who runs.
    pub sched: Scheduler,
    /// The counters.
    pub stats: Stats,
    /// The monitor, when the paravirtualized path is taken.
    pub pv: Option<Pv>,
}

/// The one [`Kernel`], in static memory.
struct KernelCell(UnsafeCell<Kernel>);

// SAFETY: there is one CPU, and the kernel state is only used by boot
// (before interrupts are enabled) and by the trap handler, which runs with
// EXL set and never nests; see `kernel()`.
unsafe impl Sync for KernelCell {}

static KERNEL: KernelCell = KernelCell(UnsafeCell::new(Kernel {
    frames: FrameAllocator::new(PhysAddr::new(0), PhysAddr::new(0)),
    ahead: AheadPages::EMPTY,
    procs: ProcessTable::EMPTY,
    sched: Scheduler::NEW,
    stats: Stats::ZERO,
    pv: None,
}));

/// The kernel's state.
///
/// # Safety
///
/// Only one reference may be live: call this once per trap (the handler
/// does not nest) or once during boot (before interrupts are enabled).
unsafe fn kernel() -> &'static mut Kernel {
    // SAFETY: the caller guarantees exclusivity.
    unsafe { &mut *KERNEL.0.get() }
}

impl Kernel {
    /// The process in `slot` and the memory context, borrowed together.
    fn process_and_mem(&mut self, slot: usize) -> (&mut Process, MemCtx<'_>) {
        let ctx = MemCtx {
            frames: &mut self.frames,
            ahead: &mut self.ahead,
            pv: self.pv.as_ref(),
            stats: &mut self.stats,
        };
        (self.procs.get_mut(slot), ctx)
    }

    /// Handles a trap into `frame` (the running context's) and returns the
    /// frame to resume.
    fn handle_trap(&mut self, frame: *mut TrapFrame) -> *mut TrapFrame {
        // The shared page's Count is as of this trap's entry: close enough
        // for the idle accounting, and no `mfc0` trap.
        let now = pv::shared_count().unwrap_or_else(cp0::count);
        self.sched.trap_entered(now, &mut self.stats);
        #[cfg(feature = "pv")]
        if self.sched.tickless() {
            self.sched.catch_up(now, &mut self.procs);
        }
        // SAFETY: `frame` is CURRENT_FRAME, a live frame in the kernel's
        // state; it is copied out here and changed below only through
        // `self`.
        let trap = unsafe { *frame };
        match (trap.exc_code(), self.sched.current()) {
            (exc::INT, _) => self.interrupt(trap.cause),
            (code, Some(slot)) if trap.trapped_in_user() => self.user_exception(slot, code, &trap),
            (code, _) => panic!(
                "exception {code} in kernel mode at {:#010x} (badvaddr {:#010x})",
                trap.epc, trap.badvaddr
            ),
        }
        if !self.procs.any_live() {
            self.finish();
        }
        self.sched.schedule(&mut self.procs, &mut self.stats)
    }

    /// An interrupt: the timer ticks; nothing else is unmasked. (A
    /// tickless scheduler counted the ticks at the trap's entry and sets
    /// the timer when it schedules.)
    fn interrupt(&mut self, cause: u32) {
        if cause & (cp0::CAUSE_TI | cp0::CAUSE_IP7) != 0 && self.sched.tickless() {
            self.stats.timer_interrupts += 1;
        } else if cause & (cp0::CAUSE_TI | cp0::CAUSE_IP7) != 0 {
            timer::rearm();
            self.stats.timer_interrupts += 1;
            self.sched.tick(&mut self.procs);
        }
    }

    /// An exception from the process in `slot`.
    fn user_exception(&mut self, slot: usize, code: u32, trap: &TrapFrame) {
        let (epc, addr) = (trap.epc, trap.badvaddr);
        match code {
            exc::SYS if trap.cause & cp0::CAUSE_BD == 0 => syscall::dispatch(self, slot),
            exc::TLBL | exc::TLBS => {
                self.stats.page_faults += 1;
                let (process, mut ctx) = self.process_and_mem(slot);
                let space = process
                    .space
                    .as_mut()
                    .expect("a running process has an address space");
                if let Err(e) = space.fault(addr, &mut ctx) {
                    self.kill(slot, format_args!("{e} (pc {epc:#010x})"));
                }
            }
            exc::MOD => self.kill(
                slot,
                format_args!("write to read-only page at {addr:#010x} (pc {epc:#010x})"),
            ),
            exc::ADEL | exc::ADES => self.kill(
                slot,
                format_args!("address error at {addr:#010x} (pc {epc:#010x})"),
            ),
            exc::RI | exc::CPU => {
                self.kill(slot, format_args!("illegal instruction at {epc:#010x}"))
            }
            exc::BP => self.kill(slot, format_args!("breakpoint at {epc:#010x}")),
            _ => self.kill(slot, format_args!("exception {code} at {epc:#010x}")),
        }
    }

    /// Ends the process in `slot` after a fault.
    fn kill(&mut self, slot: usize, reason: fmt::Arguments<'_>) {
        let process = self.procs.get(slot);
        kprintln!(
            "demo-os: pid {} ({}) killed: {reason}",
            process.pid,
            process.name
        );
        self.end_process(slot, Exit::Killed);
    }

    /// Ends the process in `slot`.
    pub fn end_process(&mut self, slot: usize, exit: Exit) {
        let mut ctx = MemCtx {
            frames: &mut self.frames,
            ahead: &mut self.ahead,
            pv: self.pv.as_ref(),
            stats: &mut self.stats,
        };
        self.procs.end(slot, exit, &mut ctx);
        let process = self.procs.get(slot);
        if let Exit::Status(status) = exit {
            kprintln!(
                "demo-os: pid {} ({}) exited with status {status}",
                process.pid,
                process.name
            );
        }
    }

    /// The paravirtualized start of the process in `slot`: installs its
    /// whole image in the TLB with one batch, instead of one refill per
    /// pair on first touch.
    fn prefault_image(&mut self, slot: usize) {
        let Some(pv) = self.pv.as_ref().filter(|pv| pv.offers(Call::TlbBatch)) else {
            return;
        };
        let Some(space) = self.procs.get(slot).space.as_ref() else {
            return;
        };
        let mut writes = [TlbWrite::default(); 32];
        let mut count = 0;
        for write in space.image_pairs().take(writes.len()) {
            writes[count] = write;
            count += 1;
        }
        // On refusal the refill handler fills the entries on demand.
        let _ = pv.tlb_install(&writes[..count]);
        self.stats.tlb_batches += 1;
    }

    /// Every process has exited: prints the summary and stops the machine.
    fn finish(&mut self) -> ! {
        let failed = self
            .procs
            .iter()
            .filter(|p| matches!(p.exit, Some(Exit::Killed) | Some(Exit::Status(..=-1))))
            .count();
        if let Some(frame) = self.pv.as_ref().and_then(Pv::unshare) {
            self.frames.free(frame);
        }
        // Every address space is gone, and the pages they mapped ahead
        // with them.
        self.ahead.release(&mut self.frames);
        let leaked = self.frames.in_use();
        if leaked != 0 {
            kprintln!("demo-os: {leaked} frames still in use after every process exited");
        }
        let code = if failed == 0 && leaked == 0 {
            EXIT_OK
        } else {
            EXIT_FAILED
        };
        kprintln!(
            "demo-os: all processes exited, {failed} failed; shutting down with exit code {code}"
        );
        // SAFETY: only the refill handler writes it, and it cannot run now.
        let refills = unsafe { (&raw const trap::TLB_REFILLS).read_volatile() };
        let walked = self.pv.as_ref().is_some_and(Pv::walks_refills);
        self.stats.print(refills, walked);
        kprintln!("results:{}", Results(&self.procs));
        shutdown(code)
    }
}

/// The `results:` line's body: each started program's exit status, in
/// start order.
struct Results<'a>(&'a ProcessTable);

impl fmt::Display for Results<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for process in self.0.iter() {
            match process.exit {
                Some(Exit::Status(status)) => write!(f, " {}={status}", process.name)?,
                Some(Exit::Killed) => write!(f, " {}=killed", process.name)?,
                None => {}
            }
        }
        Ok(())
    }
}

/// Stops the machine with `code`: the monitor's shutdown call in the
/// paravirtualized path, UHI `exit` otherwise.
fn shutdown(code: i32) -> ! {
    pv::shutdown(code);
    semihost::exit(code)
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match info.location() {
        Some(at) => kprintln!(
            "demo-os: kernel panic at {}:{}: {}",
            at.file(),
            at.line(),
            info.message()
        ),
        None => kprintln!("demo-os: kernel panic: {}", info.message()),
    }
    shutdown(EXIT_PANIC)
}
