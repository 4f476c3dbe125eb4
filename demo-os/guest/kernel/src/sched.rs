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
//! own stack, waiting for the next interrupt with `wait`. It keeps no
//! state, so it starts afresh each time.
//!
//! # Tickless idle (paravirtualized)
//!
//! When the monitor offers `IdleYield` the scheduler is tickless (see
//! `timer`): at every trap it counts the ticks that passed
//! ([`Scheduler::catch_up`]), and before resuming a context it sets the
//! timer for the next tick that matters ([`Scheduler::schedule`]): the
//! next time slice if more than one process is runnable, otherwise the
//! earliest sleeper's wake-up. With nothing runnable it does not resume
//! the idle context: still in the trap handler, with interrupts off and
//! the run queue just found empty, it yields to the monitor until that
//! wake-up (the call returns when the timer interrupt is pending even
//! with interrupts off, so no wake-up is lost), counts the ticks and
//! chooses again. An idle VM so costs one yield per wake-up, not an
//! interrupt, a trap and a yield per tick.

use crate::cp0;
use crate::process::{ProcessTable, State};
use crate::stats::Stats;
use crate::trap::{CURRENT_FRAME, PGD_CURRENT, TrapFrame};
use crate::{pv, timer, tlb};

/// Tickless: the most ticks ahead the timer is set when nothing needs it
/// (one runnable process, no sleeper): 2 * 10^9 Count ticks, below the
/// 2^31 that wrap-around comparisons allow.
#[cfg(feature = "pv")]
const TICKS_FAR: u32 = 40_000;

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
    /// Whether the scheduler is tickless (paravirtualized, with
    /// `IdleYield`).
    #[cfg(feature = "pv")]
    tickless: bool,
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
        #[cfg(feature = "pv")]
        tickless: false,
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

    /// Makes the scheduler tickless (boot, right after `timer::start`,
    /// when the monitor offers `IdleYield`).
    #[cfg(feature = "pv")]
    pub fn go_tickless(&mut self) {
        timer::go_tickless();
        self.tickless = true;
    }

    /// Tells whether the scheduler is tickless.
    #[cfg(feature = "pv")]
    #[must_use]
    pub const fn tickless(&self) -> bool {
        self.tickless
    }

    /// Tells whether the scheduler is tickless: never in this build.
    #[cfg(not(feature = "pv"))]
    #[must_use]
    pub const fn tickless(&self) -> bool {
        false
    }

    /// Tickless: counts the ticks that passed by Count `now`, as many
    /// [`tick`](Self::tick)s at once (wakes the sleepers whose time has
    /// come, preempts the running process). Returns whether any passed.
    #[cfg(feature = "pv")]
    pub fn catch_up(&mut self, now: u32, procs: &mut ProcessTable) -> bool {
        let passed = timer::elapsed(now);
        if passed == 0 {
            return false;
        }
        self.ticks = self.ticks.wrapping_add(passed - 1);
        self.tick(procs);
        true
    }

    /// Tickless: how many ticks after the last one counted the timer must
    /// interrupt: the next one if more than one process is runnable (a
    /// time slice ends), otherwise the earliest sleeper's wake-up, or
    /// [`TICKS_FAR`] if there is none.
    #[cfg(feature = "pv")]
    fn ticks_needed(&self, procs: &ProcessTable) -> u32 {
        let runnable = procs
            .iter()
            .filter(|p| matches!(p.state, State::Ready | State::Running))
            .count();
        if runnable > 1 {
            return 1;
        }
        procs
            .iter()
            .filter_map(|p| match p.state {
                // Sleepers due by now were woken by `catch_up`: at least 1.
                State::Sleeping { until } => Some(until.wrapping_sub(self.ticks).max(1)),
                _ => None,
            })
            .min()
            .map_or(TICKS_FAR, |ticks| ticks.min(TICKS_FAR))
    }

    /// Tickless, with nothing runnable: yields to the monitor, in the trap
    /// handler, until the timer's next deadline that matters, then counts
    /// the ticks that passed.
    #[cfg(feature = "pv")]
    fn idle_until_wakeup(&mut self, procs: &mut ProcessTable, stats: &mut Stats) {
        if self.current.take().is_some() {
            stats.context_switches += 1;
        }
        let since = now();
        let deadline = timer::arm(self.ticks_needed(procs), since);
        let mut at = since;
        // Interrupts are off (EXL): the call returns once the timer's
        // interrupt is pending, or at the deadline; it may return earlier.
        while (at.wrapping_sub(deadline) as i32) < 0
            && pv::shared_cause().is_none_or(|cause| cause & cp0::CAUSE_TI == 0)
        {
            pv::idle_yield(deadline);
            at = now();
        }
        stats.idle_ticks += u64::from(at.wrapping_sub(since));
        stats.timer_interrupts += 1;
        self.catch_up(at, procs);
    }

    /// Tickless: idles in the trap handler while nothing is runnable
    /// and a process lives (`next` is what the round robin chose),
    /// then sets the timer for the process that runs next.
    #[cfg(feature = "pv")]
    fn tickless_next(
        &mut self,
        mut next: Option<usize>,
        procs: &mut ProcessTable,
        stats: &mut Stats,
    ) -> Option<usize> {
        if !self.tickless {
            return next;
        }
        while next.is_none() && procs.any_live() {
            // Idling ends the current context: no process is `Running`.
            self.idle_until_wakeup(procs, stats);
            next = self.next_ready(procs);
        }
        if next.is_some() {
            timer::arm(self.ticks_needed(procs), now());
        }
        next
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
        let next = keep.or_else(|| self.next_ready(procs));
        #[cfg(feature = "pv")]
        let next = self.tickless_next(next, procs, stats);
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

impl Scheduler {
    /// The next ready process after the one that ran last, in slot order.
    #[inline(always)]
    fn next_ready(&self, procs: &ProcessTable) -> Option<usize> {
        (1..=procs.iter().count())
            .map(|step| (self.last + step) % procs.iter().count())
            .find(|&slot| procs.get(slot).state == State::Ready)
    }
}

/// Count, from the shared page when the monitor shares one (as of the
/// trap's entry or the last return from the monitor).
#[cfg(feature = "pv")]
fn now() -> u32 {
    pv::shared_count().unwrap_or_else(cp0::count)
}

/// A fresh idle context.
fn idle_frame() -> TrapFrame {
    let stack = (&raw const boot_stack_top) as u32;
    let mut frame = TrapFrame::new(idle_loop as *const () as u32, stack, IDLE_STATUS);
    frame.set_gpr(hv_abi::regs::A0, u32::from(pv::idle_yield_offered()));
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
