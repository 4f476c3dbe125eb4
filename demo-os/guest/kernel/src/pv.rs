//! The paravirtualized paths: what the kernel does differently when a
//! monitor answers `hv_guest::detect()` at boot.
//!
//! With feature `pv` this wraps `hv-guest`: [`Pv`] is the detected monitor
//! and its offered calls, and the kernel's Reserved Instruction handler
//! does the detection fix-up ([`fixup_hypercall`]). Without the feature
//! [`Pv`] is an empty enum: no value of it exists, every PV branch of the
//! kernel is dead code, and the unmodified image contains neither
//! `hv-guest` nor a single `HYPCALL`.
//!
//! | path | unmodified | paravirtualized |
//! |---|---|---|
//! | frame zeroing | zero every frame | skip frames the monitor vouches are zero (`PageZeroed`) |
//! | TLB fills | refill handler, `tlbwi`/`tlbwr` one pair per fault | a cluster of pairs per fault and the whole image at start (`TlbInstallBatch`) |
//! | idle | `wait` in the idle context, woken by every timer tick | tickless: in the trap handler, `IdleYield` until the earliest sleeper's wake-up; no tick while one process runs alone (see `sched`) |
//! | console | UART | `ConsoleWrite` |
//! | shutdown | UHI `exit` | `Shutdown` |
//! | TLB refills | the refill handler (`mfc0`, `mtc0`, `tlbwr`, `eret` trap) | the monitor walks `PGD_CURRENT`'s tables (`RefillWalkSet`) |
//! | exception entry/return | `mfc0` EPC/Status/Cause/BadVAddr, `mtc0` EPC/Status | loads and stores to the shared page of CP0 registers (`CommpageSet`) |
//! | Count at each trap, EntryHi/Index in a probe | `mfc0` | the shared page |
//! | the frames of an exited process | the free list | given back to the monitor (`FramesRelease`, one call per run), reclaimed before reuse (`FramesReclaim`, up to 32 frames a call) and not zeroed then (see `frame`) |
//! | clearing the TLB (boot, a shrinking heap, a reused ASID) | `tlbwi` per entry, `tlbr` per entry to find an ASID's | one `TlbInstallBatch` parking every entry; a dead ASID's entries are left until the ASID is reused |
//!
//! The shared page is a frame from the kernel's allocator, reached through
//! kseg0 with volatile accesses only (the monitor writes it at every
//! resume); its address is in `trap::PV_COMMPAGE`, the flag the trap
//! assembly tests. At shutdown the kernel stops sharing it and frees it;
//! so it does, earlier, when memory runs out (`mm`): the unmodified path
//! holds no such frame, so a program must not lack one for it.

pub use imp::*;

/// One TLB entry for [`Pv::tlb_install`]: a pair of 4 KiB pages.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlbWrite {
    /// EntryHi: VPN2 and ASID.
    pub hi: u32,
    /// EntryLo0 (the even page).
    pub lo0: u32,
    /// EntryLo1 (the odd page).
    pub lo1: u32,
    /// The TLB index to write, or `None` for a random one (as `tlbwr`).
    pub slot: Option<u32>,
}

#[cfg(feature = "pv")]
mod imp {
    use core::fmt;
    use core::sync::atomic::{AtomicU32, Ordering};

    use hv_abi::commpage::offset;
    use hv_abi::{
        Features, GuestPhysAddr, GuestVirtAddr, Hypercall, PageMask, TlbEntryRecord, TlbSlot,
        WALK_FORMAT_MIPS32_4K,
    };
    use hv_guest::{Hv, MonitorInfo, RiFixup};

    use super::TlbWrite;
    use crate::frame::{Frame, FrameAllocator, PhysAddr};
    use crate::stats::Stats;
    use crate::trap::{self, TrapFrame};

    /// The most records one [`Pv::tlb_install`] call sends at once: a
    /// whole TLB of the project's machine.
    const BATCH: usize = 32;

    // The trap assembly hard-codes these offsets of the shared page.
    const _: () = assert!(offset::STATUS == 0);
    const _: () = assert!(offset::CAUSE == 4);
    const _: () = assert!(offset::EPC == 8);
    const _: () = assert!(offset::BAD_VADDR == 12);

    /// The detected monitor's feature bits, for the paths that run outside
    /// the kernel's state (console, idle, shutdown, panic).
    static FEATURES: AtomicU32 = AtomicU32::new(0);

    /// A detected monitor. (The shared page of CP0 registers, once
    /// [`Pv::share`] set it up, is `trap::PV_COMMPAGE`.)
    #[derive(Debug, Clone, Copy)]
    pub struct Pv {
        info: MonitorInfo,
        /// Whether the monitor walks the page tables on TLB refills.
        walk: bool,
    }

    impl Pv {
        /// Asks for a monitor (`Discover`); `None` on bare hardware, where
        /// the hypercall raises Reserved Instruction and
        /// [`fixup_hypercall`] makes it fail.
        ///
        /// The exception vectors must be installed.
        #[must_use]
        pub fn detect() -> Option<Pv> {
            let info = hv_guest::detect()?;
            FEATURES.store(info.features.bits(), Ordering::Relaxed);
            Some(Pv { info, walk: false })
        }

        /// Turns on the 1.1 calls the kernel uses, where offered: the
        /// monitor's refill walk over `PGD_CURRENT`, and the shared page
        /// of CP0 registers in a frame from `frames`. Boot calls it once
        /// the allocator exists, before any process runs.
        #[must_use]
        pub fn share(mut self, frames: &mut FrameAllocator, stats: &mut Stats) -> Pv {
            if self.offers(Call::RefillWalk) {
                let word = GuestVirtAddr::new((&raw const trap::PGD_CURRENT) as u32);
                // SAFETY: PGD_CURRENT is null until the first process runs
                // (a walk from it fails, and the refill handler runs as
                // before), then the current address space's directory in
                // the layout `mm` keeps for the refill handler: 1024 kseg0
                // pointers to tables of EntryLo-format PTE pairs, which map
                // user pages only; the kernel never uses mapped addresses.
                self.walk =
                    unsafe { Hv::native().refill_walk_set(word, WALK_FORMAT_MIPS32_4K) }.is_ok();
            }
            if self.offers(Call::Commpage)
                && let Ok(frame) = frames.alloc(Some(&self), stats)
            {
                let addr = frame.into_raw();
                // SAFETY: the frame was just handed out and is owned by
                // nobody else; from here on it is reached only through
                // `shared` (volatile loads) and the trap assembly, and it
                // goes back to the allocator only after `unshare` has
                // stopped the monitor writing it.
                let set = unsafe { Hv::native().commpage_set(GuestPhysAddr::new(addr.raw())) };
                if set.is_ok() {
                    // SAFETY: no trap is in progress at boot, so the
                    // assembly is not reading the flag.
                    unsafe { trap::PV_COMMPAGE = addr.kseg0() };
                } else {
                    // SAFETY: the frame came from `alloc` just above.
                    frames.free(unsafe { Frame::from_raw(addr) });
                }
            }
            self
        }

        /// Stops sharing the page of CP0 registers, if it is shared, and
        /// returns its frame to give back (at shutdown, or when memory
        /// runs out; the trap paths use `mfc0`/`mtc0` from then on).
        ///
        /// Called from the trap handler or at boot: the trap assembly
        /// has read the page (its stores to it come only at the end of
        /// `trap_resume`, which tests the flag again), so no store is
        /// waiting for the monitor to apply.
        pub fn unshare(&self) -> Option<Frame> {
            // SAFETY: a plain read of the flag; only boot, this function
            // and the trap assembly (which does not run now) use it.
            let page = unsafe { (&raw const trap::PV_COMMPAGE).read() };
            if page == 0 {
                return None;
            }
            // SAFETY: as above; from now on the trap assembly and
            // `shared` take the `mfc0`/`mtc0` paths.
            unsafe { trap::PV_COMMPAGE = 0 };
            // Turning it off cannot fail; if it did, the frame stays out.
            Hv::native().commpage_off().ok()?;
            // SAFETY: the frame came from the allocator in `share`, and the
            // monitor no longer writes it.
            Some(unsafe { Frame::from_raw(PhysAddr::from_kseg0(page)) })
        }

        /// Tells whether the monitor serves TLB refills (so the refill
        /// handler's counter misses those).
        #[must_use]
        pub fn walks_refills(&self) -> bool {
            self.walk
        }

        /// Tells whether the monitor offers `call`.
        #[must_use]
        pub fn offers(&self, call: Call) -> bool {
            self.info.offers(call.hypercall())
        }

        /// The monitor's version and feature bits, for the boot report.
        #[must_use]
        pub fn describe(&self) -> impl fmt::Display {
            Describe(self.info)
        }

        /// Which of `count` never-used frames from `first` the monitor
        /// vouches are zero (bit `i` = frame `i`); `None` if it offers no
        /// answer.
        #[must_use]
        pub fn page_zeroed(&self, first: PhysAddr, count: u32) -> Option<u32> {
            if !self.offers(Call::PageZeroed) {
                return None;
            }
            Hv::native()
                .page_zeroed(GuestPhysAddr::new(first.raw()), count)
                .ok()
        }

        /// Gives `count` frames from `first` back to the monitor
        /// (`FramesRelease`); false if it does not offer the balloon or
        /// refused (the frames are then still the guest's).
        ///
        /// The frames must be free: nothing may refer to them, and the
        /// kernel must not touch them until [`Pv::frames_reclaim`].
        #[must_use]
        pub fn frames_release(&self, first: PhysAddr, count: u32) -> bool {
            // SAFETY: the caller passes free frames nobody refers to.
            self.offers(Call::Balloon)
                && unsafe { Hv::native().frames_release(GuestPhysAddr::new(first.raw()), count) }
                    .is_ok()
        }

        /// Takes `count` released frames from `first` back
        /// (`FramesReclaim`): they read as zeros. False if refused.
        #[must_use]
        pub fn frames_reclaim(&self, first: PhysAddr, count: u32) -> bool {
            self.offers(Call::Balloon)
                && Hv::native()
                    .frames_reclaim(GuestPhysAddr::new(first.raw()), count)
                    .is_ok()
        }

        /// Installs `writes` with `TlbInstallBatch`, [`BATCH`] records per
        /// call. Returns false (having installed a prefix) if the monitor
        /// does not offer it or refuses a record; the caller then falls back
        /// to writing the TLB itself.
        pub fn tlb_install(&self, writes: &[TlbWrite]) -> bool {
            if !self.offers(Call::TlbBatch) {
                return false;
            }
            for chunk in writes.chunks(BATCH) {
                let mut records = [TlbEntryRecord::new(0, 0, 0, 0, TlbSlot::Random); BATCH];
                for (record, write) in records.iter_mut().zip(chunk) {
                    let slot = write.slot.map_or(TlbSlot::Random, TlbSlot::Index);
                    *record = TlbEntryRecord::new(
                        write.hi,
                        write.lo0,
                        write.lo1,
                        PageMask::SIZE_4K.raw(),
                        slot,
                    );
                }
                // SAFETY: the entries map user pages only (kuseg); the
                // kernel runs in kseg0 and never reaches memory through
                // them, so no Rust reference is remapped.
                let result = unsafe { Hv::native().tlb_install_batch(&records[..chunk.len()]) };
                if result.is_err() {
                    return false;
                }
            }
            true
        }
    }

    /// The optional calls the kernel uses.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Call {
        /// "Page already zeroed".
        PageZeroed,
        /// "Idle yield".
        IdleYield,
        /// "Batched TLB install".
        TlbBatch,
        /// "Console write".
        Console,
        /// "Shutdown".
        Shutdown,
        /// The shared page of CP0 registers.
        Commpage,
        /// The refill walk.
        RefillWalk,
        /// The balloon: `FramesRelease` and `FramesReclaim`.
        Balloon,
    }

    impl Call {
        /// The hypercall behind it.
        const fn hypercall(self) -> Hypercall {
            match self {
                Call::PageZeroed => Hypercall::PageZeroed,
                Call::IdleYield => Hypercall::IdleYield,
                Call::TlbBatch => Hypercall::TlbInstallBatch,
                Call::Console => Hypercall::ConsoleWrite,
                Call::Shutdown => Hypercall::Shutdown,
                Call::Commpage => Hypercall::CommpageSet,
                Call::RefillWalk => Hypercall::RefillWalkSet,
                Call::Balloon => Hypercall::FramesRelease,
            }
        }
    }

    /// Displays a [`MonitorInfo`].
    struct Describe(MonitorInfo);

    impl fmt::Display for Describe {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "monitor ABI {}, features {:#x}",
                self.0.version,
                self.0.features.bits()
            )
        }
    }

    /// Tells whether the detected monitor offers `call` (false before
    /// detection or without a monitor).
    fn offered(call: Call) -> bool {
        call.hypercall().is_offered(Features::from_bits_truncate(
            FEATURES.load(Ordering::Relaxed),
        ))
    }

    /// The detection fix-up of the Reserved Instruction (and Coprocessor
    /// Unusable) handler, for a trap from kernel mode: if the faulting
    /// instruction is a `HYPCALL`, makes it return `NoMonitor` and returns
    /// true.
    pub fn fixup_hypercall(frame: &mut TrapFrame) -> bool {
        let in_delay_slot = frame.cause & hv_guest::CAUSE_BD != 0;
        let at = if in_delay_slot {
            frame.epc.wrapping_add(4)
        } else {
            frame.epc
        };
        if at < 0x8000_0000 || at % 4 != 0 {
            // Kernel code lives in kseg0/kseg1; anything else is a real fault.
            return false;
        }
        // SAFETY: the trap came from kernel mode, whose code runs from
        // kseg0 (unmapped); `at` is an aligned kseg0/kseg1 address of the
        // instruction that trapped, so reading it cannot fault.
        let insn = unsafe { core::ptr::read_volatile(at as *const u32) };
        hv_guest::ri_fixup(insn, in_delay_slot, &mut frame.regs, &mut frame.epc)
            == RiFixup::Emulated
    }

    /// The word at `offset` of the shared page of CP0 registers, if the
    /// monitor shares one: the value as of the guest's last resume.
    #[inline(always)]
    fn shared(offset: usize) -> Option<u32> {
        // SAFETY: a plain read of the flag, written only at boot, by
        // `unshare`, never while this runs.
        let page = unsafe { (&raw const trap::PV_COMMPAGE).read() };
        // SAFETY: a nonzero flag is the kseg0 address of the shared page,
        // which the kernel only reads (and the trap assembly writes) with
        // volatile accesses; `offset` is a field of it.
        (page != 0).then(|| unsafe { ((page as usize + offset) as *const u32).read_volatile() })
    }

    /// Count when the guest last resumed (stale, but a trap's entry is a
    /// resume: close enough for accounting), from the shared page.
    #[inline(always)]
    #[must_use]
    pub fn shared_count() -> Option<u32> {
        shared(offset::COUNT)
    }

    /// Cause as of the guest's last resume, from the shared page.
    #[inline(always)]
    #[must_use]
    pub fn shared_cause() -> Option<u32> {
        shared(offset::CAUSE)
    }

    /// EntryHi, from the shared page (exact: only exits change it).
    #[inline(always)]
    #[must_use]
    pub fn shared_entry_hi() -> Option<u32> {
        shared(offset::ENTRY_HI)
    }

    /// Index, from the shared page (exact after a trapped `tlbp`).
    #[inline(always)]
    #[must_use]
    pub fn shared_index() -> Option<u32> {
        shared(offset::INDEX)
    }

    /// Writes console bytes through the monitor; false if it does not offer
    /// a console or wrote nothing.
    pub fn console_write(bytes: &[u8]) -> bool {
        offered(Call::Console)
            && Hv::native()
                .console_write(bytes)
                .is_ok_and(|n| n == bytes.len())
    }

    /// Gives up the CPU until an interrupt is pending (even with
    /// interrupts off) or Count reaches `deadline`.
    pub fn idle_yield(deadline: u32) {
        // An error leaves nothing to undo: the caller checks Count and
        // simply calls again.
        let _ = Hv::native().idle_yield(deadline);
    }

    /// Tells whether the idle context should use [`idle_yield`] (not when
    /// the scheduler is tickless: it then yields in the trap handler and
    /// the idle context only runs without a live process).
    #[must_use]
    pub fn idle_yield_offered() -> bool {
        offered(Call::IdleYield)
    }

    /// Stops the VM through the monitor, if it offers that; returns if not.
    pub fn shutdown(code: i32) {
        if offered(Call::Shutdown) {
            // A refused shutdown returns; the caller falls back to UHI.
            let _ = Hv::native().try_shutdown(code as u32);
        }
    }
}

#[cfg(not(feature = "pv"))]
mod imp {
    //! The unmodified build: no monitor can exist.

    use super::TlbWrite;
    use crate::frame::{Frame, FrameAllocator, PhysAddr};
    use crate::stats::Stats;
    use crate::trap::TrapFrame;

    /// A detected monitor: none in this build.
    #[derive(Debug, Clone, Copy)]
    pub enum Pv {}

    /// The optional calls (never offered in this build).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Call {
        /// "Page already zeroed".
        PageZeroed,
        /// "Idle yield".
        IdleYield,
        /// "Batched TLB install".
        TlbBatch,
        /// "Console write".
        Console,
        /// "Shutdown".
        Shutdown,
        /// The shared page of CP0 registers.
        Commpage,
        /// The refill walk.
        RefillWalk,
        /// The balloon.
        Balloon,
    }

    impl Pv {
        /// Always `None`: this build never asks.
        #[must_use]
        pub fn detect() -> Option<Pv> {
            None
        }

        /// Unreachable: no `Pv` exists.
        #[must_use]
        pub fn offers(&self, _call: Call) -> bool {
            match *self {}
        }

        /// Unreachable: no `Pv` exists.
        #[must_use]
        pub fn describe(&self) -> &'static str {
            match *self {}
        }

        /// Unreachable: no `Pv` exists.
        #[must_use]
        pub fn page_zeroed(&self, _first: PhysAddr, _count: u32) -> Option<u32> {
            match *self {}
        }

        /// Unreachable: no `Pv` exists.
        pub fn tlb_install(&self, _writes: &[TlbWrite]) -> bool {
            match *self {}
        }

        /// Unreachable: no `Pv` exists.
        #[must_use]
        pub fn share(self, _frames: &mut FrameAllocator, _stats: &mut Stats) -> Pv {
            match self {}
        }

        /// Unreachable: no `Pv` exists.
        pub fn unshare(&self) -> Option<Frame> {
            match *self {}
        }

        /// Unreachable: no `Pv` exists.
        #[must_use]
        pub fn walks_refills(&self) -> bool {
            match *self {}
        }
    }

    /// No shared page in this build.
    #[inline(always)]
    #[must_use]
    pub fn shared_count() -> Option<u32> {
        None
    }

    /// No shared page in this build.
    #[inline(always)]
    #[must_use]
    pub fn shared_entry_hi() -> Option<u32> {
        None
    }

    /// No shared page in this build.
    #[inline(always)]
    #[must_use]
    pub fn shared_index() -> Option<u32> {
        None
    }

    /// Never a hypercall to fix up: this kernel makes none.
    pub fn fixup_hypercall(_frame: &mut TrapFrame) -> bool {
        false
    }

    /// No monitor console.
    pub fn console_write(_bytes: &[u8]) -> bool {
        false
    }

    /// Never called: the idle loop uses `wait`.
    pub fn idle_yield(_deadline: u32) {}

    /// No monitor to yield to.
    #[must_use]
    pub fn idle_yield_offered() -> bool {
        false
    }

    /// No monitor to stop the VM.
    pub fn shutdown(_code: i32) {}
}
