//! The record [`Hypercall::TlbInstallBatch`](crate::Hypercall) reads from
//! guest memory, and its checked parse into a [`TlbInstall`] request.
//!
//! On the wire a record is five little-endian `u32` words, 20 bytes, 4-byte
//! aligned:
//!
//! | offset | field | meaning |
//! |---|---|---|
//! | 0 | `entry_hi` | CP0 EntryHi: VPN2 in bits 31..13, ASID in bits 7..0 |
//! | 4 | `entry_lo0` | CP0 EntryLo0 (even page): PFN 29..6, C 5..3, D 2, V 1, G 0 |
//! | 8 | `entry_lo1` | CP0 EntryLo1 (odd page), same layout |
//! | 12 | `page_mask` | CP0 PageMask: one of the nine MIPS32 page sizes |
//! | 16 | `slot` | TLB index, or [`TLB_SLOT_RANDOM`] |
//!
//! Validation rejects what a real `TLBWI` would silently ignore or
//! misinterpret: reserved bits, a PageMask that is not a page size, VPN2 or
//! PFN bits below the page size, and a slot beyond the TLB.

use core::fmt;
use core::mem::{align_of, offset_of, size_of};

use static_assertions::{assert_eq_size, const_assert_eq};
use zerocopy::little_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::HvError;

/// The `slot` that asks the monitor to choose a slot, as `TLBWR` would (a
/// slot at or above the guest's `Wired`).
pub const TLB_SLOT_RANDOM: u32 = u32::MAX;

/// EntryHi bits 12..8: reserved, must be 0.
pub const ENTRY_HI_RESERVED: u32 = 0x0000_1F00;

/// EntryLo bits 31..30: reserved, must be 0.
pub const ENTRY_LO_RESERVED: u32 = 0xC000_0000;

/// The PageMask bits that may be set (bits 28..13).
pub const PAGE_MASK_BITS: u32 = 0x1FFF_E000;

/// The shift of the PageMask field and of EntryHi's VPN2.
const MASK_SHIFT: u32 = 13;

/// The shift of EntryLo's PFN field.
const PFN_SHIFT: u32 = 6;

/// The width mask of EntryLo's PFN field (after shifting).
const PFN_FIELD: u32 = 0x00FF_FFFF;

/// One TLB entry to install, as laid out in guest memory.
///
/// The fields are little-endian words whatever the host's byte order. Read
/// one from guest bytes with [`from_wire`](Self::from_wire) (or zerocopy's
/// [`FromBytes::read_from_bytes`] for a slice), then check it with
/// [`parse`](Self::parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C, align(4))]
pub struct TlbEntryRecord {
    /// CP0 EntryHi: VPN2 (bits 31..13) and ASID (bits 7..0).
    pub entry_hi: U32,
    /// CP0 EntryLo0, the even page.
    pub entry_lo0: U32,
    /// CP0 EntryLo1, the odd page.
    pub entry_lo1: U32,
    /// CP0 PageMask.
    pub page_mask: U32,
    /// The TLB index, or [`TLB_SLOT_RANDOM`].
    pub slot: U32,
}

assert_eq_size!(TlbEntryRecord, [u8; 20]);
const_assert_eq!(align_of::<TlbEntryRecord>(), 4);
const_assert_eq!(offset_of!(TlbEntryRecord, entry_hi), 0);
const_assert_eq!(offset_of!(TlbEntryRecord, entry_lo0), 4);
const_assert_eq!(offset_of!(TlbEntryRecord, entry_lo1), 8);
const_assert_eq!(offset_of!(TlbEntryRecord, page_mask), 12);
const_assert_eq!(offset_of!(TlbEntryRecord, slot), 16);

impl TlbEntryRecord {
    /// The size of a record in guest memory.
    pub const SIZE: usize = size_of::<TlbEntryRecord>();

    /// The alignment the array's guest address must have.
    pub const ALIGN: usize = align_of::<TlbEntryRecord>();

    /// A record from register values (not validated; see
    /// [`parse`](Self::parse)).
    #[must_use]
    pub const fn new(
        entry_hi: u32,
        entry_lo0: u32,
        entry_lo1: u32,
        page_mask: u32,
        slot: TlbSlot,
    ) -> Self {
        Self {
            entry_hi: U32::new(entry_hi),
            entry_lo0: U32::new(entry_lo0),
            entry_lo1: U32::new(entry_lo1),
            page_mask: U32::new(page_mask),
            slot: U32::new(slot.to_raw()),
        }
    }

    /// The record from its 20 bytes as they lie in guest memory.
    #[must_use]
    pub fn from_wire(bytes: [u8; Self::SIZE]) -> Self {
        zerocopy::transmute!(bytes)
    }

    /// The record's 20 bytes as they lie in guest memory.
    #[must_use]
    pub fn to_wire(&self) -> [u8; Self::SIZE] {
        zerocopy::transmute!(*self)
    }

    /// Validates the record for a TLB of `tlb_entries` entries.
    ///
    /// Checks, in order: PageMask is a page size; EntryHi has no reserved
    /// bit and no VPN2 bit below the page size; each EntryLo has no reserved
    /// bit and no PFN bit below the page size; the slot is below
    /// `tlb_entries` or is [`TLB_SLOT_RANDOM`].
    pub fn parse(&self, tlb_entries: u32) -> Result<TlbInstall, RecordError> {
        let page_mask = PageMask::new(self.page_mask.get())
            .ok_or(RecordError::BadPageMask(self.page_mask.get()))?;

        let entry_hi = self.entry_hi.get();
        if entry_hi & ENTRY_HI_RESERVED != 0 {
            return Err(RecordError::ReservedBits {
                field: RecordField::EntryHi,
                value: entry_hi,
            });
        }
        if entry_hi & page_mask.raw() != 0 {
            return Err(RecordError::MisalignedVpn {
                entry_hi,
                page_mask: page_mask.raw(),
            });
        }

        let entry_lo0 = check_entry_lo(RecordField::EntryLo0, self.entry_lo0.get(), page_mask)?;
        let entry_lo1 = check_entry_lo(RecordField::EntryLo1, self.entry_lo1.get(), page_mask)?;
        let slot = TlbSlot::from_raw(self.slot.get(), tlb_entries)?;

        Ok(TlbInstall {
            entry_hi,
            entry_lo0,
            entry_lo1,
            page_mask,
            slot,
        })
    }
}

/// Checks one EntryLo word against the reserved bits and the page size.
fn check_entry_lo(
    field: RecordField,
    entry_lo: u32,
    page_mask: PageMask,
) -> Result<u32, RecordError> {
    if entry_lo & ENTRY_LO_RESERVED != 0 {
        return Err(RecordError::ReservedBits {
            field,
            value: entry_lo,
        });
    }
    let pfn = (entry_lo >> PFN_SHIFT) & PFN_FIELD;
    if pfn & page_mask.frames_minus_one() != 0 {
        return Err(RecordError::MisalignedPfn {
            field,
            entry_lo,
            page_mask: page_mask.raw(),
        });
    }
    Ok(entry_lo)
}

/// A valid CP0 PageMask value: one of the nine MIPS32 page sizes, 4 KiB
/// to 256 MiB (the size each of the pair's EntryLo words maps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageMask(u32);

impl PageMask {
    /// 4 KiB pages (PageMask 0).
    pub const SIZE_4K: PageMask = PageMask(0);

    /// Checks a raw PageMask: bits 28..13 only, set in pairs from bit 13 up.
    #[must_use]
    pub const fn new(raw: u32) -> Option<Self> {
        if raw & !PAGE_MASK_BITS != 0 {
            return None;
        }
        let ones = raw >> MASK_SHIFT;
        // Contiguous from bit 0, and an even number of bits: 4^k - 1.
        if ones & ones.wrapping_add(1) != 0 || !ones.count_ones().is_multiple_of(2) {
            return None;
        }
        Some(Self(raw))
    }

    /// The mask for pages of `bytes` bytes, if that is a MIPS32 page size.
    #[must_use]
    pub const fn for_page_size(bytes: u32) -> Option<Self> {
        if bytes < crate::PAGE_SIZE || !bytes.is_power_of_two() {
            return None;
        }
        let frames = bytes / crate::PAGE_SIZE;
        match (frames - 1).checked_shl(MASK_SHIFT) {
            Some(raw) if raw >> MASK_SHIFT == frames - 1 => Self::new(raw),
            _ => None,
        }
    }

    /// The raw register value.
    #[must_use]
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// The bytes one EntryLo maps (half of the entry's span).
    #[must_use]
    pub const fn page_size(self) -> u32 {
        (self.frames_minus_one() + 1) * crate::PAGE_SIZE
    }

    /// The number of 4 KiB frames in a page, less one.
    const fn frames_minus_one(self) -> u32 {
        self.0 >> MASK_SHIFT
    }
}

/// Where a record goes in the TLB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlbSlot {
    /// This index, as `TLBWI` with `Index` set to it.
    Index(u32),
    /// A slot the monitor chooses, as `TLBWR`.
    Random,
}

impl TlbSlot {
    /// The `slot` word ([`TLB_SLOT_RANDOM`] for [`Random`](Self::Random)).
    #[must_use]
    pub const fn to_raw(self) -> u32 {
        match self {
            TlbSlot::Index(index) => index,
            TlbSlot::Random => TLB_SLOT_RANDOM,
        }
    }

    /// Decodes a `slot` word for a TLB of `tlb_entries` entries.
    pub const fn from_raw(raw: u32, tlb_entries: u32) -> Result<Self, RecordError> {
        if raw == TLB_SLOT_RANDOM {
            Ok(TlbSlot::Random)
        } else if raw < tlb_entries {
            Ok(TlbSlot::Index(raw))
        } else {
            Err(RecordError::SlotOutOfRange {
                slot: raw,
                tlb_entries,
            })
        }
    }
}

/// A validated TLB install request, made only by
/// [`TlbEntryRecord::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlbInstall {
    entry_hi: u32,
    entry_lo0: u32,
    entry_lo1: u32,
    page_mask: PageMask,
    slot: TlbSlot,
}

impl TlbInstall {
    /// CP0 EntryHi (no reserved bit, VPN2 aligned to the page size).
    #[must_use]
    pub const fn entry_hi(&self) -> u32 {
        self.entry_hi
    }

    /// CP0 EntryLo0 (no reserved bit, PFN aligned to the page size).
    #[must_use]
    pub const fn entry_lo0(&self) -> u32 {
        self.entry_lo0
    }

    /// CP0 EntryLo1 (no reserved bit, PFN aligned to the page size).
    #[must_use]
    pub const fn entry_lo1(&self) -> u32 {
        self.entry_lo1
    }

    /// The page size.
    #[must_use]
    pub const fn page_mask(&self) -> PageMask {
        self.page_mask
    }

    /// Where the entry goes.
    #[must_use]
    pub const fn slot(&self) -> TlbSlot {
        self.slot
    }

    /// The ASID (EntryHi bits 7..0).
    #[must_use]
    pub const fn asid(&self) -> u8 {
        self.entry_hi as u8
    }

    /// The virtual address of the even page (EntryHi's VPN2 bits).
    #[must_use]
    pub const fn vpn2_addr(&self) -> u32 {
        self.entry_hi & !((1 << MASK_SHIFT) - 1)
    }

    /// Tells whether the entry is global: the G bit of both EntryLo words,
    /// as the TLB keeps it.
    #[must_use]
    pub const fn is_global(&self) -> bool {
        self.entry_lo0 & self.entry_lo1 & 1 != 0
    }
}

impl From<TlbInstall> for TlbEntryRecord {
    fn from(install: TlbInstall) -> Self {
        TlbEntryRecord::new(
            install.entry_hi,
            install.entry_lo0,
            install.entry_lo1,
            install.page_mask.raw(),
            install.slot,
        )
    }
}

/// A field of a [`TlbEntryRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordField {
    /// `entry_hi`.
    EntryHi,
    /// `entry_lo0`.
    EntryLo0,
    /// `entry_lo1`.
    EntryLo1,
    /// `page_mask`.
    PageMask,
    /// `slot`.
    Slot,
}

impl fmt::Display for RecordField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordField::EntryHi => "entry_hi",
            RecordField::EntryLo0 => "entry_lo0",
            RecordField::EntryLo1 => "entry_lo1",
            RecordField::PageMask => "page_mask",
            RecordField::Slot => "slot",
        })
    }
}

/// Why a [`TlbEntryRecord`] is not a valid install request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordError {
    /// `page_mask` is not one of the MIPS32 page sizes.
    BadPageMask(u32),
    /// A reserved bit of `field` is set.
    ReservedBits {
        /// The field.
        field: RecordField,
        /// Its value.
        value: u32,
    },
    /// EntryHi has VPN2 bits below the page size.
    MisalignedVpn {
        /// The EntryHi value.
        entry_hi: u32,
        /// The (valid) PageMask value.
        page_mask: u32,
    },
    /// An EntryLo has PFN bits below the page size.
    MisalignedPfn {
        /// Which EntryLo.
        field: RecordField,
        /// Its value.
        entry_lo: u32,
        /// The (valid) PageMask value.
        page_mask: u32,
    },
    /// `slot` is neither below the TLB size nor [`TLB_SLOT_RANDOM`].
    SlotOutOfRange {
        /// The slot value.
        slot: u32,
        /// The number of TLB entries.
        tlb_entries: u32,
    },
}

impl RecordError {
    /// The field the error is about.
    #[must_use]
    pub const fn field(&self) -> RecordField {
        match self {
            RecordError::BadPageMask(_) => RecordField::PageMask,
            RecordError::ReservedBits { field, .. } | RecordError::MisalignedPfn { field, .. } => {
                *field
            }
            RecordError::MisalignedVpn { .. } => RecordField::EntryHi,
            RecordError::SlotOutOfRange { .. } => RecordField::Slot,
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::BadPageMask(raw) => write!(f, "page_mask {raw:#010x} is not a page size"),
            RecordError::ReservedBits { field, value } => {
                write!(f, "{field} {value:#010x} has reserved bits set")
            }
            RecordError::MisalignedVpn {
                entry_hi,
                page_mask,
            } => write!(
                f,
                "entry_hi {entry_hi:#010x} has VPN2 bits under page_mask {page_mask:#010x}"
            ),
            RecordError::MisalignedPfn {
                field,
                entry_lo,
                page_mask,
            } => write!(
                f,
                "{field} {entry_lo:#010x} has PFN bits under page_mask {page_mask:#010x}"
            ),
            RecordError::SlotOutOfRange { slot, tlb_entries } => {
                write!(f, "slot {slot} is beyond a {tlb_entries}-entry TLB")
            }
        }
    }
}

impl core::error::Error for RecordError {}

impl From<RecordError> for HvError {
    fn from(_: RecordError) -> HvError {
        HvError::BadEntry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TLB: u32 = 16;

    /// EntryLo for frame `pfn`, cacheable (C = 3), dirty and valid.
    fn lo(pfn: u32) -> u32 {
        pfn << PFN_SHIFT | 3 << 3 | 0b110
    }

    fn valid_4k() -> TlbEntryRecord {
        TlbEntryRecord::new(
            0x0040_0000 | 0x2A,
            lo(0x123),
            lo(0x124),
            0,
            TlbSlot::Index(3),
        )
    }

    #[test]
    fn layout_table() {
        // (field, offset, size): the table in the module docs and docs/ABI.md.
        let table = [
            ("entry_hi", offset_of!(TlbEntryRecord, entry_hi), 4),
            ("entry_lo0", offset_of!(TlbEntryRecord, entry_lo0), 4),
            ("entry_lo1", offset_of!(TlbEntryRecord, entry_lo1), 4),
            ("page_mask", offset_of!(TlbEntryRecord, page_mask), 4),
            ("slot", offset_of!(TlbEntryRecord, slot), 4),
        ];
        let mut next = 0;
        for (name, offset, size) in table {
            assert_eq!(offset, next, "{name}");
            next += size;
        }
        assert_eq!(TlbEntryRecord::SIZE, next);
        assert_eq!(TlbEntryRecord::SIZE, 20);
        assert_eq!(TlbEntryRecord::ALIGN, 4);
    }

    #[test]
    fn wire_bytes_are_little_endian() {
        let rec = TlbEntryRecord::new(0x0403_0201, 0x0807_0605, 0, 0x0000_6000, TlbSlot::Random);
        let bytes = rec.as_bytes();
        assert_eq!(&bytes[0..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&bytes[12..16], &[0x00, 0x60, 0x00, 0x00]);
        assert_eq!(&bytes[16..20], &[0xFF; 4]);
        assert_eq!(TlbEntryRecord::read_from_bytes(bytes), Ok(rec));
        assert_eq!(rec.to_wire().as_slice(), bytes);
        assert_eq!(TlbEntryRecord::from_wire(rec.to_wire()), rec);
        // A short read is an error, not a panic.
        assert!(TlbEntryRecord::read_from_bytes(&bytes[..19]).is_err());
    }

    #[test]
    fn page_masks_are_the_nine_sizes() {
        let valid = [
            (0x0000_0000, 4 << 10),
            (0x0000_6000, 16 << 10),
            (0x0001_E000, 64 << 10),
            (0x0007_E000, 256 << 10),
            (0x001F_E000, 1 << 20),
            (0x007F_E000, 4 << 20),
            (0x01FF_E000, 16 << 20),
            (0x07FF_E000, 64 << 20),
            (0x1FFF_E000, 256 << 20),
        ];
        for (raw, size) in valid {
            let mask = PageMask::new(raw).expect("valid mask");
            assert_eq!(mask.page_size(), size, "{raw:#x}");
            assert_eq!(PageMask::for_page_size(size), Some(mask));
        }
        for raw in [
            0x2000,
            0xE000,
            0x0000_A000,
            0x1000,
            0x2000_0000,
            0x3FFF_E000,
            0x0001_6000,
        ] {
            assert_eq!(PageMask::new(raw), None, "{raw:#x}");
        }
        for size in [0, 1024, 8 << 10, 12 << 10, 512 << 20, 1 << 31] {
            assert_eq!(PageMask::for_page_size(size), None, "{size:#x}");
        }
    }

    #[test]
    fn parse_accepts_valid_records() {
        let install = valid_4k().parse(TLB).expect("valid");
        assert_eq!(install.entry_hi(), 0x0040_002A);
        assert_eq!(install.asid(), 0x2A);
        assert_eq!(install.vpn2_addr(), 0x0040_0000);
        assert_eq!(install.entry_lo0(), lo(0x123));
        assert_eq!(install.page_mask(), PageMask::SIZE_4K);
        assert_eq!(install.slot(), TlbSlot::Index(3));
        assert!(!install.is_global());
        assert_eq!(TlbEntryRecord::from(install), valid_4k());

        // 16 KiB pages, global, random slot, last index of the TLB.
        let big = TlbEntryRecord::new(
            0x1000_8000,
            lo(0x400) | 1,
            lo(0x404) | 1,
            0x6000,
            TlbSlot::Random,
        );
        let install = big.parse(TLB).expect("valid 16K");
        assert_eq!(install.page_mask().page_size(), 16 << 10);
        assert_eq!(install.slot(), TlbSlot::Random);
        assert!(install.is_global());
        let last = TlbEntryRecord::new(0, 0, 0, 0, TlbSlot::Index(TLB - 1));
        assert_eq!(
            last.parse(TLB).map(|i| i.slot()),
            Ok(TlbSlot::Index(TLB - 1))
        );
    }

    #[test]
    fn parse_rejects_bad_page_mask() {
        let mut rec = valid_4k();
        rec.page_mask = U32::new(0x2000);
        assert_eq!(rec.parse(TLB), Err(RecordError::BadPageMask(0x2000)));
        assert_eq!(RecordError::BadPageMask(0).field(), RecordField::PageMask);
    }

    #[test]
    fn parse_rejects_reserved_bits() {
        let mut rec = valid_4k();
        rec.entry_hi = U32::new(0x0040_0100);
        assert_eq!(
            rec.parse(TLB),
            Err(RecordError::ReservedBits {
                field: RecordField::EntryHi,
                value: 0x0040_0100
            })
        );
        for (field, bit) in [
            (RecordField::EntryLo0, 1 << 31),
            (RecordField::EntryLo1, 1 << 30),
        ] {
            let mut rec = valid_4k();
            let slot = if field == RecordField::EntryLo0 {
                &mut rec.entry_lo0
            } else {
                &mut rec.entry_lo1
            };
            let value = slot.get() | bit;
            *slot = U32::new(value);
            assert_eq!(
                rec.parse(TLB),
                Err(RecordError::ReservedBits { field, value })
            );
        }
    }

    #[test]
    fn parse_rejects_misaligned_vpn_and_pfn() {
        // 16 KiB pages: VPN2 must be 32 KiB aligned, PFNs 16 KiB aligned.
        let rec = TlbEntryRecord::new(0x1000_2000, lo(0x400), lo(0x404), 0x6000, TlbSlot::Random);
        assert_eq!(
            rec.parse(TLB),
            Err(RecordError::MisalignedVpn {
                entry_hi: 0x1000_2000,
                page_mask: 0x6000
            })
        );
        let rec = TlbEntryRecord::new(0x1000_8000, lo(0x400), lo(0x405), 0x6000, TlbSlot::Random);
        let err = rec.parse(TLB).expect_err("odd PFN");
        assert_eq!(
            err,
            RecordError::MisalignedPfn {
                field: RecordField::EntryLo1,
                entry_lo: lo(0x405),
                page_mask: 0x6000
            }
        );
        assert_eq!(err.field(), RecordField::EntryLo1);
    }

    #[test]
    fn parse_rejects_slot_out_of_range() {
        for slot in [TLB, TLB + 1, u32::MAX - 1] {
            let mut rec = valid_4k();
            rec.slot = U32::new(slot);
            assert_eq!(
                rec.parse(TLB),
                Err(RecordError::SlotOutOfRange {
                    slot,
                    tlb_entries: TLB
                })
            );
        }
        assert_eq!(
            HvError::from(RecordError::BadPageMask(1)),
            HvError::BadEntry
        );
    }
}
