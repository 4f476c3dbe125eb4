//! The hypercalls of `hv-abi` (`docs/ABI.md`), offered under `--mode para`
//! ([`super::MonitorConfig::hypercalls`]); without them `HYPCALL` raises
//! Reserved Instruction in the guest, as on hardware.
//!
//! Every argument of a call is checked before it acts (a batch checks and
//! installs its records one at a time and stops at the first bad one,
//! with the records before it installed, as ABI.md says); a bad one
//! returns its documented error code in `v0` (and `v1`, [`HvFailure`]),
//! leaves the VM running, and never panics the host. Guest memory is read through the
//! guest's own current mapping ([`super::gmmu::guest_translate`]), never
//! written. A call from the guest's user mode gets `NotPermitted`.
//!
//! The balloon (`FramesRelease`, `FramesReclaim`, ABI 1.2) gives a run
//! of the guest's frames back to the frame pool and takes them back: a
//! released frame is unmapped (the real TLB is emptied when one was
//! backed) and reads as zeros when used again, reclaimed or not.
//!
//! "Page already zeroed" is exact: while it is offered the monitor tracks
//! writes (frames it can vouch for are mapped without the dirty bit, so
//! the first store through any mapping exits and marks the frame), and it
//! vouches only for frames it zeroed and nobody wrote since (a released
//! frame is one: it is zeroed at its next touch).

use super::cost;
use super::exit::{Action, ExitCtx, ExitError};
use super::stats::ExitReason;
use super::vm::VmStop;
use super::vtlb::VirtTlb;
use crate::addr::{GuestPhysAddr, GuestVirtAddr};
use crate::machine::board::PageKind;
use crate::machine::cp0;
use crate::machine::insn::regs::{A0, A1, V0, V1};
use crate::machine::tlb::{TlbEntry, lo};
use crate::machine::{Deadline, Trap};
use hv_abi::{
    ABI_VERSION, BALLOON_MAX, COMMPAGE_OFF, CONSOLE_WRITE_MAX, DiscoverLeaf, Features, HvError,
    Hypercall, PAGE_ZEROED_MAX, TLB_BATCH_MAX, TlbEntryRecord, TlbSlot, WALK_FORMAT_MIPS32_4K,
};

/// What a hypercall did, for the trace and the snapshot tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HypercallRecord {
    /// The call number (`v0` on entry).
    pub number: u32,
    /// `a0`, `a1`.
    pub args: [u32; 2],
    /// `v0` (status) and `v1` (value) on return.
    pub result: (u32, u32),
}

/// The features the monitor offers when hypercalls are on.
pub const OFFERED: Features = Features::all();

/// A failed hypercall: its error code (`v0`) and the value it defines
/// in `v1` (a batch's failing index; 0 for the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HvFailure {
    /// The error.
    pub code: HvError,
    /// `v1` on return.
    pub v1: u32,
}

impl From<HvError> for HvFailure {
    fn from(code: HvError) -> Self {
        Self { code, v1: 0 }
    }
}

impl ExitCtx<'_> {
    /// A `HYPCALL` from the guest.
    pub(super) fn hypercall(&mut self, t: Trap, insn_word: u32) -> Result<Action, ExitError> {
        self.count_exit(ExitReason::Hypercall);
        self.charge(cost::HYPERCALL);
        let m = &self.machine;
        let (number, a0, a1) = (m.gpr(V0), m.gpr(A0), m.gpr(A1));
        let vm = &*self.vm;
        let call = if hv_abi::insn::hypcall_code(insn_word) != 0 {
            Err(HvError::UnknownCall)
        } else if !vm.cp0.kernel_mode()
            && vm.cp0.regs.status & cp0::status::KSU != cp0::status::KSU_SUPERVISOR
        {
            Err(HvError::NotPermitted)
        } else {
            match Hypercall::try_from(number) {
                Ok(call) if call.is_offered(vm.features) => Ok(call),
                _ => Err(HvError::UnknownCall),
            }
        };
        if call.is_ok()
            && let Some(n) = self.vm.stats.hypercalls.get_mut(number as usize)
        {
            *n += 1;
        }
        if call == Ok(Hypercall::Shutdown) {
            // It does not return; recorded as a success.
            let at = self.now();
            self.emulated(1);
            self.record(number, [a0, a1], (hv_abi::STATUS_OK, 0));
            self.trace(t.pc, t.insn, ExitReason::Hypercall, || {
                format!("hypercall {number}({a0:#x}): shutdown")
            });
            let reason = VmStop::Exited(a0 as i32);
            return Ok(Action::Stop { reason, at });
        }
        let result = call
            .map_err(HvFailure::from)
            .and_then(|call| self.call(call, a0, a1));
        self.emulated(1);
        let (v0, v1) = match result {
            Ok(v1) => (hv_abi::STATUS_OK, v1),
            Err(f) => (f.code.code(), f.v1),
        };
        self.machine.set_gpr(V0, v0);
        self.machine.set_gpr(V1, v1);
        self.machine.skip_instruction();
        self.record(number, [a0, a1], (v0, v1));
        self.trace(t.pc, t.insn, ExitReason::Hypercall, || {
            format!("hypercall {number}({a0:#x}, {a1:#x}) -> ({v0:#x}, {v1:#x})")
        });
        let yielded = call == Ok(Hypercall::IdleYield) && self.vm.yield_until.is_some();
        Ok(if yielded {
            Action::Wait
        } else {
            Action::Resume
        })
    }

    /// Logs a hypercall, if recording.
    fn record(&mut self, number: u32, args: [u32; 2], result: (u32, u32)) {
        if self.log.record_hypercalls {
            let rec = HypercallRecord {
                number,
                args,
                result,
            };
            self.log.hypercalls.push((self.vm.id, rec));
        }
    }

    /// Performs an offered call (not `Shutdown`): `Ok(v1)` or the failure.
    fn call(&mut self, call: Hypercall, a0: u32, a1: u32) -> Result<u32, HvFailure> {
        match call {
            Hypercall::Discover => self.discover(a0, a1),
            Hypercall::PageZeroed => self.page_zeroed(GuestPhysAddr::new(a0), a1),
            Hypercall::IdleYield => self.idle_yield(a0),
            Hypercall::TlbInstallBatch => self.tlb_install_batch(GuestVirtAddr::new(a0), a1),
            Hypercall::ConsoleWrite => self.console_write(GuestVirtAddr::new(a0), a1),
            Hypercall::Shutdown => Ok(0),
            Hypercall::CommpageSet => self.commpage_set(GuestPhysAddr::new(a0)),
            Hypercall::RefillWalkSet => self.refill_walk_set(GuestVirtAddr::new(a0), a1),
            Hypercall::FramesRelease => self.frames_release(GuestPhysAddr::new(a0), a1),
            Hypercall::FramesReclaim => self.frames_reclaim(GuestPhysAddr::new(a0), a1),
        }
    }

    /// Checks a balloon call's run of frames: aligned, at most
    /// [`BALLOON_MAX`], every frame the VM's RAM (not its boot ROM window
    /// nor a device page).
    fn balloon_run(&self, first: GuestPhysAddr, count: u32) -> Result<(), HvFailure> {
        if !first.is_page_aligned() {
            return Err(HvError::BadAlignment.into());
        }
        if count > BALLOON_MAX {
            return Err(HvError::CountTooLarge.into());
        }
        let vm = &*self.vm;
        let page = u64::from(hv_abi::PAGE_SIZE);
        let end = u64::from(first.raw()) + u64::from(count) * page;
        if end > u64::from(vm.mem.ram_bytes()) {
            return Err(HvError::BadAddress.into());
        }
        let ram = (0..count).all(|i| {
            vm.board
                .page_kind(first.wrapping_add(i * hv_abi::PAGE_SIZE))
                == PageKind::Ram
        });
        if !ram {
            return Err(HvError::BadAddress.into());
        }
        Ok(())
    }

    /// `FramesRelease`: the run's frames go back to the pool, unmapped;
    /// `v1` = how many were not released already.
    fn frames_release(&mut self, first: GuestPhysAddr, count: u32) -> Result<u32, HvFailure> {
        self.balloon_run(first, count)?;
        let end = u64::from(first.raw()) + u64::from(count) * u64::from(hv_abi::PAGE_SIZE);
        // The monitor writes the shared CP0 page at every resume: the
        // guest must stop sharing it before it gives it up.
        if let Some(page) = self.vm.commpage
            && (u64::from(first.raw())..end).contains(&u64::from(page.raw()))
        {
            return Err(HvError::InUse.into());
        }
        let (mut released, mut unmapped) = (0, false);
        for i in 0..count {
            let gpa = first.wrapping_add(i * hv_abi::PAGE_SIZE);
            let (newly, backed) = self.vm.mem.balloon_release(gpa, self.pool, self.machine);
            released += u32::from(newly);
            unmapped |= backed;
        }
        if unmapped {
            // The real TLB (a large page over the run, or one entry per
            // pair) must not keep a mapping to a frame now another VM's.
            self.rtlb.flush(self.machine);
            self.charge(cost::TLB_FLUSH);
        }
        self.charge(cost::BALLOON_FRAME * u64::from(count));
        Ok(released)
    }

    /// `FramesReclaim`: the run's released frames are usable again (all
    /// zeros, backed at their first touch); `v1` = how many were released.
    fn frames_reclaim(&mut self, first: GuestPhysAddr, count: u32) -> Result<u32, HvFailure> {
        self.balloon_run(first, count)?;
        let mut reclaimed = 0;
        for i in 0..count {
            let gpa = first.wrapping_add(i * hv_abi::PAGE_SIZE);
            reclaimed += u32::from(self.vm.mem.balloon_reclaim(gpa));
        }
        self.charge(cost::BALLOON_FRAME * u64::from(count));
        Ok(reclaimed)
    }

    fn commpage_set(&mut self, frame: GuestPhysAddr) -> Result<u32, HvFailure> {
        if frame.raw() == COMMPAGE_OFF {
            self.vm.commpage = None;
            return Ok(0);
        }
        if !frame.is_page_aligned() {
            return Err(HvError::BadAlignment.into());
        }
        let vm = &mut *self.vm;
        if vm.board.page_kind(GuestPhysAddr::new(frame.raw())) != PageKind::Ram {
            return Err(HvError::BadAddress.into());
        }
        let (_, copied) = vm
            .mem
            .private_frame(frame, self.pool, self.machine)
            .map_err(|_| HvError::BadAddress)?;
        // The monitor writes it: it is no longer a frame it can vouch for.
        vm.mem.mark_written(frame);
        vm.commpage = Some(frame);
        if copied {
            self.frame_copied();
        }
        Ok(0)
    }

    fn refill_walk_set(&mut self, word: GuestVirtAddr, format: u32) -> Result<u32, HvFailure> {
        if word.raw() == 0 {
            self.vm.refill_walk = None;
            return Ok(0);
        }
        if format != WALK_FORMAT_MIPS32_4K {
            return Err(HvError::BadEntry.into());
        }
        if !word.is_aligned(4) {
            return Err(HvError::BadAlignment.into());
        }
        let vm = &*self.vm;
        let in_ram = crate::machine::mmu::Segment::Kseg0
            .unmapped_phys(word.raw())
            .is_some_and(|pa| vm.board.page_kind(GuestPhysAddr::new(pa)) == PageKind::Ram);
        if !in_ram {
            return Err(HvError::BadAddress.into());
        }
        self.vm.refill_walk = Some(word);
        Ok(0)
    }

    fn discover(&mut self, leaf: u32, a1: u32) -> Result<u32, HvFailure> {
        let vm = &mut *self.vm;
        match DiscoverLeaf::try_from(leaf).map_err(HvError::from)? {
            DiscoverLeaf::Version => Ok(ABI_VERSION.to_raw()),
            DiscoverLeaf::Features => Ok(vm.features.bits()),
            DiscoverLeaf::DisableFeatures => {
                vm.features &= !Features::from_bits_truncate(a1);
                Ok(vm.features.bits())
            }
        }
    }

    fn page_zeroed(&mut self, first: GuestPhysAddr, count: u32) -> Result<u32, HvFailure> {
        if !first.is_page_aligned() {
            return Err(HvError::BadAlignment.into());
        }
        if count > PAGE_ZEROED_MAX {
            return Err(HvError::CountTooLarge.into());
        }
        let vm = &mut *self.vm;
        let ram = vm.mem.ram_bytes();
        let end = u64::from(first.raw()) + u64::from(count) * u64::from(hv_abi::PAGE_SIZE);
        if end > u64::from(ram) {
            return Err(HvError::BadAddress.into());
        }
        let mut bits = 0u32;
        for i in 0..count {
            if vm.mem.vouch_zero(first.wrapping_add(i * hv_abi::PAGE_SIZE)) {
                bits |= 1 << i;
            }
        }
        vm.stats.frames_vouched += u64::from(bits.count_ones());
        Ok(bits)
    }

    fn idle_yield(&mut self, deadline: u32) -> Result<u32, HvFailure> {
        let now = self.now();
        let vm = &mut *self.vm;
        if vm.cp0.unmasked_pending(vm.irq_lines()) != 0 {
            return Ok(0);
        }
        let left = deadline.wrapping_sub(vm.cp0.count(now)) as i32;
        if left <= 0 {
            return Ok(0);
        }
        // Count may be frozen (Cause.DC): then only an interrupt ends the
        // wait, or the timer if it runs; never forever without a source.
        let until = if vm.cp0.deadline().is_never() && vm.cp0.regs.cause & cp0::cause::DC != 0 {
            Deadline::NEVER
        } else {
            Deadline::at(now + left as u64)
        };
        vm.yield_until = Some(until);
        self.count_exit(ExitReason::Wait);
        Ok(0)
    }

    fn tlb_install_batch(&mut self, array: GuestVirtAddr, count: u32) -> Result<u32, HvFailure> {
        if !array.is_aligned(TlbEntryRecord::ALIGN as u32) {
            return Err(HvError::BadAlignment.into());
        }
        if count > TLB_BATCH_MAX {
            return Err(HvError::CountTooLarge.into());
        }
        let now = self.now();
        for i in 0..count {
            self.install_record(array, i, now)
                .map_err(|code| HvFailure { code, v1: i })?;
        }
        Ok(count)
    }

    /// Installs record `i` of a batch at `array` (clock tick `now` at the
    /// call).
    fn install_record(&mut self, array: GuestVirtAddr, i: u32, now: u64) -> Result<(), HvError> {
        // Read one record at a time, through the mapping as it is now: a
        // record that remaps the array changes what the next read sees,
        // exactly as it would for a guest reading it itself.
        let addr = array
            .checked_add(i * TlbEntryRecord::SIZE as u32)
            .ok_or(HvError::BadAddress)?;
        let record: TlbEntryRecord = self.read_obj(addr).map_err(|_| HvError::BadAddress)?;
        let vm = &mut *self.vm;
        let install = record
            .parse(vm.tlb.len() as u32)
            .map_err(|_| HvError::BadEntry)?;
        let size = install.page_mask().page_size();
        for l in [install.entry_lo0(), install.entry_lo1()] {
            if !frame_range_ok(&vm.tlb, vm.mem.ram_bytes(), l, size) {
                return Err(HvError::BadEntry);
            }
        }
        let index = match install.slot() {
            TlbSlot::Index(i) => vm.tlb.wrap(i),
            // As TLBWR: Random, which moves on one step per record.
            TlbSlot::Random => vm.tlb.wrap(vm.cp0.take_random(now + u64::from(i))),
        };
        let pm = install.page_mask().raw();
        let (lo0, lo1) = (install.entry_lo0(), install.entry_lo1());
        vm.tlb.write(
            index,
            TlbEntry::from_registers(pm, install.entry_hi(), lo0, lo1),
        );
        self.guest_tlb_written(index);
        self.charge(cost::TLB_INSTALL);
        Ok(())
    }

    fn console_write(&mut self, buf: GuestVirtAddr, len: u32) -> Result<u32, HvFailure> {
        if len > CONSOLE_WRITE_MAX {
            return Err(HvError::CountTooLarge.into());
        }
        let bytes = if len == 0 {
            Vec::new()
        } else {
            self.read_guest_ram(buf, len).ok_or(HvError::BadAddress)?
        };
        self.charge(cost::PER_BYTE * u64::from(len));
        self.vm.console.extend_from_slice(&bytes);
        Ok(len)
    }
}

/// Whether an EntryLo of a batch record names frames of the VM: a valid
/// page must lie wholly in the VM's RAM (a trapped `tlbwi` would accept
/// any frame and fault at the access; a batch refuses it up front).
fn frame_range_ok(_tlb: &VirtTlb, ram: u32, entry_lo: u32, page_size: u32) -> bool {
    if entry_lo & lo::V == 0 {
        return true;
    }
    let base = u64::from((entry_lo >> lo::PFN_SHIFT) & 0x00ff_ffff) << 12;
    base + u64::from(page_size) <= u64::from(ram)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{exit, image};
    use super::super::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};
    use super::HypercallRecord;
    use crate::machine::asm::*;
    use crate::machine::elf::ElfImage;
    use hv_abi::{BALLOON_MAX, HvError, Hypercall};

    /// A hypercall with `a0`, `a1`.
    fn hyp(a: &mut Asm, call: Hypercall, a0: u32, a1: u32) {
        a.li32(V0, call.number());
        a.li32(A0, a0);
        a.li32(A1, a1);
        a.emit(hv_abi::HYPCALL);
    }

    /// Runs `vms` VMs of `ram` bytes booting `img` under `--mode para`
    /// with `limit` bytes of host memory, until all stop or 100 runs of a
    /// million ticks; the monitor and the calls made.
    fn para(
        img: &[ElfImage],
        ram: u32,
        limit: Option<u64>,
    ) -> (Monitor, Vec<(VmId, HypercallRecord)>) {
        let cfg = MonitorConfig {
            hypercalls: true,
            host_memory_limit: limit,
            ..MonitorConfig::default()
        };
        let vm = VmConfig {
            ram_bytes: ram,
            ..VmConfig::default()
        };
        let mut m = Monitor::new(cfg, &vec![vm; img.len()]).unwrap();
        for (i, img) in img.iter().enumerate() {
            m.load(VmId(i), img).unwrap();
        }
        m.record_hypercalls(true);
        let mut calls = Vec::new();
        for _ in 0..100 {
            let done = m.run(1_000_000) == MonitorExit::AllStopped;
            calls.extend(m.take_hypercalls());
            if done {
                break;
            }
        }
        (m, calls)
    }

    fn status(r: &HypercallRecord) -> Result<u32, HvError> {
        match HvError::from_status(r.result.0) {
            None => Ok(r.result.1),
            Some(e) => Err(e),
        }
    }

    #[test]
    fn balloon_calls_check_their_run_and_released_frames_read_zeros() {
        const RAM: u32 = 1 << 20;
        let img = image(|a| {
            // Data in two frames, then the bad runs.
            a.li32(T1, 0x8004_0000);
            a.li32(T0, 0x1234_5678);
            a.emit(sw(T0, 0, T1));
            a.emit(sw(T0, 0x1000, T1));
            hyp(a, Hypercall::FramesRelease, 0x4_0800, 1);
            hyp(a, Hypercall::FramesReclaim, 0x4_0004, 1);
            hyp(a, Hypercall::FramesRelease, 0x4_0000, BALLOON_MAX + 1);
            hyp(a, Hypercall::FramesReclaim, 0x4_0000, BALLOON_MAX + 1);
            hyp(a, Hypercall::FramesRelease, RAM - 0x1000, 2);
            hyp(a, Hypercall::FramesRelease, 0x1fc0_0000, 1);
            hyp(a, Hypercall::FramesReclaim, 0xffff_f000, 2);
            // The shared CP0 page cannot be released while shared.
            hyp(a, Hypercall::CommpageSet, 0x5_0000, 0);
            hyp(a, Hypercall::FramesRelease, 0x4_f000, 2);
            hyp(a, Hypercall::CommpageSet, u32::MAX, 0);
            // Release both frames (twice: counted once), reclaim one.
            hyp(a, Hypercall::FramesRelease, 0x4_0000, 2);
            hyp(a, Hypercall::FramesRelease, 0x4_0000, 2);
            hyp(a, Hypercall::FramesReclaim, 0x4_0000, 1);
            hyp(a, Hypercall::FramesReclaim, 0x4_0000, 0);
            // The reclaimed frame and the one still released read zeros.
            a.li32(T1, 0x8004_0000);
            a.emit(lw(S0, 0, T1));
            a.emit(lw(S1, 0x1000, T1));
            a.emit(or(A0, S0, S1));
            a.li(T9, 1);
            a.emit(sdbbp(1));
        });
        let (m, calls) = para(&[img], RAM, None);
        assert_eq!(m.stop_reason(VmId(0)), Some(&VmStop::Exited(0)), "zeros");
        let got: Vec<Result<u32, HvError>> = calls.iter().map(|(_, r)| status(r)).collect();
        use HvError::*;
        assert_eq!(
            got,
            [
                Err(BadAlignment),
                Err(BadAlignment),
                Err(CountTooLarge),
                Err(CountTooLarge),
                Err(BadAddress),
                Err(BadAddress),
                Err(BadAddress),
                Ok(0),
                Err(InUse),
                Ok(0),
                Ok(2),
                Ok(0),
                Ok(1),
                Ok(0),
            ]
        );
        let s = m.stats(VmId(0)).unwrap();
        assert_eq!(
            (s.frames_released, s.frames_reclaimed, s.released_touched),
            (2, 1, 1)
        );
    }

    /// A kernel that stores to `frames` frames from 1 MiB, after waiting
    /// `delay` loop turns; then, with `release`, gives them back and spins
    /// for good, or else exits 0.
    fn toucher(frames: u32, delay: u32, release: bool) -> ElfImage {
        image(|a| {
            a.li32(T2, delay);
            let wait = a.here();
            a.emit(addiu(T2, T2, -1));
            a.bgtz(T2, wait);
            a.nop();
            a.li32(T0, 0x8010_0000);
            a.li32(T1, 0x8010_0000 + frames * 0x1000);
            let touch = a.here();
            a.emit(sw(T0, 0, T0));
            a.emit(addiu(T0, T0, 0x1000));
            a.bne(T0, T1, touch);
            a.nop();
            if release {
                hyp(a, Hypercall::FramesRelease, 0x10_0000, frames);
                let spin = a.here();
                a.b(spin);
                a.nop();
            } else {
                exit(a, 0);
            }
        })
    }

    #[test]
    fn a_released_frame_goes_back_to_the_pool_for_another_vm() {
        const RAM: u32 = 4 << 20;
        let vm = VmConfig {
            ram_bytes: RAM,
            ..VmConfig::default()
        };
        // A pool of 2 MiB (512 frames) for two VMs that touch 384 each:
        // the second fits only if the first gives its frames back.
        let limit = Monitor::fixed_bytes(&[vm, vm]) + (2 << 20);
        for release in [true, false] {
            let a = toucher(384, 0, release);
            let b = toucher(384, 2_000_000, false);
            let (m, _) = para(&[a, b], RAM, Some(limit));
            let (machine, guest) = m.frames_in_use();
            if release {
                assert_eq!(m.stop_reason(VmId(1)), Some(&VmStop::Exited(0)));
                assert_eq!(m.stop_reason(VmId(0)), None, "A spins on");
                let s = m.stats(VmId(0)).unwrap();
                assert_eq!(s.frames_released, 384);
                assert!(s.frames_in_use < 4, "{s:?}");
                assert!(machine < 512 && guest >= 384, "{machine} {guest}");
            } else {
                // The control: without the release, B runs out.
                assert!(
                    matches!(m.stop_reason(VmId(1)), Some(VmStop::Crashed(_))),
                    "{:?}",
                    m.stop_reason(VmId(1))
                );
            }
        }
    }
}
