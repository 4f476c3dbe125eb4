//! The sleeper: announces itself, then sleeps `work` × [`NAPS`] times for
//! [`NAP_TICKS`] timer ticks each, printing a line per nap up to work scale
//! [`VERBOSE_WORK_MAX`] (above it, only after the last nap). Its result is
//! the number of naps taken.
#![no_std]
#![no_main]

use demo_rt::{VERBOSE_WORK_MAX, getpid, println, sleep};

/// The number of naps at work scale 1.
const NAPS: u32 = 6;

/// The length of a nap, in timer ticks.
const NAP_TICKS: u32 = 12;

demo_rt::entry!(main);

fn main(work: u32) -> i32 {
    let naps = NAPS * work;
    println!("sleeper: pid {} napping {naps} times", getpid());
    for nap in 1..=naps {
        sleep(NAP_TICKS);
        if work <= VERBOSE_WORK_MAX || nap == naps {
            println!("sleeper: woke from nap {nap} of {naps}");
        }
    }
    naps as i32
}
