//! The kernel's counters and its closing summary. Every line printed
//! from here begins with `stat`: the numbers depend on timing and on the
//! path taken (unmodified or paravirtualized).

use core::fmt;

use crate::kprintln;

/// What the kernel counts while it runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Timer interrupts taken.
    pub timer_interrupts: u32,
    /// Changes of the running context (process or idle).
    pub context_switches: u32,
    /// System calls made.
    pub syscalls: u32,
    /// TLB invalid exceptions handled (demand-zero faults and stale
    /// entries).
    pub page_faults: u32,
    /// Frames the kernel zeroed before use.
    pub frames_zeroed: u32,
    /// Word stores the kernel made zeroing frames.
    pub zeroing_stores: u64,
    /// Frames not zeroed because the monitor vouched they were (PV).
    pub frames_vouched: u32,
    /// `TlbInstallBatch` batches sent (PV).
    pub tlb_batches: u32,
    /// Frames taken back when memory ran out: pages mapped ahead and
    /// still zero, the shared page of CP0 registers (PV).
    pub frames_taken_back: u32,
    /// Frames of exited processes given back to the monitor
    /// (`FramesRelease`, PV; the unmodified build has no such field, so
    /// its state stays as it was).
    #[cfg(feature = "pv")]
    pub frames_released: u32,
    /// Released frames taken back before reuse (`FramesReclaim`, PV);
    /// they are zeros, so they are not zeroed.
    #[cfg(feature = "pv")]
    pub frames_reclaimed: u32,
    /// Count ticks spent in the idle context.
    pub idle_ticks: u64,
}

impl Stats {
    /// All zero.
    pub const ZERO: Stats = Stats {
        timer_interrupts: 0,
        context_switches: 0,
        syscalls: 0,
        page_faults: 0,
        frames_zeroed: 0,
        zeroing_stores: 0,
        frames_vouched: 0,
        tlb_batches: 0,
        frames_taken_back: 0,
        #[cfg(feature = "pv")]
        frames_released: 0,
        #[cfg(feature = "pv")]
        frames_reclaimed: 0,
        idle_ticks: 0,
    };

    /// Prints the summary; `tlb_refills` comes from the refill handler,
    /// which does not see the refills the monitor walks (`walked`: it
    /// does some).
    pub fn print(&self, tlb_refills: u32, walked: bool) {
        kprintln!(
            "stat cpu: timer interrupts {}, context switches {}, syscalls {}, idle {} ticks",
            self.timer_interrupts,
            self.context_switches,
            self.syscalls,
            self.idle_ticks
        );
        kprintln!(
            "stat memory: tlb refills {}{}, page faults {}, frames zeroed {}, zeroing stores {}, frames vouched zero {}, tlb batches {}{}",
            tlb_refills,
            if walked {
                " by the handler (the monitor's walked refills not counted)"
            } else {
                ""
            },
            self.page_faults,
            self.frames_zeroed,
            self.zeroing_stores,
            self.frames_vouched,
            self.tlb_batches,
            self.taken_back()
        );
    }
}

/// `, frames taken back N, frames released N, frames reclaimed N` in the
/// paravirtualized build.
#[cfg(feature = "pv")]
struct TakenBack(u32, u32, u32);

/// Nothing in the unmodified build, which takes nothing back and releases
/// nothing: its line stays as it was.
#[cfg(not(feature = "pv"))]
struct TakenBack(u32);

impl Stats {
    /// What [`TakenBack`] shows.
    #[cfg(feature = "pv")]
    fn taken_back(&self) -> TakenBack {
        TakenBack(
            self.frames_taken_back,
            self.frames_released,
            self.frames_reclaimed,
        )
    }

    /// What [`TakenBack`] shows.
    #[cfg(not(feature = "pv"))]
    fn taken_back(&self) -> TakenBack {
        TakenBack(self.frames_taken_back)
    }
}

impl fmt::Display for TakenBack {
    #[cfg(feature = "pv")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            ", frames taken back {}, frames released {}, frames reclaimed {}",
            self.0, self.1, self.2
        )
    }

    #[cfg(not(feature = "pv"))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if cfg!(feature = "pv") {
            write!(f, ", frames taken back {}", self.0)
        } else {
            Ok(())
        }
    }
}
