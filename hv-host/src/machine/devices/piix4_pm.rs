//! The PIIX4 power-management I/O registers (PCI function 3's PMBA block,
//! at ISA port [`PMBA`] as the boot loader leaves it), enough for Linux's
//! Malta power-off (`mips_pm_suspend`): PMSTS, PMEN, PMCNTRL and the ACPI
//! PM timer.
//!
//! | offset | register | behaviour |
//! |--------|----------|-----------|
//! | `0x00` | PMSTS    | 16 bits, write 1 to clear; no event ever sets a bit |
//! | `0x02` | PMEN     | 16 bits, read/write |
//! | `0x04` | PMCNTRL  | 16 bits; writing SUS_EN (bit 13) with SUS_TYP (bits 12..10) = 0 requests soft-off ([`PmEvent::SoftOff`]) |
//! | `0x08` | PMTMR    | 24-bit counter at 3.579545 MHz, from the owner's ticks |
//!
//! Other offsets of the 64-byte block read 0 and ignore writes. As on
//! QEMU, soft-off happens on the PMCNTRL write itself; the PCI special
//! cycle Linux sends after it is not needed. Other suspend types are
//! recorded and ignored (SUS_EN reads back clear).

use super::{BoardEvent, Device, InterruptAck};
/// Where the boot loader puts the block (PMBA's reset value on Malta).
pub const PMBA: u32 = 0x1000;
/// Size of the block.
pub const PM_WINDOW: u32 = 0x40;
/// PMSTS offset.
pub const PMSTS: u32 = 0x00;
/// PMEN offset.
pub const PMEN: u32 = 0x02;
/// PMCNTRL offset.
pub const PMCNTRL: u32 = 0x04;
/// PMTMR offset.
pub const PMTMR: u32 = 0x08;
/// PMCNTRL: suspend enable.
pub const SUS_EN: u32 = 1 << 13;
/// PMCNTRL: the suspend type field.
pub const SUS_TYP_MASK: u32 = 7 << 10;
/// Rate of the ACPI PM timer.
pub const PMTMR_HZ: u64 = 3_579_545;

/// Something the board must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PmEvent {
    /// Soft-off: power the machine down.
    SoftOff,
}

/// The PM registers.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Piix4Pm {
    tick_hz: u64,
    now: u64,
    pmsts: u16,
    pmen: u16,
    pmcntrl: u16,
    event: Option<PmEvent>,
}

impl Piix4Pm {
    /// The block after reset, its timer driven by `tick_hz` ticks per
    /// second (> 0).
    pub fn new(tick_hz: u64) -> Self {
        Self {
            tick_hz: tick_hz.max(1),
            now: 0,
            pmsts: 0,
            pmen: 0,
            pmcntrl: 0,
            event: None,
        }
    }

    /// Advances the PM timer to tick count `now`.
    pub fn tick(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    fn timer(&self) -> u32 {
        let t = u128::from(self.now) * u128::from(PMTMR_HZ) / u128::from(self.tick_hz);
        (t as u32) & 0x00ff_ffff
    }

    /// Reads `size` bytes at `offset` in the block.
    pub fn read(&mut self, offset: u32, size: u32) -> u32 {
        let word = match offset & !1 {
            PMSTS => u32::from(self.pmsts),
            PMEN => u32::from(self.pmen),
            PMCNTRL => u32::from(self.pmcntrl),
            PMTMR => self.timer(),
            0x0a => self.timer() >> 16,
            _ => 0,
        };
        let v = word >> (8 * (offset & 1));
        match size {
            1 => v & 0xff,
            2 => v & 0xffff,
            _ => v,
        }
    }

    /// Writes `size` bytes of `value` at `offset` in the block.
    pub fn write(&mut self, offset: u32, size: u32, value: u32) {
        // Byte writes to the high half of a 16-bit register.
        let v = if size == 1 && offset & 1 != 0 {
            (value & 0xff) << 8
        } else {
            value
        };
        match offset & !1 {
            PMSTS => self.pmsts &= !(v as u16),
            PMEN => self.pmen = v as u16,
            PMCNTRL => {
                if v & SUS_EN != 0 && v & SUS_TYP_MASK == 0 {
                    self.event = Some(PmEvent::SoftOff);
                }
                self.pmcntrl = (v & !SUS_EN) as u16;
            }
            _ => {}
        }
    }

    /// Takes the pending event, if any.
    pub fn take_event(&mut self) -> Option<PmEvent> {
        self.event.take()
    }
}

/// On the bus: offsets are from [`PMBA`]; soft-off powers the board off.
impl Device for Piix4Pm {
    fn read(&mut self, offset: u32, size: u32, _intc: &mut dyn InterruptAck) -> u32 {
        Piix4Pm::read(self, offset, size)
    }

    fn write(&mut self, offset: u32, size: u32, value: u32) {
        Piix4Pm::write(self, offset, size, value);
    }

    fn keeps_time(&self) -> bool {
        true
    }

    fn tick(&mut self, now: u64) {
        Piix4Pm::tick(self, now);
    }

    fn take_event(&mut self) -> Option<BoardEvent> {
        Piix4Pm::take_event(self).map(|PmEvent::SoftOff| BoardEvent::PowerOff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_off_is_sus_en_with_type_zero() {
        let mut pm = Piix4Pm::new(1000);
        pm.write(PMCNTRL, 2, 5 << 10);
        assert_eq!(pm.take_event(), None, "no SUS_EN: just the type");
        assert_eq!(pm.read(PMCNTRL, 2), 5 << 10);
        pm.write(PMCNTRL, 2, (1 << 10) | SUS_EN);
        assert_eq!(pm.take_event(), None, "another suspend type");
        pm.write(PMCNTRL, 2, SUS_EN);
        assert_eq!(pm.take_event(), Some(PmEvent::SoftOff));
        assert_eq!(pm.take_event(), None);
        assert_eq!(pm.read(PMCNTRL, 2) & SUS_EN, 0, "SUS_EN reads back clear");
    }

    #[test]
    fn status_clears_by_writing_ones_and_enable_holds() {
        let mut pm = Piix4Pm::new(1000);
        pm.pmsts = 0x0121;
        pm.write(PMSTS, 2, 0x0001);
        assert_eq!(pm.read(PMSTS, 2), 0x0120);
        pm.write(PMEN, 2, 0x0120);
        assert_eq!(pm.read(PMEN, 2), 0x0120);
        assert_eq!(pm.read(PMEN + 1, 1), 0x01);
        assert_eq!(pm.read(0x20, 4), 0);
    }

    #[test]
    fn pm_timer_follows_ticks() {
        let mut pm = Piix4Pm::new(PMTMR_HZ);
        pm.tick(1234);
        assert_eq!(pm.read(PMTMR, 4), 1234);
        pm.tick(100);
        assert_eq!(pm.read(PMTMR, 4), 1234, "time does not go back");
        pm.tick(0x0100_0005);
        assert_eq!(pm.read(PMTMR, 4), 5, "24 bits wide");
    }
}
