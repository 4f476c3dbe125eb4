//! The memory job: in each of `work` × [`ROUNDS`] rounds it grows the
//! heap with `sbrk`, checks that every new page reads as zero (demand-zero
//! memory), writes a pattern over it, reads the pattern back, and shrinks
//! the heap again, so the kernel unmaps and frees the pages. Its result is
//! a checksum over every round's pattern. It prints a line per round up to
//! work scale [`VERBOSE_WORK_MAX`], and a summary.
#![no_std]
#![no_main]

use demo_rt::{VERBOSE_WORK_MAX, println, sbrk};

/// The number of rounds at work scale 1.
const ROUNDS: u32 = 4;

/// The page size.
const PAGE: usize = 4096;

/// The words of a page.
const WORDS: usize = PAGE / 4;

/// The words of each page the pattern covers (spread over the page).
const STRIDE: usize = 64;

demo_rt::entry!(main);

fn main(work: u32) -> i32 {
    let rounds = ROUNDS * work;
    let mut total = 0u32;
    for round in 0..rounds {
        // 16, 24, 32, 40 pages, over and over.
        let pages = 16 + 8 * (round % ROUNDS) as usize;
        match run_round(round, pages) {
            Ok(sum) => {
                if work <= VERBOSE_WORK_MAX {
                    println!(
                        "memory: round {round}: {pages} pages zeroed and verified, sum {sum:#010x}"
                    );
                }
                total = total.wrapping_add(sum);
            }
            Err(message) => {
                println!("memory: round {round} failed: {message}");
                return -1;
            }
        }
    }
    let result = (total & 0x7fff_ffff) as i32;
    println!("memory: {rounds} rounds done, checksum {result}");
    result
}

/// Grows the heap by `pages`, checks, fills and verifies them, shrinks it
/// back, and returns the round's sum.
fn run_round(round: u32, pages: usize) -> Result<u32, &'static str> {
    let bytes = (pages * PAGE) as i32;
    let base = sbrk(bytes).map_err(|_| "sbrk could not grow the heap")? as *mut u32;
    let mut sum = 0u32;
    for page in 0..pages {
        // SAFETY: the kernel just gave us `pages` pages at `base`; nothing
        // else refers to them.
        let words = unsafe { core::slice::from_raw_parts_mut(base.add(page * WORDS), WORDS) };
        if words.iter().any(|&w| w != 0) {
            return Err("a new heap page was not zero");
        }
        for (i, word) in words.iter_mut().enumerate().step_by(STRIDE) {
            *word = pattern(round, page, i);
        }
        for (i, word) in words.iter().enumerate().step_by(STRIDE) {
            if *word != pattern(round, page, i) {
                return Err("a heap page did not keep its pattern");
            }
            sum = sum.wrapping_add(*word);
        }
    }
    sbrk(-bytes).map_err(|_| "sbrk could not shrink the heap")?;
    Ok(sum)
}

/// The word written at index `i` of `page` in `round` (rounds 256 apart
/// share their patterns).
fn pattern(round: u32, page: usize, i: usize) -> u32 {
    (round << 24 | (page as u32) << 12 | i as u32).wrapping_mul(0x9E37_79B9)
}
