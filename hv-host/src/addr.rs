//! Address newtypes. Raw `u32` addresses do not cross module boundaries:
//!
//! - [`GuestVirtAddr`]: a virtual address as the running code sees it (what
//!   goes through the segment rules and the TLB);
//! - [`GuestPhysAddr`]: a physical address as a guest OS believes it (what a
//!   guest's page tables and EntryLo values hold);
//! - [`MachineAddr`]: a physical address on the emulated machine's bus.
//!
//! On the bare machine (native mode) guest-physical and machine addresses
//! coincide; under the monitor a per-VM map sits between them.

use core::fmt;

macro_rules! addr_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        pub struct $name(u32);

        impl $name {
            /// Wraps a raw 32-bit address.
            #[inline]
            pub const fn new(raw: u32) -> Self {
                Self(raw)
            }

            /// The raw 32-bit address.
            #[inline]
            pub const fn raw(self) -> u32 {
                self.0
            }

            /// This address plus `offset`, wrapping at 4 GiB.
            #[inline]
            pub const fn wrapping_add(self, offset: u32) -> Self {
                Self(self.0.wrapping_add(offset))
            }

            /// This address plus `offset`, or `None` past 4 GiB.
            #[inline]
            pub const fn checked_add(self, offset: u32) -> Option<Self> {
                match self.0.checked_add(offset) {
                    Some(a) => Some(Self(a)),
                    None => None,
                }
            }

            /// Whether the address is a multiple of `align` (a power of two).
            #[inline]
            pub const fn is_aligned(self, align: u32) -> bool {
                self.0 & (align - 1) == 0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:#010x})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#010x}", self.0)
            }
        }

        impl fmt::LowerHex for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::LowerHex::fmt(&self.0, f)
            }
        }
    };
}

addr_type!(
    /// A virtual address as the code running on the CPU sees it.
    GuestVirtAddr
);
addr_type!(
    /// A physical address as a guest OS believes it.
    GuestPhysAddr
);
addr_type!(
    /// A physical address on the emulated machine's bus.
    MachineAddr
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_alignment() {
        let a = MachineAddr::new(0xffff_fffc);
        assert_eq!(a.wrapping_add(8).raw(), 4);
        assert_eq!(a.checked_add(8), None);
        assert!(a.is_aligned(4));
        assert!(!a.wrapping_add(2).is_aligned(4));
        assert_eq!(format!("{a:?}"), "MachineAddr(0xfffffffc)");
    }
}
