//! [`Hv`]: one safe wrapper per hypercall of `hv-abi`, generic over the
//! [`Transport`] that carries it.
//!
//! The wrappers take typed arguments, check what they can locally (a count
//! over the maximum, a misaligned address) without trapping, split work
//! larger than one call's maximum into several calls, and decode `v0`/`v1`.

use core::fmt;

use hv_abi::{
    ABI_VERSION, AbiVersion, BALLOON_MAX, COMMPAGE_OFF, CONSOLE_WRITE_MAX, DiscoverLeaf, Features,
    GuestPhysAddr, GuestVirtAddr, HvError, Hypercall, PAGE_ZEROED_MAX, TLB_BATCH_MAX,
    TlbEntryRecord, WALK_FORMAT_MIPS32_4K,
};

use crate::detect::MonitorInfo;
use crate::transport::{CallRegs, Native, ReturnRegs, Transport, reg_addr};

/// The start of kseg0, the only segment a refill-walk word may be in.
const KSEG0: u32 = 0x8000_0000;

/// The hypercall interface, over a transport (by default the hypercall
/// instruction itself).
///
/// [`Hv::native()`] is a `const`, zero-sized value: a kernel makes one
/// wherever it needs one rather than sharing a global.
#[derive(Debug, Clone, Default)]
pub struct Hv<T = Native> {
    transport: T,
}

/// A [`Hypercall::TlbInstallBatch`] that stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlbBatchError {
    /// Why it stopped.
    pub error: HvError,
    /// How many records were installed: for [`HvError::BadEntry`] and
    /// [`HvError::BadAddress`] also the index of the failing record.
    pub installed: usize,
}

impl Hv<Native> {
    /// The interface over the hypercall instruction.
    #[must_use]
    pub const fn native() -> Self {
        Self { transport: Native }
    }
}

impl<T: Transport> Hv<T> {
    /// The interface over `transport`.
    #[must_use]
    pub const fn new(transport: T) -> Self {
        Self { transport }
    }

    /// The transport.
    pub const fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably.
    pub const fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Makes `call` with raw arguments and decodes the status: `Ok(v1)` or
    /// the error.
    ///
    /// # Safety
    ///
    /// As [`Transport::hypercall`]: every address among `args` must be
    /// valid for the reads `call` makes, and the call must not break
    /// memory safety (see [`tlb_install_batch`](Self::tlb_install_batch)).
    pub unsafe fn raw_call(&mut self, call: Hypercall, args: [u32; 4]) -> Result<u32, HvError> {
        // SAFETY: the caller upholds `call_regs`' contract, the same as ours.
        unsafe { self.call_regs(call, args) }.result()
    }

    /// Makes `call` and returns both registers, for calls whose `v1` means
    /// something on error too.
    ///
    /// # Safety
    ///
    /// As [`raw_call`](Self::raw_call).
    unsafe fn call_regs(&mut self, call: Hypercall, args: [u32; 4]) -> ReturnRegs {
        // SAFETY: the caller upholds `Transport::hypercall`'s contract.
        unsafe { self.transport.hypercall(CallRegs::new(call, args)) }
    }

    /// Runs `Discover` for one leaf and returns its raw `v1`.
    pub fn discover(&mut self, leaf: DiscoverLeaf) -> Result<u32, HvError> {
        // SAFETY: Discover takes no address and changes nothing.
        unsafe { self.raw_call(Hypercall::Discover, [leaf.into(), 0, 0, 0]) }
    }

    /// The monitor's interface version (`Discover(Version)`).
    pub fn version(&mut self) -> Result<AbiVersion, HvError> {
        self.discover(DiscoverLeaf::Version)
            .map(AbiVersion::from_raw)
    }

    /// The optional calls the monitor offers (`Discover(Features)`); bits
    /// this crate does not know are dropped.
    pub fn features(&mut self) -> Result<Features, HvError> {
        self.discover(DiscoverLeaf::Features)
            .map(Features::from_bits_truncate)
    }

    /// Turns features off for the rest of the VM's life
    /// (`Discover(DisableFeatures)`, since 1.1) and returns the features
    /// still offered. Bits this crate does not know are dropped from the
    /// answer.
    ///
    /// A guest that does not want a call the monitor offers (say, to
    /// measure its own path) turns it off once at boot; every later call
    /// of it returns [`HvError::UnknownCall`]. A 1.0 monitor answers
    /// [`HvError::UnknownCall`] (an unknown leaf): the features are then
    /// still on, and the guest should simply not use them.
    pub fn disable_features(&mut self, features: Features) -> Result<Features, HvError> {
        let leaf = DiscoverLeaf::DisableFeatures.into();
        // SAFETY: Discover takes no address; turning features off only
        // makes later calls fail, which every wrapper already handles.
        unsafe { self.raw_call(Hypercall::Discover, [leaf, features.bits(), 0, 0]) }
            .map(Features::from_bits_truncate)
    }

    /// Detects the monitor: `None` on bare hardware (with the kernel's
    /// Reserved Instruction handler doing [`ri_fixup`](crate::ri_fixup)),
    /// from user mode, or if the monitor's major version differs from
    /// [`ABI_VERSION`]'s.
    pub fn detect(&mut self) -> Option<MonitorInfo> {
        let version = self.version().ok()?;
        if version.major != ABI_VERSION.major {
            return None;
        }
        let features = self.features().ok()?;
        Some(MonitorInfo { version, features })
    }

    /// Asks which of `count` frames starting at `first` the monitor vouches
    /// are all-zero, so the guest can skip zeroing them.
    ///
    /// Bit `i` of the result is frame `first + i * PAGE_SIZE`; a clear bit
    /// promises nothing. `first` must be page-aligned and `count` at most
    /// [`PAGE_ZEROED_MAX`] (checked here without a call).
    pub fn page_zeroed(&mut self, first: GuestPhysAddr, count: u32) -> Result<u32, HvError> {
        if !first.is_page_aligned() {
            return Err(HvError::BadAlignment);
        }
        if count > PAGE_ZEROED_MAX {
            return Err(HvError::CountTooLarge);
        }
        // SAFETY: a guest-physical address is only looked up, never
        // accessed through the guest's mapping, and nothing changes.
        unsafe { self.raw_call(Hypercall::PageZeroed, [first.raw(), count, 0, 0]) }
    }

    /// Gives up the CPU until an interrupt is pending or CP0 `Count` passes
    /// `deadline` (it may return earlier). Safe to call with interrupts
    /// disabled: a pending, unmasked interrupt ends the wait all the same.
    pub fn idle_yield(&mut self, deadline: u32) -> Result<(), HvError> {
        // SAFETY: IdleYield takes no address and changes no guest state.
        unsafe { self.raw_call(Hypercall::IdleYield, [deadline, 0, 0, 0]) }.map(drop)
    }

    /// Installs TLB entries, in order, in calls of at most
    /// [`TLB_BATCH_MAX`] records, and returns how many were installed
    /// (`records.len()`).
    ///
    /// On the first failure it stops; the error says which record failed
    /// (an index into `records`) and that the ones before it are installed.
    ///
    /// # Safety
    ///
    /// The entries must not map memory in a way that breaks what Rust code
    /// relies on: no live reference, stack or static may be remapped,
    /// aliased with different contents or unmapped while in use. (The
    /// records themselves are only read, during the call.)
    pub unsafe fn tlb_install_batch(
        &mut self,
        records: &[TlbEntryRecord],
    ) -> Result<usize, TlbBatchError> {
        let mut installed = 0;
        for chunk in records.chunks(TLB_BATCH_MAX as usize) {
            // Lossless: a chunk holds at most TLB_BATCH_MAX records.
            let count = chunk.len() as u32;
            let args = [reg_addr(chunk.as_ptr()), count, 0, 0];
            // SAFETY: `chunk` is valid for reads of `count` records (4-byte
            // aligned by its type) until the call returns; the caller
            // vouches for the entries' effect.
            let ret = unsafe { self.call_regs(Hypercall::TlbInstallBatch, args) };
            match ret.result() {
                Ok(_) => installed += chunk.len(),
                Err(error) => {
                    // v1 is the failing record's index for BadEntry and
                    // BadAddress and 0 otherwise; clamp a bogus one.
                    let in_chunk = (ret.v1 as usize).min(chunk.len());
                    return Err(TlbBatchError {
                        error,
                        installed: installed + in_chunk,
                    });
                }
            }
        }
        Ok(installed)
    }

    /// Shares the frame at `frame` with the monitor as the page of CP0
    /// registers (`CommpageSet`, since 1.1): from the next resume on, the
    /// monitor writes a [`Commpage`](hv_abi::Commpage) at offset 0 of the
    /// frame whenever the guest resumes, and applies the writable fields
    /// (Status, EPC, Context, EntryLo0/1, PageMask, Index, ErrorEPC) as
    /// `mtc0` would whenever the guest next exits (traps to the monitor).
    ///
    /// `frame` must be page-aligned (checked here without a call); the
    /// monitor refuses a frame outside the VM's RAM with
    /// [`HvError::BadAddress`]. A second call moves the page.
    ///
    /// # Safety
    ///
    /// The frame must be the guest's, set aside for the page until
    /// [`commpage_off`](Self::commpage_off) (or for good): the monitor
    /// writes its first [`Commpage::SIZE`](hv_abi::Commpage::SIZE) bytes
    /// behind the compiler's back, so no Rust reference may point into them,
    /// and the guest must access them only with volatile loads and stores.
    /// A store to a writable field changes the CPU state at the next exit:
    /// it must be the state the guest wants then (for Status, EXL set
    /// until the `eret` that uses it, or the change of mode comes early).
    pub unsafe fn commpage_set(&mut self, frame: GuestPhysAddr) -> Result<(), HvError> {
        if !frame.is_page_aligned() {
            return Err(HvError::BadAlignment);
        }
        // SAFETY: the caller sets the frame aside for the monitor's writes.
        unsafe { self.raw_call(Hypercall::CommpageSet, [frame.raw(), 0, 0, 0]) }.map(drop)
    }

    /// Stops sharing the page of CP0 registers (`CommpageSet` with
    /// [`COMMPAGE_OFF`]): the monitor no longer reads or writes it, and the
    /// frame is the guest's again. Stopping when nothing is shared succeeds.
    pub fn commpage_off(&mut self) -> Result<(), HvError> {
        // SAFETY: turning the page off makes the monitor stop writing it;
        // it takes no address.
        unsafe { self.raw_call(Hypercall::CommpageSet, [COMMPAGE_OFF, 0, 0, 0]) }.map(drop)
    }

    /// Lets the monitor serve TLB refills from the guest's page tables
    /// (`RefillWalkSet`, since 1.1), as the format's refill handler would:
    /// `word` is the kseg0 address of the word that holds the current page
    /// directory's address (read at every walk), `format` the table layout
    /// ([`WALK_FORMAT_MIPS32_4K`] is the only one).
    ///
    /// Checked here without a call: `word` must be 4-byte aligned
    /// ([`HvError::BadAlignment`]) and in kseg0 ([`HvError::BadAddress`]).
    /// The monitor also refuses a word outside the VM's RAM
    /// ([`HvError::BadAddress`]) and an unknown format
    /// ([`HvError::BadEntry`]).
    ///
    /// Refills the monitor serves never run the guest's refill handler, so
    /// anything that handler counts is not counted for them.
    ///
    /// # Safety
    ///
    /// Until [`refill_walk_off`](Self::refill_walk_off), the word and the
    /// tables it leads to must be in `format`'s layout whenever the guest
    /// runs with EXL clear in a mapped segment: every entry the walk loads
    /// is installed in the TLB as the guest's refill handler would, so the
    /// tables must not map memory in a way that breaks what Rust code
    /// relies on (as for [`tlb_install_batch`](Self::tlb_install_batch)).
    pub unsafe fn refill_walk_set(
        &mut self,
        word: GuestVirtAddr,
        format: u32,
    ) -> Result<(), HvError> {
        if !word.is_aligned(4) {
            return Err(HvError::BadAlignment);
        }
        if word.raw() >> 29 != KSEG0 >> 29 {
            return Err(HvError::BadAddress);
        }
        // SAFETY: the caller vouches for the tables the monitor will walk.
        unsafe { self.raw_call(Hypercall::RefillWalkSet, [word.raw(), format, 0, 0]) }.map(drop)
    }

    /// Stops the monitor's refill walk (`RefillWalkSet` with word 0): TLB
    /// refills reach the guest's refill handler again.
    pub fn refill_walk_off(&mut self) -> Result<(), HvError> {
        // SAFETY: word 0 turns the walk off; no memory is read after it.
        // The format must still be a known one: the monitor checks it first.
        unsafe { self.raw_call(Hypercall::RefillWalkSet, [0, WALK_FORMAT_MIPS32_4K, 0, 0]) }
            .map(drop)
    }

    /// Gives `count` frames from `first` back to the monitor
    /// (`FramesRelease`, since 1.2, the balloon), in calls of at most
    /// [`BALLOON_MAX`] frames, and returns how many were not released
    /// already. The monitor drops their contents and lends their memory
    /// to other VMs until the guest takes them back with
    /// [`frames_reclaim`](Self::frames_reclaim); they then read as zeros.
    ///
    /// `first` must be page-aligned (checked here without a call). The
    /// monitor refuses a run that is not all the VM's RAM
    /// ([`HvError::BadAddress`]) or that holds the shared CP0 page
    /// ([`HvError::InUse`]); a refused call releases nothing, but the
    /// calls before it (for a run over [`BALLOON_MAX`]) stay done.
    ///
    /// # Safety
    ///
    /// Nothing the guest still uses may lie in the frames: their contents
    /// are lost (they read as zeros when used again, reclaimed or not), so
    /// no live reference, stack, static, page table or DMA buffer may be
    /// in them.
    pub unsafe fn frames_release(
        &mut self,
        first: GuestPhysAddr,
        count: u32,
    ) -> Result<u32, HvError> {
        // SAFETY: the caller gives the frames up.
        unsafe { self.balloon(Hypercall::FramesRelease, first, count) }
    }

    /// Takes `count` frames from `first` back into use (`FramesReclaim`,
    /// since 1.2), in calls of at most [`BALLOON_MAX`] frames, and
    /// returns how many of them were released. A reclaimed frame reads as
    /// zeros (so the guest need not zero it); frames that were not
    /// released are left as they are.
    ///
    /// `first` must be page-aligned (checked here without a call); the
    /// monitor refuses a run that is not all the VM's RAM
    /// ([`HvError::BadAddress`]).
    pub fn frames_reclaim(&mut self, first: GuestPhysAddr, count: u32) -> Result<u32, HvError> {
        // SAFETY: reclaiming changes only released frames, which hold
        // nothing the guest uses.
        unsafe { self.balloon(Hypercall::FramesReclaim, first, count) }
    }

    /// A balloon call over a run of any length, split at [`BALLOON_MAX`];
    /// the sum of the `v1`s.
    ///
    /// # Safety
    ///
    /// As [`frames_release`](Self::frames_release) for that call.
    unsafe fn balloon(
        &mut self,
        call: Hypercall,
        first: GuestPhysAddr,
        count: u32,
    ) -> Result<u32, HvError> {
        if !first.is_page_aligned() {
            return Err(HvError::BadAlignment);
        }
        let mut done = 0;
        let mut total = 0;
        while done < count {
            let n = (count - done).min(BALLOON_MAX);
            let at = first
                .raw()
                .checked_add(done * hv_abi::PAGE_SIZE)
                .ok_or(HvError::BadAddress)?;
            // SAFETY: the caller vouches for the frames (see above).
            total += unsafe { self.raw_call(call, [at, n, 0, 0]) }?;
            done += n;
        }
        Ok(total)
    }

    /// Writes `bytes` to the console in calls of at most
    /// [`CONSOLE_WRITE_MAX`] bytes, and returns how many were written.
    ///
    /// The count is short if the monitor wrote fewer bytes than asked or a
    /// later call failed; an error is returned only if nothing was written.
    pub fn console_write(&mut self, bytes: &[u8]) -> Result<usize, HvError> {
        let mut written = 0;
        while let Some(rest) = bytes.get(written..).filter(|r| !r.is_empty()) {
            let len = rest.len().min(CONSOLE_WRITE_MAX as usize);
            // Lossless: `len` is at most CONSOLE_WRITE_MAX.
            let args = [reg_addr(rest.as_ptr()), len as u32, 0, 0];
            // SAFETY: `rest` is valid for reads of `len` bytes until the
            // call returns; ConsoleWrite changes no guest memory.
            match unsafe { self.raw_call(Hypercall::ConsoleWrite, args) } {
                Ok(n) => {
                    let n = (n as usize).min(len);
                    written += n;
                    if n < len {
                        break;
                    }
                }
                Err(e) if written == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(written)
    }

    /// Asks the monitor to stop the VM with exit `code`. Returns `Err` if
    /// it refused (user mode, no monitor); `Ok(())` only from a monitor that
    /// broke the interface by returning from a successful `Shutdown`.
    pub fn try_shutdown(&mut self, code: u32) -> Result<(), HvError> {
        // SAFETY: Shutdown takes no address; stopping the VM ends all
        // execution, which breaks no guarantee of the code left behind.
        unsafe { self.raw_call(Hypercall::Shutdown, [code, 0, 0, 0]) }.map(drop)
    }

    /// Stops the VM with exit `code`; if the monitor does not (no monitor,
    /// or user mode), halts this CPU with [`Transport::halt`].
    pub fn shutdown(&mut self, code: u32) -> ! {
        // Whatever the answer, this CPU must not go on.
        let _ = self.try_shutdown(code);
        self.transport.halt()
    }
}

impl fmt::Display for TlbBatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TLB batch stopped at record {}: {}",
            self.installed, self.error
        )
    }
}

impl core::error::Error for TlbBatchError {}

impl From<TlbBatchError> for HvError {
    fn from(e: TlbBatchError) -> HvError {
        e.error
    }
}

/// Console output through `ConsoleWrite`, for `write!` and `writeln!`.
impl<T: Transport> fmt::Write for Hv<T> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s.as_bytes();
        while !rest.is_empty() {
            match self.console_write(rest) {
                Ok(0) | Err(_) => return Err(fmt::Error),
                Ok(n) => rest = rest.get(n..).ok_or(fmt::Error)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::string::String;
    use std::vec::Vec;

    use hv_abi::{TlbEntryRecord, TlbSlot};

    use super::*;
    use crate::testing::{HALTED, Mock};

    const OK: u32 = 0;

    fn regs(call: Hypercall, args: [u32; 4]) -> CallRegs {
        CallRegs::new(call, args)
    }

    #[test]
    fn discover_asks_each_leaf() {
        let mut hv = Hv::new(Mock::answering(&[(OK, 0x0001_0003), (OK, 0x19)]));
        assert_eq!(hv.version(), Ok(AbiVersion::new(1, 3)));
        assert_eq!(
            hv.features(),
            Ok(Features::PAGE_ZEROED | Features::CONSOLE | Features::SHUTDOWN)
        );
        assert_eq!(
            hv.transport().calls,
            [
                regs(Hypercall::Discover, [0; 4]),
                regs(Hypercall::Discover, [1, 0, 0, 0])
            ]
        );
    }

    #[test]
    fn detect_reports_a_compatible_monitor() {
        let raw = ABI_VERSION.to_raw();
        let mut hv = Hv::new(Mock::answering(&[(OK, raw), (OK, 0xFFFF_FF05)]));
        let info = hv.detect().expect("monitor");
        assert_eq!(info.version, ABI_VERSION);
        // Reserved bits are dropped.
        assert_eq!(info.features, Features::PAGE_ZEROED | Features::TLB_BATCH);
        assert_eq!(hv.transport().calls.len(), 2);
    }

    #[test]
    fn detect_is_none_without_a_usable_monitor() {
        let other_major = AbiVersion::new(ABI_VERSION.major + 1, 0).to_raw();
        for reply in [
            HvError::NoMonitor.code(),
            HvError::NotPermitted.code(),
            HvError::UnknownCall.code(),
        ] {
            let mut hv = Hv::new(Mock::answering(&[(reply, 0)]));
            assert_eq!(hv.detect(), None, "{reply:#x}");
            assert_eq!(hv.transport().calls.len(), 1);
        }
        let mut hv = Hv::new(Mock::answering(&[(OK, other_major)]));
        assert_eq!(hv.detect(), None);
        assert_eq!(hv.transport().calls.len(), 1, "features not asked");
    }

    #[test]
    fn page_zeroed_encodes_frame_and_count() {
        let mut hv = Hv::new(Mock::answering(&[(OK, 0b1011)]));
        let first = GuestPhysAddr::new(0x0012_3000);
        assert_eq!(hv.page_zeroed(first, 4), Ok(0b1011));
        assert_eq!(
            hv.transport().calls,
            [regs(Hypercall::PageZeroed, [0x0012_3000, 4, 0, 0])]
        );
    }

    #[test]
    fn page_zeroed_checks_arguments_without_trapping() {
        let mut hv = Hv::new(Mock::default());
        assert_eq!(
            hv.page_zeroed(GuestPhysAddr::new(0x0012_3004), 1),
            Err(HvError::BadAlignment)
        );
        assert_eq!(
            hv.page_zeroed(GuestPhysAddr::new(0), PAGE_ZEROED_MAX + 1),
            Err(HvError::CountTooLarge)
        );
        assert!(hv.transport().calls.is_empty());
    }

    #[test]
    fn idle_yield_passes_the_deadline() {
        let mut hv = Hv::new(Mock::answering(&[(OK, 0)]));
        assert_eq!(hv.idle_yield(0xDEAD_BEEF), Ok(()));
        assert_eq!(
            hv.transport().calls,
            [regs(Hypercall::IdleYield, [0xDEAD_BEEF, 0, 0, 0])]
        );
    }

    #[test]
    fn every_error_code_decodes_through_a_wrapper() {
        for e in HvError::ALL.into_iter().chain([HvError::Unrecognized(42)]) {
            let mut hv = Hv::new(Mock::answering(&[(e.code(), 0)]));
            assert_eq!(hv.idle_yield(0), Err(e));
        }
    }

    fn records(n: u32) -> Vec<TlbEntryRecord> {
        (0..n)
            .map(|i| TlbEntryRecord::new(i << 13, 0, 0, 0, TlbSlot::Random))
            .collect()
    }

    #[test]
    fn tlb_batch_splits_at_the_maximum() {
        let recs = records(TLB_BATCH_MAX + 6);
        let mut hv = Hv::new(Mock::answering(&[(OK, TLB_BATCH_MAX), (OK, 6)]));
        // SAFETY: the mock installs nothing.
        let installed = unsafe { hv.tlb_install_batch(&recs) };
        assert_eq!(installed, Ok(recs.len()));
        let split = TLB_BATCH_MAX as usize;
        assert_eq!(
            hv.transport().calls,
            [
                regs(
                    Hypercall::TlbInstallBatch,
                    [reg_addr(recs.as_ptr()), TLB_BATCH_MAX, 0, 0]
                ),
                regs(
                    Hypercall::TlbInstallBatch,
                    [reg_addr(recs[split..].as_ptr()), 6, 0, 0]
                ),
            ]
        );
        assert_eq!(
            reg_addr(recs[split..].as_ptr()) - reg_addr(recs.as_ptr()),
            TLB_BATCH_MAX * TlbEntryRecord::SIZE as u32
        );
    }

    #[test]
    fn tlb_batch_reports_the_failing_record() {
        let recs = records(TLB_BATCH_MAX + 6);
        let bad = HvError::BadEntry.code();
        let mut hv = Hv::new(Mock::answering(&[(OK, TLB_BATCH_MAX), (bad, 5)]));
        // SAFETY: the mock installs nothing.
        let err = unsafe { hv.tlb_install_batch(&recs) }.expect_err("bad entry");
        assert_eq!(
            err,
            TlbBatchError {
                error: HvError::BadEntry,
                installed: TLB_BATCH_MAX as usize + 5
            }
        );
        assert_eq!(HvError::from(err), HvError::BadEntry);

        // A bogus index is clamped to the chunk.
        let mut hv = Hv::new(Mock::answering(&[(HvError::BadAddress.code(), 99)]));
        // SAFETY: the mock installs nothing.
        let err = unsafe { hv.tlb_install_batch(&recs[..3]) }.expect_err("bad address");
        assert_eq!(err.installed, 3);
    }

    #[test]
    fn tlb_batch_of_nothing_makes_no_call() {
        let mut hv = Hv::new(Mock::default());
        // SAFETY: the mock installs nothing.
        assert_eq!(unsafe { hv.tlb_install_batch(&[]) }, Ok(0));
        assert!(hv.transport().calls.is_empty());
    }

    #[test]
    fn console_write_splits_at_the_maximum() {
        let text = [b'x'; 600];
        let max = CONSOLE_WRITE_MAX;
        let mut hv = Hv::new(Mock::answering(&[
            (OK, max),
            (OK, max),
            (OK, 600 - 2 * max),
        ]));
        assert_eq!(hv.console_write(&text), Ok(600));
        let base = reg_addr(text.as_ptr());
        assert_eq!(
            hv.transport().calls,
            [
                regs(Hypercall::ConsoleWrite, [base, max, 0, 0]),
                regs(Hypercall::ConsoleWrite, [base + max, max, 0, 0]),
                regs(
                    Hypercall::ConsoleWrite,
                    [base + 2 * max, 600 - 2 * max, 0, 0]
                ),
            ]
        );
    }

    #[test]
    fn console_write_reports_short_writes_and_late_errors_as_counts() {
        let mut hv = Hv::new(Mock::answering(&[(OK, 3)]));
        assert_eq!(hv.console_write(b"hello"), Ok(3));

        let late = HvError::BadAddress.code();
        let mut hv = Hv::new(Mock::answering(&[(OK, CONSOLE_WRITE_MAX), (late, 0)]));
        assert_eq!(hv.console_write(&[0; 300]), Ok(CONSOLE_WRITE_MAX as usize));

        let mut hv = Hv::new(Mock::answering(&[(late, 0)]));
        assert_eq!(hv.console_write(b"hi"), Err(HvError::BadAddress));

        let mut hv = Hv::new(Mock::default());
        assert_eq!(hv.console_write(b""), Ok(0));
        assert!(hv.transport().calls.is_empty());
    }

    #[test]
    fn fmt_write_goes_to_the_console() {
        use core::fmt::Write;
        // A short write is resumed where it stopped.
        let mut hv = Hv::new(Mock::answering(&[(OK, 5), (OK, 1)]));
        assert!(hv.write_str("hello\n").is_ok());
        let calls = &hv.transport().calls;
        assert_eq!(
            (calls[0].v0, calls[0].a1),
            (Hypercall::ConsoleWrite.number(), 6)
        );
        assert_eq!((calls[1].a0, calls[1].a1), (calls[0].a0 + 5, 1));

        // No progress, or an error, is a formatting error.
        let mut hv = Hv::new(Mock::answering(&[(OK, 0)]));
        assert!(hv.write_str("stuck").is_err());
        let mut hv = Hv::new(Mock::answering(&[(HvError::UnknownCall.code(), 0)]));
        assert!(hv.write_str("x").is_err());
    }

    #[test]
    fn shutdown_encodes_the_code_then_halts_if_refused() {
        let mut hv = Hv::new(Mock::answering(&[(HvError::NotPermitted.code(), 0)]));
        let halted = catch_unwind(AssertUnwindSafe(|| hv.shutdown(7)));
        let msg = halted
            .expect_err("halts")
            .downcast::<String>()
            .expect("message");
        assert_eq!(*msg, HALTED);
        assert_eq!(
            hv.transport().calls,
            [regs(Hypercall::Shutdown, [7, 0, 0, 0])]
        );
    }

    #[test]
    fn disable_features_passes_the_bits_and_returns_what_is_left() {
        let left = Features::PAGE_ZEROED | Features::CONSOLE;
        let mut hv = Hv::new(Mock::answering(&[(OK, left.bits() | 0x8000_0000)]));
        let off = Features::COMMPAGE | Features::REFILL_WALK;
        assert_eq!(hv.disable_features(off), Ok(left), "reserved bits dropped");
        assert_eq!(
            hv.transport().calls,
            [regs(Hypercall::Discover, [2, off.bits(), 0, 0])]
        );
        // A 1.0 monitor does not know the leaf.
        let mut hv = Hv::new(Mock::answering(&[(HvError::UnknownCall.code(), 0)]));
        assert_eq!(hv.disable_features(off), Err(HvError::UnknownCall));
    }

    #[test]
    fn commpage_set_and_off_encode_the_frame() {
        let mut hv = Hv::new(Mock::answering(&[(OK, 0), (OK, 0)]));
        // SAFETY: the mock writes no memory.
        let set = unsafe { hv.commpage_set(GuestPhysAddr::new(0x0004_2000)) };
        assert_eq!(set, Ok(()));
        assert_eq!(hv.commpage_off(), Ok(()));
        assert_eq!(
            hv.transport().calls,
            [
                regs(Hypercall::CommpageSet, [0x0004_2000, 0, 0, 0]),
                regs(Hypercall::CommpageSet, [COMMPAGE_OFF, 0, 0, 0]),
            ]
        );
    }

    #[test]
    fn commpage_set_checks_alignment_and_reports_refusal() {
        let mut hv = Hv::new(Mock::answering(&[(HvError::BadAddress.code(), 0)]));
        // SAFETY: the mock writes no memory, and the first call is refused
        // before any.
        unsafe {
            assert_eq!(
                hv.commpage_set(GuestPhysAddr::new(0x0004_2010)),
                Err(HvError::BadAlignment)
            );
            assert_eq!(
                hv.commpage_set(GuestPhysAddr::new(0x7000_0000)),
                Err(HvError::BadAddress)
            );
        }
        assert_eq!(hv.transport().calls.len(), 1, "misaligned: no call");
    }

    #[test]
    fn refill_walk_set_and_off_encode_word_and_format() {
        let mut hv = Hv::new(Mock::answering(&[(OK, 0), (OK, 0)]));
        let word = GuestVirtAddr::new(0x8001_2340);
        // SAFETY: the mock walks nothing.
        let set = unsafe { hv.refill_walk_set(word, WALK_FORMAT_MIPS32_4K) };
        assert_eq!(set, Ok(()));
        assert_eq!(hv.refill_walk_off(), Ok(()));
        assert_eq!(
            hv.transport().calls,
            [
                regs(Hypercall::RefillWalkSet, [0x8001_2340, 0, 0, 0]),
                regs(Hypercall::RefillWalkSet, [0, WALK_FORMAT_MIPS32_4K, 0, 0]),
            ]
        );
    }

    #[test]
    fn refill_walk_set_checks_the_word_without_trapping() {
        let mut hv = Hv::new(Mock::answering(&[(HvError::BadEntry.code(), 0)]));
        // SAFETY: the mock walks nothing.
        unsafe {
            for (word, want) in [
                (0x8001_2342, HvError::BadAlignment),
                (0x0040_0000, HvError::BadAddress), // kuseg
                (0xA001_2340, HvError::BadAddress), // kseg1
            ] {
                let got = hv.refill_walk_set(GuestVirtAddr::new(word), WALK_FORMAT_MIPS32_4K);
                assert_eq!(got, Err(want), "{word:#x}");
            }
            assert!(hv.transport().calls.is_empty());
            // The format is the monitor's to check.
            let got = hv.refill_walk_set(GuestVirtAddr::new(0x8001_2340), 7);
            assert_eq!(got, Err(HvError::BadEntry));
        }
        assert_eq!(
            hv.transport().calls,
            [regs(Hypercall::RefillWalkSet, [0x8001_2340, 7, 0, 0])]
        );
    }

    #[test]
    fn balloon_calls_encode_the_run_and_split_at_the_maximum() {
        let max = BALLOON_MAX;
        let mut hv = Hv::new(Mock::answering(&[(OK, max), (OK, 3), (OK, 2)]));
        let first = GuestPhysAddr::new(0x0010_0000);
        // SAFETY: the mock releases nothing.
        assert_eq!(unsafe { hv.frames_release(first, max + 5) }, Ok(max + 3));
        assert_eq!(hv.frames_reclaim(first, 2), Ok(2));
        assert_eq!(
            hv.transport().calls,
            [
                regs(Hypercall::FramesRelease, [0x0010_0000, max, 0, 0]),
                regs(
                    Hypercall::FramesRelease,
                    [0x0010_0000 + max * hv_abi::PAGE_SIZE, 5, 0, 0]
                ),
                regs(Hypercall::FramesReclaim, [0x0010_0000, 2, 0, 0]),
            ]
        );
    }

    #[test]
    fn balloon_calls_check_alignment_and_report_refusals() {
        let mut hv = Hv::new(Mock::answering(&[
            (HvError::InUse.code(), 0),
            (HvError::BadAddress.code(), 0),
        ]));
        let odd = GuestPhysAddr::new(0x0010_0800);
        // SAFETY: the mock releases nothing.
        unsafe {
            assert_eq!(hv.frames_release(odd, 1), Err(HvError::BadAlignment));
            assert_eq!(
                hv.frames_release(GuestPhysAddr::new(0x2000), 1),
                Err(HvError::InUse)
            );
        }
        assert_eq!(hv.frames_reclaim(odd, 1), Err(HvError::BadAlignment));
        let past = GuestPhysAddr::new(0x7000_0000);
        assert_eq!(hv.frames_reclaim(past, 1), Err(HvError::BadAddress));
        assert_eq!(hv.transport().calls.len(), 2, "misaligned: no call");
        // Nothing to do: no call.
        assert_eq!(hv.frames_reclaim(past, 0), Ok(0));
        assert_eq!(hv.transport().calls.len(), 2);
    }

    #[test]
    fn try_shutdown_returns_the_refusal() {
        let mut hv = Hv::new(Mock::answering(&[
            (HvError::NotPermitted.code(), 0),
            (OK, 0),
        ]));
        assert_eq!(hv.try_shutdown(1), Err(HvError::NotPermitted));
        // A monitor that returns success is reported as such.
        assert_eq!(hv.try_shutdown(1), Ok(()));
        assert_eq!(hv.transport().calls.len(), 2);
    }
}
