//! The status a hypercall leaves in `v0`: 0 for success, otherwise an error
//! code. Error codes are negative 32-bit values (two's complement in `v0`,
//! like KVM's `-errno` returns), so a guest may test `(v0 as i32) < 0`.
//! The codes are stable: a code keeps its meaning for the life of a major
//! version, and a new minor version may only add codes.

use core::fmt;

/// A hypercall's failure, as its status in `v0`.
///
/// Every named variant has a fixed code (see [`code`](Self::code)).
/// [`Unrecognized`](Self::Unrecognized) carries a nonzero status this
/// version does not name, which a monitor implementing this version never
/// returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HvError {
    /// No such hypercall number, `Discover` leaf or `HYPCALL` code, or the
    /// call's feature bit is not offered. Code -1.
    UnknownCall,
    /// The hypercall was made from user mode. Code -2.
    NotPermitted,
    /// A guest address argument is not backed by guest memory or not
    /// mapped. Code -3.
    BadAddress,
    /// A guest address argument is not aligned as the call requires.
    /// Code -4.
    BadAlignment,
    /// A count argument exceeds the call's documented maximum. Code -5.
    CountTooLarge,
    /// A record read from guest memory failed validation (`v1` tells which).
    /// Code -6.
    BadEntry,
    /// No monitor: never returned by a monitor, but written to `v0` by the
    /// guest's own Reserved Instruction handler when a `HYPCALL` trapped on
    /// bare hardware. Code -7.
    NoMonitor,
    /// A frame the call would give up is in use by the monitor: the VM's
    /// shared CP0 page, for `FramesRelease` (since 1.2). Code -8.
    InUse,
    /// A nonzero status that this version does not name (the raw `v0`).
    Unrecognized(u32),
}

/// The status of a successful hypercall.
pub const STATUS_OK: u32 = 0;

impl HvError {
    /// Every named error, in code order (-1 downwards).
    pub const ALL: [HvError; 8] = [
        HvError::UnknownCall,
        HvError::NotPermitted,
        HvError::BadAddress,
        HvError::BadAlignment,
        HvError::CountTooLarge,
        HvError::BadEntry,
        HvError::NoMonitor,
        HvError::InUse,
    ];

    /// The code as a signed number (negative for every named error).
    #[must_use]
    pub const fn code_i32(self) -> i32 {
        match self {
            HvError::UnknownCall => -1,
            HvError::NotPermitted => -2,
            HvError::BadAddress => -3,
            HvError::BadAlignment => -4,
            HvError::CountTooLarge => -5,
            HvError::BadEntry => -6,
            HvError::NoMonitor => -7,
            HvError::InUse => -8,
            HvError::Unrecognized(raw) => raw as i32,
        }
    }

    /// The code as the monitor writes it to `v0`.
    #[must_use]
    pub const fn code(self) -> u32 {
        self.code_i32() as u32
    }

    /// Decodes a `v0` status: `None` for [`STATUS_OK`], otherwise the error
    /// (a status this version does not name becomes
    /// [`Unrecognized`](Self::Unrecognized)).
    #[must_use]
    pub const fn from_status(status: u32) -> Option<HvError> {
        Some(match status as i32 {
            0 => return None,
            -1 => HvError::UnknownCall,
            -2 => HvError::NotPermitted,
            -3 => HvError::BadAddress,
            -4 => HvError::BadAlignment,
            -5 => HvError::CountTooLarge,
            -6 => HvError::BadEntry,
            -7 => HvError::NoMonitor,
            -8 => HvError::InUse,
            _ => HvError::Unrecognized(status),
        })
    }

    /// Decodes a `v0` status into a result.
    pub const fn check(status: u32) -> Result<(), HvError> {
        match HvError::from_status(status) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

impl fmt::Display for HvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            HvError::UnknownCall => "unknown or unavailable hypercall",
            HvError::NotPermitted => "hypercall not permitted from user mode",
            HvError::BadAddress => "guest address not mapped or not backed",
            HvError::BadAlignment => "guest address misaligned",
            HvError::CountTooLarge => "count exceeds the call's maximum",
            HvError::BadEntry => "invalid record in guest memory",
            HvError::NoMonitor => "no monitor (HYPCALL trapped on bare hardware)",
            HvError::InUse => "frame in use by the monitor",
            HvError::Unrecognized(raw) => {
                return write!(f, "unrecognized hypercall status {:#010x}", raw);
            }
        };
        write!(f, "{what} (status {})", self.code_i32())
    }
}

impl core::error::Error for HvError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stable code table: changing a row is an incompatible change.
    const CODES: [(HvError, i32); 8] = [
        (HvError::UnknownCall, -1),
        (HvError::NotPermitted, -2),
        (HvError::BadAddress, -3),
        (HvError::BadAlignment, -4),
        (HvError::CountTooLarge, -5),
        (HvError::BadEntry, -6),
        (HvError::NoMonitor, -7),
        (HvError::InUse, -8),
    ];

    #[test]
    fn codes_are_the_stable_table() {
        for (i, (e, code)) in CODES.into_iter().enumerate() {
            assert_eq!(e.code_i32(), code, "{e:?}");
            assert_eq!(e.code(), code as u32, "{e:?}");
            assert_eq!(HvError::ALL[i], e);
        }
    }

    #[test]
    fn every_error_round_trips_through_its_status() {
        for e in HvError::ALL {
            assert!((e.code() as i32) < 0, "{e:?} is negative");
            assert_eq!(HvError::from_status(e.code()), Some(e));
            assert_eq!(HvError::check(e.code()), Err(e));
        }
        let odd = HvError::Unrecognized(0xFFFF_FF00);
        assert_eq!(HvError::from_status(odd.code()), Some(odd));
    }

    #[test]
    fn zero_is_success_and_other_statuses_are_kept() {
        assert_eq!(HvError::from_status(STATUS_OK), None);
        assert_eq!(HvError::check(STATUS_OK), Ok(()));
        for raw in [1, 8, -9i32 as u32, 0x8000_0000] {
            assert_eq!(HvError::from_status(raw), Some(HvError::Unrecognized(raw)));
        }
    }

    #[test]
    fn display_names_the_code() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(
            HvError::BadEntry.to_string(),
            "invalid record in guest memory (status -6)"
        );
        assert_eq!(
            HvError::Unrecognized(9).to_string(),
            "unrecognized hypercall status 0x00000009"
        );
    }
}
