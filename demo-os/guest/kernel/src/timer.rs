//! The scheduler's clock: CP0 Count/Compare, interrupt 7 (Cause.TI).
//!
//! A tick is [`INTERVAL`] Count ticks. On the project's machine Count
//! advances once per instruction, so a tick is a fixed amount of work and
//! the schedule is deterministic; on QEMU Count follows host time.
//!
//! The unmodified kernel ticks periodically ([`rearm`] at every timer
//! interrupt). The paravirtualized one, when the monitor offers
//! `IdleYield`, is tickless: the ticks stay on the same grid, one
//! [`INTERVAL`] apart, but Compare is set only for the next tick that
//! matters ([`arm`]), and the ticks that passed in between are counted
//! at the next trap ([`elapsed`]).

use core::sync::atomic::{AtomicU32, Ordering};

use crate::{cp0, pv};

/// Count ticks per timer tick.
pub const INTERVAL: u32 = 50_000;

/// How far before the next deadline the shared page's Count (as of the
/// trap's entry, so a few hundred ticks behind at most) is trusted to
/// say the deadline has not passed.
const SHARED_COUNT_MARGIN: u32 = INTERVAL / 4;

/// How far ahead of the Count just read Compare is set at the least,
/// for the instructions (and the monitor's emulation of `mtc0`) between
/// the write and the return to the guest or the idle yield.
#[cfg(feature = "pv")]
const MIN_AHEAD: u32 = 1_000;

/// The Compare value last programmed: the next deadline.
static DEADLINE: AtomicU32 = AtomicU32::new(0);

/// Tickless: the Count of the last tick counted, on the grid the first
/// deadline set.
#[cfg(feature = "pv")]
static ANCHOR: AtomicU32 = AtomicU32::new(0);

/// Programs the first deadline, one interval from now.
pub fn start() {
    program(cp0::count().wrapping_add(INTERVAL));
}

/// Acknowledges a timer interrupt and programs the next deadline: one
/// interval after the last, or one interval from now if that has passed
/// already (ticks missed while the kernel ran are dropped, not queued).
///
/// In the paravirtualized path the Count of the shared page spares the
/// `mfc0` when it shows the deadline comfortably ahead: it lags the real
/// Count by the handler's few instructions, far less than the margin, so
/// Compare is never set in the past.
pub fn rearm() {
    let mut next = DEADLINE.load(Ordering::Relaxed).wrapping_add(INTERVAL);
    let now = match pv::shared_count() {
        Some(then) if next.wrapping_sub(then) as i32 > SHARED_COUNT_MARGIN as i32 => then,
        _ => cp0::count(),
    };
    if now.wrapping_sub(next) as i32 >= 0 {
        next = now.wrapping_add(INTERVAL);
    }
    program(next);
}

/// The next deadline (what Compare holds).
#[must_use]
pub fn deadline() -> u32 {
    DEADLINE.load(Ordering::Relaxed)
}

/// Starts counting ticks tickless, from the tick before the programmed
/// deadline (right after [`start`]).
#[cfg(feature = "pv")]
pub fn go_tickless() {
    ANCHOR.store(deadline().wrapping_sub(INTERVAL), Ordering::Relaxed);
}

/// Tickless: the number of ticks that passed between the last one counted
/// and Count `now`; they count as counted from here.
#[cfg(feature = "pv")]
pub fn elapsed(now: u32) -> u32 {
    let anchor = ANCHOR.load(Ordering::Relaxed);
    let since = now.wrapping_sub(anchor);
    if since as i32 <= 0 {
        return 0;
    }
    let passed = since / INTERVAL;
    ANCHOR.store(
        anchor.wrapping_add(passed.wrapping_mul(INTERVAL)),
        Ordering::Relaxed,
    );
    passed
}

/// Tickless: makes sure the timer interrupt comes by the `ticks`-th tick
/// after the last one counted (`ticks` at least 1, below 2^31 Count ticks
/// ahead), `now` being Count at the trap's entry (after [`elapsed`]).
/// Compare is written only if what it holds has passed (the interrupt is
/// pending and must be acknowledged) or comes later than needed: an
/// earlier deadline still pending is kept, and the tick it brings is
/// counted like any other. Returns the deadline Compare holds.
#[cfg(feature = "pv")]
pub fn arm(ticks: u32, now: u32) -> u32 {
    let anchor = ANCHOR.load(Ordering::Relaxed);
    let wanted = anchor.wrapping_add(ticks.wrapping_mul(INTERVAL));
    let armed = deadline();
    let armed_left = armed.wrapping_sub(now) as i32;
    if armed_left > 0 && armed_left <= wanted.wrapping_sub(now) as i32 {
        return armed;
    }
    // The shared page's Count lags the real one by the handler's
    // instructions: close to the deadline, ask for the real one.
    let mut at = wanted;
    if at.wrapping_sub(now) as i32 <= SHARED_COUNT_MARGIN as i32 {
        let precise = cp0::count();
        if (at.wrapping_sub(precise) as i32) < MIN_AHEAD as i32 {
            at = precise.wrapping_add(MIN_AHEAD);
        }
    }
    program(at);
    at
}

/// Writes Compare (which also clears a pending timer interrupt).
fn program(deadline: u32) {
    DEADLINE.store(deadline, Ordering::Relaxed);
    cp0::set_compare(deadline);
}
