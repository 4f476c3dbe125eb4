//! QEMU's Malta board (CoreLV: GT-64120 system controller) as Linux sees
//! it. Its map, in the order [`build`] lists it (the first range holding
//! an address decodes it):
//!
//! | physical range              | what |
//! |-----------------------------|------|
//! | `0x0000_0000..RAM size`     | RAM, up to 256 MiB |
//! | `0x1fc0_0000..0x2000_0000`  | boot ROM window: the revision word `0x420` at `0x1fc0_0010` ([`ROM_WORDS`]), zeros elsewhere |
//! | `0x1be0_0000..+4 KiB`       | GT-64120 registers and PCI configuration (wherever its ISD register puts them) |
//! | `0x1800_0000..0x1820_0000`  | PCI/ISA I/O space (port N at `0x1800_0000 + N`, where the boot loader sets the GT's PCI0 I/O window): the ISA devices below, the rest open |
//! | `0x1f00_0900..+0x40`        | the FPGA's CBUS UART, registers 8 bytes apart, on Cause.IP4 |
//! | `0x1f00_0000..0x1f10_0000`  | the FPGA |
//! | `0x1000_0000..0x1800_0000`  | PCI memory: no device claims any, open (reads all-ones, writes ignored) |
//! | `0x1e00_0000..0x1e40_0000`  | the monitor flash: open (erased, no CFI answer) |
//! | anything else               | bus error |
//!
//! ISA ports: the PIC pair (`0x20`, `0xa0`, ELCR `0x4d0`), the PIT
//! (`0x40..0x44`, IRQ 0), COM1 (`0x3f8`, IRQ 4: the console, `ttyS0`),
//! COM2 (`0x2f8`, IRQ 3, output dropped), the RTC (`0x70`/`0x71`, IRQ 8),
//! the PIIX4 PM block at [`PMBA`], and a stub of the PIIX4 USB controller
//! at its I/O BAR (reads 0); every other port reads all-ones and ignores
//! writes, as an unclaimed ISA cycle does.
//!
//! Interrupts: the master PIC's INTR is CPU hardware interrupt 0
//! (Cause.IP2), the CBUS UART hardware interrupt 2 (IP4); the CP0 timer
//! stays on IP7.
//!
//! # Time
//! [`TICK_HZ`] is the board's one clock rate: the machine's tick (one per
//! instruction, plus idle ticks in `wait`) is one cycle of CP0 Count, and
//! Count runs at `TICK_HZ`. The RTC, the PIT and the PM timer convert
//! ticks to their own clocks from it, so guest time never depends on the
//! host. Linux measures Count against the RTC's update edges at boot and
//! reports a CPU frequency of twice `TICK_HZ` (Count runs at half the
//! pipeline clock on a real 24K).

use super::BoardKind;
use super::map::{Board, BoardBuilder, Range};
use crate::addr::GuestPhysAddr;
use crate::machine::bus::{LOW_RAM_MAX, ROM_BASE, ROM_SIZE};
use crate::machine::cp0::config::{CONFIG1_24KC, CONFIG3_24KC};
use crate::machine::devices::Line;
use crate::machine::devices::Window;
use crate::machine::devices::gt64120::{Gt64120, PIIX4_DEV};
use crate::machine::devices::i8254::{PIT_BASE, PIT_IRQ, Pit};
use crate::machine::devices::i8259::{DualPic, ELCR_MASTER, MASTER_CMD, SLAVE_CMD};
use crate::machine::devices::malta_fpga::{
    FPGA_BASE, FPGA_WINDOW, MaltaFpga, REVISION_ADDR, REVISION_VALUE,
};
use crate::machine::devices::mc146818::{RTC_INDEX, RTC_IRQ, Rtc};
use crate::machine::devices::piix4_pm::{PM_WINDOW, PMBA, Piix4Pm};
use crate::machine::devices::piix4_usb::{Piix4Usb, USB_BAR, USB_FUNCTION};
use crate::machine::devices::uart::{UART_WINDOW, Uart};
use crate::machine::insn::regs;

/// Ticks per second: the rate of CP0 Count on Malta (Linux reports a CPU
/// clock of twice this).
pub const TICK_HZ: u64 = 100_000_000;
/// Physical address of ISA/PCI I/O port 0.
pub const IO_BASE: u32 = 0x1800_0000;
/// Size of the I/O space window.
pub const IO_SIZE: u32 = 0x20_0000;
/// PCI memory space (no devices).
pub const PCI_MEM_BASE: u32 = 0x1000_0000;
/// End of PCI memory space.
pub const PCI_MEM_END: u32 = 0x1800_0000;
/// The monitor flash.
pub const FLASH_BASE: u32 = 0x1e00_0000;
/// Size of the monitor flash.
pub const FLASH_SIZE: u32 = 4 << 20;
/// COM1, the console.
pub const COM1: u32 = 0x3f8;
/// COM2.
pub const COM2: u32 = 0x2f8;
/// ISA IRQ of COM1.
pub const COM1_IRQ: u8 = 4;
/// ISA IRQ of COM2.
pub const COM2_IRQ: u8 = 3;
/// Offset of the CBUS UART in the FPGA window.
pub const CBUS_UART: u32 = 0x900;
/// Cause bit of the PIC's INTR (hardware interrupt 0, IP2).
pub const CAUSE_IP2: u32 = 1 << 10;
/// Cause bit of the CBUS UART (hardware interrupt 2, IP4).
pub const CAUSE_IP4: u32 = 1 << 12;
/// What the boot ROM holds: the board revision word (QEMU's), which Linux
/// reads as `MIPS_REVISION`.
pub const ROM_WORDS: &[(u32, u32)] = &[(REVISION_ADDR, REVISION_VALUE)];

/// ISA ports `port..port + len`, the device seeing port numbers.
const fn isa_ports(port: u32, len: u32) -> Range {
    Range::new(IO_BASE + port, len).offset(port)
}

/// ISA ports `port..port + len`, the device seeing offsets from `port`.
const fn isa_block(port: u32, len: u32) -> Range {
    Range::new(IO_BASE + port, len)
}

/// The board with `ram_bytes` of RAM (at most 256 MiB), as QEMU's boot
/// loader leaves it: the GT-64120 set up as YAMON does
/// ([`Gt64120::yamon_setup`]), the clocks at tick 0.
pub fn build(ram_bytes: u32) -> Board {
    let mut gt = Gt64120::new();
    gt.yamon_setup();
    let mut b = BoardBuilder::new(BoardKind::Malta);
    b.ram(GuestPhysAddr::new(0), ram_bytes.min(LOW_RAM_MAX))
        .rom(GuestPhysAddr::new(ROM_BASE), ROM_SIZE);
    let gt = b.device("gt64120", gt, Line::None, &[Range::own_window()]);
    let pic = b.device(
        "i8259",
        DualPic::new(),
        Line::Cpu(0),
        &[
            isa_ports(MASTER_CMD, 2),
            isa_ports(SLAVE_CMD, 2),
            isa_ports(ELCR_MASTER, 2),
        ],
    );
    let pit = Pit::new(TICK_HZ);
    b.device("i8254", pit, Line::Intc(PIT_IRQ), &[isa_ports(PIT_BASE, 4)]);
    let com1 = Uart::new();
    let com1 = b.device(
        "com1",
        com1,
        Line::Intc(COM1_IRQ),
        &[isa_block(COM1, UART_WINDOW)],
    );
    let com2 = Uart::new();
    b.device(
        "com2",
        com2,
        Line::Intc(COM2_IRQ),
        &[isa_block(COM2, UART_WINDOW)],
    );
    let rtc = Rtc::new(TICK_HZ);
    b.device(
        "mc146818",
        rtc,
        Line::Intc(RTC_IRQ),
        &[isa_ports(RTC_INDEX, 2)],
    );
    let pm = Piix4Pm::new(TICK_HZ);
    b.device("piix4-pm", pm, Line::None, &[isa_block(PMBA, PM_WINDOW)]);
    let usb = Window::PciIo {
        dev: PIIX4_DEV,
        func: USB_FUNCTION,
        bar: USB_BAR,
    };
    let usb = Range::placed_by(gt, usb, IO_BASE).within(IO_BASE, IO_SIZE);
    b.device("piix4-usb", Piix4Usb, Line::None, &[usb]);
    b.open(GuestPhysAddr::new(IO_BASE), IO_SIZE);
    let cbus = Range::new(FPGA_BASE + CBUS_UART, 8 * UART_WINDOW).shift(3);
    b.device("cbus-uart", Uart::new(), Line::Cpu(2), &[cbus]);
    let fpga = Range::new(FPGA_BASE, FPGA_WINDOW);
    b.device("fpga", MaltaFpga::new(), Line::None, &[fpga]);
    b.open(GuestPhysAddr::new(PCI_MEM_BASE), PCI_MEM_END - PCI_MEM_BASE)
        .open(GuestPhysAddr::new(FLASH_BASE), FLASH_SIZE)
        .interrupt_controller(pic)
        .console(com1)
        .cpu_config(CONFIG1_24KC, CONFIG3_24KC);
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::board::{Decoded, PageKind};
    use crate::machine::devices::BoardEvent;

    fn malta() -> Board {
        build(1 << 20)
    }

    fn slot(b: &Board, pa: u32) -> &'static str {
        b.name_at(GuestPhysAddr::new(pa))
    }

    #[test]
    fn address_decoding() {
        let m = malta();
        assert_eq!(slot(&m, 0x1be0_0c34), "gt64120", "GT after YAMON");
        assert!(matches!(
            m.decode(GuestPhysAddr::new(0x1be0_0c34)),
            Decoded::Device { offset: 0xc34, .. }
        ));
        assert_eq!(
            m.decode(GuestPhysAddr::new(0x1400_0000)),
            Decoded::Open,
            "reset GT base is PCI memory"
        );
        assert_eq!(slot(&m, IO_BASE + 0x3f8), "com1");
        assert!(matches!(
            m.decode(GuestPhysAddr::new(IO_BASE + 0x3fd)),
            Decoded::Device { offset: 5, .. }
        ));
        assert!(matches!(
            m.decode(GuestPhysAddr::new(IO_BASE + 0x21)),
            Decoded::Device { offset: 0x21, .. }
        ));
        assert_eq!(m.decode(GuestPhysAddr::new(IO_BASE + 0x60)), Decoded::Open);
        assert_eq!(
            m.decode(GuestPhysAddr::new(IO_BASE + IO_SIZE)),
            Decoded::None
        );
        assert_eq!(slot(&m, 0x1f00_0500), "fpga");
        assert!(matches!(
            m.decode(GuestPhysAddr::new(0x1f00_0500)),
            Decoded::Device { offset: 0x500, .. }
        ));
        assert!(matches!(
            m.decode(GuestPhysAddr::new(0x1f00_0908)),
            Decoded::Device { offset: 1, .. }
        ));
        assert_eq!(slot(&m, 0x1f00_0908), "cbus-uart");
        assert_eq!(slot(&m, 0x1f00_0940), "fpga");
        assert_eq!(m.decode(GuestPhysAddr::new(0x1e00_0000)), Decoded::Open);
        assert_eq!(m.decode(GuestPhysAddr::new(0x1c00_0000)), Decoded::None);
        assert_eq!(m.decode(GuestPhysAddr::new(0x2000_0000)), Decoded::None);
        assert_eq!(m.page_kind(GuestPhysAddr::new(ROM_BASE)), PageKind::Rom);
        assert_eq!(
            m.page_kind(GuestPhysAddr::new(0x1fd0_03f8)),
            PageKind::Rom,
            "no mipssim UART"
        );
        assert_eq!(m.page_kind(GuestPhysAddr::new(IO_BASE)), PageKind::Io);
        assert_eq!(m.page_kind(GuestPhysAddr::new(0x1c00_0000)), PageKind::None);
    }

    #[test]
    fn unclaimed_ports_read_all_ones() {
        let mut m = malta();
        assert_eq!(m.read(GuestPhysAddr::new(IO_BASE + 0x60), 1, 0), Some(0xff));
        assert_eq!(
            m.read(GuestPhysAddr::new(IO_BASE + 0x1f0), 2, 0),
            Some(0xffff)
        );
        assert_eq!(
            m.read(GuestPhysAddr::new(IO_BASE + 0x500), 4, 0),
            Some(u32::MAX)
        );
        assert!(m.write(GuestPhysAddr::new(IO_BASE + 0x60), 1, 0, 0));
        assert_eq!(
            m.read(GuestPhysAddr::new(0x0c00_0000), 4, 0),
            None,
            "bus error"
        );
        assert!(!m.write(GuestPhysAddr::new(0x0c00_0000), 4, 0, 0));
    }

    #[test]
    fn console_uart_and_its_interrupt() {
        let mut m = malta();
        // Linux's PIC setup: ICW1..4, all unmasked.
        for (port, v) in [(0x20, 0x11), (0x21, 0), (0x21, 4), (0x21, 1), (0x21, 0)] {
            m.write(GuestPhysAddr::new(IO_BASE + port), 1, v, 0);
        }
        for (port, v) in [(0xa0, 0x11), (0xa1, 8), (0xa1, 2), (0xa1, 1), (0xa1, 0)] {
            m.write(GuestPhysAddr::new(IO_BASE + port), 1, v, 0);
        }
        for b in b"hi" {
            m.write(GuestPhysAddr::new(IO_BASE + COM1), 1, u32::from(*b), 0);
        }
        assert_eq!(m.take_output(), b"hi");
        assert_eq!(m.irq_lines(), 0);
        m.write(GuestPhysAddr::new(IO_BASE + COM1 + 1), 1, 1, 0); // IER: receive interrupt
        assert!(m.wants_input());
        assert_eq!(m.push_input(b"x"), 1);
        assert_eq!(m.irq_lines(), CAUSE_IP2);
        // Acknowledge through the GT: the vector is the IRQ.
        assert_eq!(
            m.read(GuestPhysAddr::new(0x1be0_0c34), 4, 0),
            Some(u32::from(COM1_IRQ))
        );
        assert_eq!(
            m.read(GuestPhysAddr::new(IO_BASE + COM1), 1, 0),
            Some(u32::from(b'x'))
        );
        // COM2's and the CBUS UART's output are dropped.
        m.write(GuestPhysAddr::new(IO_BASE + COM2), 1, u32::from(b'2'), 0);
        m.write(
            GuestPhysAddr::new(FPGA_BASE + CBUS_UART),
            1,
            u32::from(b'3'),
            0,
        );
        assert!(m.take_output().is_empty());
    }

    #[test]
    fn cbus_uart_interrupts_on_ip4() {
        let mut m = malta();
        assert_eq!(m.irq_lines() & CAUSE_IP4, 0);
        m.write(GuestPhysAddr::new(FPGA_BASE + CBUS_UART + 8), 1, 2, 0); // IER: THR empty
        assert_eq!(m.irq_lines() & CAUSE_IP4, CAUSE_IP4);
        assert_eq!(
            m.read(GuestPhysAddr::new(FPGA_BASE + CBUS_UART + 16), 1, 0),
            Some(0x02),
            "IIR"
        );
        assert_eq!(m.irq_lines() & CAUSE_IP4, 0);
    }

    #[test]
    fn pit_interrupts_on_irq0_in_ticks() {
        let mut m = malta();
        for (port, v) in [(0x20, 0x11), (0x21, 0), (0x21, 4), (0x21, 1), (0x21, 0)] {
            m.write(GuestPhysAddr::new(IO_BASE + port), 1, v, 0);
        }
        // Mode 2, 1193 PIT clocks: 1 ms = 100_000 ticks at 100 MHz.
        m.write(GuestPhysAddr::new(IO_BASE + 0x43), 1, 0x34, 0);
        m.write(GuestPhysAddr::new(IO_BASE + 0x40), 1, 1193 & 0xff, 0);
        m.write(GuestPhysAddr::new(IO_BASE + 0x40), 1, 1193 >> 8, 0);
        let at = m.next_event().expect("the PIT counts");
        assert!((99_900..=100_000).contains(&at), "{at}");
        m.tick(at - 1);
        assert_eq!(m.irq_lines(), 0);
        m.tick(at);
        assert_eq!(m.irq_lines(), CAUSE_IP2);
        assert_eq!(m.read(GuestPhysAddr::new(0x1be0_0c34), 1, at), Some(0));
    }

    #[test]
    fn usb_registers_follow_their_bar() {
        let mut m = malta();
        let cfg = |m: &mut Board, reg: u32, v: u32| {
            m.write(
                GuestPhysAddr::new(0x1be0_0cf8),
                4,
                0x8000_0000 | 10 << 11 | 2 << 8 | reg,
                0,
            );
            m.write(GuestPhysAddr::new(0x1be0_0cfc), 4, v, 0);
        };
        assert_eq!(
            m.read(GuestPhysAddr::new(IO_BASE + 0x1040), 2, 0),
            Some(0xffff)
        );
        cfg(&mut m, 0x20, 0x1041);
        cfg(&mut m, 0x04, 0x0001);
        assert_eq!(
            m.read(GuestPhysAddr::new(IO_BASE + 0x1040), 2, 0),
            Some(0),
            "USBCMD"
        );
        assert_eq!(m.read(GuestPhysAddr::new(IO_BASE + 0x105f), 1, 0), Some(0));
        assert_eq!(
            m.read(GuestPhysAddr::new(IO_BASE + 0x1060), 1, 0),
            Some(0xff)
        );
        cfg(&mut m, 0x20, 0xffe1);
        assert_eq!(
            m.read(GuestPhysAddr::new(IO_BASE + 0x1040), 2, 0),
            Some(0xffff),
            "moved"
        );
        assert_eq!(m.read(GuestPhysAddr::new(IO_BASE + 0xffff), 1, 0), Some(0));
        cfg(&mut m, 0x04, 0);
        assert_eq!(
            m.read(GuestPhysAddr::new(IO_BASE + 0xffff), 1, 0),
            Some(0xff),
            "I/O off"
        );
    }

    #[test]
    fn the_gt_moves_its_window() {
        let mut m = malta();
        // ISD back to the reset value: the window moves to 0x1400_0000.
        m.write(GuestPhysAddr::new(0x1be0_0068), 4, 0xa0, 0);
        assert_eq!(slot(&m, 0x1400_0000), "gt64120");
        assert_eq!(m.decode(GuestPhysAddr::new(0x1be0_0068)), Decoded::None);
        assert_eq!(m.read(GuestPhysAddr::new(0x1400_0068), 4, 0), Some(0xa0));
    }

    #[test]
    fn power_off_and_reset() {
        let mut m = malta();
        m.write(GuestPhysAddr::new(IO_BASE + PMBA + 4), 2, 0x2000, 0);
        assert_eq!(m.take_event(), Some(BoardEvent::PowerOff));
        m.write(GuestPhysAddr::new(0x1f00_0500), 4, 0x42, 0);
        assert_eq!(m.take_event(), Some(BoardEvent::Reset));
        assert_eq!(m.take_event(), None);
    }
}

/// Physical address of the boot loader's argument and environment tables
/// (QEMU's `ENVP_PADDR`); the kernel sees them in kseg0.
pub const ENVP_PADDR: u32 = 0x2000;
/// Table slots: pointers first, then one string of at most
/// [`ENVP_ENTRY_SIZE`] bytes per slot.
pub const ENVP_ENTRIES: u32 = 16;
/// Bytes per string, with its terminating NUL.
pub const ENVP_ENTRY_SIZE: u32 = 256;
/// The initrd's alignment.
pub const INITRD_ALIGN: u32 = 64 << 10;
/// What QEMU leaves free above the initrd.
pub const INITRD_GAP: u32 = 128 << 10;

/// What to boot Linux with on Malta.
#[derive(Clone, Copy, Debug)]
pub struct LinuxBoot<'a> {
    /// `argv[0]`: the kernel's file name, as QEMU passes it.
    pub kernel_name: &'a str,
    /// The initial ramdisk's bytes, if any.
    pub initrd: Option<&'a [u8]>,
    /// The command line (`-append`).
    pub cmdline: &'a str,
}

/// Errors setting up a Linux boot.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum BootError {
    /// The kernel does not fit in RAM.
    #[error(transparent)]
    Load(#[from] crate::machine::LoadError),
    /// The initrd does not fit between the kernel and the end of RAM.
    #[error(
        "initrd of {size} bytes does not fit in RAM above the kernel (kernel ends at {kernel_end:#x}, RAM at {ram_end:#x})"
    )]
    InitrdDoesNotFit {
        /// The initrd's size.
        size: usize,
        /// First physical address past the kernel.
        kernel_end: u32,
        /// First physical address past RAM.
        ram_end: u32,
    },
    /// A boot string is longer than a table slot holds.
    #[error("boot string of {0} bytes is too long (at most 255 with the rd_start/rd_size prefix)")]
    StringTooLong(usize),
}

/// kseg0 address of physical `pa`.
fn kseg0(pa: u32) -> u32 {
    0x8000_0000 | pa
}

/// Where QEMU's boot loader puts things for Linux, computed once for the
/// native machine and the monitor: the initrd's physical address, the
/// argument/environment table (at [`ENVP_PADDR`]) and the registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxBootPlan {
    /// Where the initrd goes (physical), if there is one.
    pub initrd_at: Option<u32>,
    /// The argv/envp table, to be written at [`ENVP_PADDR`].
    pub table: Vec<u8>,
    /// The registers the kernel starts with: `a0..a3` and `sp`.
    pub regs: [(u8, u32); 5],
}

/// Plans a Linux boot as QEMU's `-kernel`/`-initrd`/`-append` do on Malta,
/// for a board with `ram` bytes of RAM: the initrd at the top of RAM
/// (below a 128 KiB gap, 64 KiB-aligned), `rd_start=0x<kseg0, as a
/// sign-extended 64-bit value> rd_size=<n>` put in front of the command
/// line, and the table at [`ENVP_PADDR`]: `argv` = { kernel name, command
/// line }, `envp` = { `memsize`, RAM size, `ememsize`, RAM size,
/// `modetty0`, `38400n8r`, NULL }, each pointer a kseg0 address. The CPU
/// starts at the entry as QEMU's boot stub leaves it: kernel mode, Status
/// as after reset (BEV, ERL), `a0` = 2, `a1` = argv, `a2` = envp, `a3` =
/// RAM size, `sp` = the table's address - 64.
pub fn plan_linux_boot(
    image: &crate::machine::elf::ElfImage,
    boot: &LinuxBoot<'_>,
    ram: u32,
) -> Result<LinuxBootPlan, BootError> {
    let kernel_end = image
        .segments
        .iter()
        .map(|s| s.paddr.raw() + s.mem_size.max(s.data.len() as u32))
        .max()
        .unwrap_or(0);
    let mut cmdline = boot.cmdline.to_owned();
    let mut initrd_at = None;
    if let Some(initrd) = boot.initrd {
        let too_big = BootError::InitrdDoesNotFit {
            size: initrd.len(),
            kernel_end,
            ram_end: ram,
        };
        let size = u32::try_from(initrd.len()).map_err(|_| too_big.clone())?;
        let at = size
            .checked_add(INITRD_GAP)
            .and_then(|n| ram.checked_sub(n))
            .map(|a| a.next_multiple_of(INITRD_ALIGN))
            .filter(|&a| a > kernel_end && a + size <= ram)
            .ok_or(too_big)?;
        initrd_at = Some(at);
        let rd_start = 0xffff_ffff_0000_0000u64 | u64::from(kseg0(at));
        cmdline = format!("rd_start={rd_start:#x} rd_size={size} {cmdline}");
    }
    let strings = [
        boot.kernel_name.to_owned(),
        cmdline,
        "memsize".into(),
        ram.to_string(),
        "ememsize".into(),
        ram.to_string(),
        "modetty0".into(),
        "38400n8r".into(),
    ];
    let mut table = vec![0u8; (ENVP_ENTRIES * (4 + ENVP_ENTRY_SIZE)) as usize];
    for (i, s) in strings.iter().enumerate() {
        if s.len() >= ENVP_ENTRY_SIZE as usize {
            return Err(BootError::StringTooLong(s.len()));
        }
        let at = 4 * ENVP_ENTRIES + i as u32 * ENVP_ENTRY_SIZE;
        table[4 * i..4 * i + 4].copy_from_slice(&kseg0(ENVP_PADDR + at).to_le_bytes());
        table[at as usize..at as usize + s.len()].copy_from_slice(s.as_bytes());
    }
    Ok(LinuxBootPlan {
        initrd_at,
        table,
        regs: [
            (regs::A0, 2),
            (regs::A1, kseg0(ENVP_PADDR)),
            (regs::A2, kseg0(ENVP_PADDR) + 8),
            (regs::A3, ram),
            (regs::SP, kseg0(ENVP_PADDR) - 64),
        ],
    })
}

impl crate::machine::Machine {
    /// Loads `image` and boots it as Linux on the Malta board, as
    /// [`plan_linux_boot`] says.
    pub fn boot_linux(
        &mut self,
        image: &crate::machine::elf::ElfImage,
        boot: &LinuxBoot<'_>,
    ) -> Result<(), BootError> {
        use crate::addr::MachineAddr;
        self.load_elf(image)?;
        let ram = self.bus.ram_bytes();
        let plan = plan_linux_boot(image, boot, ram)?;
        let fail = || BootError::InitrdDoesNotFit {
            size: boot.initrd.map_or(0, <[u8]>::len),
            kernel_end: 0,
            ram_end: ram,
        };
        if let (Some(at), Some(initrd)) = (plan.initrd_at, boot.initrd) {
            self.bus
                .write_phys(MachineAddr::new(at), initrd)
                .map_err(|_| fail())?;
        }
        self.bus
            .write_phys(MachineAddr::new(ENVP_PADDR), &plan.table)
            .map_err(|_| fail())?;
        self.memory_written_by_host();
        for (reg, value) in plan.regs {
            self.set_gpr(reg, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod boot_tests {
    use super::*;
    use crate::addr::MachineAddr;
    use crate::machine::board::BoardKind;
    use crate::machine::elf::ElfImage;
    use crate::machine::{Machine, MachineConfig};

    fn cstr(m: &Machine, va: u32) -> String {
        let b = m
            .read_phys(MachineAddr::new(va & 0x1fff_ffff), 256)
            .unwrap();
        let n = b.iter().position(|&c| c == 0).unwrap();
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn boot_tables_and_initrd_as_qemu_lays_them_out() {
        let mut m = Machine::with_board(
            MachineConfig {
                ram_bytes: 256 << 20,
            },
            BoardKind::Malta,
        )
        .unwrap();
        let image = ElfImage {
            entry: crate::addr::GuestVirtAddr::new(0x8010_0000),
            segments: vec![crate::machine::elf::Segment {
                vaddr: crate::addr::GuestVirtAddr::new(0x8010_0000),
                paddr: MachineAddr::new(0x0010_0000),
                data: vec![0; 16],
                mem_size: 0x1000,
                executable: true,
            }],
            symbols: Vec::new(),
            linux: None,
        };
        let initrd = vec![0x5a; 1_133_000];
        m.boot_linux(
            &image,
            &LinuxBoot {
                kernel_name: "vmlinuz",
                initrd: Some(&initrd),
                cmdline: "console=ttyS0",
            },
        )
        .unwrap();
        assert_eq!(m.gpr(regs::A0), 2);
        assert_eq!(m.gpr(regs::A3), 256 << 20);
        let argv = m.gpr(regs::A1);
        let word = |va: u32| {
            m.read_machine_u32(MachineAddr::new(va & 0x1fff_ffff))
                .unwrap()
        };
        assert_eq!(cstr(&m, word(argv)), "vmlinuz");
        assert_eq!(
            cstr(&m, word(argv + 4)),
            "rd_start=0xffffffff8fed0000 rd_size=1133000 console=ttyS0",
            "the figures of QEMU's console log"
        );
        let envp = m.gpr(regs::A2);
        assert_eq!(cstr(&m, word(envp)), "memsize");
        assert_eq!(cstr(&m, word(envp + 4)), "268435456");
        assert_eq!(word(envp + 24), 0, "NULL after modetty0");
        assert_eq!(
            m.read_phys(MachineAddr::new(0x0fed_0000), 1).unwrap(),
            [0x5a]
        );
        assert_eq!(
            m.read_machine_u32(MachineAddr::new(0x1fc0_0010)).unwrap(),
            0x420
        );
    }
}
