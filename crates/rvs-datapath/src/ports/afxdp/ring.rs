//! Single-producer/single-consumer rings shared with the kernel, and the arithmetic on
//! their free-running indices.
//!
//! Producer and consumer are `u32` counters that only grow (wrapping); an entry's slot is
//! `index & (size - 1)`. We read the other side's counter with acquire ordering and publish
//! ours with release ordering, so entries written before a publish are visible to the
//! kernel. Local copies of both counters avoid touching the shared cache line per entry.

use std::sync::atomic::{AtomicU32, Ordering};

/// Entries the producer may still write: `size - (producer - consumer)`.
#[inline]
pub fn free_entries(producer: u32, consumer: u32, size: u32) -> u32 {
    size.saturating_sub(producer.wrapping_sub(consumer))
}

/// Entries the consumer may read: `producer - consumer`, capped at `size` (a corrupt
/// counter from the other side never makes us read beyond the ring).
#[inline]
pub fn available_entries(producer: u32, consumer: u32, size: u32) -> u32 {
    producer.wrapping_sub(consumer).min(size)
}

/// One ring: pointers into memory the kernel shares (or, in tests, a plain buffer).
pub struct Ring<T: Copy> {
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    entries: *mut T,
    size: u32,
    /// Our counter (producer rings: producer; consumer rings: consumer).
    local: u32,
    /// The other side's counter as last read.
    seen: u32,
}

// SAFETY: the ring's memory is owned by the socket that owns the ring, which moves between
// threads as a whole and is used by one thread at a time.
unsafe impl<T: Copy> Send for Ring<T> {}

impl<T: Copy> Ring<T> {
    /// # Safety
    /// The pointers must be valid, aligned, and live as long as the ring; `entries` holds
    /// `size` entries; `size` is a power of two.
    pub unsafe fn new(
        producer: *const AtomicU32,
        consumer: *const AtomicU32,
        flags: *const AtomicU32,
        entries: *mut T,
        size: u32,
        as_producer: bool,
    ) -> Self {
        // SAFETY: the caller guarantees the counters are valid.
        let (p, c) = unsafe {
            (
                (*producer).load(Ordering::Acquire),
                (*consumer).load(Ordering::Acquire),
            )
        };
        let (local, seen) = if as_producer { (p, c) } else { (c, p) };
        Ring {
            producer,
            consumer,
            flags,
            entries,
            size,
            local,
            seen,
        }
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: valid for the ring's life (see `new`).
        unsafe { &*self.producer }
    }
    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: valid for the ring's life (see `new`).
        unsafe { &*self.consumer }
    }

    /// The ring's flags word (`XDP_RING_NEED_WAKEUP`).
    pub fn flags(&self) -> u32 {
        // SAFETY: valid for the ring's life (see `new`).
        unsafe { (*self.flags).load(Ordering::Relaxed) }
    }

    fn slot(&self, index: u32) -> *mut T {
        // SAFETY: the masked index is inside the `size` entries.
        unsafe { self.entries.add((index & (self.size - 1)) as usize) }
    }

    // --- producer side ---

    /// How many entries may be written now (re-reads the consumer only when needed).
    pub fn free(&mut self, want: u32) -> u32 {
        let f = free_entries(self.local, self.seen, self.size);
        if f >= want {
            return f;
        }
        self.seen = self.consumer().load(Ordering::Acquire);
        free_entries(self.local, self.seen, self.size)
    }

    /// Writes entry `i` of the next batch (not yet visible; `i < free()`).
    pub fn write(&mut self, i: u32, value: T) {
        // SAFETY: the slot is inside the ring and owned by the producer until submit.
        unsafe { self.slot(self.local.wrapping_add(i)).write_volatile(value) }
    }

    /// Publishes `n` written entries.
    pub fn submit(&mut self, n: u32) {
        self.local = self.local.wrapping_add(n);
        self.producer().store(self.local, Ordering::Release);
    }

    /// Entries published and not yet consumed by the other side (producer rings).
    pub fn outstanding(&mut self) -> u32 {
        self.seen = self.consumer().load(Ordering::Acquire);
        self.local.wrapping_sub(self.seen).min(self.size)
    }

    // --- consumer side ---

    /// How many entries can be read now (re-reads the producer only when needed).
    pub fn available(&mut self, want: u32) -> u32 {
        let a = available_entries(self.seen, self.local, self.size);
        if a >= want {
            return a;
        }
        self.seen = self.producer().load(Ordering::Acquire);
        available_entries(self.seen, self.local, self.size)
    }

    /// Reads entry `i` of the available ones (`i < available()`).
    pub fn read(&self, i: u32) -> T {
        // SAFETY: the slot is inside the ring and published by the producer.
        unsafe { self.slot(self.local.wrapping_add(i)).read_volatile() }
    }

    /// Hands `n` read entries back to the producer.
    pub fn release(&mut self, n: u32) {
        self.local = self.local.wrapping_add(n);
        self.consumer().store(self.local, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_arithmetic_wraps() {
        assert_eq!(free_entries(0, 0, 8), 8);
        assert_eq!(free_entries(8, 0, 8), 0);
        assert_eq!(free_entries(5, 3, 8), 6);
        assert_eq!(
            free_entries(2, u32::MAX - 1, 8),
            4,
            "producer wrapped past zero"
        );
        assert_eq!(available_entries(2, u32::MAX - 1, 8), 4);
        assert_eq!(available_entries(7, 7, 8), 0);
        assert_eq!(available_entries(100, 0, 8), 8, "corrupt counter is capped");
        assert_eq!(free_entries(100, 0, 8), 0);
    }

    /// Counters + flags + entries laid out as in the kernel's mapping.
    struct Shared {
        words: Box<[AtomicU32; 3]>,
        entries: Vec<u64>,
    }

    impl Shared {
        fn new(size: usize, start: u32) -> Self {
            Shared {
                words: Box::new([
                    AtomicU32::new(start),
                    AtomicU32::new(start),
                    AtomicU32::new(0),
                ]),
                entries: vec![0; size],
            }
        }
        fn ring(&mut self, as_producer: bool) -> Ring<u64> {
            let w = &*self.words;
            // SAFETY: the buffers outlive the rings in each test; size is a power of two.
            unsafe {
                Ring::new(
                    &w[0],
                    &w[1],
                    &w[2],
                    self.entries.as_mut_ptr(),
                    self.entries.len() as u32,
                    as_producer,
                )
            }
        }
    }

    #[test]
    fn producer_and_consumer_agree_across_wraparound() {
        let mut mem = Shared::new(8, u32::MAX - 5);
        let mut prod = mem.ring(true);
        let mut cons = mem.ring(false);
        let mut next_in = 0u64;
        let mut next_out = 0u64;
        for round in 0..50u32 {
            let want = round % 9 + 1;
            let room = prod.free(want);
            let n = want.min(room);
            for i in 0..n {
                prod.write(i, next_in);
                next_in += 1;
            }
            prod.submit(n);
            assert!(prod.outstanding() <= 8);
            let avail = cons.available(8);
            let take = avail.min(round % 5 + 1);
            for i in 0..take {
                assert_eq!(cons.read(i), next_out);
                next_out += 1;
            }
            cons.release(take);
        }
        let left = cons.available(8);
        for i in 0..left {
            assert_eq!(cons.read(i), next_out);
            next_out += 1;
        }
        cons.release(left);
        assert_eq!(
            next_in, next_out,
            "every entry written was read once, in order"
        );
        assert_eq!(prod.free(8), 8, "the ring is empty again");
        assert!(next_in > 50, "the test went around the ring several times");
    }

    #[test]
    fn a_full_ring_refuses_more() {
        let mut mem = Shared::new(4, 0);
        let mut prod = mem.ring(true);
        assert_eq!(prod.free(4), 4);
        for i in 0..4 {
            prod.write(i, u64::from(i));
        }
        prod.submit(4);
        assert_eq!(prod.free(1), 0);
        let mut cons = mem.ring(false);
        assert_eq!(cons.available(1), 4);
        cons.release(1);
        assert_eq!(prod.free(1), 1, "the producer sees the consumer's release");
    }
}
