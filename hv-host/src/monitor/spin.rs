//! Spin inference: a VM that busy-waits on a device register that only
//! time changes (Linux's Malta clock calibration polls the RTC's
//! update-in-progress bit for a second at a time) is descheduled until
//! just before the register changes, as `wait` is, instead of burning its
//! share of the CPU in exits. The implicit-information idea of idle
//! inference applied to polling, as Intel's pause-loop exiting does with a
//! hint, here without one.
//!
//! Detection, per VM, at each device load that exits to the monitor: the
//! same load (PC, guest-physical address) reading the same value as at its
//! last exit, three times in a row with the same period (guest
//! instructions, exits, clock ticks) between them, at most
//! [`MAX_LOOP_INSTRUCTIONS`] instructions a period, and every exit in
//! between a device access. The board then says until when a repeat of
//! that load reads the same ([`crate::machine::board::map::Board::stable_until`]:
//! only devices that know, the RTC's register A and time registers); the
//! VM skips the whole periods that fit before it, less one, and runs the
//! last ones itself, so it sees the change at the same tick (the loop's
//! period being constant) and reads Count as it would have.
//!
//! While skipped the VM waits (other VMs run; alone, time jumps as for
//! `wait`) and wakes early only for an interrupt it would take (enabled,
//! unmasked, pending). The heuristic cannot see stores to ordinary memory
//! in the loop: it relies on the loop being short, regular and exiting
//! only to the device. Off with [`super::MonitorConfig::spin_inference`]
//! (`--no-spin-inference`). Counted in [`super::stats::VmStats`]:
//! `spins_inferred`, `spin_ticks_skipped`.
//!
//! With or without inference, every repeat of such a load (the same load
//! reading the same value a short loop after its last exit, of a register
//! the board says only time changes) extends the VM's
//! [`super::stats::PollWindow`]: when it polled, and what the other VMs
//! got of the CPU meanwhile (`--mode consolidate` reports it).

use super::exit::ExitCtx;
use super::stats::{ExitReason, PollWindow};
use crate::addr::{GuestPhysAddr, GuestVirtAddr};
use crate::machine::Deadline;
use crate::machine::board::Width;
use serde::{Deserialize, Serialize};

/// Longest polling loop recognised, in guest instructions a period.
pub const MAX_LOOP_INSTRUCTIONS: u64 = 64;
/// Equal periods in a row before a loop is taken for a spin.
const REPEATS: u32 = 3;

/// One exit of the watched load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Point {
    pc: GuestVirtAddr,
    gpa: GuestPhysAddr,
    value: u32,
    /// Guest instructions, exits, device exits and the clock at it.
    insns: u64,
    exits: u64,
    mmio: u64,
    clock: u64,
}

/// What happened between two exits of the watched load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Period {
    insns: u64,
    exits: u64,
    clock: u64,
}

/// A VM's watch for polling loops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpinWatch {
    last: Option<Point>,
    period: Option<Period>,
    repeats: u32,
}

impl ExitCtx<'_> {
    /// After the device load at `pc` of `width` at `gpa` read `value` (the
    /// exit counted, the clock at `now`, taken at the same point of every
    /// such exit): whether the VM spins on it, and if so the ticks it may
    /// skip ([`ExitCtx::spin_wait`]), ending just before the value
    /// changes.
    pub(super) fn spin_check(
        &mut self,
        pc: GuestVirtAddr,
        gpa: GuestPhysAddr,
        width: Width,
        value: u32,
        now: u64,
    ) -> Option<u64> {
        let s = &self.vm.stats;
        let here = Point {
            pc,
            gpa,
            value,
            insns: s.guest_instructions,
            exits: s.exits_total(),
            mmio: s.exit_count(ExitReason::Mmio),
            clock: now,
        };
        let w = &mut self.vm.spin;
        let same = w
            .last
            .filter(|l| l.pc == pc && l.gpa == gpa && l.value == value)
            .map(|l| Period {
                insns: here.insns - l.insns,
                exits: here.exits - l.exits,
                clock: here.clock - l.clock,
            })
            .filter(|p| {
                let l = w.last.map_or(here, |l| l);
                p.insns <= MAX_LOOP_INSTRUCTIONS && p.clock > 0 && here.mmio - l.mmio == p.exits
            });
        w.last = Some(here);
        // A repeat of a register only time changes is a poll: it bounds
        // the VM's poll window, with or without inference.
        let until = match same {
            Some(_) => self.vm.board.stable_until(gpa, width),
            None => None,
        };
        if until.is_some() {
            let others = self.vm.others_cpu;
            let poll = self.vm.stats.poll.get_or_insert(PollWindow {
                first: now,
                last: now,
                others_first: others,
                others_last: others,
            });
            poll.last = now;
            poll.others_last = others;
        }
        if !self.config.spin_inference {
            return None;
        }
        let w = &mut self.vm.spin;
        match same {
            Some(p) if w.period == Some(p) => w.repeats += 1,
            Some(p) => {
                w.period = Some(p);
                w.repeats = 1;
            }
            None => {
                w.period = None;
                w.repeats = 0;
            }
        }
        if w.repeats < REPEATS {
            return None;
        }
        let period = w.period?;
        let until = until?;
        // Whole periods before the change, less the one the VM runs
        // itself to see it.
        let whole = until.saturating_sub(now) / period.clock;
        if whole < 2 {
            return None;
        }
        let skip = (whole - 1) * period.clock;
        let vm = &mut *self.vm;
        vm.spin = SpinWatch::default();
        vm.stats.spins_inferred += 1;
        vm.stats.spin_ticks_skipped += skip;
        Some(skip)
    }

    /// Makes the VM wait `skip` ticks from now, the handler of the exit
    /// that found the spin done: the guest resumes at the tick, and in
    /// the phase of its loop, it would have reached by spinning.
    pub(super) fn spin_wait(&mut self, skip: u64) {
        let at = self.now() + skip;
        let vm = &mut *self.vm;
        vm.spinning = true;
        vm.yield_until = Some(Deadline::at(at));
    }
}
