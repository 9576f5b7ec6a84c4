//! How much of the current thread's C stack is left, so that recursive conversions stop with an
//! error instead of overflowing it.
//!
//! Conversions run on BEAM scheduler threads, whose stacks are small (a dirty CPU scheduler's
//! is 320 KiB by default) and set by the VM's flags, not by us. A value at the nesting limit
//! fits with room to spare in an optimised build; this is the backstop for builds and threads
//! where it does not: an overflow there would kill the whole VM.

use std::cell::Cell;

thread_local! {
    /// The lowest address of this thread's stack (stacks grow down), once looked up.
    static STACK_END: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Bytes of stack left below the caller's frame, or `None` where the platform cannot tell.
#[inline(never)]
pub fn remaining() -> Option<usize> {
    let marker = 0u8;
    let here = std::ptr::addr_of!(marker) as usize;
    let end = STACK_END.with(|cell| match cell.get() {
        Some(end) => Some(end),
        None => {
            let end = stack_end()?;
            cell.set(Some(end));
            Some(end)
        }
    })?;
    here.checked_sub(end)
}

#[cfg(target_os = "linux")]
fn stack_end() -> Option<usize> {
    // SAFETY: the attribute object is initialised by pthread_getattr_np before it is read and
    // destroyed once; the out-pointers are valid locals.
    unsafe {
        let mut attributes: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attributes) != 0 {
            return None;
        }
        let mut address: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let found = libc::pthread_attr_getstack(&attributes, &mut address, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attributes);
        found.then_some(address as usize)
    }
}

#[cfg(not(target_os = "linux"))]
fn stack_end() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_stack_of_a_thread_it_did_not_start_and_sees_it_shrink() {
        let on_a_small_stack = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let top = remaining().expect("the stack's end on Linux");
                assert!(top <= 256 * 1024 + 64 * 1024, "{top}");
                assert!(top > 128 * 1024, "{top}");
                fn deeper(levels: usize) -> usize {
                    let padding = std::hint::black_box([0u8; 1024]);
                    if levels == 0 {
                        remaining().unwrap() + padding[0] as usize
                    } else {
                        deeper(levels - 1) + padding[1] as usize
                    }
                }
                let deep = deeper(20);
                assert!(deep + 20 * 1024 <= top, "{deep} vs {top}");
            })
            .unwrap();
        on_a_small_stack.join().unwrap();
    }
}
