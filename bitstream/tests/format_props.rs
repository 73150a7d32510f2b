//! Property tests of the container format.

use cvq_bitstream::format::{
    EntropyModelKind, FileHeader, FormatError, GroupHeader, Limits, ModelId, Permutation,
    read_file, read_prefix, write_file,
};
use proptest::prelude::*;

fn header_and_payloads() -> impl Strategy<Value = (FileHeader, Vec<Vec<u8>>)> {
    let groups = prop::collection::vec((2u8..=255, 1u32..=12), 1..=6);
    (
        1u32..=16384,
        1u32..=4096,
        "\\PC{0,16}",
        any::<[u8; 8]>(),
        any::<u8>(),
        prop_oneof![
            Just(EntropyModelKind::Parallel),
            Just(EntropyModelKind::Context3d)
        ],
        groups,
        any::<bool>(),
    )
        .prop_flat_map(|(w, h, name, hash, quality, em, groups, identity)| {
            let c: u32 = groups.iter().map(|g| g.1).sum();
            let order: Vec<u32> = (0..c).collect();
            let order = if identity {
                Just(order).boxed()
            } else {
                Just(order).prop_shuffle().boxed()
            };
            let payloads =
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), groups.len());
            (
                Just((w, h, name, hash, quality, em, groups)),
                order,
                payloads,
            )
        })
        .prop_map(
            |((w, h, name, hash, quality, em, groups), order, payloads)| {
                let header = FileHeader {
                    width: w,
                    height: h,
                    model: ModelId::new(name, hash).unwrap(),
                    quality,
                    entropy_model: em,
                    permutation: Permutation::new(order).unwrap(),
                    groups: groups
                        .into_iter()
                        .map(|(levels, channels)| GroupHeader { levels, channels })
                        .collect(),
                };
                (header, payloads)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn write_read_identity((header, payloads) in header_and_payloads()) {
        let bytes = write_file(&header, &payloads).unwrap();
        let file = read_file(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(&file.header, &header);
        prop_assert_eq!(file.payloads.len(), payloads.len());
        for (a, b) in file.payloads.iter().zip(&payloads) {
            prop_assert_eq!(*a, b.as_slice());
        }
        let total: usize = payloads.iter().map(Vec::len).sum();
        prop_assert_eq!(file.header_len + total, bytes.len());
        // Re-serialising is byte-identical (canonical encoding).
        prop_assert_eq!(write_file(&file.header, &file.payloads).unwrap(), bytes);
    }

    #[test]
    fn every_prefix_is_handled((header, payloads) in header_and_payloads()) {
        let bytes = write_file(&header, &payloads).unwrap();
        let limits = Limits::default();
        let header_len = read_file(&bytes, &limits).unwrap().header_len;
        let mut ends = Vec::new();
        let mut end = header_len;
        for p in &payloads {
            end += p.len();
            ends.push(end);
        }
        for len in 0..=bytes.len() {
            let prefix = &bytes[..len];
            match read_prefix(prefix, &limits) {
                Ok(partial) => {
                    prop_assert!(len >= header_len);
                    prop_assert_eq!(&partial.header, &header);
                    prop_assert_eq!(partial.file_len, bytes.len());
                    let expected = ends.iter().take_while(|&&e| e <= len).count();
                    prop_assert_eq!(partial.complete_groups(), expected);
                    for (a, b) in partial.complete.iter().zip(&payloads) {
                        prop_assert_eq!(*a, b.as_slice());
                    }
                    prop_assert_eq!(partial.is_complete(), len == bytes.len());
                }
                Err(FormatError::Truncated { available, needed }) => {
                    prop_assert!(len < header_len, "len {} header {}", len, header_len);
                    prop_assert_eq!(available, len);
                    prop_assert!(needed > len as u64 && needed <= header_len as u64);
                }
                Err(e) => prop_assert!(false, "unexpected error at {}: {}", len, e),
            }
            if len < bytes.len() {
                let is_truncated = matches!(
                    read_file(prefix, &limits),
                    Err(FormatError::Truncated { .. })
                );
                prop_assert!(is_truncated);
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let trailing = FormatError::TrailingBytes { expected: bytes.len(), actual: bytes.len() + 1 };
        prop_assert_eq!(read_file(&longer, &limits).unwrap_err(), trailing.clone());
        prop_assert_eq!(read_prefix(&longer, &limits).unwrap_err(), trailing);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = read_file(&bytes, &Limits::default());
        let _ = read_prefix(&bytes, &Limits::default());
    }

    #[test]
    fn mutated_files_never_panic(
        (header, payloads) in header_and_payloads(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = write_file(&header, &payloads).unwrap();
        for (i, v) in edits {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        let _ = read_file(&bytes, &Limits::default());
        let _ = read_prefix(&bytes, &Limits::default());
    }
}
