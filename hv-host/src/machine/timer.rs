//! The CP0 timer, written once for the machine's CP0 and every virtual
//! CP0 of the monitor (both hold one in their [`super::cp0::Cp0`]):
//! Count, Compare and the tick at which Count next equals it (where
//! Cause.TI is set), the Cause.DC freeze, and Random's step.
//!
//! Time comes in as a tick count: the machine's own ticks, or the
//! monitor's clock (which is the machine's ticks) for a virtual CP0.
//!
//! - Count = ticks + the offset software wrote (mod 2^32); while Cause.DC
//!   is set it holds the value it had, and runs on from there when DC is
//!   cleared.
//! - Count = Compare sets Cause.TI (the owner's Cause; see
//!   [`super::cp0::Cp0::timer_tick`]); the next match is 2^32 ticks later.
//!   A Count or Compare write, or DC, moves the deadline; frozen, it never
//!   comes.
//! - Random counts down from the top TLB entry to Wired, one step per
//!   tick, and restarts at the top when Wired is written.

/// A clock tick at which something is due, or never.
///
/// Ordered with "never" after every tick, so the earliest of several
/// deadlines is their `min`. It is one `u64` whose top value means never
/// (a clock counting one tick per instruction does not reach 2^64 - 1),
/// so comparing it with a tick is one integer compare, as the machine's
/// run loop wants.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[repr(transparent)]
pub struct Deadline(u64);

impl Deadline {
    /// Never due.
    pub const NEVER: Deadline = Deadline(u64::MAX);

    /// Due at clock tick `tick`.
    #[inline]
    pub const fn at(tick: u64) -> Deadline {
        Deadline(tick)
    }

    /// The tick it is due at; `None` for never.
    #[inline]
    pub const fn tick(self) -> Option<u64> {
        if self.is_never() { None } else { Some(self.0) }
    }

    /// Whether it never comes.
    #[inline]
    pub const fn is_never(self) -> bool {
        self.0 == u64::MAX
    }

    /// Whether the clock, at tick `now`, has reached it.
    #[inline]
    pub const fn reached(self, now: u64) -> bool {
        now >= self.0
    }

    /// The earlier of it and tick `end`: how far to run.
    #[inline]
    pub fn bound(self, end: u64) -> u64 {
        self.0.min(end)
    }

    /// The same deadline `ticks` later (never stays never).
    #[inline]
    pub const fn later(self, ticks: u64) -> Deadline {
        Deadline(self.0.saturating_add(ticks))
    }

    /// It, or tick `tick` if it is earlier: never in the past of `tick`.
    #[inline]
    pub fn not_before(self, tick: u64) -> Deadline {
        Deadline(self.0.max(tick))
    }
}

impl From<Option<u64>> for Deadline {
    /// `Some(tick)`: due then; `None`: never.
    fn from(tick: Option<u64>) -> Deadline {
        tick.map_or(Deadline::NEVER, Deadline::at)
    }
}

/// Count, Compare and Random of one CP0, derived from the clock.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CpuTimer {
    /// Compare.
    compare: u32,
    /// Count = ticks + `count_offset` (mod 2^32) while running.
    count_offset: u32,
    /// Count while Cause.DC freezes it.
    frozen: Option<u32>,
    /// When Count next equals Compare.
    at: Deadline,
    /// Tick of the last Wired write (Random restarts at the top there).
    random_epoch: u64,
}

impl CpuTimer {
    /// The reset state at clock tick `now`: Count 0 and running, Compare
    /// 0 (so the first match is 2^32 ticks away), Random at the top.
    pub fn reset(now: u64) -> Self {
        let mut t = Self {
            compare: 0,
            count_offset: 0u32.wrapping_sub(now as u32),
            frozen: None,
            at: Deadline::NEVER,
            random_epoch: now,
        };
        t.rearm(now);
        t
    }

    /// Count at clock tick `now`.
    #[inline]
    pub fn count(&self, now: u64) -> u32 {
        match self.frozen {
            Some(c) => c,
            None => (now as u32).wrapping_add(self.count_offset),
        }
    }

    /// Compare.
    #[inline]
    pub fn compare(&self) -> u32 {
        self.compare
    }

    /// When Count next equals Compare ([`Deadline::NEVER`] while frozen).
    #[inline]
    pub fn deadline(&self) -> Deadline {
        self.at
    }

    /// Whether Cause.DC holds Count frozen.
    #[inline]
    pub fn stopped(&self) -> bool {
        self.frozen.is_some()
    }

    /// Count is written `v` at clock tick `now`.
    pub fn set_count(&mut self, v: u32, now: u64) {
        match &mut self.frozen {
            Some(c) => *c = v,
            None => self.count_offset = v.wrapping_sub(now as u32),
        }
        self.rearm(now);
    }

    /// Compare is written `v` at clock tick `now` (the owner clears
    /// Cause.TI).
    pub fn set_compare(&mut self, v: u32, now: u64) {
        self.compare = v;
        self.rearm(now);
    }

    /// Cause.DC became `stop` at clock tick `now`: freeze Count, or let
    /// it run on from where it stopped.
    pub fn set_stopped(&mut self, stop: bool, now: u64) {
        let cur = self.count(now);
        self.frozen = stop.then_some(cur);
        if !stop {
            self.count_offset = cur.wrapping_sub(now as u32);
        }
        self.rearm(now);
    }

    /// Wired is written at clock tick `now`: Random restarts at the top.
    pub fn wired_written(&mut self, now: u64) {
        self.random_epoch = now;
    }

    /// Random at clock tick `now` for a TLB of `entries` entries (1 or
    /// more) with `wired` wired: from the top entry down to Wired.
    pub fn random(&self, now: u64, wired: u32, entries: u32) -> u32 {
        let top = entries - 1;
        let span = u64::from(top + 1 - wired.min(top));
        top - (now.saturating_sub(self.random_epoch) % span) as u32
    }

    /// If the clock, at tick `now`, reached the deadline: moves it to the
    /// next match (2^32 ticks on) and returns true (Cause.TI is due).
    #[inline]
    pub fn expire(&mut self, now: u64) -> bool {
        if self.at.reached(now) {
            self.at = self.at.later(1 << 32);
            true
        } else {
            false
        }
    }

    /// Recomputes when Count next equals Compare, at clock tick `now`.
    fn rearm(&mut self, now: u64) {
        if self.frozen.is_some() {
            self.at = Deadline::NEVER;
            return;
        }
        let d = self.compare.wrapping_sub(self.count(now));
        let d = if d == 0 { 1 << 32 } else { u64::from(d) };
        self.at = Deadline::at(now + d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_orders_never_last() {
        assert!(Deadline::at(5) < Deadline::NEVER);
        assert_eq!(Deadline::at(5).min(Deadline::NEVER), Deadline::at(5));
        assert_eq!(Deadline::from(None), Deadline::NEVER);
        assert_eq!(Deadline::NEVER.tick(), None);
        assert_eq!(Deadline::at(7).tick(), Some(7));
        assert!(!Deadline::NEVER.reached(u64::MAX - 1));
        assert!(Deadline::at(7).reached(7));
        assert_eq!(Deadline::NEVER.later(1 << 32), Deadline::NEVER);
        assert_eq!(Deadline::NEVER.bound(9), 9);
        assert_eq!(Deadline::at(3).not_before(5), Deadline::at(5));
    }

    #[test]
    fn count_compare_freeze_and_random() {
        let mut t = CpuTimer::reset(1000);
        assert_eq!(t.count(1000), 0);
        assert_eq!(t.deadline(), Deadline::at(1000 + (1 << 32)));
        t.set_compare(50, 1010);
        assert_eq!(t.deadline(), Deadline::at(1050));
        assert!(!t.expire(1049));
        assert!(t.expire(1050));
        assert_eq!(t.deadline(), Deadline::at(1050 + (1 << 32)));
        t.set_stopped(true, 1060);
        assert!(t.stopped());
        assert_eq!(t.count(5000), 60);
        assert_eq!(t.deadline(), Deadline::NEVER);
        t.set_count(40, 5000);
        assert_eq!(t.count(6000), 40);
        t.set_stopped(false, 6000);
        assert_eq!(t.count(6005), 45);
        assert_eq!(t.deadline(), Deadline::at(6010));
        t.wired_written(100);
        assert_eq!(t.random(100, 10, 32), 31);
        assert_eq!(t.random(121, 10, 32), 10);
        assert_eq!(t.random(122, 10, 32), 31);
        assert_eq!(
            t.random(50, 40, 32),
            31,
            "Wired past the top: Random stays at the top"
        );
    }
}
