//! The WebAssembly core of the widget: the same field validation and wire encoding as
//! ingest, from `satisfy-core`, so a rating the widget sends is valid by construction.

use satisfy_core::{RatingSubmission, RawRating};
use wasm_bindgen::prelude::*;

/// Validates a rating and returns its canonical wire JSON, or throws the stable error code
/// (`comment_too_long`, `invalid_page`, …) of the first invalid field.
///
/// `answers` holds option ids separated by spaces; an empty `comment` means none.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn encode_rating(
    id: &str,
    entrypoint: &str,
    page: &str,
    rating: u8,
    answers: &str,
    comment: &str,
    lang: &str,
    widget: &str,
) -> Result<String, JsValue> {
    let raw = RawRating {
        id,
        entrypoint,
        page,
        rating: i64::from(rating),
        answers: answers.split(' ').filter(|a| !a.is_empty()).collect(),
        comment: Some(comment),
        lang,
        widget: Some(widget),
    };
    RatingSubmission::from_raw(raw)
        .map(|submission| submission.to_wire_json())
        .map_err(|error| JsValue::from_str(error.code.as_str()))
}

/// A bump allocator in place of Rust's general-purpose one (dlmalloc), which would be a
/// quarter of the module. The widget encodes a handful of ratings per page view and never
/// gives memory back: the page's lifetime bounds the growth to a few kilobytes.
mod bump {
    use core::alloc::{GlobalAlloc, Layout};
    use core::arch::wasm32;
    use core::sync::atomic::{AtomicUsize, Ordering};

    const PAGE: usize = 65_536;

    pub struct BumpAllocator {
        next: AtomicUsize,
        end: AtomicUsize,
    }

    #[global_allocator]
    static ALLOCATOR: BumpAllocator = BumpAllocator {
        next: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
    };

    unsafe impl GlobalAlloc for BumpAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let (mut next, mut end) = (
                self.next.load(Ordering::Relaxed),
                self.end.load(Ordering::Relaxed),
            );
            if end == 0 {
                // The heap starts where the module's initial memory (data, stack) ends.
                end = wasm32::memory_size(0) * PAGE;
                next = end;
            }
            let start = (next + layout.align() - 1) & !(layout.align() - 1);
            let Some(stop) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if stop > end {
                let pages = (stop - end).div_ceil(PAGE);
                if wasm32::memory_grow(0, pages) == usize::MAX {
                    return core::ptr::null_mut();
                }
                end += pages * PAGE;
            }
            self.next.store(stop, Ordering::Relaxed);
            self.end.store(end, Ordering::Relaxed);
            start as *mut u8
        }

        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
    }
}
