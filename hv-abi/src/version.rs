//! The interface version: a major and a minor number packed in one `u32`
//! (major in bits 31..16, minor in bits 15..0), as `Discover` returns it.
//!
//! A new minor version only adds (a call, a feature bit, a [`DiscoverLeaf`]);
//! a guest written for `M.n` works with any monitor `M.m`, `m >= n`, after
//! checking the feature bits of the calls it uses. A new major version may
//! change anything, and `hv-guest`'s `detect()` refuses a monitor whose major
//! differs from its own.
//!
//! [`DiscoverLeaf`]: crate::DiscoverLeaf

use core::fmt;

/// An interface version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbiVersion {
    /// Incompatible changes.
    pub major: u16,
    /// Compatible additions.
    pub minor: u16,
}

/// The version this crate describes.
pub const ABI_VERSION: AbiVersion = AbiVersion::new(1, 2);

impl AbiVersion {
    /// A version from its parts.
    #[must_use]
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// The packed form: major in bits 31..16, minor in bits 15..0.
    #[must_use]
    pub const fn to_raw(self) -> u32 {
        (self.major as u32) << 16 | self.minor as u32
    }

    /// Unpacks [`to_raw`](Self::to_raw)'s form; every `u32` is a version.
    #[must_use]
    pub const fn from_raw(raw: u32) -> Self {
        Self {
            major: (raw >> 16) as u16,
            minor: raw as u16,
        }
    }

    /// Tells whether a guest built against `self` can use a monitor that
    /// reports `monitor`: same major, and the monitor's minor not older.
    #[must_use]
    pub const fn is_compatible_with(self, monitor: AbiVersion) -> bool {
        self.major == monitor.major && monitor.minor >= self.minor
    }
}

impl fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_major_high_minor_low() {
        assert_eq!(AbiVersion::new(1, 0).to_raw(), 0x0001_0000);
        assert_eq!(AbiVersion::new(0x1234, 0xABCD).to_raw(), 0x1234_ABCD);
        for raw in [0, 1, 0x0001_0000, 0x0002_0003, u32::MAX] {
            assert_eq!(AbiVersion::from_raw(raw).to_raw(), raw);
        }
    }

    #[test]
    fn compatibility_needs_same_major_and_newer_minor() {
        let guest = AbiVersion::new(1, 2);
        assert!(guest.is_compatible_with(AbiVersion::new(1, 2)));
        assert!(guest.is_compatible_with(AbiVersion::new(1, 7)));
        assert!(!guest.is_compatible_with(AbiVersion::new(1, 1)));
        assert!(!guest.is_compatible_with(AbiVersion::new(2, 2)));
        assert!(!guest.is_compatible_with(AbiVersion::new(0, 9)));
    }
}
