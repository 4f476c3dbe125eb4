//! Devices on the machine's bus. Each device owns its registers and its
//! interrupt line; the bus ([`super::bus`]) routes physical addresses to it.

pub mod uart;
