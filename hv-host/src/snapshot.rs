//! The snapshot file format: a whole machine (or a monitor with its VMs)
//! frozen between two instructions, to continue later exactly where it
//! stopped.
//!
//! A file is a fixed header and a payload:
//!
//! | offset | bytes | what |
//! |---|---|---|
//! | 0 | 8 | magic `HVSNAP\r\n` |
//! | 8 | 4 | format version, little-endian ([`VERSION`]) |
//! | 12 | 8 | payload length in bytes, little-endian |
//! | 20 | 4 | CRC-32 (IEEE) of the payload |
//! | 24 | n | payload: the caller's record in `postcard` encoding |
//!
//! The payload's record is the caller's (the runner stores its run's
//! flags beside a [`crate::machine::MachineImage`] or a
//! [`crate::monitor::MonitorImage`]). Reading checks everything it can
//! before decoding: a file too short for its header or its length, a
//! wrong magic or version, a CRC that does not match, trailing bytes, and
//! a record that does not decode are each a [`SnapshotError`], never a
//! panic. Restoring a decoded record then checks it against the machine it
//! is restored into ([`SnapshotError::Mismatch`]).
//!
//! Memory is stored sparsely: only pages that are not all zeros
//! ([`Pages`]), so a snapshot of a 64 MiB machine that touched 2 MiB
//! holds about 2 MiB.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The first bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"HVSNAP\r\n";
/// The format version this build writes and reads. A change to any
/// record that is saved (a field added to a device, the CPU, the monitor)
/// bumps it: an old file is then refused with a clear error instead of
/// being misread.
pub const VERSION: u32 = 5;
/// Bytes before the payload.
pub const HEADER_BYTES: usize = 24;

/// Why a snapshot cannot be read or restored.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    /// The file is shorter than its header says.
    #[error("the snapshot is truncated: {found} bytes, {expected} expected")]
    Truncated {
        /// Bytes found.
        found: usize,
        /// Bytes the header promises.
        expected: usize,
    },
    /// The file does not start with [`MAGIC`].
    #[error("not a snapshot file (no HVSNAP header)")]
    NotASnapshot,
    /// The file is of another format version.
    #[error("snapshot format version {found}, this build reads version {VERSION}")]
    Version {
        /// The file's version.
        found: u32,
    },
    /// The payload's CRC does not match: the file is corrupt.
    #[error("the snapshot is corrupt (checksum mismatch)")]
    Checksum,
    /// The payload does not decode, or bytes follow it.
    #[error("the snapshot is corrupt: {0}")]
    Decode(String),
    /// The snapshot does not fit the machine it is restored into.
    #[error("the snapshot does not fit this machine: {0}")]
    Mismatch(String),
}

/// Writes `record` as a snapshot file's bytes (header and payload).
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // Encoding into a Vec cannot fail: every record type is plain data.
    let payload = postcard::to_stdvec(record).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Reads a snapshot file's bytes back into its record, checking the
/// header, the length and the checksum first.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SnapshotError> {
    let header = bytes
        .get(..HEADER_BYTES)
        .ok_or(if bytes.len() >= 8 && bytes[..8] != MAGIC {
            SnapshotError::NotASnapshot
        } else {
            SnapshotError::Truncated {
                found: bytes.len(),
                expected: HEADER_BYTES,
            }
        })?;
    if header[..8] != MAGIC {
        return Err(SnapshotError::NotASnapshot);
    }
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let version = word(8);
    if version != VERSION {
        return Err(SnapshotError::Version { found: version });
    }
    let len = u64::from(word(12)) | u64::from(word(16)) << 32;
    let crc = word(20);
    let payload = &bytes[HEADER_BYTES..];
    let expected = usize::try_from(len)
        .ok()
        .and_then(|l| l.checked_add(HEADER_BYTES))
        .unwrap_or(usize::MAX);
    if (payload.len() as u64) < len {
        return Err(SnapshotError::Truncated {
            found: bytes.len(),
            expected,
        });
    }
    if payload.len() as u64 > len {
        return Err(SnapshotError::Decode(format!(
            "{} bytes follow the payload",
            payload.len() as u64 - len
        )));
    }
    if crc32fast::hash(payload) != crc {
        return Err(SnapshotError::Checksum);
    }
    let (record, rest) =
        postcard::take_from_bytes(payload).map_err(|e| SnapshotError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SnapshotError::Decode(format!(
            "{} bytes follow the record",
            rest.len()
        )));
    }
    Ok(record)
}

/// A memory image stored sparsely: the pages that are not all zeros, by
/// page number, and the image's length.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pages {
    /// Length of the whole image in bytes.
    len: u64,
    /// Page number and contents ([`PAGE_BYTES`] each) of every page
    /// that holds a non-zero byte, in ascending order.
    pages: Vec<(u32, Vec<u8>)>,
}

/// The page size of [`Pages`].
pub const PAGE_BYTES: usize = 4096;

impl Pages {
    /// The non-zero pages of `mem`.
    pub fn of(mem: &[u8]) -> Self {
        let pages = mem
            .chunks(PAGE_BYTES)
            .enumerate()
            .filter(|(_, p)| p.iter().any(|&b| b != 0))
            .map(|(i, p)| (i as u32, p.to_vec()))
            .collect();
        Self {
            len: mem.len() as u64,
            pages,
        }
    }

    /// Bytes of the image.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the image is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many pages are stored.
    pub fn stored(&self) -> usize {
        self.pages.len()
    }

    /// Writes the image into `mem`, which must be as long as it: the
    /// stored pages, zeros elsewhere.
    pub fn restore_into(&self, mem: &mut [u8], what: &str) -> Result<(), SnapshotError> {
        if mem.len() as u64 != self.len {
            return Err(SnapshotError::Mismatch(format!(
                "{what} is {} bytes, the snapshot's {} bytes",
                mem.len(),
                self.len
            )));
        }
        mem.fill(0);
        for (n, bytes) in &self.pages {
            let at = *n as usize * PAGE_BYTES;
            let dst = at
                .checked_add(bytes.len())
                .and_then(|end| mem.get_mut(at..end))
                .filter(|_| bytes.len() <= PAGE_BYTES)
                .ok_or_else(|| {
                    SnapshotError::Decode(format!("{what}: page {n} lies outside the image"))
                })?;
            dst.copy_from_slice(bytes);
        }
        Ok(())
    }
}

/// Serde for arrays longer than serde's own limit (32 elements), as a
/// sequence: `#[serde(with = "crate::snapshot::array")]`.
pub mod array {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes the array as a sequence.
    pub fn serialize<S: Serializer, T: Serialize, const N: usize>(
        a: &[T; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        a.as_slice().serialize(s)
    }

    /// Reads a sequence of exactly `N` elements.
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>, const N: usize>(
        d: D,
    ) -> Result<[T; N], D::Error> {
        let v = Vec::<T>::deserialize(d)?;
        let len = v.len();
        v.try_into()
            .map_err(|_| D::Error::invalid_length(len, &"an array of the saved length"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Rec {
        a: u32,
        mem: Pages,
    }

    fn sample() -> Rec {
        let mut mem = vec![0u8; 5 * PAGE_BYTES];
        mem[PAGE_BYTES + 7] = 9;
        mem[4 * PAGE_BYTES] = 1;
        Rec {
            a: 42,
            mem: Pages::of(&mem),
        }
    }

    #[test]
    fn round_trip_stores_only_non_zero_pages() {
        let r = sample();
        assert_eq!(r.mem.stored(), 2);
        let bytes = encode(&r);
        assert!(bytes.len() < 2 * PAGE_BYTES + 100);
        let back: Rec = decode(&bytes).expect("decodes");
        assert_eq!(back, r);
        let mut mem = vec![0xffu8; 5 * PAGE_BYTES];
        back.mem.restore_into(&mut mem, "RAM").expect("fits");
        assert_eq!(mem[PAGE_BYTES + 7], 9);
        assert_eq!(mem[4 * PAGE_BYTES], 1);
        assert_eq!(mem.iter().map(|&b| u32::from(b)).sum::<u32>(), 10);
        let mut small = vec![0u8; PAGE_BYTES];
        assert!(matches!(
            back.mem.restore_into(&mut small, "RAM"),
            Err(SnapshotError::Mismatch(_))
        ));
    }

    #[test]
    fn every_damage_is_an_error() {
        let bytes = encode(&sample());
        for cut in [0, 5, 8, 23, 24, bytes.len() - 1] {
            assert!(
                matches!(
                    decode::<Rec>(&bytes[..cut]),
                    Err(SnapshotError::Truncated { .. })
                ),
                "cut at {cut}"
            );
        }
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(decode::<Rec>(&bad), Err(SnapshotError::NotASnapshot));
        let mut bad = bytes.clone();
        bad[8] = 99;
        assert_eq!(
            decode::<Rec>(&bad),
            Err(SnapshotError::Version { found: 99 })
        );
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(decode::<Rec>(&bad), Err(SnapshotError::Checksum));
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            decode::<Rec>(&long),
            Err(SnapshotError::Decode(_))
        ));
        // A payload with a valid checksum that is not the record.
        let other = encode(&(1u8, 2u8));
        assert!(matches!(
            decode::<Rec>(&other),
            Err(SnapshotError::Decode(_))
        ));
    }

    #[test]
    fn a_page_outside_the_image_is_refused() {
        let rec = Pages {
            len: PAGE_BYTES as u64,
            pages: vec![(3, vec![1; PAGE_BYTES])],
        };
        let mut mem = vec![0u8; PAGE_BYTES];
        assert!(matches!(
            rec.restore_into(&mut mem, "RAM"),
            Err(SnapshotError::Decode(_))
        ));
    }
}
