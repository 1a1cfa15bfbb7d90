//! The WebAssembly core of the widget: the same field validation and wire encoding as
//! ingest, from `satisfy-core`, so a rating the widget sends is valid by construction.
//!
//! The module has no imports and exports a small hand-written interface instead of
//! wasm-bindgen's, whose generated glue alone weighed more than the loader's DOM code:
//! - `memory`, the module's linear memory;
//! - `alloc(len) -> ptr`, room for `len` bytes the loader fills with a UTF-8 string;
//! - `encode_rating(...) -> ptr`, taking each string as a (pointer, length) pair and
//!   returning a pointer to three `u32`: status (0 = encoded, 1 = refused), then the pointer
//!   and length of the UTF-8 result, the wire JSON or the stable error code.

use satisfy_core::{RatingSubmission, RawRating};

/// Reserves `len` bytes (at least one) for the loader to copy a string into; traps when
/// memory cannot grow, which the loader reports as a rating not sent.
#[unsafe(no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let Ok(layout) = std::alloc::Layout::from_size_align(len.max(1), 1) else {
        core::arch::wasm32::unreachable()
    };
    // SAFETY: the layout's size is at least one.
    let ptr = unsafe { std::alloc::alloc(layout) };
    if ptr.is_null() {
        core::arch::wasm32::unreachable()
    }
    ptr
}

/// A string the loader copied into memory obtained from [`alloc`].
///
/// # Safety
/// `ptr` must point to `len` initialised bytes of UTF-8 that stay untouched during the
/// call. The loader writes `TextEncoder` output, which is always UTF-8 (lone surrogates
/// become U+FFFD), so the bytes are not checked again: checking them costs a tenth of the
/// module.
unsafe fn text<'a>(ptr: *const u8, len: usize) -> &'a str {
    // SAFETY: the caller guarantees `len` readable bytes of UTF-8 at `ptr`.
    unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(ptr, len)) }
}

/// The space-separated words of `text`, without empty ones (`split` and `filter` would
/// bring a generic searcher into the module).
fn words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    for (index, byte) in text.bytes().chain([b' ']).enumerate() {
        if byte == b' ' {
            if index > start {
                words.push(&text[start..index]);
            }
            start = index + 1;
        }
    }
    words
}

/// Validates a rating and encodes its canonical wire JSON (status 0), or gives the stable
/// error code (`comment_too_long`, `invalid_page`, …) of the first invalid field (status 1).
///
/// `answers` holds option ids separated by spaces; an empty `comment` means none.
///
/// # Safety
/// Every (pointer, length) pair must describe initialised UTF-8 in memory from [`alloc`].
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn encode_rating(
    id: *const u8,
    id_len: usize,
    entrypoint: *const u8,
    entrypoint_len: usize,
    page: *const u8,
    page_len: usize,
    rating: u32,
    answers: *const u8,
    answers_len: usize,
    comment: *const u8,
    comment_len: usize,
    lang: *const u8,
    lang_len: usize,
    widget: *const u8,
    widget_len: usize,
) -> *const u32 {
    // SAFETY: the loader passes the pairs it filled through `alloc`.
    let (id, entrypoint, page, answers, comment, lang, widget) = unsafe {
        (
            text(id, id_len),
            text(entrypoint, entrypoint_len),
            text(page, page_len),
            text(answers, answers_len),
            text(comment, comment_len),
            text(lang, lang_len),
            text(widget, widget_len),
        )
    };
    let raw = RawRating {
        id,
        entrypoint,
        page,
        rating: i64::from(rating),
        answers: words(answers),
        comment: Some(comment),
        lang,
        widget: Some(widget),
    };
    let (status, output): (u32, &str) = match RatingSubmission::from_raw(raw) {
        Ok(submission) => (0, submission.to_wire_json().leak()),
        Err(error) => (1, error.code.as_str()),
    };
    // Pointers are 32-bit on wasm32, so the casts below are lossless.
    let result = [status, output.as_ptr() as u32, output.len() as u32];
    Box::leak(Box::new(result)).as_ptr()
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
    }

    #[global_allocator]
    static ALLOCATOR: BumpAllocator = BumpAllocator {
        next: AtomicUsize::new(0),
    };

    unsafe impl GlobalAlloc for BumpAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let end = wasm32::memory_size(0) * PAGE;
            // The heap starts where the module's initial memory (data, stack) ends.
            let next = match self.next.load(Ordering::Relaxed) {
                0 => end,
                next => next,
            };
            let start = (next + layout.align() - 1) & !(layout.align() - 1);
            let Some(stop) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if stop > end && wasm32::memory_grow(0, (stop - end).div_ceil(PAGE)) == usize::MAX {
                return core::ptr::null_mut();
            }
            self.next.store(stop, Ordering::Relaxed);
            start as *mut u8
        }

        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
    }
}
