//! The hypercall interface shared by the monitor (`hv-host`) and guest
//! kernels (`hv-guest`): hypercall numbers, the register convention, error
//! codes, feature bits and the records a hypercall reads from guest memory.
//!
//! This crate is `no_std` so that it builds for the host and for
//! `mipsel-unknown-none` alike. Its content lands with the guest-side issue.
#![no_std]
