//! The feature bits `Discover` reports: one bit per optional hypercall
//! (the balloon's two calls, `FramesRelease` and `FramesReclaim`, share
//! one: a guest uses both or neither).
//!
//! `Discover` itself is always available. A monitor answers a call whose
//! bit it does not report with [`HvError::UnknownCall`](crate::HvError).
//! Bits this version does not name are reserved; a monitor reports them as 0.

use bitflags::bitflags;

bitflags! {
    /// The optional hypercalls a monitor offers (the `v1` of
    /// `Discover(Features)`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Features: u32 {
        /// [`Hypercall::PageZeroed`](crate::Hypercall::PageZeroed).
        const PAGE_ZEROED = 1 << 0;
        /// [`Hypercall::IdleYield`](crate::Hypercall::IdleYield).
        const IDLE_YIELD = 1 << 1;
        /// [`Hypercall::TlbInstallBatch`](crate::Hypercall::TlbInstallBatch).
        const TLB_BATCH = 1 << 2;
        /// [`Hypercall::ConsoleWrite`](crate::Hypercall::ConsoleWrite).
        const CONSOLE = 1 << 3;
        /// [`Hypercall::Shutdown`](crate::Hypercall::Shutdown).
        const SHUTDOWN = 1 << 4;
        /// [`Hypercall::CommpageSet`](crate::Hypercall::CommpageSet) (1.1).
        const COMMPAGE = 1 << 5;
        /// [`Hypercall::RefillWalkSet`](crate::Hypercall::RefillWalkSet) (1.1).
        const REFILL_WALK = 1 << 6;
        /// [`Hypercall::FramesRelease`](crate::Hypercall::FramesRelease) and
        /// [`Hypercall::FramesReclaim`](crate::Hypercall::FramesReclaim), the
        /// balloon (1.2).
        const BALLOON = 1 << 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_stable() {
        assert_eq!(Features::PAGE_ZEROED.bits(), 0x01);
        assert_eq!(Features::IDLE_YIELD.bits(), 0x02);
        assert_eq!(Features::TLB_BATCH.bits(), 0x04);
        assert_eq!(Features::CONSOLE.bits(), 0x08);
        assert_eq!(Features::SHUTDOWN.bits(), 0x10);
        assert_eq!(Features::COMMPAGE.bits(), 0x20);
        assert_eq!(Features::REFILL_WALK.bits(), 0x40);
        assert_eq!(Features::BALLOON.bits(), 0x80);
        assert_eq!(Features::all().bits(), 0xFF);
    }

    #[test]
    fn reserved_bits_are_dropped_by_truncation() {
        let f = Features::from_bits_truncate(0xFFFF_FF09);
        assert_eq!(
            f,
            Features::PAGE_ZEROED | Features::CONSOLE | Features::from_bits_truncate(0)
        );
        assert_eq!(Features::from_bits(0x100), None);
    }
}
