//! The `gdbstub` target: registers (all at once and one at a time, CP0
//! writes as the guest's `mtc0`) and memory per thread (VM), the resume
//! actions, breakpoints and watchpoints, thread names.

use super::arch::{CP0_EXTRA, MipsKernel, RegId, Regs};
use super::debugged::Debugged;
use super::vm_of;
use gdbstub::arch::Registers;
use gdbstub::common::{Signal, Tid};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::single_register_access::{
    SingleRegisterAccess, SingleRegisterAccessOps,
};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps,
    SwBreakpoint, SwBreakpointOps, WatchKind,
};
use gdbstub::target::ext::thread_extra_info::{ThreadExtraInfo, ThreadExtraInfoOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::mips::MipsBreakpointKind;
use hv_host::addr::GuestVirtAddr;
use hv_host::machine::cp0::reg;

/// The longest watched range, in bytes.
const MAX_WATCH: u32 = 4096;

impl Debugged {
    /// The VM of thread `tid`, if there is one.
    fn vm(&self, tid: Tid) -> TargetResult<usize, Self> {
        let vm = vm_of(tid);
        if vm < self.vm_count() {
            Ok(vm)
        } else {
            Err(TargetError::NonFatal)
        }
    }

    /// Refuses a signal for a VM that runs (a VM that has ended takes, and
    /// ignores, any).
    fn no_signal(&self, tid: Tid, signal: Option<Signal>) -> Result<(), &'static str> {
        match signal {
            Some(_) if !self.vm_ended(vm_of(tid)) => Err("the guest takes no signals"),
            _ => Ok(()),
        }
    }

    /// Writes CP0 register `rd`/`sel` of VM `vm` as the guest's `mtc0`
    /// would, if `value` differs from what it reads now; read-only bits
    /// keep their value, and gdb reads the masked result back.
    fn write_cp0(&mut self, vm: usize, rd: u8, sel: u8, value: u32) -> TargetResult<(), Self> {
        let host = self.host.get_mut();
        if host.cp0(vm, rd, sel).ok_or(TargetError::NonFatal)? != value {
            host.set_cp0(vm, rd, sel, value)
                .ok_or(TargetError::NonFatal)?;
        }
        Ok(())
    }

    /// Adds a breakpoint (every VM stops at it).
    fn add_breakpoint(&mut self, addr: u32) -> bool {
        if !self.breakpoints.contains(&addr) {
            self.breakpoints.push(addr);
        }
        true
    }

    /// Removes a breakpoint; whether there was one.
    fn remove_breakpoint(&mut self, addr: u32) -> bool {
        let before = self.breakpoints.len();
        self.breakpoints.retain(|&a| a != addr);
        self.breakpoints.len() != before
    }
}

impl Target for Debugged {
    type Arch = MipsKernel;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadBase for Debugged {
    fn read_registers(&mut self, regs: &mut Regs, tid: Tid) -> TargetResult<(), Self> {
        let vm = self.vm(tid)?;
        let host = self.host.get();
        let s = host.cpu(vm).ok_or(TargetError::NonFatal)?;
        regs.core.r = s.gpr;
        regs.core.hi = s.hi;
        regs.core.lo = s.lo;
        regs.core.pc = s.pc.raw();
        let cp0 = |rd| host.cp0(vm, rd, 0).ok_or(TargetError::NonFatal);
        regs.core.cp0.status = cp0(reg::STATUS)?;
        regs.core.cp0.badvaddr = cp0(reg::BADVADDR)?;
        regs.core.cp0.cause = cp0(reg::CAUSE)?;
        for (v, r) in regs.cp0.iter_mut().zip(CP0_EXTRA) {
            *v = host.cp0(vm, r.rd, r.sel).ok_or(TargetError::NonFatal)?;
        }
        Ok(())
    }

    /// Writes the GPRs, HI/LO and PC, then each CP0 register whose value
    /// differs from what the guest reads now (gdb sends every register
    /// back: an unchanged one is not written again, so it has no side
    /// effects). The FPU's registers are ignored (there is no FPU).
    fn write_registers(&mut self, regs: &Regs, tid: Tid) -> TargetResult<(), Self> {
        let vm = self.vm(tid)?;
        let mut s = self.host.get().cpu(vm).ok_or(TargetError::NonFatal)?;
        let core = &regs.core;
        s.gpr = core.r;
        s.gpr[0] = 0;
        s.hi = core.hi;
        s.lo = core.lo;
        if core.pc != s.pc.raw() {
            // A new PC: straight-line from there (out of any delay slot).
            s.pc = GuestVirtAddr::new(core.pc);
            s.next_pc = GuestVirtAddr::new(core.pc.wrapping_add(4));
            s.delay_slot = false;
        }
        self.host.get_mut().set_cpu(vm, &s);
        let named = [
            (reg::STATUS, 0, core.cp0.status),
            (reg::BADVADDR, 0, core.cp0.badvaddr),
            (reg::CAUSE, 0, core.cp0.cause),
        ];
        let extra = CP0_EXTRA
            .iter()
            .zip(regs.cp0)
            .map(|(r, v)| (r.rd, r.sel, v));
        for (rd, sel, v) in named.into_iter().chain(extra) {
            self.write_cp0(vm, rd, sel, v)?;
        }
        Ok(())
    }

    fn read_addrs(&mut self, start: u32, data: &mut [u8], tid: Tid) -> TargetResult<usize, Self> {
        let vm = self.vm(tid)?;
        let host = self.host.get();
        let mut done = 0usize;
        while done < data.len() {
            let a = start.wrapping_add(done as u32);
            let chunk = (data.len() - done).min((0x1000 - (a & 0xfff)) as usize);
            match host.read(vm, a, chunk as u32) {
                Some(bytes) if bytes.len() == chunk => {
                    data[done..done + chunk].copy_from_slice(&bytes);
                    done += chunk;
                }
                _ => break,
            }
        }
        if done == 0 && !data.is_empty() {
            return Err(TargetError::NonFatal);
        }
        Ok(done)
    }

    fn write_addrs(&mut self, start: u32, data: &[u8], tid: Tid) -> TargetResult<(), Self> {
        let vm = self.vm(tid)?;
        if self.host.get_mut().write(vm, start, data) {
            Ok(())
        } else {
            Err(TargetError::NonFatal)
        }
    }

    fn list_active_threads(
        &mut self,
        thread_is_active: &mut dyn FnMut(Tid),
    ) -> Result<(), Self::Error> {
        for vm in 0..self.vm_count() {
            thread_is_active(super::tid_of(vm));
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, Tid, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(&mut self) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }
}

/// One register (`p`/`P`, what `p $epc` and `set $sr = ...` send): read
/// and written through the whole set, so a register reads and writes
/// exactly as in a `g`/`G` packet.
impl SingleRegisterAccess<Tid> for Debugged {
    fn read_register(&mut self, tid: Tid, reg: RegId, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let mut regs = Regs::default();
        self.read_registers(&mut regs, tid)?;
        let bytes = regs.to_bytes();
        let value = bytes
            .get(reg.0 * 4..reg.0 * 4 + 4)
            .ok_or(TargetError::NonFatal)?;
        let out = buf.get_mut(..4).ok_or(TargetError::NonFatal)?;
        out.copy_from_slice(value);
        Ok(4)
    }

    fn write_register(&mut self, tid: Tid, reg: RegId, val: &[u8]) -> TargetResult<(), Self> {
        if val.len() != 4 {
            return Err(TargetError::NonFatal);
        }
        let mut regs = Regs::default();
        self.read_registers(&mut regs, tid)?;
        let mut bytes = regs.to_bytes();
        bytes
            .get_mut(reg.0 * 4..reg.0 * 4 + 4)
            .ok_or(TargetError::NonFatal)?
            .copy_from_slice(val);
        regs.gdb_deserialize(&bytes)
            .map_err(|()| TargetError::NonFatal)?;
        self.write_registers(&regs, tid)
    }
}

impl MultiThreadResume for Debugged {
    fn resume(&mut self) -> Result<(), Self::Error> {
        self.start();
        Ok(())
    }

    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.next_step = None;
        Ok(())
    }

    fn set_resume_action_continue(
        &mut self,
        tid: Tid,
        signal: Option<Signal>,
    ) -> Result<(), Self::Error> {
        self.no_signal(tid, signal)
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadSingleStep for Debugged {
    fn set_resume_action_step(
        &mut self,
        tid: Tid,
        signal: Option<Signal>,
    ) -> Result<(), Self::Error> {
        self.no_signal(tid, signal)?;
        // gdb steps one thread at a time; a second one, or a thread that
        // is no VM, is ignored.
        if self.next_step.is_none() && vm_of(tid) < self.vm_count() {
            self.next_step = Some(vm_of(tid));
        }
        Ok(())
    }
}

impl MultiThreadSchedulerLocking for Debugged {
    /// gdb asks that only the threads it resumed run (stepping one over a
    /// breakpoint, say): the VMs share one CPU and its scheduler decides,
    /// so the others may run meanwhile, as they would without gdb.
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl ThreadExtraInfo for Debugged {
    /// `vmN`, and how the VM ended if it did (`vm1: exit 0`).
    fn thread_extra_info(&self, tid: Tid, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let vm = vm_of(tid);
        let text = match self.host.get().vm_end(vm) {
            Some(end) => format!("vm{vm}: {}", end.short()),
            None => format!("vm{vm}"),
        };
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        Ok(n)
    }
}

impl Breakpoints for Debugged {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for Debugged {
    fn add_sw_breakpoint(
        &mut self,
        addr: u32,
        _kind: MipsBreakpointKind,
    ) -> TargetResult<bool, Self> {
        Ok(self.add_breakpoint(addr))
    }

    fn remove_sw_breakpoint(
        &mut self,
        addr: u32,
        _kind: MipsBreakpointKind,
    ) -> TargetResult<bool, Self> {
        Ok(self.remove_breakpoint(addr))
    }
}

impl HwBreakpoint for Debugged {
    fn add_hw_breakpoint(
        &mut self,
        addr: u32,
        _kind: MipsBreakpointKind,
    ) -> TargetResult<bool, Self> {
        Ok(self.add_breakpoint(addr))
    }

    fn remove_hw_breakpoint(
        &mut self,
        addr: u32,
        _kind: MipsBreakpointKind,
    ) -> TargetResult<bool, Self> {
        Ok(self.remove_breakpoint(addr))
    }
}

impl HwWatchpoint for Debugged {
    fn add_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        if len == 0 || len > MAX_WATCH {
            return Ok(false);
        }
        self.add_watch(addr, len, kind);
        Ok(true)
    }

    fn remove_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        let at = self
            .watches
            .iter()
            .position(|w| w.addr == addr && w.len == len && w.kind == kind);
        match at {
            Some(i) => {
                self.watches.remove(i);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
