//! QEMU's `mipssim` board, the default:
//!
//! | physical range            | what                                        |
//! |---------------------------|---------------------------------------------|
//! | `0x0000_0000..RAM size`   | RAM (`--mem`, 1..=256 MiB)                  |
//! | `0x1fd0_03f8..+8`         | 16550 UART (the console), interrupt on Cause.IP4 |
//! | `0x1fc0_0000..0x2000_0000`| boot ROM window, 4 MiB, reads zero, writes ignored |
//! | anything else             | bus error (IBE on fetch, DBE on data)       |
//!
//! The UART lies inside the ROM window's address range and takes
//! precedence there, as on the board: the rest of its page is ROM.
//!
//! The monitor's own machine ([`crate::machine::Machine::for_monitor`]) is
//! a `mipssim` with more RAM than fits below the I/O hole: the part past
//! [`LOW_RAM_MAX`] appears at [`HIGH_RAM_BASE`] and up.

use super::BoardKind;
use super::map::{Board, BoardBuilder, Range};
use crate::addr::GuestPhysAddr;
use crate::machine::bus::{HIGH_RAM_BASE, LOW_RAM_MAX, ROM_BASE, ROM_SIZE, UART_BASE};
use crate::machine::devices::Line;
use crate::machine::devices::uart::{UART_WINDOW, Uart};

/// The board with `ram_bytes` of RAM.
pub fn build(ram_bytes: u32) -> Board {
    let low = ram_bytes.min(LOW_RAM_MAX);
    let mut b = BoardBuilder::new(BoardKind::Mipssim);
    b.ram(GuestPhysAddr::new(0), low);
    let uart = b.device(
        "uart",
        Uart::new(),
        Line::Cpu(2),
        &[Range::new(UART_BASE, UART_WINDOW)],
    );
    b.rom(GuestPhysAddr::new(ROM_BASE), ROM_SIZE);
    if ram_bytes > low {
        b.ram(GuestPhysAddr::new(HIGH_RAM_BASE), ram_bytes - low);
    }
    b.console(uart);
    b.build()
}
