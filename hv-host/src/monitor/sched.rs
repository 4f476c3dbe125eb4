//! Sharing the CPU: time slices, idle inference and machine switches.
//!
//! A VM runs until its slice ([`super::MonitorConfig::slice_ticks`]) ends;
//! then the next runnable VM (round robin) gets the CPU. A VM that
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
        // The waiting VMs only: the list holds every one of them (and VMs
        // that stopped meanwhile, dropped here).
        let mut k = 0;
        while let Some(&i) = self.waiting.get(k) {
            let Some(vm) = self.vms.get_mut(i).filter(|v| v.state == VmState::Waiting) else {
                self.waiting.swap_remove(k);
                continue;
            };
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
                self.waiting.swap_remove(k);
            } else if vm.state == VmState::Waiting {
                k += 1;
            } else {
                // Stopped by its board (power-off) while waiting.
                self.waiting.swap_remove(k);
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
        if idle {
            self.idle_current(end);
        } else {
            self.run_current(end);
        }
        let to = self.now();
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
    fn next_vm(&self) -> Option<usize> {
        let n = self.vms.len();
        (1..=n)
            .map(|k| (self.cur + k) % n)
            .find(|&i| match self.vms[i].state {
                VmState::Running => true,
                VmState::Waiting => !self.config.idle_inference,
                VmState::Stopped(_) => false,
            })
    }

    /// Every VM that is not stopped waits: let time pass to the earliest
    /// timer deadline (or `end`).
    fn all_idle(&mut self, end: u64) {
        let now = self.now();
        let wake = self
            .vms
            .iter()
            .filter(|v| v.state == VmState::Waiting)
            .map(|v| v.next_event().min(v.yield_until.unwrap_or(Deadline::NEVER)))
            .min()
            .unwrap_or(Deadline::NEVER);
        if wake.is_never() {
            // Nothing can ever wake them (timers frozen): they are stalled.
            for vm in &mut self.vms {
                if vm.state == VmState::Waiting {
                    vm.stop(VmStop::Stalled, now);
                }
            }
            return;
        }
        let until = wake.bound(end).max(now);
        self.machine.idle_ticks_add(until - now);
        for (i, vm) in self.vms.iter_mut().enumerate() {
            if vm.state == VmState::Waiting {
                vm.stats.idle_ticks += until - now;
                if let Some(t) = &mut self.log.timeline {
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
