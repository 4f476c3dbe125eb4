//! The Malta board's FPGA registers at physical `0x1f00_0000` (a 1 MiB
//! window), with QEMU's values:
//!
//! | offset  | register  | behaviour                                        |
//! |---------|-----------|--------------------------------------------------|
//! | `0x200` | SWITCH    | reads 0                                          |
//! | `0x208` | STATUS    | reads `0x10` (little-endian board)               |
//! | `0x210` | JMPRS     | reads 0                                          |
//! | `0x408` | LEDBAR    | 8 LEDs, read/write                               |
//! | `0x410` | ASCIIWORD | write: the display shows the value as 8 hex digits |
//! | `0x418`..`0x450` step 8 | ASCIIPOS0..7 | write: one display character |
//! | `0x500` | SOFTRES   | writing `0x42` requests a board reset            |
//! | `0x508` | BRKRES    | read/write byte, `0x0a` at reset                 |
//! | `0xa00` | GPOUT     | read/write byte                                  |
//! | `0xa08` | GPINP     | reads I2COUT while I2CSEL is set, else 0         |
//! | `0xb00` | I2CINP    | bit 0 = SDA (1: idle, no EEPROM answers), bit 1 = SCL |
//! | `0xb08` | I2COE     | 2 bits, read/write                               |
//! | `0xb10` | I2COUT    | read/write                                       |
//! | `0xb18` | I2CSEL    | 1 bit, read/write, 1 at reset                    |
//!
//! Offsets `0x900..0xa00` are the board's third UART (a 16550 with
//! registers 8 bytes apart), not part of this device; the owner routes
//! them elsewhere. Other offsets read 0 and ignore writes.
//!
//! The board ID Linux reads (`MIPS_REVISION`) is not an FPGA register: it
//! is the word at physical [`REVISION_ADDR`] in the boot flash, where QEMU
//! stores [`REVISION_VALUE`] (Malta, CoreLV: the GT-64120 system
//! controller). The board wiring has to put it into the boot ROM image.
//!
//! A write of `0x42` to SOFTRES is reported as [`FpgaEvent::SoftReset`]
//! (QEMU resets the machine; Linux uses it for `reboot`). Powering off goes
//! through the PIIX4 PM function instead, not here.
//!
//! Left out: the SPD EEPROM QEMU answers over the bit-banged I2C (Linux
//! 6.1 does not read it; YAMON does), the RTC of the Atlas board, and any
//! display output beyond recording the text.

use super::{BoardEvent, Device, InterruptAck};
/// Physical base of the FPGA window.
pub const FPGA_BASE: u32 = 0x1f00_0000;
/// Size of the FPGA window.
pub const FPGA_WINDOW: u32 = 0x10_0000;
/// Physical address of the board revision word in the boot flash.
pub const REVISION_ADDR: u32 = 0x1fc0_0010;
/// The board revision word QEMU stores there: Malta with a CoreLV card
/// (CORID 1 in bits 15..10, so the system controller is a GT-64120).
pub const REVISION_VALUE: u32 = 0x0000_0420;

/// SWITCH register.
pub const SWITCH: u32 = 0x200;
/// STATUS register.
pub const STATUS: u32 = 0x208;
/// JMPRS register.
pub const JMPRS: u32 = 0x210;
/// LEDBAR register.
pub const LEDBAR: u32 = 0x408;
/// ASCIIWORD register.
pub const ASCIIWORD: u32 = 0x410;
/// ASCIIPOS0 register (ASCIIPOS*n* is at `ASCIIPOS0 + 8 * n`).
pub const ASCIIPOS0: u32 = 0x418;
/// SOFTRES register.
pub const SOFTRES: u32 = 0x500;
/// The value that, written to SOFTRES, resets the board.
pub const GORESET: u32 = 0x42;
/// BRKRES register.
pub const BRKRES: u32 = 0x508;
/// GPOUT register.
pub const GPOUT: u32 = 0xa00;
/// GPINP register.
pub const GPINP: u32 = 0xa08;
/// I2CINP register.
pub const I2CINP: u32 = 0xb00;
/// I2COE register.
pub const I2COE: u32 = 0xb08;
/// I2COUT register.
pub const I2COUT: u32 = 0xb10;
/// I2CSEL register.
pub const I2CSEL: u32 = 0xb18;

/// Something the FPGA asks of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FpgaEvent {
    /// SOFTRES was written with `0x42`: reset the board.
    SoftReset,
}

/// The FPGA's state.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MaltaFpga {
    leds: u8,
    brk: u8,
    gpout: u8,
    i2cin: u8,
    i2coe: u8,
    i2cout: u8,
    i2csel: u8,
    display: [u8; 8],
    event: Option<FpgaEvent>,
}

impl Default for MaltaFpga {
    fn default() -> Self {
        Self::new()
    }
}

impl MaltaFpga {
    /// The FPGA after reset: LEDs off, display blank.
    pub fn new() -> Self {
        Self {
            leds: 0,
            brk: 0x0a,
            gpout: 0,
            i2cin: 0x03,
            i2coe: 0,
            i2cout: 0x03,
            i2csel: 0x01,
            display: [b' '; 8],
            event: None,
        }
    }

    /// Reads `size` bytes at `offset` in the window.
    pub fn read(&mut self, offset: u32, _size: u32) -> u32 {
        match offset & (FPGA_WINDOW - 1) {
            SWITCH | JMPRS => 0,
            STATUS => 0x10,
            LEDBAR => self.leds.into(),
            BRKRES => self.brk.into(),
            GPOUT => self.gpout.into(),
            GPINP if self.i2csel != 0 => self.i2cout.into(),
            // No EEPROM answers: SDA idles high.
            I2CINP => u32::from(self.i2cin & !1) | 1,
            I2COE => self.i2coe.into(),
            I2COUT => self.i2cout.into(),
            I2CSEL => self.i2csel.into(),
            _ => 0,
        }
    }

    /// Writes `size` bytes of `value` at `offset` in the window.
    pub fn write(&mut self, offset: u32, _size: u32, value: u32) {
        let off = offset & (FPGA_WINDOW - 1);
        match off {
            LEDBAR => self.leds = value as u8,
            ASCIIWORD => {
                let hex = format!("{value:08X}");
                self.display.copy_from_slice(hex.as_bytes());
            }
            o if (ASCIIPOS0..ASCIIPOS0 + 64).contains(&o) && o % 8 == 0 => {
                self.display[((o - ASCIIPOS0) / 8) as usize] = value as u8;
            }
            SOFTRES if value == GORESET => self.event = Some(FpgaEvent::SoftReset),
            BRKRES => self.brk = value as u8,
            GPOUT => self.gpout = value as u8,
            I2COE => self.i2coe = value as u8 & 0x03,
            I2COUT => self.i2cout = value as u8,
            I2CSEL => self.i2csel = value as u8 & 0x01,
            _ => {}
        }
    }

    /// The LED bar (bit *n* = LED *n*).
    pub fn leds(&self) -> u8 {
        self.leds
    }

    /// The 8-character display, as last written (bytes as written; not
    /// necessarily ASCII).
    pub fn display(&self) -> [u8; 8] {
        self.display
    }

    /// Takes the pending event, if any.
    pub fn take_event(&mut self) -> Option<FpgaEvent> {
        self.event.take()
    }

    /// The FPGA has no interrupt line (its UART's is routed separately);
    /// always false.
    pub fn irq(&self) -> bool {
        false
    }
}

/// On the bus: offsets are from [`FPGA_BASE`]; SOFTRES resets the board.
impl Device for MaltaFpga {
    fn read(&mut self, offset: u32, size: u32, _intc: &mut dyn InterruptAck) -> u32 {
        MaltaFpga::read(self, offset, size)
    }

    fn write(&mut self, offset: u32, size: u32, value: u32) {
        MaltaFpga::write(self, offset, size, value);
    }

    fn take_event(&mut self) -> Option<BoardEvent> {
        MaltaFpga::take_event(self).map(|FpgaEvent::SoftReset| BoardEvent::Reset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_values() {
        let mut f = MaltaFpga::new();
        assert_eq!(f.read(STATUS, 4), 0x10);
        assert_eq!(f.read(SWITCH, 4), 0);
        assert_eq!(f.read(BRKRES, 4), 0x0a);
        assert_eq!(f.read(I2CSEL, 4), 1);
        assert_eq!(f.read(I2CINP, 4) & 1, 1, "SDA idle");
        assert_eq!(&f.display(), b"        ");
        assert_eq!(f.take_event(), None);
        assert_eq!(REVISION_VALUE >> 10 & 0x3f, 1, "CoreLV");
    }

    #[test]
    fn leds_and_display() {
        let mut f = MaltaFpga::new();
        f.write(LEDBAR, 4, 0x1a5);
        assert_eq!(f.read(LEDBAR, 4), 0xa5);
        assert_eq!(f.leds(), 0xa5);
        f.write(ASCIIWORD, 4, 0xdead_beef);
        assert_eq!(&f.display(), b"DEADBEEF");
        for (i, c) in b"LINUXON ".iter().enumerate() {
            f.write(ASCIIPOS0 + 8 * i as u32, 4, u32::from(*c));
        }
        assert_eq!(&f.display(), b"LINUXON ");
        // An offset between the positions is not a position.
        f.write(ASCIIPOS0 + 4, 4, u32::from(b'X'));
        assert_eq!(&f.display(), b"LINUXON ");
    }

    #[test]
    fn softres_0x42_requests_reset() {
        let mut f = MaltaFpga::new();
        f.write(SOFTRES, 4, 0x41);
        assert_eq!(f.take_event(), None);
        f.write(FPGA_BASE + SOFTRES, 4, GORESET);
        assert_eq!(f.take_event(), Some(FpgaEvent::SoftReset));
        assert_eq!(f.take_event(), None, "taken once");
    }

    #[test]
    fn i2c_and_gpio_registers() {
        let mut f = MaltaFpga::new();
        f.write(I2COUT, 4, 0x02);
        assert_eq!(
            f.read(GPINP, 4),
            0x02,
            "GPINP mirrors I2COUT while selected"
        );
        f.write(I2CSEL, 4, 0);
        assert_eq!(f.read(GPINP, 4), 0);
        f.write(I2COE, 4, 0xff);
        assert_eq!(f.read(I2COE, 4), 0x03);
        f.write(GPOUT, 4, 0x55);
        assert_eq!(f.read(GPOUT, 4), 0x55);
    }
}
