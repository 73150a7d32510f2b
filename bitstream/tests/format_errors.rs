//! Typed errors for truncated, corrupted, inconsistent and oversized files.

mod common;

use common::{coded_payload, typical_header};
use cvq_bitstream::format::{
    EntropyModelKind, FileHeader, FormatError, GroupHeader, LimitKind, Limits, ModelId,
    Permutation, read_file, read_prefix, write_file,
};

fn small_file() -> (FileHeader, Vec<Vec<u8>>, Vec<u8>) {
    let header = FileHeader {
        width: 33,
        height: 17,
        model: ModelId::new("t", [9; 8]).unwrap(),
        quality: 1,
        entropy_model: EntropyModelKind::Parallel,
        permutation: Permutation::new(vec![2, 0, 1, 3]).unwrap(),
        groups: vec![
            GroupHeader {
                levels: 3,
                channels: 1,
            },
            GroupHeader {
                levels: 5,
                channels: 2,
            },
            GroupHeader {
                levels: 7,
                channels: 1,
            },
        ],
    };
    let payloads = vec![b"first".to_vec(), Vec::new(), b"third payload".to_vec()];
    let bytes = write_file(&header, &payloads).unwrap();
    (header, payloads, bytes)
}

/// Appends the header CRC to `header` (everything before it), like the writer.
fn seal(mut header: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    header
}

#[test]
fn typical_header_overhead_is_79_bytes() {
    let header = typical_header();
    let (lh, lw) = header.latent_size();
    assert_eq!((lh, lw), (32, 48));
    let payloads: Vec<Vec<u8>> = header
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let count = header.group_symbol_count(i).unwrap() as usize;
            assert_eq!(count, g.channels as usize * 32 * 48);
            coded_payload(g.levels, count, i as u64 + 1).0
        })
        .collect();
    // Payloads are 128..16384 bytes, so each length is a 2-byte varint.
    for p in &payloads {
        assert!((128..16384).contains(&p.len()), "{}", p.len());
    }
    let bytes = write_file(&header, &payloads).unwrap();
    let payload_total: usize = payloads.iter().map(Vec::len).sum();
    let overhead = bytes.len() - payload_total;
    // See docs/FORMAT.md, "Overhead".
    assert_eq!(overhead, 79);
    let file = read_file(&bytes, &Limits::default()).unwrap();
    assert_eq!(file.header_len, 79);

    // Identity permutation: the 20-byte table is replaced by the flag.
    let mut ident = header.clone();
    ident.permutation = Permutation::identity(32);
    let bytes = write_file(&ident, &payloads).unwrap();
    assert_eq!(bytes.len() - payload_total, 59);
}

#[test]
fn every_truncation_is_typed() {
    let (_, _, bytes) = small_file();
    let full = read_file(&bytes, &Limits::default()).unwrap();
    for len in 0..bytes.len() {
        match read_file(&bytes[..len], &Limits::default()) {
            Err(FormatError::Truncated { available, needed }) => {
                assert_eq!(available, len);
                assert!(needed > len as u64);
                if len >= full.header_len {
                    assert_eq!(needed, bytes.len() as u64);
                }
            }
            other => panic!("prefix {len}: {other:?}"),
        }
    }
}

#[test]
fn every_bit_flip_is_detected() {
    let (_, payloads, bytes) = small_file();
    let file = read_file(&bytes, &Limits::default()).unwrap();
    let header_len = file.header_len;
    // Payload group of every payload byte offset.
    let mut group_of = vec![None; bytes.len()];
    let mut off = header_len;
    for (g, p) in payloads.iter().enumerate() {
        for slot in &mut group_of[off..off + p.len()] {
            *slot = Some(g);
        }
        off += p.len();
    }
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut corrupt = bytes.clone();
            corrupt[i] ^= 1 << bit;
            let err = read_file(&corrupt, &Limits::default())
                .expect_err(&format!("flip of byte {i} bit {bit} went unnoticed"));
            if let Some(g) = group_of[i] {
                assert!(
                    matches!(err, FormatError::PayloadCrcMismatch { group, .. } if group == g),
                    "byte {i}: {err:?}"
                );
                // A prefix ending before the damaged group still decodes.
                let partial = read_prefix(
                    &corrupt[..header_len + payloads[..g].iter().map(Vec::len).sum::<usize>()],
                    &Limits::default(),
                )
                .unwrap();
                assert_eq!(partial.complete_groups(), g);
            } else {
                assert!(
                    !matches!(err, FormatError::PayloadCrcMismatch { .. }),
                    "header byte {i}: {err:?}"
                );
            }
            // The same flips through read_prefix: never Ok with a corrupted group.
            if let Ok(p) = read_prefix(&corrupt, &Limits::default()) {
                panic!("read_prefix accepted a corrupted file: {p:?}");
            }
        }
    }
}

#[test]
fn bad_magic_version_flags() {
    let (_, _, bytes) = small_file();
    let mut b = bytes.clone();
    b[0] = b'X';
    assert_eq!(
        read_file(&b, &Limits::default()),
        Err(FormatError::BadMagic)
    );
    // A short prefix that already contradicts the magic.
    assert_eq!(
        read_prefix(b"CX", &Limits::default()),
        Err(FormatError::BadMagic)
    );
    assert_eq!(
        read_prefix(b"CV", &Limits::default()),
        Err(FormatError::Truncated {
            available: 2,
            needed: 3
        })
    );
    assert_eq!(
        read_prefix(b"", &Limits::default()),
        Err(FormatError::Truncated {
            available: 0,
            needed: 3
        })
    );
    let mut b = bytes.clone();
    b[3] = 2;
    assert_eq!(
        read_file(&b, &Limits::default()),
        Err(FormatError::UnsupportedVersion {
            version: 2,
            supported: 1
        })
    );
    let mut b = bytes;
    b[4] |= 0x80;
    assert_eq!(
        read_file(&b, &Limits::default()),
        Err(FormatError::ReservedFlags { flags: 0x80 })
    );
}

/// Builds a header by hand (see docs/FORMAT.md) with arbitrary field values.
struct RawHeader {
    flags: u8,
    width: Vec<u8>,
    height: Vec<u8>,
    entropy: u8,
    name: Vec<u8>,
    channels: Vec<u8>,
    perm: Vec<u8>,
    groups: Vec<u8>,
    group_entries: Vec<(u8, Vec<u8>, Vec<u8>, u32)>,
}

impl RawHeader {
    fn new() -> Self {
        Self {
            flags: 1,
            width: vec![16],
            height: vec![16],
            entropy: 0,
            name: b"m".to_vec(),
            channels: vec![2],
            perm: Vec::new(),
            groups: vec![1],
            group_entries: vec![(3, vec![2], vec![0], 0)],
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = b"CVQ\x01".to_vec();
        b.push(self.flags);
        b.extend_from_slice(&self.width);
        b.extend_from_slice(&self.height);
        b.push(7);
        b.push(self.entropy);
        b.push(self.name.len() as u8);
        b.extend_from_slice(&self.name);
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&self.channels);
        b.extend_from_slice(&self.perm);
        b.extend_from_slice(&self.groups);
        for (levels, ch, len, crc) in &self.group_entries {
            b.push(*levels);
            b.extend_from_slice(ch);
            b.extend_from_slice(len);
            b.extend_from_slice(&crc.to_le_bytes());
        }
        seal(b)
    }
}

fn leb(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

#[test]
fn raw_header_baseline_parses() {
    let b = RawHeader::new().bytes();
    let f = read_file(&b, &Limits::default()).unwrap();
    assert_eq!(f.header.channels(), 2);
    assert_eq!(f.payloads, vec![&[] as &[u8]]);
}

#[test]
fn semantic_errors() {
    let lim = Limits::default();
    let mut h = RawHeader::new();
    h.entropy = 4;
    assert_eq!(
        read_file(&h.bytes(), &lim),
        Err(FormatError::UnknownEntropyModel { value: 4 })
    );
    // The recurrent family's binary codes (either bit model) have exactly two levels.
    for kind in [2, 3] {
        h.entropy = kind;
        assert_eq!(
            read_file(&h.bytes(), &lim),
            Err(FormatError::InvalidLevels {
                group: 0,
                levels: 3
            })
        );
    }

    let mut h = RawHeader::new();
    h.name = vec![0xff, 0xfe];
    assert_eq!(
        read_file(&h.bytes(), &lim),
        Err(FormatError::InvalidModelName)
    );

    let mut h = RawHeader::new();
    h.width = vec![0];
    assert_eq!(
        read_file(&h.bytes(), &lim),
        Err(FormatError::InvalidDimensions {
            width: 0,
            height: 16
        })
    );

    let mut h = RawHeader::new();
    h.width = vec![0x90, 0x00]; // overlong varint for 16
    assert_eq!(
        read_file(&h.bytes(), &lim),
        Err(FormatError::InvalidVarint { offset: 5 })
    );

    let mut h = RawHeader::new();
    h.group_entries[0].0 = 1;
    assert_eq!(
        read_file(&h.bytes(), &lim),
        Err(FormatError::InvalidLevels {
            group: 0,
            levels: 1
        })
    );

    let mut h = RawHeader::new();
    h.group_entries[0].1 = vec![3];
    assert_eq!(
        read_file(&h.bytes(), &lim),
        Err(FormatError::ChannelCountMismatch {
            channels: 2,
            sum: 3
        })
    );

    let mut h = RawHeader::new();
    h.groups = vec![2];
    h.group_entries = vec![(3, vec![2], vec![0], 0), (3, vec![0], vec![0], 0)];
    assert_eq!(
        read_file(&h.bytes(), &lim),
        Err(FormatError::EmptyGroup { group: 1 })
    );

    let mut h = RawHeader::new();
    h.groups = vec![0];
    h.group_entries.clear();
    assert_eq!(read_file(&h.bytes(), &lim), Err(FormatError::NoGroups));

    let mut h = RawHeader::new();
    h.channels = vec![0];
    h.group_entries.clear();
    h.groups = vec![0];
    assert_eq!(read_file(&h.bytes(), &lim), Err(FormatError::NoChannels));

    // Non-identity permutation of 2 channels (1 bit each): [1, 1] is invalid.
    let mut h = RawHeader::new();
    h.flags = 0;
    h.perm = vec![0b11];
    assert_eq!(
        read_file(&h.bytes(), &lim),
        Err(FormatError::InvalidPermutation { index: 1, value: 1 })
    );
    h.perm = vec![0b01];
    assert_eq!(
        read_file(&h.bytes(), &lim)
            .unwrap()
            .header
            .permutation
            .as_slice(),
        &[1, 0]
    );
    // Non-zero padding bits.
    h.perm = vec![0b101];
    assert!(matches!(
        read_file(&h.bytes(), &lim),
        Err(FormatError::InvalidPermutation { index: 2, .. })
    ));

    // Payload CRC mismatch.
    let mut h = RawHeader::new();
    h.group_entries[0].2 = vec![3];
    let mut b = h.bytes();
    b.extend_from_slice(b"abc");
    assert_eq!(
        read_file(&b, &lim),
        Err(FormatError::PayloadCrcMismatch {
            group: 0,
            stored: 0,
            computed: crc32fast::hash(b"abc")
        })
    );

    // Header CRC mismatch.
    let mut b = RawHeader::new().bytes();
    let n = b.len();
    b[n - 1] ^= 0x01;
    assert!(matches!(
        read_file(&b, &lim),
        Err(FormatError::HeaderCrcMismatch { .. })
    ));
}

#[test]
fn writer_validation() {
    let (header, payloads, _) = small_file();
    assert_eq!(
        write_file(&header, &payloads[..2]),
        Err(FormatError::PayloadCountMismatch {
            groups: 3,
            payloads: 2
        })
    );
    let mut h = header.clone();
    h.groups[1].levels = 0;
    assert_eq!(
        write_file(&h, &payloads),
        Err(FormatError::InvalidLevels {
            group: 1,
            levels: 0
        })
    );
    let mut h = header.clone();
    h.groups[2].channels = 2;
    assert_eq!(
        write_file(&h, &payloads),
        Err(FormatError::ChannelCountMismatch {
            channels: 4,
            sum: 5
        })
    );
    let mut h = header.clone();
    h.height = 0;
    assert!(matches!(
        write_file(&h, &payloads),
        Err(FormatError::InvalidDimensions { .. })
    ));
    let mut h = header;
    h.model.name = "x".repeat(256);
    assert!(matches!(
        write_file(&h, &payloads),
        Err(FormatError::ModelNameTooLong { len: 256, max: 255 })
    ));
    assert!(ModelId::new("y".repeat(256), [0; 8]).is_err());
}

#[test]
fn limits_are_enforced() {
    let lim = Limits::default();
    let exceeded = |bytes: &[u8], lim: &Limits| match read_file(bytes, lim) {
        Err(FormatError::LimitExceeded { limit, value, max }) => (limit, value, max),
        other => panic!("{other:?}"),
    };

    let mut h = RawHeader::new();
    h.width = leb(16385);
    assert_eq!(exceeded(&h.bytes(), &lim), (LimitKind::Width, 16385, 16384));

    let mut h = RawHeader::new();
    h.height = leb(u64::MAX);
    assert_eq!(
        exceeded(&h.bytes(), &lim),
        (LimitKind::Height, u64::MAX, 16384)
    );

    let mut h = RawHeader::new();
    h.width = leb(16384);
    h.height = leb(16384);
    assert_eq!(
        exceeded(&h.bytes(), &lim),
        (LimitKind::Pixels, 1 << 28, 64 << 20)
    );

    let mut h = RawHeader::new();
    h.name = vec![b'a'; 65];
    assert_eq!(
        exceeded(&h.bytes(), &lim),
        (LimitKind::ModelNameLen, 65, 64)
    );

    let mut h = RawHeader::new();
    h.channels = leb(1 << 40);
    assert_eq!(
        exceeded(&h.bytes(), &lim),
        (LimitKind::Channels, 1 << 40, 1024)
    );

    let mut h = RawHeader::new();
    h.groups = leb(65);
    assert_eq!(exceeded(&h.bytes(), &lim), (LimitKind::Groups, 65, 64));

    let mut h = RawHeader::new();
    h.group_entries[0].1 = leb(5000);
    assert_eq!(
        exceeded(&h.bytes(), &lim),
        (LimitKind::GroupChannels, 5000, 1024)
    );

    // Total file size: 5 groups of 250 MiB each exceed 1 GiB in sum.
    let mut h = RawHeader::new();
    h.channels = vec![5];
    h.groups = vec![5];
    h.group_entries = (0..5).map(|_| (3, vec![1], leb(250 << 20), 0)).collect();
    assert_eq!(exceeded(&h.bytes(), &lim).0, LimitKind::FileBytes);

    // Custom, tighter limits.
    let mut tight = Limits::default();
    tight.max_width = 8;
    assert_eq!(
        exceeded(&RawHeader::new().bytes(), &tight),
        (LimitKind::Width, 16, 8)
    );
}

#[test]
fn huge_claims_in_tiny_files_are_truncated_not_allocated() {
    // 1000 channels with a non-identity permutation needs 1250 bytes of table.
    let mut h = RawHeader::new();
    h.flags = 0;
    h.channels = leb(1000);
    let b = h.bytes();
    assert!(matches!(
        read_prefix(&b, &Limits::default()),
        Err(FormatError::Truncated { needed, .. }) if needed > 1250
    ));
    // 64 groups need at least 64 * 7 + 4 bytes of group table.
    let mut h = RawHeader::new();
    h.groups = leb(64);
    let b = h.bytes();
    assert!(matches!(
        read_prefix(&b, &Limits::default()),
        Err(FormatError::Truncated { needed, .. }) if needed >= 64 * 7 + 4
    ));
}

#[test]
fn accessors() {
    let h = typical_header();
    assert_eq!(h.channels(), 32);
    assert_eq!(h.group_channel_range(0), Some(0..8));
    assert_eq!(h.group_channel_range(2), Some(18..32));
    assert_eq!(h.group_channel_range(3), None);
    assert_eq!(h.group_symbol_count(1), Some(10 * 32 * 48));
    assert_eq!(h.group_symbol_count(3), None);
    assert_eq!(
        EntropyModelKind::try_from(1),
        Ok(EntropyModelKind::Context3d)
    );
    assert_eq!(
        EntropyModelKind::try_from(9),
        Err(FormatError::UnknownEntropyModel { value: 9 })
    );
    let (_, payloads, bytes) = small_file();
    let p = read_prefix(&bytes[..bytes.len() - 1], &Limits::default()).unwrap();
    assert_eq!(p.complete_groups(), 2);
    assert!(!p.is_complete());
    assert_eq!(p.bytes_needed_for_group(2), Some(bytes.len()));
    assert_eq!(p.payload_info[2].len, payloads[2].len());
    assert_eq!(p.payload_info[2].crc32, crc32fast::hash(&payloads[2]));
}
