//! The page of CP0 registers a guest shares with the monitor
//! ([`Hypercall::CommpageSet`](crate::Hypercall::CommpageSet), since 1.1):
//! its layout, pinned. Every field is a little-endian `u32`.
//!
//! | offset | field | access | CP0 register |
//! |---|---|---|---|
//! | 0x00 | `status` | read/write | Status (12, 0) |
//! | 0x04 | `cause` | read-only | Cause (13, 0), with the pending lines |
//! | 0x08 | `epc` | read/write | EPC (14, 0) |
//! | 0x0c | `bad_vaddr` | read-only | BadVAddr (8, 0) |
//! | 0x10 | `context` | read/write (PTEBase) | Context (4, 0) |
//! | 0x14 | `entry_hi` | read-only | EntryHi (10, 0) |
//! | 0x18 | `entry_lo0` | read/write | EntryLo0 (2, 0) |
//! | 0x1c | `entry_lo1` | read/write | EntryLo1 (3, 0) |
//! | 0x20 | `page_mask` | read/write | PageMask (5, 0) |
//! | 0x24 | `index` | read/write | Index (0, 0) |
//! | 0x28 | `error_epc` | read/write | ErrorEPC (30, 0) |
//! | 0x2c | `count` | read-only | Count (9, 0) when the guest last resumed |
//!
//! EntryHi is read-only because a change of ASID must reach the real CPU
//! at once: write it with `mtc0`.

use core::mem::{align_of, offset_of, size_of};

use static_assertions::const_assert_eq;
use zerocopy::little_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The shared page's contents (at offset 0 of the frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C, align(4))]
pub struct Commpage {
    /// Status (read/write).
    pub status: U32,
    /// Cause, with the pending interrupt lines (read-only).
    pub cause: U32,
    /// EPC (read/write).
    pub epc: U32,
    /// BadVAddr (read-only).
    pub bad_vaddr: U32,
    /// Context (read/write: PTEBase; BadVPN2 is read-only).
    pub context: U32,
    /// EntryHi (read-only).
    pub entry_hi: U32,
    /// EntryLo0 (read/write).
    pub entry_lo0: U32,
    /// EntryLo1 (read/write).
    pub entry_lo1: U32,
    /// PageMask (read/write).
    pub page_mask: U32,
    /// Index (read/write).
    pub index: U32,
    /// ErrorEPC (read/write).
    pub error_epc: U32,
    /// Count when the guest last resumed (read-only; stale by the time the
    /// guest has run since).
    pub count: U32,
}

const_assert_eq!(size_of::<Commpage>(), 48);
const_assert_eq!(align_of::<Commpage>(), 4);
const_assert_eq!(offset_of!(Commpage, status), 0x00);
const_assert_eq!(offset_of!(Commpage, cause), 0x04);
const_assert_eq!(offset_of!(Commpage, epc), 0x08);
const_assert_eq!(offset_of!(Commpage, bad_vaddr), 0x0c);
const_assert_eq!(offset_of!(Commpage, context), 0x10);
const_assert_eq!(offset_of!(Commpage, entry_hi), 0x14);
const_assert_eq!(offset_of!(Commpage, entry_lo0), 0x18);
const_assert_eq!(offset_of!(Commpage, entry_lo1), 0x1c);
const_assert_eq!(offset_of!(Commpage, page_mask), 0x20);
const_assert_eq!(offset_of!(Commpage, index), 0x24);
const_assert_eq!(offset_of!(Commpage, error_epc), 0x28);
const_assert_eq!(offset_of!(Commpage, count), 0x2c);

/// Byte offsets of the fields, for guest assembly.
pub mod offset {
    /// Status.
    pub const STATUS: usize = 0x00;
    /// Cause.
    pub const CAUSE: usize = 0x04;
    /// EPC.
    pub const EPC: usize = 0x08;
    /// BadVAddr.
    pub const BAD_VADDR: usize = 0x0c;
    /// Context.
    pub const CONTEXT: usize = 0x10;
    /// EntryHi.
    pub const ENTRY_HI: usize = 0x14;
    /// EntryLo0.
    pub const ENTRY_LO0: usize = 0x18;
    /// EntryLo1.
    pub const ENTRY_LO1: usize = 0x1c;
    /// PageMask.
    pub const PAGE_MASK: usize = 0x20;
    /// Index.
    pub const INDEX: usize = 0x24;
    /// ErrorEPC.
    pub const ERROR_EPC: usize = 0x28;
    /// Count.
    pub const COUNT: usize = 0x2c;
}

impl Commpage {
    /// Size in bytes.
    pub const SIZE: usize = size_of::<Commpage>();

    /// The page from its bytes.
    #[must_use]
    pub fn from_wire(bytes: [u8; Self::SIZE]) -> Self {
        zerocopy::transmute!(bytes)
    }

    /// The page's bytes.
    #[must_use]
    pub fn to_wire(&self) -> [u8; Self::SIZE] {
        zerocopy::transmute!(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_is_little_endian() {
        let mut bytes = [0u8; Commpage::SIZE];
        bytes[offset::EPC] = 0x34;
        bytes[offset::EPC + 3] = 0x80;
        let c = Commpage::from_wire(bytes);
        assert_eq!(c.epc.get(), 0x8000_0034);
        assert_eq!(c.to_wire(), bytes);
    }
}
