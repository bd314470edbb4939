//! Counting allocations made by one piece of code, for tests that check a path allocates
//! nothing. A test binary installs the allocator, then measures:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: rvs_lab::alloc_count::CountingAllocator = rvs_lab::alloc_count::CountingAllocator;
//! assert_eq!(rvs_lab::alloc_count::allocations_in(|| hot_path()), 0);
//! ```
//!
//! Only the measuring thread counts, and only while armed: the test harness's own threads
//! (output capture, other tests) allocate freely without showing up.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting allocations (and reallocations) of an armed thread.
pub struct CountingAllocator;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the bookkeeping only touches const-initialized
// thread-locals (no allocation, no reentrancy).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count() {
    let _ = ARMED.try_with(|a| {
        if a.get() {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

/// Allocations made by `f` on the calling thread (counted only when [`CountingAllocator`]
/// is the global allocator).
pub fn allocations_in(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|n| n.set(0));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    ALLOCS.with(Cell::get)
}
