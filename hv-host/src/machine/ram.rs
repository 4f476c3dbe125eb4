//! The machine's memory buffer ([`Ram`]): one anonymous host mapping,
//! zeroed and page-aligned, that the host backs with memory only where it
//! is touched. A monitor's machine is as large as the machine memory its
//! VMs may ever use (up to 3 GiB); what it costs the host is the frames in
//! use, and a frame the monitor no longer needs goes back to the host
//! ([`Ram::release`]).

use memmap2::{MmapMut, UncheckedAdvice};
use std::ops::{Deref, DerefMut};

/// Bytes of a frame (the granule [`Ram::release`] works on).
const FRAME: usize = 4096;

/// A zeroed, page-aligned memory buffer backed lazily by the host.
pub struct Ram {
    map: MmapMut,
}

impl Ram {
    /// `bytes` of zeros. Untouched pages cost the host nothing.
    pub fn zeroed(bytes: usize) -> std::io::Result<Self> {
        // An anonymous mapping of length 0 is refused; keep one page.
        let map = MmapMut::map_anon(bytes.max(1))?;
        Ok(Self { map })
    }

    /// Zeroes `len` bytes at `off` and, where they cover whole host pages,
    /// gives those pages back to the host (they read as zeros afterwards,
    /// and cost nothing until written again). Out-of-range parts are
    /// ignored.
    pub fn release(&mut self, off: usize, len: usize) {
        let end = off.saturating_add(len).min(self.len());
        if off >= end {
            return;
        }
        let page = host_page_size();
        let first = off.div_ceil(page) * page;
        let last = end / page * page;
        if first < last {
            // SAFETY: `first..last` lies inside the mapping (`last` <=
            // `end` <= its length), and `&mut self` means no reference into
            // it is alive. For a private anonymous mapping, DONTNEED only
            // makes the pages read as zeros again, which is what this
            // method promises.
            let done = unsafe {
                self.map
                    .unchecked_advise_range(UncheckedAdvice::DontNeed, first, last - first)
            };
            if done.is_ok() {
                self.map[off..first].fill(0);
                self.map[last..end].fill(0);
                return;
            }
        }
        self.map[off..end].fill(0);
    }
}

/// The host's page size.
fn host_page_size() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if n > 0 {
            return n as usize;
        }
    }
    FRAME
}

impl Deref for Ram {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl DerefMut for Ram {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }
}

impl std::fmt::Debug for Ram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ram({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_and_released() {
        let mut r = Ram::zeroed(64 << 10).unwrap();
        assert!(r.iter().all(|&b| b == 0));
        r[1000..1010].fill(7);
        r[20000] = 1;
        r.release(4096, 4096);
        assert!(r[4096..8192].iter().all(|&b| b == 0));
        assert_eq!(r[20000], 1, "others keep their contents");
        r.release(19999, 2);
        assert_eq!(r[20000], 0, "a part of a page is zeroed");
        r.release(60 << 10, 1 << 20);
        assert_eq!(&r[1000..1010], &[7; 10]);
    }
}
