//! The host side of the SDK: the emulated MIPS32 machine ([`machine`]) and
//! the virtual machine monitor that runs guests on it ([`monitor`]), and
//! the file format that freezes either between two instructions
//! ([`snapshot`]).
//!
//! The machine is deterministic: time inside it is the count of executed
//! instructions, never the host clock, so the same image and flags always
//! give the same instruction count, output and exit code.

pub mod addr;
pub mod machine;
pub mod monitor;
pub mod snapshot;
