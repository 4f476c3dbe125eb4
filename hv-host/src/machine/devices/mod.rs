//! Devices on the machine's bus. Each device owns its registers and its
//! interrupt line; the bus ([`super::bus`]) routes physical addresses to it.

pub mod gt64120;
pub mod i8254;
pub mod i8259;
pub mod malta_fpga;
pub mod mc146818;
pub mod piix4_pm;
pub mod uart;
