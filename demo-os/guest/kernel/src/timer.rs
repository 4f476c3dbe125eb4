//! The scheduler's clock: CP0 Count/Compare, interrupt 7 (Cause.TI).
//!
//! A tick is [`INTERVAL`] Count ticks. On the project's machine Count
//! advances once per instruction, so a tick is a fixed amount of work and
//! the schedule is deterministic; on QEMU Count follows host time.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::{cp0, pv};

/// Count ticks per timer tick.
pub const INTERVAL: u32 = 50_000;

/// How far before the next deadline the shared page's Count (as of the
/// trap's entry, so a few hundred ticks behind at most) is trusted to
/// say the deadline has not passed.
const SHARED_COUNT_MARGIN: u32 = INTERVAL / 4;

/// The Compare value last programmed: the next deadline.
static DEADLINE: AtomicU32 = AtomicU32::new(0);

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

/// Writes Compare (which also clears a pending timer interrupt).
fn program(deadline: u32) {
    DEADLINE.store(deadline, Ordering::Relaxed);
    cp0::set_compare(deadline);
}
