//! Reading guest memory for the monitor's own use (semihosting buffers,
//! hypercall buffers and records): through the VM's current mapping
//! ([`guest_translate`]), never raising anything in the guest.

use super::exit::ExitCtx;
use super::gmmu::guest_translate;
use super::memory::FRAME;
use crate::addr::GuestVirtAddr;
use crate::machine::board::PageKind;
use crate::machine::exception::Access;
use zerocopy::FromBytes;

/// Why the monitor could not read guest memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuestMemoryError {
    /// A byte of the range does not translate, or is not memory the read
    /// may use (see `ExitCtx::read_guest_ram`).
    #[error("{len} bytes at guest-virtual {va} are not guest memory")]
    NotMemory {
        /// Where the range starts.
        va: GuestVirtAddr,
        /// How long it is.
        len: u32,
    },
}

impl ExitCtx<'_> {
    /// Reads one record of type `T` from the VM's RAM at `va` (a
    /// hypercall's argument: RAM only, as [`ExitCtx::read_guest_ram`]),
    /// through the VM's current mapping; multi-byte fields are as `T`
    /// defines them (hv-abi's records are little-endian).
    pub(super) fn read_obj<T: FromBytes>(
        &mut self,
        va: GuestVirtAddr,
    ) -> Result<T, GuestMemoryError> {
        let len = size_of::<T>() as u32;
        let not_memory = GuestMemoryError::NotMemory { va, len };
        let bytes = self.read_guest_ram(va, len).ok_or(not_memory)?;
        T::read_from_bytes(&bytes).map_err(|_| not_memory)
    }

    /// Reads guest virtual memory as the VM's own loads would (for
    /// semihosting, whose buffers may be anywhere the machine's own
    /// semihosting reads: RAM, or the boot ROM window, which reads zero);
    /// `None` if any byte does not translate to RAM or ROM.
    pub(super) fn read_guest(&mut self, va: GuestVirtAddr, len: u32) -> Option<Vec<u8>> {
        self.read_guest_in(va, len, Backing::RamOrRom)
    }

    /// Reads a hypercall's buffer: every byte must translate to the VM's
    /// RAM (ABI.md section 2: an address not backed by guest memory, the
    /// boot ROM window included, fails the call with `BadAddress`).
    pub(super) fn read_guest_ram(&mut self, va: GuestVirtAddr, len: u32) -> Option<Vec<u8>> {
        self.read_guest_in(va, len, Backing::Ram)
    }

    fn read_guest_in(&mut self, va: GuestVirtAddr, len: u32, backing: Backing) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut a = va;
        let mut left = len;
        while left > 0 {
            let chunk = left.min(FRAME - (a.raw() & (FRAME - 1)));
            let vm = &*self.vm;
            let g = guest_translate(vm, a, Access::Load).ok()?;
            let gpa = g.gpa;
            match vm.board.page_kind(gpa.raw()) {
                PageKind::Ram => match vm.mem.peek(gpa) {
                    Some(ma) => {
                        let start = out.len();
                        out.resize(start + chunk as usize, 0);
                        self.machine.read_machine(ma, &mut out[start..]).ok()?;
                    }
                    None => out.resize(out.len() + chunk as usize, 0),
                },
                PageKind::Rom if backing == Backing::RamOrRom => {
                    out.resize(out.len() + chunk as usize, 0)
                }
                // The rest of a device's page (the `mipssim` UART's) is
                // boot ROM and reads zero, as the machine's own
                // semihosting reads it; only the device registers cannot
                // be read this way.
                PageKind::Io
                    if backing == Backing::RamOrRom && vm.board.plain_memory(gpa.raw(), chunk) =>
                {
                    out.resize(out.len() + chunk as usize, 0)
                }
                _ => return None,
            }
            a = a.checked_add(chunk)?;
            left -= chunk;
        }
        Some(out)
    }
}

/// What may back the bytes of a guest buffer the monitor reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backing {
    /// Only the VM's RAM (hypercall buffers).
    Ram,
    /// RAM, or the boot ROM window reading zero (semihosting, as the
    /// machine's own).
    RamOrRom,
}
