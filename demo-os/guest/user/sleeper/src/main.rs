//! The sleeper: announces itself, then sleeps [`NAPS`] times for
//! [`NAP_TICKS`] timer ticks each, printing a line per nap. Its result is
//! the number of naps taken.
#![no_std]
#![no_main]

use demo_rt::{getpid, println, sleep};

/// The number of naps.
const NAPS: i32 = 6;

/// The length of a nap, in timer ticks.
const NAP_TICKS: u32 = 12;

demo_rt::entry!(main);

fn main() -> i32 {
    println!("sleeper: pid {} napping {NAPS} times", getpid());
    for nap in 1..=NAPS {
        sleep(NAP_TICKS);
        println!("sleeper: woke from nap {nap} of {NAPS}");
    }
    NAPS
}
