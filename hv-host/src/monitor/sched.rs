//! Sharing the CPU: time slices, idle inference and machine switches.
//!
//! A VM runs until its slice ([`super::MonitorConfig::slice_ticks`]) ends;
//! then the next runnable VM (round robin, from the set of runnable VMs)
//! gets the CPU. Waiting VMs sit in a queue by the tick their wake-up is
//! next checked at, so a step looks only at those due, and their idle
//! ticks are added when they stop waiting: a step's cost does not grow
//! with the number of VMs. A VM that
//! executes `wait` is inferred idle and descheduled until an interrupt it
//! unmasks is pending (its timer, its UART); when every VM is idle the
//! clock jumps to the earliest deadline. Without idle inference a waiting
//! VM keeps the CPU for the rest of its slice, idling, as a monitor that
//! cannot see `wait` would have to let it.
//!
//! A machine switch saves the outgoing VM's CPU state, flushes the real
//! TLB and restores the incoming VM's state. The real TLB is flushed
//! rather than partitioned by real ASIDs: a guest uses all 256 ASIDs
//! itself, so per-VM real ASIDs would need ASID remapping on every guest
//! EntryHi write, and the real TLB's 32 entries hold little of a VM's
//! working set after another VM ran; the software TLB refills them
//! without entering the guest.

use super::vm::{VmState, VmStop};
use super::{Monitor, cost};
use crate::machine::Deadline;
use std::cmp::Reverse;

impl Monitor {
    /// One scheduling step: wakes VMs whose interrupts are pending, picks
    /// the VM to run and runs it to its next exit, or lets time pass when
    /// all are idle.
    pub(super) fn step(&mut self, end: u64) {
        // Page sharing scans at fixed ticks: a stop there is like one at
        // the caller's budget, invisible to the guests.
        self.share_scan_due();
        let end = end.min(self.share_deadline());
        let now = self.now();
        // The waiting VMs due only: a waiting VM wakes for its timer, its
        // board's next event or the end of a yield (its deadline, the key
        // it waits under), or for input or a debugger's write (which poke
        // it: due at once).
        while let Some(&Reverse((at, i))) = self.wake.peek() {
            if at > now {
                break;
            }
            self.wake.pop();
            let Some(vm) = self.vms.get_mut(i) else {
                continue;
            };
            if vm.state != VmState::Waiting || vm.wake_at != at {
                // Stale: woken or stopped, or queued again since.
                continue;
            }
            vm.cp0.tick(now);
            vm.board_tick(now);
            self.woke_output |= vm.output_high();
            let deadline = vm.yield_until.is_some_and(|t| t.reached(now));
            // A skipped polling loop ends early only for an interrupt the
            // guest would take in it.
            let woken = if vm.spinning {
                vm.cp0.interrupt_deliverable(vm.irq_lines())
            } else {
                vm.cp0.unmasked_pending(vm.irq_lines()) != 0
            };
            if deadline || woken {
                vm.state = VmState::Running;
                vm.yield_until = None;
                vm.spinning = false;
                vm.wake_at = u64::MAX;
                vm.stats.idle_ticks += self.idle_total - vm.idle_mark;
                self.waiting.remove(&i);
                self.runnable.insert(i);
            } else if vm.state == VmState::Waiting {
                let next = vm
                    .next_event()
                    .min(vm.yield_until.unwrap_or(Deadline::NEVER));
                let key = if next.is_never() {
                    u64::MAX
                } else {
                    next.bound(u64::MAX - 1).max(now + 1)
                };
                vm.wake_at = key;
                if key != u64::MAX {
                    self.wake.push(Reverse((key, i)));
                }
            } else {
                // Stopped by its board (power-off) while waiting.
                vm.stats.idle_ticks += self.idle_total - vm.idle_mark;
                self.waiting.remove(&i);
            }
        }
        let cur = self.current();
        let keep = now < self.slice_end
            && match cur.state {
                VmState::Running => true,
                // A VM that yielded explicitly is always descheduled.
                VmState::Waiting => !self.config.idle_inference && cur.yield_until.is_none(),
                VmState::Stopped(_) => false,
            };
        // The switch's ticks are the monitor's work for the VM it puts on
        // the CPU.
        let start = self.now();
        if !keep {
            match self.next_vm() {
                Some(next) if next != self.cur => self.switch_to(next),
                Some(_) => self.slice_end = now + self.config.slice_ticks,
                None => {
                    self.all_idle(end);
                    return;
                }
            }
        }
        let (from, vm) = (self.now(), self.cur);
        let idle = self.current().state == VmState::Waiting;
        let others = self.cpu_total - self.current().stats.cpu_ticks;
        self.vms[vm].others_cpu = others;
        if idle {
            self.idle_current(end);
        } else {
            self.run_current(end);
        }
        let to = self.now();
        let held = if idle { from } else { to } - start;
        self.vms[vm].stats.cpu_ticks += held;
        self.cpu_total += held;
        if let Some(t) = &mut self.log.timeline {
            if idle {
                t.idle(vm, from, to);
            } else {
                t.busy(vm, from, to);
            }
        }
    }

    /// The next VM to run after the current one, round robin: a runnable
    /// one, or without idle inference a waiting one.
    fn next_vm(&mut self) -> Option<usize> {
        let n = self.vms.len();
        if !self.config.idle_inference {
            // Waiting VMs run too: every VM in turn.
            return (1..=n)
                .map(|k| (self.cur + k) % n)
                .find(|&i| !self.vms[i].stopped());
        }
        // The next runnable VM after the current one, round robin; VMs
        // met that no longer run leave the set.
        loop {
            let next = self
                .runnable
                .range(self.cur + 1..)
                .next()
                .or_else(|| self.runnable.range(..=self.cur).next())
                .copied()?;
            if self.vms[next].state == VmState::Running {
                return Some(next);
            }
            self.runnable.remove(&next);
        }
    }

    /// VM `i` may have an interrupt pending now (input, a debugger's
    /// write): if it waits, its wake-up is checked at the next step.
    pub(super) fn poke(&mut self, i: usize) {
        if let Some(vm) = self.vms.get_mut(i)
            && vm.state == VmState::Waiting
        {
            vm.wake_at = 0;
            self.wake.push(Reverse((0, i)));
        }
    }

    /// Idle ticks of `vm` not yet in its counters (it waits).
    pub(super) fn idle_pending(&self, vm: &super::Vm) -> u64 {
        if vm.state == VmState::Waiting {
            self.idle_total - vm.idle_mark
        } else {
            0
        }
    }

    /// Every VM that is not stopped waits: let time pass to the earliest
    /// timer deadline (or `end`).
    fn all_idle(&mut self, end: u64) {
        let now = self.now();
        // The earliest wake-up queued (stale entries dropped): every
        // waiting VM is queued at its deadline, unless it has none.
        let wake = loop {
            match self.wake.peek() {
                None => break Deadline::NEVER,
                Some(&Reverse((at, i))) => {
                    let vm = &self.vms[i];
                    if vm.state == VmState::Waiting && vm.wake_at == at {
                        break Deadline::at(at);
                    }
                    self.wake.pop();
                }
            }
        };
        if wake.is_never() {
            // Nothing can ever wake them (timers frozen): they are stalled.
            for &i in &self.waiting {
                let vm = &mut self.vms[i];
                if vm.state == VmState::Waiting {
                    vm.stats.idle_ticks += self.idle_total - vm.idle_mark;
                    vm.stop(VmStop::Stalled, now);
                }
            }
            self.waiting.clear();
            return;
        }
        let until = wake.bound(end).max(now);
        self.machine.idle_ticks_add(until - now);
        self.idle_total += until - now;
        if let Some(t) = &mut self.log.timeline {
            for &i in &self.waiting {
                if self.vms[i].state == VmState::Waiting {
                    t.idle(i, now, until);
                }
            }
        }
    }

    /// The current VM waits and keeps the CPU (no idle inference): it
    /// idles to its timer, the end of its slice or `end`.
    fn idle_current(&mut self, end: u64) {
        let now = self.now();
        let slice_end = self.slice_end;
        let vm = self.current_mut();
        if vm.next_event().is_never()
            && vm.yield_until.is_none()
            && vm.cp0.unmasked_pending(vm.irq_lines()) == 0
        {
            vm.stop(VmStop::Stalled, now);
            return;
        }
        let wake = vm
            .next_event()
            .min(vm.yield_until.unwrap_or(Deadline::NEVER));
        let until = wake.bound(slice_end.min(end)).max(now);
        vm.stats.idle_ticks += until - now;
        self.machine.idle_ticks_add(until - now);
    }

    /// Switches the CPU to VM `next`: saves the current VM's CPU state,
    /// flushes the real TLB, restores `next`'s state and mode.
    pub(super) fn switch_to(&mut self, next: usize) {
        if self.paused.take() == Some(self.cur) {
            // The paused stretch ends here after all.
            self.ctx().commpage_in();
        }
        let cpu = self.machine.cpu_state();
        self.current_mut().cpu = cpu;
        self.rtlb.flush(&mut self.machine);
        self.cur = next;
        let cpu = self.vms[next].cpu;
        self.machine.set_cpu_state(&cpu);
        self.vms[next].stats.machine_switches += 1;
        self.ctx().charge(cost::MACHINE_SWITCH);
        self.enter_current();
    }
}
