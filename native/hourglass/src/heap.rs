//! The Rust heap: a global allocator that keeps a running total of the bytes the NIF has
//! allocated, so benchmarks can report the Rust side's memory per activity and tests can see
//! that it returns to where it was.
//!
//! Underneath is mimalloc, not the system's malloc. Core's gRPC client gzips every request, and
//! each compressor allocates ~160 KB of zeroed tables. Inside the BEAM, glibc malloc handed those
//! out as fresh pages every time: ~110 page faults per activity, a third of the worker's CPU
//! time (measured with `perf` in the end-to-end benchmark). mimalloc reuses the pages.

use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicIsize, Ordering};

static ALLOCATED: AtomicIsize = AtomicIsize::new(0);

/// mimalloc, counted. [`crate::nif!`] installs it in the NIF's `cdylib` as the
/// `#[global_allocator]`, unless the crate keeps its own.
pub struct CountingAllocator;

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { MiMalloc.alloc(layout) };
        if !pointer.is_null() {
            ALLOCATED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { MiMalloc.alloc_zeroed(layout) };
        if !pointer.is_null() {
            ALLOCATED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { MiMalloc.dealloc(pointer, layout) };
        ALLOCATED.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { MiMalloc.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            ALLOCATED.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        moved
    }
}

/// Bytes currently allocated through [`CountingAllocator`] (0 where it is not installed).
pub fn allocated_bytes() -> i64 {
    ALLOCATED.load(Ordering::Relaxed) as i64
}
