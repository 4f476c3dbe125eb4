//! The PIIX4's USB controller (UHCI, PCI function 2) as a stub: its I/O
//! registers, wherever its BAR puts them, read 0 and ignore writes. That
//! is a controller that is stopped, has no ports connected and finishes a
//! reset at once, which is what Linux's PCI quirk checks at boot.

use super::{Device, InterruptAck};

/// Size of the register block (BAR 4).
pub const USB_WINDOW: u32 = 0x20;
/// Configuration-space offset of its I/O BAR.
pub const USB_BAR: u8 = 0x20;
/// Its PCI function number on the PIIX4.
pub const USB_FUNCTION: u8 = 2;

/// The stub.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Piix4Usb;

impl Device for Piix4Usb {
    fn read(&mut self, _offset: u32, _size: u32, _intc: &mut dyn InterruptAck) -> u32 {
        0
    }

    fn write(&mut self, _offset: u32, _size: u32, _value: u32) {}
}
