//! Reading guest memory for the monitor's own use (semihosting buffers,
//! hypercall buffers and records): through the VM's current mapping
//! ([`guest_translate`]), never raising anything in the guest.

use super::exit::ExitCtx;
use super::gmmu::guest_translate;
use super::memory::{FRAME, GpaKind, GuestMemory};
use crate::addr::GuestPhysAddr;
use crate::machine::exception::Access;

impl ExitCtx<'_> {
    /// Reads guest virtual memory as the VM's own loads would (for
    /// semihosting, whose buffers may be anywhere the machine's own
    /// semihosting reads: RAM, or the boot ROM window, which reads zero);
    /// `None` if any byte does not translate to RAM or ROM.
    pub(super) fn read_guest(&mut self, va: u32, len: u32) -> Option<Vec<u8>> {
        self.read_guest_in(va, len, Backing::RamOrRom)
    }

    /// Reads a hypercall's buffer: every byte must translate to the VM's
    /// RAM (ABI.md section 2: an address not backed by guest memory, the
    /// boot ROM window included, fails the call with `BadAddress`).
    pub(super) fn read_guest_ram(&mut self, va: u32, len: u32) -> Option<Vec<u8>> {
        self.read_guest_in(va, len, Backing::Ram)
    }

    fn read_guest_in(&mut self, va: u32, len: u32, backing: Backing) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut a = va;
        let mut left = len;
        while left > 0 {
            let chunk = left.min(FRAME - (a & (FRAME - 1)));
            let vm = &*self.vm;
            let g = guest_translate(vm, a, Access::Load).ok()?;
            let gpa = GuestPhysAddr::new(g.gpa);
            match vm.mem.kind(gpa) {
                GpaKind::Ram => match vm.mem.peek(gpa) {
                    Some(ma) => {
                        let start = out.len();
                        out.resize(start + chunk as usize, 0);
                        self.machine.read_machine(ma, &mut out[start..]).ok()?;
                    }
                    None => out.resize(out.len() + chunk as usize, 0),
                },
                GpaKind::Rom if backing == Backing::RamOrRom => {
                    out.resize(out.len() + chunk as usize, 0)
                }
                // The rest of the UART's page is boot ROM and reads zero,
                // as the machine's own semihosting reads it; only the
                // device registers cannot be read this way.
                GpaKind::UartPage
                    if backing == Backing::RamOrRom && !GuestMemory::touches_uart(gpa, chunk) =>
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
