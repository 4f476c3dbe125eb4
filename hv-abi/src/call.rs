//! The hypercall numbers (the `v0` of a call), the `Discover` leaves and the
//! limits on each call's count arguments.
//!
//! Numbers start at 1 so that a guest that forgot to load `v0` (left 0)
//! gets [`HvError::UnknownCall`] rather than a real call. The per-call
//! register tables are on each [`Hypercall`] variant.

use core::fmt;

use crate::{Features, HvError};

/// The most frames one [`Hypercall::PageZeroed`] asks about: one per bit of
/// the `v1` bitmap.
pub const PAGE_ZEROED_MAX: u32 = 32;

/// The most records one [`Hypercall::TlbInstallBatch`] installs.
pub const TLB_BATCH_MAX: u32 = 64;

/// The most bytes one [`Hypercall::ConsoleWrite`] writes.
pub const CONSOLE_WRITE_MAX: u32 = 256;

/// The most frames one [`Hypercall::FramesRelease`] or
/// [`Hypercall::FramesReclaim`] names (4 MiB).
pub const BALLOON_MAX: u32 = 1024;

/// The `a0` of [`Hypercall::CommpageSet`] that stops sharing.
pub const COMMPAGE_OFF: u32 = u32::MAX;

/// The page-table format of [`Hypercall::RefillWalkSet`]: MIPS32 with 4 KiB
/// pages, a directory of 1024 kseg0 pointers (one per 4 MiB) to tables of
/// 512 even/odd PTE pairs in EntryLo format, as Linux lays them out.
pub const WALK_FORMAT_MIPS32_4K: u32 = 0;

/// A hypercall number.
///
/// Each variant lists its registers: IN are `a0`..`a3` on entry, OUT is `v1`
/// on success. On error `v1` is 0 unless the variant says otherwise.
/// Every call may also fail with [`HvError::NotPermitted`] (from user mode)
/// and [`HvError::UnknownCall`] (not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Hypercall {
    /// Ask what the monitor offers. Always available.
    ///
    /// - IN `a0`: a [`DiscoverLeaf`].
    /// - OUT `v1`: for [`DiscoverLeaf::Version`], the monitor's
    ///   [`AbiVersion`](crate::AbiVersion) packed by
    ///   [`to_raw`](crate::AbiVersion::to_raw); for
    ///   [`DiscoverLeaf::Features`], its [`Features`] bits.
    /// - Errors: [`HvError::UnknownCall`] for an unknown leaf.
    Discover = 1,
    /// Ask which frames of a run are known to be all-zero.
    ///
    /// - IN `a0`: guest-physical address of the first frame, a multiple of
    ///   [`PAGE_SIZE`](crate::PAGE_SIZE).
    /// - IN `a1`: number of frames, `0..=`[`PAGE_ZEROED_MAX`].
    /// - OUT `v1`: bit `i` set means frame `a0 + i * PAGE_SIZE` holds only
    ///   zeros: the monitor zeroed it and nothing has written it since.
    ///   Bits at and above `a1` are 0. A clear bit promises nothing.
    /// - Errors: [`HvError::BadAlignment`], [`HvError::CountTooLarge`],
    ///   [`HvError::BadAddress`] if a frame of the run is not guest memory.
    PageZeroed = 2,
    /// Give up the CPU until an interrupt is pending or a deadline passes.
    ///
    /// - IN `a0`: the deadline, a CP0 `Count` value (compared with
    ///   wrap-around: passed once `(Count - a0) as i32 >= 0`).
    /// - OUT `v1`: 0.
    /// - Returns once an interrupt is pending for this VM
    ///   (`Cause.IP & Status.IM != 0`, whatever `Status.IE`, `EXL` and
    ///   `ERL` say, so the guest may call it with interrupts disabled) or
    ///   the deadline has passed; it may return earlier. Meanwhile the
    ///   monitor may run other VMs. No interrupt is taken inside the call.
    IdleYield = 3,
    /// Install TLB entries from an array of [`TlbEntryRecord`]s.
    ///
    /// - IN `a0`: guest-virtual address of the array, 4-byte aligned.
    /// - IN `a1`: number of records, `0..=`[`TLB_BATCH_MAX`].
    /// - OUT `v1`: the number installed (`a1` on success).
    /// - Records are validated and installed in order. On
    ///   [`HvError::BadEntry`] (a record failed
    ///   [`TlbEntryRecord::parse`]) or [`HvError::BadAddress`] (a record
    ///   could not be read), `v1` is the index of the failing record, and
    ///   the records before it are installed.
    /// - Errors also: [`HvError::BadAlignment`], [`HvError::CountTooLarge`]
    ///   (nothing installed, `v1` = 0).
    ///
    /// [`TlbEntryRecord`]: crate::TlbEntryRecord
    /// [`TlbEntryRecord::parse`]: crate::TlbEntryRecord::parse
    TlbInstallBatch = 4,
    /// Write bytes to the console.
    ///
    /// - IN `a0`: guest-virtual address of the bytes (any alignment).
    /// - IN `a1`: length, `0..=`[`CONSOLE_WRITE_MAX`].
    /// - OUT `v1`: bytes written (`a1`; a monitor may write fewer, never 0
    ///   of a nonempty buffer without an error).
    /// - Errors: [`HvError::CountTooLarge`], [`HvError::BadAddress`].
    ConsoleWrite = 5,
    /// Stop the VM.
    ///
    /// - IN `a0`: the exit code.
    /// - Does not return on success; returns only with an error.
    Shutdown = 6,
    /// Share a page of CP0 registers with the monitor (since 1.1), so the
    /// guest reads and writes them with plain loads and stores instead of
    /// trapping `mfc0`/`mtc0` (Disco's special pages, KVM/MIPS's commpage).
    ///
    /// - IN `a0`: guest-physical address of a frame of the guest's RAM, a
    ///   multiple of [`PAGE_SIZE`](crate::PAGE_SIZE); or
    ///   [`COMMPAGE_OFF`] to stop sharing.
    /// - OUT `v1`: 0.
    /// - Errors: [`HvError::BadAlignment`], [`HvError::BadAddress`] if the
    ///   frame is not guest RAM.
    ///
    /// The page holds a [`Commpage`](crate::Commpage) at offset 0. The
    /// monitor writes every field whenever the guest resumes after an exit
    /// to the monitor (a trapped instruction, an exception, a hypercall);
    /// at every such exit, before handling it, it reads back the fields the
    /// layout marks writable and applies them as `mtc0` would (write masks
    /// included; a Status change takes effect then). So a guest's store to
    /// a writable field takes effect at its next exit, and a load gives the
    /// value as of the last resume. Guest stores to read-only fields are
    /// overwritten.
    CommpageSet = 7,
    /// Let the monitor refill the guest's TLB from the guest's page tables
    /// (since 1.1), as a hardware page-table walker would, instead of
    /// delivering TLB refill exceptions to the guest's refill handler.
    ///
    /// - IN `a0`: guest-virtual address (kseg0, 4-byte aligned) of the word
    ///   holding the current page directory's address, read at every walk;
    ///   0 to stop.
    /// - IN `a1`: the table format; only [`WALK_FORMAT_MIPS32_4K`].
    /// - OUT `v1`: 0.
    /// - Errors: [`HvError::BadAlignment`], [`HvError::BadAddress`] (not in
    ///   kseg0 or not guest RAM), [`HvError::BadEntry`] (unknown format).
    ///
    /// On a TLB refill in a mapped segment while the guest's EXL is clear,
    /// the monitor does what the format's refill handler does: loads the
    /// directory entry for `va >> 22` (a kseg0 pointer to a page table),
    /// then the even/odd PTE pair at `((va >> 13) & 0x1ff) * 8` in it
    /// (PTEs in EntryLo format), and writes them to a random TLB entry
    /// with EntryHi = `va`'s VPN2 and the current ASID and PageMask 0, as
    /// `tlbwr`. Any load that does not reach guest RAM makes it deliver the
    /// refill exception instead, so the guest's handler decides. The guest's
    /// EntryHi, EntryLo, Context and BadVAddr registers are left as the
    /// refill exception would have set them.
    RefillWalkSet = 8,
    /// Give frames of the guest's RAM back to the monitor (since 1.2, the
    /// balloon): the guest will not use them until it reclaims them.
    ///
    /// - IN `a0`: guest-physical address of the first frame, a multiple of
    ///   [`PAGE_SIZE`](crate::PAGE_SIZE).
    /// - IN `a1`: number of frames, `0..=`[`BALLOON_MAX`].
    /// - OUT `v1`: how many of them were not released already (released
    ///   now).
    /// - Errors: [`HvError::BadAlignment`], [`HvError::CountTooLarge`],
    ///   [`HvError::BadAddress`] if a frame of the run is not the VM's RAM,
    ///   [`HvError::InUse`] if the run holds the VM's shared CP0 page
    ///   ([`Hypercall::CommpageSet`]). Nothing is released on an error.
    ///
    /// The contents of the frames are dropped: the monitor unmaps them and
    /// gives their machine memory to other VMs. A released frame reads as
    /// zeros once reclaimed. A guest that touches a released frame without
    /// reclaiming it gets a frame of zeros, as if it had reclaimed it first
    /// (the monitor counts it); it never sees another VM's data.
    FramesRelease = 9,
    /// Take released frames back into use (since 1.2, the balloon).
    ///
    /// - IN `a0`: guest-physical address of the first frame, a multiple of
    ///   [`PAGE_SIZE`](crate::PAGE_SIZE).
    /// - IN `a1`: number of frames, `0..=`[`BALLOON_MAX`].
    /// - OUT `v1`: how many of them were released (reclaimed now); frames
    ///   not released are left as they are.
    /// - Errors: [`HvError::BadAlignment`], [`HvError::CountTooLarge`],
    ///   [`HvError::BadAddress`] if a frame of the run is not the VM's RAM.
    ///   Nothing is reclaimed on an error.
    ///
    /// A reclaimed frame reads as zeros. The monitor backs it with machine
    /// memory at its first touch, as any frame the guest never touched.
    FramesReclaim = 10,
}

/// A `v0` that names no hypercall of this version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnknownHypercall(pub u32);

/// An `a0` of [`Hypercall::Discover`] that names no [`DiscoverLeaf`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnknownLeaf(pub u32);

/// The `a0` of [`Hypercall::Discover`]: what to report in `v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum DiscoverLeaf {
    /// The packed [`AbiVersion`](crate::AbiVersion).
    Version = 0,
    /// The [`Features`] bits.
    Features = 1,
    /// Turn features off (since 1.1): `a1` holds the bits the guest does
    /// not want; `v1` returns the features still offered. A feature turned
    /// off stays off for the VM's life.
    DisableFeatures = 2,
}

impl Hypercall {
    /// Every hypercall, in number order.
    pub const ALL: [Hypercall; 10] = [
        Hypercall::Discover,
        Hypercall::PageZeroed,
        Hypercall::IdleYield,
        Hypercall::TlbInstallBatch,
        Hypercall::ConsoleWrite,
        Hypercall::Shutdown,
        Hypercall::CommpageSet,
        Hypercall::RefillWalkSet,
        Hypercall::FramesRelease,
        Hypercall::FramesReclaim,
    ];

    /// The number, as loaded into `v0`.
    #[must_use]
    pub const fn number(self) -> u32 {
        self as u32
    }

    /// The feature bit that says the monitor offers this call (`None` for
    /// [`Discover`](Self::Discover), which is always offered).
    #[must_use]
    pub const fn feature(self) -> Option<Features> {
        match self {
            Hypercall::Discover => None,
            Hypercall::PageZeroed => Some(Features::PAGE_ZEROED),
            Hypercall::IdleYield => Some(Features::IDLE_YIELD),
            Hypercall::TlbInstallBatch => Some(Features::TLB_BATCH),
            Hypercall::ConsoleWrite => Some(Features::CONSOLE),
            Hypercall::Shutdown => Some(Features::SHUTDOWN),
            Hypercall::CommpageSet => Some(Features::COMMPAGE),
            Hypercall::RefillWalkSet => Some(Features::REFILL_WALK),
            Hypercall::FramesRelease | Hypercall::FramesReclaim => Some(Features::BALLOON),
        }
    }

    /// Tells whether a monitor offering `features` offers this call.
    #[must_use]
    pub const fn is_offered(self, features: Features) -> bool {
        match self.feature() {
            None => true,
            Some(bit) => features.contains(bit),
        }
    }
}

impl TryFrom<u32> for Hypercall {
    type Error = UnknownHypercall;

    fn try_from(number: u32) -> Result<Self, Self::Error> {
        Ok(match number {
            1 => Hypercall::Discover,
            2 => Hypercall::PageZeroed,
            3 => Hypercall::IdleYield,
            4 => Hypercall::TlbInstallBatch,
            5 => Hypercall::ConsoleWrite,
            6 => Hypercall::Shutdown,
            7 => Hypercall::CommpageSet,
            8 => Hypercall::RefillWalkSet,
            9 => Hypercall::FramesRelease,
            10 => Hypercall::FramesReclaim,
            _ => return Err(UnknownHypercall(number)),
        })
    }
}

impl From<Hypercall> for u32 {
    fn from(call: Hypercall) -> u32 {
        call.number()
    }
}

impl TryFrom<u32> for DiscoverLeaf {
    type Error = UnknownLeaf;

    fn try_from(leaf: u32) -> Result<Self, Self::Error> {
        match leaf {
            0 => Ok(DiscoverLeaf::Version),
            1 => Ok(DiscoverLeaf::Features),
            2 => Ok(DiscoverLeaf::DisableFeatures),
            _ => Err(UnknownLeaf(leaf)),
        }
    }
}

impl From<DiscoverLeaf> for u32 {
    fn from(leaf: DiscoverLeaf) -> u32 {
        leaf as u32
    }
}

impl From<UnknownHypercall> for HvError {
    fn from(_: UnknownHypercall) -> HvError {
        HvError::UnknownCall
    }
}

impl From<UnknownLeaf> for HvError {
    fn from(_: UnknownLeaf) -> HvError {
        HvError::UnknownCall
    }
}

impl fmt::Display for Hypercall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Hypercall::Discover => "Discover",
            Hypercall::PageZeroed => "PageZeroed",
            Hypercall::IdleYield => "IdleYield",
            Hypercall::TlbInstallBatch => "TlbInstallBatch",
            Hypercall::ConsoleWrite => "ConsoleWrite",
            Hypercall::Shutdown => "Shutdown",
            Hypercall::CommpageSet => "CommpageSet",
            Hypercall::RefillWalkSet => "RefillWalkSet",
            Hypercall::FramesRelease => "FramesRelease",
            Hypercall::FramesReclaim => "FramesReclaim",
        };
        f.write_str(name)
    }
}

impl fmt::Display for UnknownHypercall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown hypercall number {:#x}", self.0)
    }
}

impl core::error::Error for UnknownHypercall {}

impl fmt::Display for UnknownLeaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown Discover leaf {:#x}", self.0)
    }
}

impl core::error::Error for UnknownLeaf {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stable number table: changing a row is an incompatible change.
    const NUMBERS: [(Hypercall, u32); 10] = [
        (Hypercall::Discover, 1),
        (Hypercall::PageZeroed, 2),
        (Hypercall::IdleYield, 3),
        (Hypercall::TlbInstallBatch, 4),
        (Hypercall::ConsoleWrite, 5),
        (Hypercall::Shutdown, 6),
        (Hypercall::CommpageSet, 7),
        (Hypercall::RefillWalkSet, 8),
        (Hypercall::FramesRelease, 9),
        (Hypercall::FramesReclaim, 10),
    ];

    #[test]
    fn numbers_are_the_stable_table_and_round_trip() {
        for (i, (call, number)) in NUMBERS.into_iter().enumerate() {
            assert_eq!(call.number(), number);
            assert_eq!(u32::from(call), number);
            assert_eq!(Hypercall::try_from(number), Ok(call));
            assert_eq!(Hypercall::ALL[i], call);
        }
    }

    #[test]
    fn unknown_numbers_are_rejected_with_the_number() {
        for number in [0, 11, 0x100, u32::MAX] {
            assert_eq!(Hypercall::try_from(number), Err(UnknownHypercall(number)));
        }
        assert_eq!(HvError::from(UnknownHypercall(11)), HvError::UnknownCall);
    }

    #[test]
    fn discover_leaves_round_trip() {
        for leaf in [
            DiscoverLeaf::Version,
            DiscoverLeaf::Features,
            DiscoverLeaf::DisableFeatures,
        ] {
            assert_eq!(DiscoverLeaf::try_from(u32::from(leaf)), Ok(leaf));
        }
        assert_eq!(u32::from(DiscoverLeaf::Version), 0);
        assert_eq!(u32::from(DiscoverLeaf::Features), 1);
        assert_eq!(u32::from(DiscoverLeaf::DisableFeatures), 2);
        assert_eq!(DiscoverLeaf::try_from(3), Err(UnknownLeaf(3)));
        assert_eq!(HvError::from(UnknownLeaf(3)), HvError::UnknownCall);
    }

    #[test]
    fn each_optional_call_has_its_own_feature_bit() {
        let mut seen = Features::empty();
        for call in Hypercall::ALL {
            assert!(call.is_offered(Features::all()));
            if let Some(bit) = call.feature() {
                assert_eq!(bit.bits().count_ones(), 1, "{call}");
                // The balloon's two calls are one feature.
                let pair = call == Hypercall::FramesReclaim && bit == Features::BALLOON;
                assert!(pair || !seen.intersects(bit), "{call} shares a bit");
                seen |= bit;
                assert!(!call.is_offered(Features::all() - bit));
            } else {
                assert!(call.is_offered(Features::empty()));
            }
        }
        assert_eq!(seen, Features::all());
    }
}
