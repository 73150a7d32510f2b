//! A header claiming a 4 GiB payload in a 100-byte file is refused (or
//! reported as truncated) without allocating anything large.
//!
//! This test binary installs a counting global allocator, so it lives in its
//! own file and contains a single test (no concurrent allocations from other
//! tests).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use cvq_bitstream::format::{FormatError, LimitKind, Limits, read_file, read_prefix};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Hand-built v1 header (docs/FORMAT.md): 64x64 image, model "evil",
/// identity permutation of 4 channels, one 3-level group whose payload claims
/// 4 GiB; padded with junk to 100 bytes.
fn evil_file() -> (Vec<u8>, usize) {
    let mut b = Vec::new();
    b.extend_from_slice(b"CVQ"); // magic
    b.push(1); // version
    b.push(1); // flags: identity permutation
    b.push(64); // width
    b.push(64); // height
    b.push(0); // quality
    b.push(0); // entropy model: Parallel
    b.push(4); // name length
    b.extend_from_slice(b"evil");
    b.extend_from_slice(&[0xAA; 8]); // model hash
    b.push(4); // C
    b.push(1); // G
    b.push(3); // levels
    b.push(4); // channels
    // payload length 4 GiB = 2^32 as LEB128: 0x80 0x80 0x80 0x80 0x10
    b.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x10]);
    b.extend_from_slice(&0xDEAD_BEEFu32.to_le_bytes()); // payload CRC
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    let header_len = b.len();
    b.resize(100, 0x55);
    (b, header_len)
}

#[test]
fn four_gib_payload_claim() {
    let (bytes, header_len) = evil_file();
    assert_eq!(bytes.len(), 100);
    LARGEST.store(0, Ordering::Relaxed);

    // Default limits: refused by the per-group payload limit.
    let err = read_file(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        FormatError::LimitExceeded {
            limit: LimitKind::GroupPayloadBytes,
            value: 1 << 32,
            max: 256 << 20,
        }
    );
    assert!(read_prefix(&bytes, &Limits::default()).is_err());

    // Relaxed limits (64-bit targets): the claim is accepted as a header but
    // the file is reported truncated, and nothing is allocated for the payload.
    let mut relaxed = Limits::default();
    relaxed.max_group_payload_bytes = 8 << 30;
    relaxed.max_file_bytes = 16 << 30;
    if usize::BITS == 64 {
        assert_eq!(
            read_file(&bytes, &relaxed).unwrap_err(),
            FormatError::Truncated {
                available: 100,
                needed: header_len as u64 + (1 << 32),
            }
        );
        let partial = read_prefix(&bytes, &relaxed).unwrap();
        assert_eq!(partial.complete_groups(), 0);
        assert_eq!(partial.payload_info[0].len, 1 << 32);
    }

    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest < 4096, "largest allocation: {largest} bytes");
}
