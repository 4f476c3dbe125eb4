//! The two kinds of guest address a hypercall argument can be, as types:
//! guest-physical (what the guest's EntryLo PFNs name) and guest-virtual
//! (what the guest's loads and stores use, translated through its current
//! mapping).

/// The size of a page frame and the unit of [`Hypercall::PageZeroed`]:
/// 4 KiB.
///
/// [`Hypercall::PageZeroed`]: crate::Hypercall::PageZeroed
pub const PAGE_SIZE: u32 = 1 << PAGE_SHIFT;

/// `log2(PAGE_SIZE)`.
pub const PAGE_SHIFT: u32 = 12;

/// Defines an address newtype with the methods every kind shares: the
/// one definition of an address type, used for the guest's two kinds here
/// and for the machine's own by the host (`hv_host::addr::MachineAddr`).
#[macro_export]
macro_rules! address_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        pub struct $name(u32);

        impl $name {
            /// The address `raw`.
            #[inline]
            #[must_use]
            pub const fn new(raw: u32) -> Self {
                Self(raw)
            }

            /// The address as a register value.
            #[inline]
            #[must_use]
            pub const fn raw(self) -> u32 {
                self.0
            }

            /// The address `bytes` further on, wrapping at 4 GiB.
            #[inline]
            #[must_use]
            pub const fn wrapping_add(self, bytes: u32) -> Self {
                Self(self.0.wrapping_add(bytes))
            }

            /// The address `bytes` further on, or `None` past the top of
            /// the 4 GiB address space.
            #[inline]
            #[must_use]
            pub const fn checked_add(self, bytes: u32) -> Option<Self> {
                match self.0.checked_add(bytes) {
                    Some(raw) => Some(Self(raw)),
                    None => None,
                }
            }

            /// Tells whether the address is a multiple of `align`, a power
            /// of two.
            #[inline]
            #[must_use]
            pub const fn is_aligned(self, align: u32) -> bool {
                self.0 & align.wrapping_sub(1) == 0
            }

            /// The address rounded down to a multiple of `align`, a power
            /// of two.
            #[inline]
            #[must_use]
            pub const fn align_down(self, align: u32) -> Self {
                Self(self.0 & !align.wrapping_sub(1))
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!(stringify!($name), "({:#010x})"), self.0)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{:#010x}", self.0)
            }
        }

        impl core::fmt::LowerHex for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::LowerHex::fmt(&self.0, f)
            }
        }
    };
}

address_type!(
    /// A guest-physical address: what a guest OS believes is physical
    /// (what its page tables and EntryLo PFNs name).
    GuestPhysAddr
);
address_type!(
    /// A guest-virtual address, as the guest's code uses it (through the
    /// segment rules and its TLB).
    GuestVirtAddr
);

impl GuestPhysAddr {
    /// The address of frame number `frame` (in [`PAGE_SIZE`] units), or
    /// `None` if that frame lies beyond 4 GiB.
    #[must_use]
    pub const fn from_frame(frame: u32) -> Option<Self> {
        match frame.checked_mul(PAGE_SIZE) {
            Some(raw) => Some(Self(raw)),
            None => None,
        }
    }

    /// The frame number (the address in [`PAGE_SIZE`] units, rounded down).
    #[must_use]
    pub const fn frame(self) -> u32 {
        self.0 >> PAGE_SHIFT
    }

    /// Tells whether the address is a multiple of [`PAGE_SIZE`].
    #[must_use]
    pub const fn is_page_aligned(self) -> bool {
        self.0.is_multiple_of(PAGE_SIZE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phys_frames_and_alignment() {
        assert_eq!(PAGE_SIZE, 4096);
        let a = GuestPhysAddr::new(0x0040_3000);
        assert!(a.is_page_aligned());
        assert_eq!(a.frame(), 0x403);
        assert_eq!(GuestPhysAddr::from_frame(0x403), Some(a));
        assert!(!GuestPhysAddr::new(0x0040_3004).is_page_aligned());
        assert_eq!(GuestPhysAddr::from_frame(0x10_0000), None);
        assert_eq!(
            GuestPhysAddr::from_frame(0xF_FFFF).map(GuestPhysAddr::raw),
            Some(0xFFFF_F000)
        );
    }

    #[test]
    fn virt_alignment_and_overflow() {
        let a = GuestVirtAddr::new(0x8000_1004);
        assert!(a.is_aligned(4));
        assert!(!a.is_aligned(8));
        assert_eq!(a.checked_add(4), Some(GuestVirtAddr::new(0x8000_1008)));
        assert_eq!(GuestVirtAddr::new(u32::MAX).checked_add(1), None);
    }
}

/// Addresses and feature sets as plain `u32`s in the host's machine
/// snapshots (feature `serde`; guests never build it).
#[cfg(feature = "serde")]
mod serde_impls {
    use super::{GuestPhysAddr, GuestVirtAddr};
    use crate::Features;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    macro_rules! as_u32 {
        ($($t:ty: $raw:expr, $new:expr;)*) => {$(
            impl Serialize for $t {
                fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_u32($raw(self))
                }
            }
            impl<'de> Deserialize<'de> for $t {
                fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    u32::deserialize(d).map($new)
                }
            }
        )*};
    }

    as_u32! {
        GuestPhysAddr: |a: &GuestPhysAddr| a.raw(), GuestPhysAddr::new;
        GuestVirtAddr: |a: &GuestVirtAddr| a.raw(), GuestVirtAddr::new;
        Features: |f: &Features| f.bits(), Features::from_bits_retain;
    }

    impl Serialize for crate::HvError {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_u32(self.code())
        }
    }
    impl<'de> Deserialize<'de> for crate::HvError {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let code = u32::deserialize(d)?;
            crate::HvError::from_status(code)
                .ok_or_else(|| serde::de::Error::custom("status 0 is not an error"))
        }
    }
}
