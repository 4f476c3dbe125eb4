//! Address newtypes, one family (the guest's two kinds are hv-abi's, the
//! ABI's own; the machine's is defined here with the same macro). Raw
//! `u32` addresses do not cross module boundaries:
//!
//! - [`GuestVirtAddr`]: a virtual address as the running code sees it (what
//!   goes through the segment rules and the TLB);
//! - [`GuestPhysAddr`]: a physical address as a guest OS believes it (what a
//!   guest's page tables and EntryLo values hold);
//! - [`MachineAddr`]: a physical address on the emulated machine's bus.
//!
//! On the bare machine (native mode) guest-physical and machine addresses
//! coincide; under the monitor a per-VM map sits between them.

pub use hv_abi::{GuestPhysAddr, GuestVirtAddr};

hv_abi::address_type!(
    /// A physical address on the emulated machine's bus.
    MachineAddr
);

impl serde::Serialize for MachineAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.raw())
    }
}

impl<'de> serde::Deserialize<'de> for MachineAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <u32 as serde::Deserialize>::deserialize(d).map(MachineAddr::new)
    }
}

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
