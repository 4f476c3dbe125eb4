//! The Galileo GT-64120 system controller as QEMU models it for the Malta
//! board (little-endian CPU): its 4 KiB internal register window, the PCI0
//! configuration address/data registers at window offsets `0xcf8`/`0xcfc`,
//! the PCI0 interrupt-acknowledge register at `0xc34`, and the PCI
//! configuration space of bus 0 behind it.
//!
//! The window sits where the ISD register puts it: at reset ISD = `0xa0`,
//! i.e. physical `0x1400_0000`; YAMON (and QEMU's stand-in boot loader)
//! moves it to `0x1be0_0000` (ISD = `0xdf`), where Linux expects it
//! ([`Gt64120::yamon_setup`] applies those boot-loader writes). The owner
//! routes physical addresses in `base()..base() + WINDOW` here.
//!
//! Byte swapping: with the CPU-interface endianness bit (GT_CPU bit 12,
//! set at reset for a little-endian CPU) clear, register values are
//! byte-swapped; PCI0_CMD bit 0 (MByteSwap, set by Linux on a
//! little-endian kernel together with SByteSwap, bit 16) selects
//! little-endian configuration data, else configuration data is swapped.
//!
//! PCI devices on bus 0, at QEMU's device numbers:
//!
//! | dev.fn | device                   | id          |
//! |--------|--------------------------|-------------|
//! | 00.0   | GT-64120 host bridge     | 11ab:4620   |
//! | 0a.0   | PIIX4 PCI-to-ISA bridge  | 8086:7110   |
//! | 0a.1   | PIIX4 IDE                | 8086:7111   |
//! | 0a.2   | PIIX4 USB (UHCI)         | 8086:7112   |
//! | 0a.3   | PIIX4 power management   | 8086:7113   |
//!
//! Each function is 256 bytes of configuration space with a write mask;
//! the PIIX4's BARs size as usual, the host bridge's are read-only (as on
//! QEMU). Everything else reads `0xffff_ffff`.
//!
//! Left out: the address decoders' effect (the PCI0 I/O and memory windows
//! are recorded in their registers, [`Gt64120::pci0_io_window`] reports the
//! I/O one, but routing is the owner's), SDRAM/device timing, DMA, the
//! timer/counters, PCI1, interrupt cause/mask behaviour (stored only), and
//! what the PIIX4 functions do beyond their configuration space (the IDE,
//! USB and PM I/O registers are separate devices or absent).

use super::{Device, InterruptAck, Window};

/// Size of the internal register window.
pub const WINDOW: u32 = 0x1000;
/// Window base at reset (ISD = 0xa0).
pub const RESET_BASE: u32 = 0x1400_0000;
/// Window base after YAMON's setup, where Linux looks (`MIPS_GT_BASE`).
pub const YAMON_BASE: u32 = 0x1be0_0000;

/// CPU interface configuration.
pub const GT_CPU: u32 = 0x000;
/// PCI0 I/O low decode address.
pub const GT_PCI0IOLD: u32 = 0x048;
/// PCI0 I/O high decode address.
pub const GT_PCI0IOHD: u32 = 0x050;
/// PCI0 memory 0 low decode address.
pub const GT_PCI0M0LD: u32 = 0x058;
/// PCI0 memory 0 high decode address.
pub const GT_PCI0M0HD: u32 = 0x060;
/// Internal space decode (window base bits 35..21).
pub const GT_ISD: u32 = 0x068;
/// PCI0 memory 1 low decode address.
pub const GT_PCI0M1LD: u32 = 0x080;
/// PCI0 memory 1 high decode address.
pub const GT_PCI0M1HD: u32 = 0x088;
/// PCI0 I/O remap.
pub const GT_PCI0IOREMAP: u32 = 0x0f0;
/// PCI0 memory 0 remap.
pub const GT_PCI0M0REMAP: u32 = 0x0f8;
/// PCI0 memory 1 remap.
pub const GT_PCI0M1REMAP: u32 = 0x100;
/// PCI0 sync barrier (reads a junk value).
pub const GT_PCI0SYNC: u32 = 0x0c0;
/// PCI0 command (byte-swap control).
pub const GT_PCI0_CMD: u32 = 0xc00;
/// PCI0 interrupt acknowledge: a read runs an IACK cycle on the i8259s.
pub const GT_PCI0_IACK: u32 = 0xc34;
/// PCI0 configuration address.
pub const GT_PCI0_CFGADDR: u32 = 0xcf8;
/// PCI0 configuration data.
pub const GT_PCI0_CFGDATA: u32 = 0xcfc;

/// GT_CPU: the CPU interface is little-endian.
const CPU_ENDIAN_LITTLE: u32 = 1 << 12;
/// PCI0_CMD: master byte swap.
const CMD_MBYTESWAP: u32 = 1 << 0;
/// PCI0_CMD: slave byte swap.
const CMD_SBYTESWAP: u32 = 1 << 16;
/// Configuration address: enable.
const CFG_ENABLE: u32 = 1 << 31;

/// PIIX4's PCI device number on bus 0.
pub const PIIX4_DEV: u8 = 10;

/// One PCI function's configuration space.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct PciFunction {
    dev: u8,
    func: u8,
    #[serde(with = "crate::snapshot::array")]
    config: [u8; 256],
    #[serde(with = "crate::snapshot::array")]
    wmask: [u8; 256],
}

impl PciFunction {
    fn new(dev: u8, func: u8, vendor: u16, device: u16, class: u32, rev: u8) -> Self {
        let mut f = Self {
            dev,
            func,
            config: [0; 256],
            wmask: [0; 256],
        };
        f.set16(0x00, vendor);
        f.set16(0x02, device);
        f.config[0x08] = rev;
        f.config[0x09] = class as u8;
        f.config[0x0a] = (class >> 8) as u8;
        f.config[0x0b] = (class >> 16) as u8;
        // Command: I/O, memory, bus master, ... as software chooses.
        f.wmask[0x04] = 0xff;
        f.wmask[0x05] = 0x07;
        f.wmask[0x0c] = 0xff; // cache line size
        f.wmask[0x0d] = 0xff; // latency timer
        f.wmask[0x3c] = 0xff; // interrupt line
        f
    }

    fn set16(&mut self, off: usize, v: u16) {
        self.config[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }

    fn set32(&mut self, off: usize, v: u32) {
        self.config[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn set_wmask32(&mut self, off: usize, v: u32) {
        self.wmask[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Marks `off..end` as freely writable device-specific registers.
    fn writable(&mut self, off: usize, end: usize) {
        self.wmask[off..end].fill(0xff);
    }

    fn read(&self, reg: usize, size: u32) -> u32 {
        (0..size as usize).fold(0, |acc, i| {
            acc | u32::from(self.config[(reg + i) & 0xff]) << (8 * i)
        })
    }

    fn write(&mut self, reg: usize, size: u32, v: u32) {
        for i in 0..size as usize {
            let o = (reg + i) & 0xff;
            let b = (v >> (8 * i)) as u8;
            self.config[o] = (self.config[o] & !self.wmask[o]) | (b & self.wmask[o]);
        }
    }
}

/// The GT-64120 and the PCI configuration space behind it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Gt64120 {
    regs: Vec<u32>,
    cfg_addr: u32,
    functions: Vec<PciFunction>,
}

impl Default for Gt64120 {
    fn default() -> Self {
        Self::new()
    }
}

impl Gt64120 {
    /// The controller after reset, as QEMU resets it for a little-endian
    /// Malta: window at [`RESET_BASE`].
    pub fn new() -> Self {
        let mut regs = vec![0u32; (WINDOW / 4) as usize];
        let reset: &[(u32, u32)] = &[
            (GT_CPU, CPU_ENDIAN_LITTLE),
            (0x120, 0x3), // GT_MULTI
            (0x008, 0x000),
            (0x010, 0x007),
            (0x018, 0x008),
            (0x020, 0x00f),
            (0x028, 0x0e0),
            (0x030, 0x070),
            (0x038, 0x0f8),
            (0x040, 0x07f),
            (GT_PCI0IOLD, 0x080),
            (GT_PCI0IOHD, 0x00f),
            (GT_PCI0M0LD, 0x090),
            (GT_PCI0M0HD, 0x01f),
            (GT_ISD, 0x0a0),
            (GT_PCI0M1LD, 0x790),
            (GT_PCI0M1HD, 0x01f),
            (0x090, 0x100),
            (0x098, 0x00f),
            (0x0a0, 0x110),
            (0x0a8, 0x01f),
            (0x0b0, 0x120),
            (0x0b8, 0x02f),
            (0x0d0, 0x000),
            (0x0d8, 0x008),
            (0x0e0, 0x0e0),
            (0x0e8, 0x0f8),
            (GT_PCI0IOREMAP, 0x080),
            (GT_PCI0M0REMAP, 0x090),
            (GT_PCI0M1REMAP, 0x790),
            (0x108, 0x100),
            (0x110, 0x110),
            (0x118, 0x120),
            (0x128, 0xffff_ffff), // CPUERR_DATALO
            (0x130, 0xffff_ffff), // CPUERR_DATAHI
            (0x138, 0xff),        // CPUERR_PARITY
            (0x400, 0x000),
            (0x404, 0x007),
            (0x408, 0x008),
            (0x40c, 0x00f),
            (0x410, 0x010),
            (0x414, 0x017),
            (0x418, 0x018),
            (0x41c, 0x01f),
            (0x420, 0x0c0),
            (0x424, 0x0c7),
            (0x428, 0x0c8),
            (0x42c, 0x0cf),
            (0x430, 0x0d0),
            (0x434, 0x0df),
            (0x438, 0x0f0),
            (0x43c, 0x0fb),
            (0x440, 0x0fc),
            (0x444, 0x0ff),
            (0x470, 0xffff_ffff), // ADERR
            (0x448, 0x200),       // SDRAM_CFG
            (0x478, 0x007),       // SDRAM_BM
            (0x47c, 0x002),       // SDRAM_ADDRDECODE
            (0x44c, 0x005),
            (0x450, 0x005),
            (0x454, 0x005),
            (0x458, 0x005),
            (0x45c, 0x386f_ffff),
            (0x460, 0x386f_ffff),
            (0x464, 0x386f_ffff),
            (0x468, 0x386f_ffff),
            (0x46c, 0x146f_ffff),
            (0x850, 0xffff_ffff), // TC0
            (0x854, 0x00ff_ffff),
            (0x858, 0x00ff_ffff),
            (0x85c, 0x00ff_ffff),
            (GT_PCI0_CMD, CMD_MBYTESWAP | CMD_SBYTESWAP),
            (0xc04, 0x70f),
            (0xc08, 0x00ff_f000),
            (0xc0c, 0x00ff_f000),
            (0xc10, 0x01ff_f000),
            (0xc14, 0x00ff_f000),
            (0xc3c, 0x00f),
            (0xc40, 0x040),
            (0xc4c, 0x0100_0000),
            (0xc50, 0x1c00_0000),
            (0xc54, 0x1f00_0000),
            (0xc5c, 0x0100_0000),
            (0xc64, 0x1f00_0000),
            (0xc80, CMD_MBYTESWAP | CMD_SBYTESWAP),
            (0xc84, 0x70f),
            (0xc88, 0x00ff_f000),
            (0xc8c, 0x00ff_f000),
            (0xc90, 0x01ff_f000),
            (0xc94, 0x00ff_f000),
            (0xcbc, 0x00f),
            (0xcc0, 0x040),
            (0xccc, 0x0100_0000),
            (0xcd0, 0x1c00_0000),
            (0xcd4, 0x1f00_0000),
            (0xcdc, 0x0100_0000),
            (0xce4, 0x1f00_0000),
        ];
        for &(off, v) in reset {
            regs[(off / 4) as usize] = v;
        }
        Self {
            regs,
            cfg_addr: 0,
            functions: Self::bus0(),
        }
    }

    fn bus0() -> Vec<PciFunction> {
        // The host bridge, reset values from QEMU ("PCI Configuration").
        let mut gt = PciFunction::new(0, 0, 0x11ab, 0x4620, 0x06_0000, 0x10);
        gt.set16(0x06, 0x0280); // fast back-to-back, DEVSEL medium
        // The BARs hold the SDRAM and device bank addresses and are not
        // writable through configuration space (as on QEMU): Linux cannot
        // size them and says so ("BAR n: invalid; can't size").
        for (i, v) in [
            0x0000_0008u32,
            0x0100_0008,
            0x1c00_0000,
            0x1f00_0000,
            0x1400_0000,
            0x1400_0001,
        ]
        .into_iter()
        .enumerate()
        {
            gt.set32(0x10 + 4 * i, v);
        }
        gt.config[0x3d] = 0x01;

        // PIIX4 function 0: PCI-to-ISA bridge, multi-function.
        let mut isa = PciFunction::new(PIIX4_DEV, 0, 0x8086, 0x7110, 0x06_0100, 0x00);
        isa.set16(0x04, 0x0007);
        isa.set16(0x06, 0x0200);
        isa.config[0x0e] = 0x80;
        isa.writable(0x40, 0x100);
        isa.config[0x4c] = 0x4d; // IORT
        isa.set16(0x4e, 0x0003); // XBCS
        isa.set32(0x60, 0x8080_8080); // PIRQRC[A:D]: routing disabled
        isa.config[0x64] = 0x10; // SERIRQC
        isa.config[0x69] = 0x02; // TOM
        isa.set16(0x6a, 0x0000); // MSTAT
        isa.set16(0x76, 0x0404); // MBDMA
        isa.config[0xb0] = 0x04; // GENCFG

        // Function 1: IDE; BMIBA (BAR4) is a 16-byte I/O BAR.
        let mut ide = PciFunction::new(PIIX4_DEV, 1, 0x8086, 0x7111, 0x01_0180, 0x00);
        ide.set16(0x06, 0x0280);
        ide.set32(0x20, 0x0000_0001);
        ide.set_wmask32(0x20, 0x0000_fff0);
        ide.writable(0x40, 0x100);

        // Function 2: USB; USBBA (BAR4) is a 32-byte I/O BAR, INTD.
        let mut usb = PciFunction::new(PIIX4_DEV, 2, 0x8086, 0x7112, 0x0c_0300, 0x01);
        usb.set16(0x06, 0x0280);
        usb.set32(0x20, 0x0000_0001);
        usb.set_wmask32(0x20, 0x0000_ffe0);
        usb.config[0x3d] = 0x04;
        usb.writable(0x40, 0x100);
        usb.config[0x60] = 0x10; // SBRNUM: USB 1.0

        // Function 3: power management; PMBA and SMBBA as QEMU's Malta sets
        // them (0x1000 and 0x1100), both enabled.
        let mut pm = PciFunction::new(PIIX4_DEV, 3, 0x8086, 0x7113, 0x06_8000, 0x03);
        pm.set16(0x06, 0x0280);
        pm.config[0x3d] = 0x01;
        pm.writable(0x40, 0x100);
        pm.set32(0x40, 0x0000_1001); // PMBA
        pm.set_wmask32(0x40, 0x0000_ffc0);
        pm.config[0x80] = 0x01; // PMREGMISC: PM I/O enabled
        pm.set32(0x90, 0x0000_1101); // SMBBA
        pm.set_wmask32(0x90, 0x0000_fff0);
        pm.config[0xd2] = 0x09; // SMBHSTCFG: enabled, IRQ 9

        vec![gt, isa, ide, usb, pm]
    }

    /// Physical base of the register window (from ISD).
    pub fn base(&self) -> u32 {
        (self.reg(GT_ISD) & 0x7fff) << 21
    }

    /// The CPU-side physical range that reaches PCI0 I/O space (port 0 is
    /// at its start), from PCI0IOLD/HD: `(base, size)`, size 0 if the
    /// decoder is empty.
    pub fn pci0_io_window(&self) -> (u32, u32) {
        let ld = self.reg(GT_PCI0IOLD);
        let hd = self.reg(GT_PCI0IOHD);
        let base = ld << 21;
        let low = ld & 0x7f;
        let size = if low <= hd { (hd + 1 - low) << 21 } else { 0 };
        (base, size)
    }

    /// The I/O range `(base, size)` a bus-0 function's I/O BAR at
    /// configuration offset `bar` decodes, if I/O decoding (command bit 0)
    /// is on and the BAR is an assigned I/O BAR.
    pub fn io_bar(&self, dev: u8, func: u8, bar: usize) -> Option<(u32, u32)> {
        let f = self
            .functions
            .iter()
            .find(|f| f.dev == dev && f.func == func)?;
        let v = f.read(bar, 4);
        let mask = u32::from_le_bytes([
            f.wmask[bar],
            f.wmask[bar + 1],
            f.wmask[bar + 2],
            f.wmask[bar + 3],
        ]);
        let base = v & !3;
        (f.config[0x04] & 1 != 0 && v & 1 != 0 && base != 0).then(|| {
            // The size is the lowest writable address bit.
            let m = mask & !3;
            (base, m & m.wrapping_neg())
        })
    }

    fn reg(&self, off: u32) -> u32 {
        self.regs[(off / 4) as usize]
    }

    /// Applies the register writes YAMON (and QEMU's boot loader) does
    /// before starting a kernel: the window moves to [`YAMON_BASE`], PCI0
    /// I/O to `0x1800_0000..0x1820_0000`, PCI0 memory 0 to
    /// `0x1000_0000..0x1800_0000`, memory 1 to `0x1820_0000..0x1be0_0000`,
    /// and the PIIX4 routes PCI INTA-D to IRQ 10, 10, 11, 11.
    pub fn yamon_setup(&mut self) {
        let w = |s: &mut Self, off: u32, v: u32| s.write(off, 4, v);
        w(self, GT_ISD, YAMON_BASE >> 21);
        w(self, GT_PCI0IOLD, 0x1800_0000 >> 21);
        w(self, GT_PCI0IOHD, 0x40);
        w(self, GT_PCI0M0LD, 0x1000_0000 >> 21);
        w(self, GT_PCI0M0HD, 0x3f);
        w(self, GT_PCI0M1LD, 0x1820_0000 >> 21);
        w(self, GT_PCI0M1HD, 0x5e);
        w(
            self,
            GT_PCI0_CFGADDR,
            CFG_ENABLE | u32::from(PIIX4_DEV) << 11 | 0x60,
        );
        w(self, GT_PCI0_CFGDATA, u32::from_le_bytes([10, 10, 11, 11]));
    }

    fn find(&mut self, addr: u32) -> Option<&mut PciFunction> {
        if addr & CFG_ENABLE == 0 || (addr >> 16) & 0xff != 0 {
            return None;
        }
        let dev = ((addr >> 11) & 0x1f) as u8;
        let func = ((addr >> 8) & 7) as u8;
        self.functions
            .iter_mut()
            .find(|f| f.dev == dev && f.func == func)
    }

    fn cpu_swap(&self, v: u32) -> u32 {
        if self.reg(GT_CPU) & CPU_ENDIAN_LITTLE != 0 {
            v
        } else {
            v.swap_bytes()
        }
    }

    fn data_swapped(&self) -> bool {
        self.reg(GT_PCI0_CMD) & CMD_MBYTESWAP == 0
    }

    /// Extracts an access of `size` bytes at byte `lane` of a
    /// little-endian word.
    fn lane(word: u32, lane: u32, size: u32) -> u32 {
        let v = word >> (8 * lane);
        match size {
            1 => v & 0xff,
            2 => v & 0xffff,
            _ => v,
        }
    }

    /// Reads `size` (1, 2, 4) bytes at `offset` in the window. A read of
    /// `GT_PCI0_IACK` runs an interrupt-acknowledge cycle on `pic` and
    /// returns the vector.
    pub fn read(&mut self, offset: u32, size: u32, pic: &mut (impl InterruptAck + ?Sized)) -> u32 {
        let offset = offset & (WINDOW - 1);
        let word = offset & !3;
        let lane = offset & 3;
        match word {
            GT_PCI0_CFGADDR => Self::lane(self.cfg_addr, lane, size),
            GT_PCI0_CFGDATA => {
                let addr = self.cfg_addr;
                let swapped = self.data_swapped();
                match self.find(addr) {
                    Some(f) if !swapped => f.read((addr & 0xfc | lane) as usize, size),
                    Some(f) => {
                        Self::lane(f.read((addr & 0xfc) as usize, 4).swap_bytes(), lane, size)
                    }
                    None => Self::lane(0xffff_ffff, lane, size),
                }
            }
            _ => {
                let v = match word {
                    GT_PCI0_IACK => u32::from(pic.acknowledge()),
                    GT_PCI0SYNC | 0x0c8 => 0xc000_ffee,
                    _ => self.reg(word),
                };
                Self::lane(self.cpu_swap(v), lane, size)
            }
        }
    }

    /// Writes `size` (1, 2, 4) bytes of `value` at `offset` in the window.
    pub fn write(&mut self, offset: u32, size: u32, value: u32) {
        let offset = offset & (WINDOW - 1);
        let word = offset & !3;
        let lane = offset & 3;
        let (mask, shifted) = match size {
            1 => (0xffu32 << (8 * lane), (value & 0xff) << (8 * lane)),
            2 => (0xffffu32 << (8 * lane), (value & 0xffff) << (8 * lane)),
            _ => (u32::MAX, value),
        };
        match word {
            GT_PCI0_CFGADDR => self.cfg_addr = (self.cfg_addr & !mask) | (shifted & mask),
            GT_PCI0_CFGDATA => {
                let addr = self.cfg_addr;
                let swapped = self.data_swapped();
                if let Some(f) = self.find(addr) {
                    if swapped {
                        let reg = (addr & 0xfc) as usize;
                        let old = f.read(reg, 4).swap_bytes();
                        let new = ((old & !mask) | (shifted & mask)).swap_bytes();
                        f.write(reg, 4, new);
                    } else {
                        f.write((addr & 0xfc | lane) as usize, size, value);
                    }
                }
            }
            _ => {
                let old = self.cpu_swap(self.reg(word));
                let v = self.cpu_swap((old & !mask) | (shifted & mask));
                self.write_reg(word, v);
            }
        }
    }

    fn write_reg(&mut self, word: u32, v: u32) {
        let slot = (word / 4) as usize;
        match word {
            GT_PCI0IOLD | GT_PCI0M0LD | GT_PCI0M1LD | 0x090 | 0x0a0 | 0x0b0 => {
                self.regs[slot] = v & 0x7fff;
                // The remap register follows the low decode.
                let remap = match word {
                    GT_PCI0IOLD => GT_PCI0IOREMAP,
                    GT_PCI0M0LD => GT_PCI0M0REMAP,
                    GT_PCI0M1LD => GT_PCI0M1REMAP,
                    0x090 => 0x108,
                    0x0a0 => 0x110,
                    _ => 0x118,
                };
                self.regs[(remap / 4) as usize] = v & 0x7ff;
            }
            GT_PCI0IOHD | GT_PCI0M0HD | GT_PCI0M1HD | 0x098 | 0x0a8 | 0x0b8 => {
                self.regs[slot] = v & 0x7f;
            }
            GT_ISD => self.regs[slot] = v & 0x7fff,
            GT_PCI0IOREMAP | GT_PCI0M0REMAP | GT_PCI0M1REMAP | 0x108 | 0x110 | 0x118 => {
                self.regs[slot] = v & 0x7ff;
            }
            GT_PCI0_CMD | 0xc80 => self.regs[slot] = v & 0x0401_fc0f,
            // Read-only: GT_MULTI, CPU error report, sync barriers, ECC,
            // the IACK registers.
            0x120 | 0x070 | 0x078 | 0x128 | 0x130 | 0x138 | GT_PCI0SYNC | 0x0c8 | 0x480 | 0x484
            | 0x488 | 0x48c | 0x490 | 0xc30 | GT_PCI0_IACK => {}
            0xc18 => {
                // INTRCAUSE: writing 0 clears a cause bit; bit 0 summarises.
                let c = self.regs[slot] & (v | 1) & !1;
                self.regs[slot] = c | u32::from(c != 0);
            }
            0xc1c => self.regs[slot] = v & 0x3c3f_fffe,
            0xc24 => self.regs[slot] = v & 0x03ff_fffe,
            0xc28 => self.regs[slot] = v & 0x3f,
            _ => self.regs[slot] = v,
        }
    }
}

/// On the bus: offsets are from the register window's base, which the
/// GT places itself ([`Window::Own`], from ISD); it also decodes the PCI
/// functions' I/O BARs ([`Window::PciIo`]).
impl Device for Gt64120 {
    fn read(&mut self, offset: u32, size: u32, intc: &mut dyn InterruptAck) -> u32 {
        Gt64120::read(self, offset, size, intc)
    }

    fn write(&mut self, offset: u32, size: u32, value: u32) {
        Gt64120::write(self, offset, size, value);
    }

    fn window(&self, window: Window) -> Option<(u32, u32)> {
        match window {
            Window::Own => Some((self.base(), WINDOW)),
            Window::PciIo { dev, func, bar } => self.io_bar(dev, func, usize::from(bar)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An acknowledge source that returns a fixed vector and counts cycles.
    struct FakePic(u8, u32);

    impl InterruptAck for FakePic {
        fn acknowledge(&mut self) -> u8 {
            self.1 += 1;
            self.0
        }
    }

    fn cfg_read(gt: &mut Gt64120, dev: u32, func: u32, reg: u32) -> u32 {
        gt.write(GT_PCI0_CFGADDR, 4, CFG_ENABLE | dev << 11 | func << 8 | reg);
        gt.read(GT_PCI0_CFGDATA, 4, &mut FakePic(0, 0))
    }

    #[test]
    fn config_cycles_read_ids() {
        let mut gt = Gt64120::new();
        // Linux's little-endian setting.
        gt.write(GT_PCI0_CMD, 4, CMD_MBYTESWAP | CMD_SBYTESWAP);
        assert_eq!(cfg_read(&mut gt, 0, 0, 0), 0x4620_11ab);
        assert_eq!(cfg_read(&mut gt, 0, 0, 8) >> 8, 0x06_0000);
        assert_eq!(cfg_read(&mut gt, 10, 0, 0), 0x7110_8086);
        assert_eq!(cfg_read(&mut gt, 10, 1, 0), 0x7111_8086);
        assert_eq!(cfg_read(&mut gt, 10, 2, 0), 0x7112_8086);
        assert_eq!(cfg_read(&mut gt, 10, 3, 0), 0x7113_8086);
        assert_eq!(
            cfg_read(&mut gt, 10, 0, 0x0c) >> 16 & 0xff,
            0x80,
            "multi-function"
        );
        assert_eq!(cfg_read(&mut gt, 10, 3, 0x08) >> 8, 0x06_8000);
    }

    #[test]
    fn absent_devices_read_all_ones() {
        let mut gt = Gt64120::new();
        assert_eq!(cfg_read(&mut gt, 1, 0, 0), 0xffff_ffff);
        assert_eq!(cfg_read(&mut gt, 10, 4, 0), 0xffff_ffff);
        assert_eq!(cfg_read(&mut gt, 0, 1, 0), 0xffff_ffff);
        assert_eq!(cfg_read(&mut gt, 31, 7, 0), 0xffff_ffff);
        gt.write(GT_PCI0_CFGADDR, 4, CFG_ENABLE | 1 << 16);
        assert_eq!(
            gt.read(GT_PCI0_CFGDATA, 4, &mut FakePic(0, 0)),
            0xffff_ffff,
            "bus 1"
        );
        gt.write(GT_PCI0_CFGADDR, 4, 0);
        assert_eq!(
            gt.read(GT_PCI0_CFGDATA, 4, &mut FakePic(0, 0)),
            0xffff_ffff,
            "disabled"
        );
    }

    #[test]
    fn sub_word_config_access_and_bar_sizing() {
        let mut gt = Gt64120::new();
        gt.write(GT_PCI0_CFGADDR, 4, CFG_ENABLE | 10 << 11 | 2 << 8);
        assert_eq!(gt.read(GT_PCI0_CFGDATA + 2, 2, &mut FakePic(0, 0)), 0x7112);
        assert_eq!(gt.read(GT_PCI0_CFGDATA + 1, 1, &mut FakePic(0, 0)), 0x80);
        // Size the USB I/O BAR.
        gt.write(GT_PCI0_CFGADDR, 4, CFG_ENABLE | 10 << 11 | 2 << 8 | 0x20);
        gt.write(GT_PCI0_CFGDATA, 4, 0xffff_ffff);
        assert_eq!(gt.read(GT_PCI0_CFGDATA, 4, &mut FakePic(0, 0)), 0x0000_ffe1);
        gt.write(GT_PCI0_CFGDATA, 4, 0x1040);
        assert_eq!(gt.read(GT_PCI0_CFGDATA, 4, &mut FakePic(0, 0)), 0x1041);
        // Vendor ID is read-only.
        gt.write(GT_PCI0_CFGADDR, 4, CFG_ENABLE | 10 << 11);
        gt.write(GT_PCI0_CFGDATA, 2, 0x1234);
        assert_eq!(gt.read(GT_PCI0_CFGDATA, 2, &mut FakePic(0, 0)), 0x8086);
    }

    #[test]
    fn byte_swapped_config_data() {
        let mut gt = Gt64120::new();
        gt.write(GT_PCI0_CMD, 4, 0);
        assert_eq!(cfg_read(&mut gt, 0, 0, 0), 0xab11_2046);
    }

    #[test]
    fn register_window_relocates_through_isd() {
        let mut gt = Gt64120::new();
        assert_eq!(gt.base(), RESET_BASE);
        gt.yamon_setup();
        assert_eq!(gt.base(), YAMON_BASE);
        assert_eq!(gt.read(GT_ISD, 4, &mut FakePic(0, 0)), 0xdf);
        assert_eq!(gt.pci0_io_window(), (0x1800_0000, 0x20_0000));
        assert_eq!(gt.read(GT_PCI0M0LD, 4, &mut FakePic(0, 0)), 0x80);
        // The remap register follows the low decode, as QEMU has it; Linux
        // then clears the overlapping bits ("fix up for Atlas").
        assert_eq!(gt.read(GT_PCI0IOREMAP, 4, &mut FakePic(0, 0)), 0xc0);
        assert_eq!(cfg_read(&mut gt, 10, 0, 0x60), 0x0b0b_0a0a, "PIRQ routing");
    }

    #[test]
    fn iack_register_runs_an_acknowledge_cycle() {
        let mut gt = Gt64120::new();
        let mut pic = FakePic(0x0e, 0);
        assert_eq!(gt.read(GT_PCI0_IACK, 4, &mut pic) & 0xff, 0x0e);
        assert_eq!(pic.1, 1);
        gt.write(GT_PCI0_IACK, 4, 0x55);
        assert_eq!(pic.1, 1, "writes do nothing");
    }

    #[test]
    fn iack_through_real_pics() {
        use super::super::i8259::{DualPic, MASTER_CMD, MASTER_DATA};
        let mut gt = Gt64120::new();
        let mut pic = DualPic::new();
        for v in [0x11, 0x00, 0x04, 0x01] {
            let port = if v == 0x11 { MASTER_CMD } else { MASTER_DATA };
            pic.write(port, 1, v);
        }
        pic.set_irq(4, true);
        assert_eq!(gt.read(GT_PCI0_IACK, 4, &mut pic) & 0xff, 4);
        assert!(!pic.irq(), "in service");
    }

    #[test]
    fn cpu_endianness_bit_swaps_register_values() {
        let mut gt = Gt64120::new();
        gt.write(GT_CPU, 4, 0);
        assert_eq!(gt.read(GT_ISD, 4, &mut FakePic(0, 0)), 0xa000_0000);
        gt.write(GT_ISD, 4, 0xdf00_0000);
        assert_eq!(gt.base(), YAMON_BASE);
    }

    #[test]
    fn sync_and_sub_word_register_reads() {
        let mut gt = Gt64120::new();
        assert_eq!(gt.read(GT_PCI0SYNC, 4, &mut FakePic(0, 0)), 0xc000_ffee);
        assert_eq!(gt.read(GT_ISD, 1, &mut FakePic(0, 0)), 0xa0);
        assert_eq!(gt.read(GT_ISD + 1, 1, &mut FakePic(0, 0)), 0x00);
        gt.write(GT_ISD, 1, 0xdf);
        assert_eq!(gt.base(), YAMON_BASE);
    }
}
