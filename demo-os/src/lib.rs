//! The demo guest OS images and the runner's building blocks.
//!
//! The guest kernel and its user programs live in `demo-os/guest/` (their own
//! workspace, built for `mipsel-unknown-none`); this library will export the
//! built images once the guest-side issue lands.
