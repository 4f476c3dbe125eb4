//! Devices on the machine's bus, and the one trait a board reaches them
//! through ([`Device`]): sized reads and writes at offsets from the start
//! of the device's range, its time (`tick`, `next_event`), its interrupt
//! line, the events it raises (power-off, reset) and, for a device that
//! has one, a console. A board ([`super::board`]) puts devices at physical
//! ranges and wires their lines; neither the machine nor the monitor ever
//! names a device type.
//!
//! A device's own inherent methods (a UART's `read(offset) -> u8`, the
//! PIC's `set_irq`) are its register-level model and its unit tests'
//! interface; its `Device` implementation adapts them to the bus.

pub mod gt64120;
pub mod i8254;
pub mod i8259;
pub mod malta_fpga;
pub mod mc146818;
pub mod piix4_pm;
pub mod piix4_usb;
pub mod uart;

use crate::snapshot::SnapshotError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Something a device asks of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BoardEvent {
    /// Power the board off (Malta: PIIX4 soft-off).
    PowerOff,
    /// Reset the board (Malta: FPGA SOFTRES).
    Reset,
}

/// Something that runs an interrupt-acknowledge cycle and returns the
/// vector (the GT-64120's IACK register reads through this).
pub trait InterruptAck {
    /// Runs an interrupt-acknowledge cycle; returns the vector byte.
    fn acknowledge(&mut self) -> u8;
}

/// A board's interrupt controller: the device the lines wired
/// [`Line::Intc`] drive, and the acknowledge cycle other devices run on it.
pub trait InterruptController: InterruptAck {
    /// Drives input `irq` to `level`.
    fn set_irq(&mut self, irq: u8, level: bool);
}

/// The acknowledge cycle on a board without an interrupt controller (or
/// of the controller on itself): nothing answers, the byte reads all-ones.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoInterruptController;

impl InterruptAck for NoInterruptController {
    fn acknowledge(&mut self) -> u8 {
        0xff
    }
}

/// Where a device's interrupt line goes (the board's wiring).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// Nowhere.
    None,
    /// CPU hardware interrupt `n` (0..6): Cause.IP(n + 2).
    Cpu(u8),
    /// Input `n` of the board's interrupt controller.
    Intc(u8),
}

/// A register window that a device places (instead of the board): its own
/// registers, wherever its configuration moves them, or a PCI function's
/// BAR, which the host bridge that holds the configuration space decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The device's own register window.
    Own,
    /// The I/O BAR at configuration offset `bar` of PCI function
    /// `dev.func` on bus 0, in PCI I/O space (port numbers).
    PciIo {
        /// Device number.
        dev: u8,
        /// Function number.
        func: u8,
        /// Configuration-space offset of the BAR.
        bar: u8,
    },
}

/// A device on a board's bus, as the board reaches it. Accesses are
/// offset-relative (the board subtracts the range's base, and may scale
/// the offset for registers spaced wider than a byte) and sized: `size` is
/// 1, 2 or 4 bytes, the value in the low bytes. Every method but `read` and
/// `write` has a default for a device without that feature.
pub trait Device: DeviceClone + DeviceState + std::fmt::Debug + Send {
    /// Reads `size` bytes at `offset`. `intc` is the board's interrupt
    /// controller, for a device that runs an acknowledge cycle on it.
    fn read(&mut self, offset: u32, size: u32, intc: &mut dyn InterruptAck) -> u32;

    /// Writes the low `size` bytes of `value` at `offset`.
    fn write(&mut self, offset: u32, size: u32, value: u32);

    /// Whether it has clocks: the board advances (`tick`) and asks
    /// (`next_event`) only the devices that do.
    fn keeps_time(&self) -> bool {
        false
    }

    /// Advances the device's clocks to tick `now` (never backwards).
    fn tick(&mut self, _now: u64) {}

    /// The tick of its next timer edge, if it has a timer running.
    fn next_event(&self) -> Option<u64> {
        None
    }

    /// The level of its interrupt line.
    fn irq(&self) -> bool {
        false
    }

    /// How many rising edges its line had since the last call that a
    /// sample of the level may have missed (a timer pulsing between two
    /// accesses): the board turns them into a pulse on the line.
    fn take_edges(&mut self) -> u64 {
        0
    }

    /// Takes what it asks of the machine, if anything (it may ask on a
    /// write or, for a device with clocks, on a tick).
    fn take_event(&mut self) -> Option<BoardEvent> {
        None
    }

    /// Appends the bytes it transmitted since the last call (a UART, on a
    /// write) to `out`; the board keeps those of its console and drops
    /// the others'.
    fn drain_output(&mut self, _out: &mut Vec<u8>) {}

    /// Queues received bytes (a UART); returns how many it took.
    fn push_input(&mut self, _bytes: &[u8]) -> usize {
        0
    }

    /// Received bytes not read yet.
    fn input_len(&self) -> usize {
        0
    }

    /// Whether its receive interrupt is enabled (a driver reads it).
    fn wants_input(&self) -> bool {
        false
    }

    /// Where `window` is now, `(base, size)`, for a device that places
    /// it ([`Window`]); `None` when it is not decoded (or not this
    /// device's to place).
    fn window(&self, _window: Window) -> Option<(u32, u32)> {
        None
    }

    /// For spin inference: if a read of `size` bytes at `offset` now has
    /// no side effect and returns a value that only the passing of time
    /// changes, the earliest tick at which it may read differently
    /// (`None`, the default: unknown, or something other than time can
    /// change it, or reading changes the device). Asked right after such
    /// a read, at the same tick.
    fn stable_until(&self, _offset: u32, _size: u32) -> Option<u64> {
        None
    }

    /// The device as an interrupt controller, if it is one.
    fn interrupt_controller(&mut self) -> Option<&mut dyn InterruptController> {
        None
    }
}

/// Cloning a boxed device (every device is plain data).
pub trait DeviceClone {
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn Device>;
}

impl<T: Device + Clone + 'static> DeviceClone for T {
    fn clone_box(&self) -> Box<dyn Device> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Device> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// A device's state in a snapshot ([`crate::snapshot`]): every device is
/// plain data that serde encodes, so its whole state is saved and loaded
/// (registers, FIFOs, clocks), and a field added to a device is saved
/// without more code.
pub trait DeviceState {
    /// The device's state, encoded.
    fn save_state(&self) -> Vec<u8>;
    /// Replaces the device's state with one [`DeviceState::save_state`]
    /// encoded (from a device of the same type).
    fn load_state(&mut self, bytes: &[u8]) -> Result<(), SnapshotError>;
}

impl<T: Serialize + DeserializeOwned> DeviceState for T {
    fn save_state(&self) -> Vec<u8> {
        // Encoding plain data into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        *self = postcard::from_bytes(bytes)
            .map_err(|e| SnapshotError::Decode(format!("device state: {e}")))?;
        Ok(())
    }
}

/// `size` bytes of all-ones: what a read nothing answers returns.
pub fn all_ones(size: u32) -> u32 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        _ => u32::MAX,
    }
}
