//! The scheduler's clock: CP0 Count/Compare, interrupt 7 (Cause.TI).
//!
//! A tick is [`INTERVAL`] Count ticks. On the project's machine Count
//! advances once per instruction, so a tick is a fixed amount of work and
//! the schedule is deterministic; on QEMU Count follows host time.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::cp0;

/// Count ticks per timer tick.
pub const INTERVAL: u32 = 50_000;

/// The Compare value last programmed: the next deadline.
static DEADLINE: AtomicU32 = AtomicU32::new(0);

/// Programs the first deadline, one interval from now.
pub fn start() {
    program(cp0::count().wrapping_add(INTERVAL));
}

/// Acknowledges a timer interrupt and programs the next deadline: one
/// interval after the last, or one interval from now if that has passed
/// already (ticks missed while the kernel ran are dropped, not queued).
pub fn rearm() {
    let mut next = DEADLINE.load(Ordering::Relaxed).wrapping_add(INTERVAL);
    let now = cp0::count();
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

/// Writes Compare (which also clears a pending timer interrupt).
fn program(deadline: u32) {
    DEADLINE.store(deadline, Ordering::Relaxed);
    cp0::set_compare(deadline);
}
