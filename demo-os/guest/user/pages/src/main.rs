//! The TLB stress: in each of `work` passes it grows the heap by
//! [`PAGES`] pages, twice what the 32-entry TLB maps (64 even/odd pairs for
//! 32 entries), and visits them in [`ROUNDS`] rounds in an order that
//! defeats locality, so most visits take a TLB refill (and the first visit
//! to a page a demand-zero fault).
//!
//! Each round writes a few words on every page, visiting the pages with
//! one odd stride (coprime with [`PAGES`], so each page once, and no two
//! consecutive visits in the same pair), then reads them all back with
//! another stride and checks them. The words a round uses were never
//! written before, so they must still read as zero, and the previous
//! round's words must still hold its pattern: a page that was lost or
//! zeroed again behind the program's back is caught. At the end of a pass
//! the heap shrinks back, so the kernel unmaps every page, and the next
//! pass starts on fresh demand-zero pages with its own patterns. The
//! result is a checksum over every pattern read back.
#![no_std]
#![no_main]

use demo_rt::{println, sbrk};

/// The heap pages touched.
const PAGES: usize = 128;

/// The rounds of a pass.
const ROUNDS: usize = 4;

/// The page size.
const PAGE: usize = 4096;

/// The words of a page.
const WORDS: usize = PAGE / 4;

/// The words each round uses on a page, [`WORD_STEP`] apart.
const SAMPLES: usize = 8;

/// The distance in words between a round's words on a page.
const WORD_STEP: usize = WORDS / SAMPLES;

/// The page strides: round `r` writes with `STRIDES[r]` and reads back
/// with `STRIDES[r + 1]`. All odd, so coprime with [`PAGES`].
const STRIDES: [usize; ROUNDS + 1] = [37, 91, 53, 75, 29];

// Every round's words on a page are distinct.
const _: () = assert!(ROUNDS * 4 <= WORD_STEP);
const _: () = assert!(PAGES.is_power_of_two());

demo_rt::entry!(main);

fn main(work: u32) -> i32 {
    let rounds = ROUNDS * work as usize;
    println!("pages: touching {PAGES} heap pages in {rounds} scattered rounds");
    let mut sum = 0u32;
    for pass in 0..work {
        match run(pass) {
            Ok(pass_sum) => sum = sum.wrapping_add(pass_sum),
            Err(message) => {
                println!("pages: failed in pass {pass}: {message}");
                return -1;
            }
        }
    }
    let result = (sum & 0x7fff_ffff) as i32;
    println!("pages: {rounds} rounds over {PAGES} pages verified, checksum {result}");
    result
}

/// One pass: grows the heap, runs every round, shrinks the heap back, and
/// returns the pass's checksum.
fn run(pass: u32) -> Result<u32, &'static str> {
    let bytes = (PAGES * PAGE) as i32;
    let base = sbrk(bytes).map_err(|_| "sbrk could not grow the heap")? as *mut u32;
    // SAFETY: the kernel just gave us `PAGES` pages at `base`; nothing else
    // refers to them until the heap shrinks below.
    let heap = unsafe { core::slice::from_raw_parts_mut(base, PAGES * WORDS) };
    let mut sum = 0u32;
    for round in 0..ROUNDS {
        write_round(heap, pass, round)?;
        sum = sum.wrapping_add(read_round(heap, pass, round)?);
    }
    sbrk(-bytes).map_err(|_| "sbrk could not shrink the heap")?;
    Ok(sum)
}

/// Visits every page with `round`'s write stride: checks that `round`'s
/// words are still zero and the previous round's still hold its pattern,
/// then writes `round`'s pattern.
fn write_round(heap: &mut [u32], pass: u32, round: usize) -> Result<(), &'static str> {
    for page in visits(STRIDES[round], round) {
        let words = &mut heap[page * WORDS..(page + 1) * WORDS];
        for sample in 0..SAMPLES {
            if words[offset(round, sample)] != 0 {
                return Err("an untouched heap word was not zero");
            }
            if round > 0 {
                let previous = offset(round - 1, sample);
                if words[previous] != pattern(pass, round - 1, page, previous) {
                    return Err("a heap page lost the previous round's pattern");
                }
            }
            let at = offset(round, sample);
            words[at] = pattern(pass, round, page, at);
        }
    }
    Ok(())
}

/// Visits every page with the next round's stride, checks `round`'s words
/// and returns their sum.
fn read_round(heap: &[u32], pass: u32, round: usize) -> Result<u32, &'static str> {
    let mut sum = 0u32;
    for page in visits(STRIDES[round + 1], round + PAGES / 2) {
        let words = &heap[page * WORDS..(page + 1) * WORDS];
        for sample in 0..SAMPLES {
            let at = offset(round, sample);
            if words[at] != pattern(pass, round, page, at) {
                return Err("a heap page did not keep its pattern");
            }
            sum = sum.wrapping_add(words[at].rotate_left(page as u32 % 32));
        }
    }
    Ok(sum)
}

/// The pages in visiting order: every page once, `stride` apart, from
/// page `start`.
fn visits(stride: usize, start: usize) -> impl Iterator<Item = usize> {
    (0..PAGES).map(move |i| (start + i * stride) % PAGES)
}

/// The word index of `round`'s `sample` on a page.
const fn offset(round: usize, sample: usize) -> usize {
    sample * WORD_STEP + round * 4
}

/// The word written at index `i` of `page` in `round` of `pass`.
fn pattern(pass: u32, round: usize, page: usize, i: usize) -> u32 {
    ((round as u32) << 24 | (page as u32) << 12 | i as u32).wrapping_mul(0x85EB_CA6B)
        ^ 0x5A5A_5A5A
        ^ pass.wrapping_mul(0x27D4_EB2F)
}
