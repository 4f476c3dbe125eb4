//! Round-robin scheduling, sleeping, and the idle context.
//!
//! The scheduler decides after every trap which context resumes: the
//! running process if it is still `Running`, otherwise the next `Ready`
//! process after the last one that ran (in slot order), otherwise the
//! idle context. The timer tick preempts by turning `Running` into
//! `Ready`. A switch sets `CURRENT_FRAME`, and for a process also the
//! refill handler's page directory and the ASID.
//!
//! The idle context runs in kernel mode with interrupts enabled on its
//! own stack, waiting for the next interrupt: `wait` in the unmodified
//! path, the monitor's "idle yield" until the next timer deadline in the
//! paravirtualized one. It keeps no state, so it starts afresh each time.

use crate::cp0;
use crate::process::{ProcessTable, State};
use crate::stats::Stats;
use crate::trap::{CURRENT_FRAME, PGD_CURRENT, TrapFrame, reg};
use crate::{pv, timer, tlb};

/// The Status of the idle context: kernel mode, interrupts on, the timer
/// unmasked.
const IDLE_STATUS: u32 = cp0::STATUS_IM7 | cp0::STATUS_IE | cp0::STATUS_EXL;

unsafe extern "C" {
    /// The top of the boot stack, which the idle context reuses once boot
    /// is done (see `boot.rs`).
    static boot_stack_top: u8;
}

/// The scheduler's state.
#[derive(Debug)]
pub struct Scheduler {
    /// The slot of the running process; `None` while idle.
    current: Option<usize>,
    /// The slot that ran last: round-robin continues after it.
    last: usize,
    /// The ASID in EntryHi.
    active_asid: Option<u8>,
    /// Timer ticks since boot.
    ticks: u32,
    /// The idle context's frame.
    idle_frame: TrapFrame,
    /// Count when the idle context was entered.
    idle_since: u32,
}

impl Scheduler {
    /// Nothing running yet.
    pub const NEW: Scheduler = Scheduler {
        current: None,
        last: crate::process::MAX_PROCS - 1,
        active_asid: None,
        ticks: 0,
        idle_frame: TrapFrame {
            regs: [0; 32],
            hi: 0,
            lo: 0,
            epc: 0,
            status: 0,
            cause: 0,
            badvaddr: 0,
        },
        idle_since: 0,
    };

    /// The slot of the running process (`None` while idle).
    #[must_use]
    pub const fn current(&self) -> Option<usize> {
        self.current
    }

    /// Timer ticks since boot.
    #[must_use]
    pub const fn ticks(&self) -> u32 {
        self.ticks
    }

    /// Accounts for a trap arriving at Count `now`: ends an idle period.
    pub fn trap_entered(&mut self, now: u32, stats: &mut Stats) {
        if self.current.is_none() {
            stats.idle_ticks += u64::from(now.wrapping_sub(self.idle_since));
        }
    }

    /// A timer tick: wakes the sleepers whose time has come and preempts
    /// the running process.
    pub fn tick(&mut self, procs: &mut ProcessTable) {
        self.ticks = self.ticks.wrapping_add(1);
        for process in procs.iter_mut() {
            if let State::Sleeping { until } = process.state
                && self.ticks.wrapping_sub(until) as i32 >= 0
            {
                process.state = State::Ready;
            }
        }
        self.preempt(procs);
    }

    /// Moves the running process to the back of the queue (timer, yield).
    pub fn preempt(&mut self, procs: &mut ProcessTable) {
        if let Some(slot) = self.current {
            let process = procs.get_mut(slot);
            if process.state == State::Running {
                process.state = State::Ready;
            }
        }
    }

    /// Puts the running process to sleep for `ticks` ticks.
    pub fn sleep(&mut self, procs: &mut ProcessTable, slot: usize, ticks: u32) {
        procs.get_mut(slot).state = State::Sleeping {
            until: self.ticks.wrapping_add(ticks),
        };
    }

    /// Chooses the context to resume, switches to it and returns its frame.
    pub fn schedule(&mut self, procs: &mut ProcessTable, stats: &mut Stats) -> *mut TrapFrame {
        let keep = self
            .current
            .filter(|&slot| procs.get(slot).state == State::Running);
        let next = keep.or_else(|| {
            (1..=procs.iter().count())
                .map(|step| (self.last + step) % procs.iter().count())
                .find(|&slot| procs.get(slot).state == State::Ready)
        });
        if next != self.current {
            stats.context_switches += 1;
        }
        self.current = next;
        let frame = match next {
            Some(slot) => {
                self.last = slot;
                let process = procs.get_mut(slot);
                process.state = State::Running;
                let space = process
                    .space
                    .as_ref()
                    .expect("a running process has an address space");
                if self.active_asid != Some(space.asid()) {
                    // SAFETY: only the refill handler reads PGD_CURRENT, and
                    // only after this trap returns.
                    unsafe { PGD_CURRENT = space.pgd_kseg0() };
                    tlb::set_asid(space.asid());
                    self.active_asid = Some(space.asid());
                }
                &raw mut process.frame
            }
            None => {
                self.idle_frame = idle_frame();
                // For accounting only: the shared page's Count will do.
                self.idle_since = pv::shared_count().unwrap_or_else(cp0::count);
                &raw mut self.idle_frame
            }
        };
        // SAFETY: the frame lives in the kernel's static state (a process
        // slot or the scheduler), so it outlives the trap; trap_entry
        // saves into it next.
        unsafe { CURRENT_FRAME = frame };
        frame
    }
}

/// A fresh idle context.
fn idle_frame() -> TrapFrame {
    let stack = (&raw const boot_stack_top) as u32;
    let mut frame = TrapFrame::new(idle_loop as *const () as u32, stack, IDLE_STATUS);
    frame.regs[reg::A0] = u32::from(pv::idle_yield_offered());
    frame
}

/// The idle context: waits for interrupts forever; each one traps, and the
/// scheduler resumes a process or restarts this loop.
extern "C" fn idle_loop(use_idle_yield: u32) -> ! {
    loop {
        if use_idle_yield != 0 {
            pv::idle_yield(timer::deadline());
        } else {
            cp0::wait();
        }
    }
}
