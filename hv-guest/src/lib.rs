//! What a guest kernel links to detect the monitor and make hypercalls:
//! `detect()` and one safe wrapper per hypercall of `hv-abi`.
//!
//! This crate is `no_std`. Its content lands with the guest-side issue.
#![no_std]
