//! Image ⇄ `.cvq` with a frozen (seeded, untrained) tiny recurrent model on the CPU: the
//! file holds one group per iteration, its bits are the encoder's codes, any prefix of
//! whole iterations decodes to the reconstruction after those iterations, and files of
//! other models or of the other family are refused.

use burn::backend::Flex;
use cvq_bitstream::format::{EntropyModelKind, Limits, read_file};
use cvq_core::codec::{CodecError, RgbImage, image_to_tensor};
use cvq_core::recurrent::RecurrentCodec;
use cvq_core::recurrent::codec::RecurrentCodecModel;
use cvq_core::recurrent::config::{CellKind, ReconstructionMode, RecurrentConfig, RecurrentPreset};
use cvq_entropy::{RecurrentModelFile, WeightPrecision};

mod common;

type B = Flex;

fn tiny(seed: u64, iterations: usize) -> (RecurrentCodecModel<B>, RecurrentModelFile) {
    let _rng = common::seeded(seed);
    let device = Default::default();
    let mut cfg = RecurrentConfig::preset(RecurrentPreset::Tiny);
    cfg.iterations = iterations;
    let net = RecurrentCodec::<B>::new(&cfg, &device).unwrap();
    RecurrentCodecModel::freeze(net, cfg, WeightPrecision::F32, &device).unwrap()
}

/// A smooth test image of odd size (not a multiple of 16).
fn image(width: usize, height: usize) -> RgbImage {
    let mut data = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            data.extend([
                (x * 255 / width) as u8,
                (y * 255 / height) as u8,
                ((x + y) % 97) as u8,
            ]);
        }
    }
    RgbImage::new(width, height, data).unwrap()
}

#[test]
fn a_file_holds_one_group_of_the_encoders_bits_per_iteration() {
    let (codec, _) = tiny(3, 4);
    let img = image(37, 21);
    let enc = codec.encode(&img, 3).unwrap();
    let file = read_file(&enc.bytes, &Limits::default()).unwrap();
    assert_eq!(file.header.entropy_model, EntropyModelKind::BinaryMixing);
    assert_eq!((file.header.width, file.header.height), (37, 21));
    assert_eq!(file.header.groups.len(), 3);
    assert_eq!(file.header.quality, 3);
    let sizes: Vec<usize> = file.payloads.iter().map(|p| p.len()).collect();
    assert_eq!(sizes, enc.payload_bytes);

    // The decoded bits are the deterministic codes of the networks on the padded image.
    let decoded = codec
        .decode_bits(&enc.bytes, &Limits::default(), false)
        .unwrap();
    assert_eq!(decoded.planes.len(), 3);
    let x = image_to_tensor::<B>(&img, codec.device());
    let out = codec.net.forward(x, 3, false);
    for (plane, codes) in decoded.planes.iter().zip(&out.codes) {
        assert_eq!(codes.dims(), [1, 4, 2, 3]);
        let bits: Vec<u8> = codes
            .clone()
            .into_data()
            .into_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&v| u8::from(v > 0.0))
            .collect();
        assert_eq!(plane, &bits);
    }
    let decoded_image = codec.reconstruct(&decoded).unwrap();
    assert_eq!((decoded_image.width, decoded_image.height), (37, 21));
    assert_eq!(codec.decode(&enc.bytes).unwrap(), decoded_image);
}

#[test]
fn a_queued_encode_read_back_later_writes_the_encoders_file() {
    let (codec, _) = tiny(5, 3);
    let img = image(37, 21);
    let pending = codec.queue_encode(&img, 3).unwrap();
    assert_eq!(pending.codes.dims(), [1, 3 * 4, 2, 3]);
    let data = pending.codes.clone().into_data();
    let written = pending.writer.write(data.clone()).unwrap();
    assert_eq!(written.bytes, codec.encode(&img, 3).unwrap().bytes);
    let mut short: Vec<f32> = data.into_vec().unwrap();
    short.truncate(5);
    let err = pending
        .writer
        .write(burn::tensor::TensorData::new(short, [5]))
        .unwrap_err();
    assert!(matches!(err, CodecError::Weights(_)), "{err}");
}

#[test]
fn every_prefix_of_whole_iterations_decodes_to_that_iterations_image() {
    let (codec, _) = tiny(5, 4);
    let enc = codec.encode(&image(40, 33), 4).unwrap();
    let full = codec
        .decode_bits(&enc.bytes, &Limits::default(), false)
        .unwrap();
    let mut each = Vec::new();
    codec
        .reconstruct_each(&full, |t, img| each.push((t, img)))
        .unwrap();
    assert_eq!(each.len(), 4);
    let header_len = enc.bytes.len() - enc.payload_bytes.iter().sum::<usize>();
    let mut end = header_len;
    for (t, expected) in &each {
        end += enc.payload_bytes[*t];
        // The whole iteration and a few bytes of the next: `t + 1` iterations decode.
        let cut = (end + 2).min(enc.bytes.len());
        let partial = codec
            .decode_bits(&enc.bytes[..cut], &Limits::default(), true)
            .unwrap();
        assert_eq!(partial.planes.len(), t + 1);
        assert_eq!(partial.iterations, 4);
        assert_eq!(
            &codec.reconstruct(&partial).unwrap(),
            expected,
            "after {}",
            t + 1
        );
    }
    // Only the header: mid grey.
    let none = codec
        .decode_bits(&enc.bytes[..header_len], &Limits::default(), true)
        .unwrap();
    let grey = codec.reconstruct(&none).unwrap();
    assert!(
        grey.data.iter().all(|&v| v == 128 || v == 127),
        "{:?}",
        &grey.data[..6]
    );
}

#[test]
fn a_stream_decoded_prefix_by_prefix_runs_each_iteration_once_and_matches() {
    let (codec, _) = tiny(5, 4);
    stream_prefix_by_prefix(&codec);
    let (codec, _) = tiny(5, 4);
    let codec = codec.with_cpu_kernels(2);
    assert!(codec.uses_cpu_kernels());
    stream_prefix_by_prefix(&codec);
}

fn stream_prefix_by_prefix(codec: &RecurrentCodecModel<B>) {
    let enc = codec.encode(&image(40, 33), 4).unwrap();
    let header_len = enc.bytes.len() - enc.payload_bytes.iter().sum::<usize>();
    let full = codec
        .decode_bits(&enc.bytes, &Limits::default(), false)
        .unwrap();
    let mut progress = codec.progressive(&full.header);
    let mut painted = Vec::new();
    // Prefixes as a network delivers them: header only, mid-iteration, whole iterations.
    for cut in (header_len..=enc.bytes.len())
        .step_by(7)
        .chain([enc.bytes.len()])
    {
        let bits = codec
            .decode_bits(&enc.bytes[..cut], &Limits::default(), true)
            .unwrap();
        assert!(progress.continues(&bits));
        while codec.step(&mut progress, &bits).unwrap() {
            let t = progress.iterations_done() - 1;
            painted.push((t, codec.image(&progress).unwrap()));
        }
        assert_eq!(progress.iterations_done(), bits.planes.len());
        // The image so far is what a from-scratch decode of this prefix gives.
        assert_eq!(
            codec.image(&progress).unwrap(),
            codec.reconstruct(&bits).unwrap()
        );
    }
    let mut each = Vec::new();
    codec
        .reconstruct_each(&full, |t, img| each.push((t, img)))
        .unwrap();
    assert_eq!(painted, each, "every iteration painted once, in order");

    // Another file (other bits) is not a continuation: a typed error, not a wrong image.
    let mut other_bits = full.clone();
    other_bits.planes[0][0] ^= 1;
    assert!(!progress.continues(&other_bits));
    assert!(matches!(
        codec.step(&mut progress, &other_bits),
        Err(CodecError::BadImage(_))
    ));
}

#[test]
fn a_file_cut_to_fewer_iterations_is_the_file_of_that_many() {
    let (codec, _) = tiny(9, 3);
    let img = image(50, 19);
    let three = codec.encode(&img, 3).unwrap().bytes;
    for t in 1..=3 {
        let cut = codec
            .truncate_iterations(&three, t, &Limits::default())
            .unwrap();
        assert_eq!(cut, codec.encode(&img, t).unwrap().bytes, "{t} iterations");
    }
    assert!(matches!(
        codec.truncate_iterations(&three, 4, &Limits::default()),
        Err(CodecError::Iterations { max: 3, .. })
    ));
}

#[test]
fn a_reloaded_model_file_writes_the_same_bytes() {
    let (codec, file) = tiny(7, 2);
    let bytes = file.to_bytes().unwrap();
    let again = RecurrentCodecModel::<B>::load(&bytes, &Default::default()).unwrap();
    assert_eq!(again.id, codec.id);
    let img = image(16, 16);
    assert_eq!(
        codec.encode(&img, 2).unwrap().bytes,
        again.encode(&img, 2).unwrap().bytes
    );
}

#[test]
fn wrong_models_iterations_and_damage_are_typed_errors() {
    let (a, _) = tiny(11, 2);
    let (b, _) = tiny(12, 2);
    let enc = a.encode(&image(20, 20), 2).unwrap();
    assert!(matches!(
        b.decode(&enc.bytes),
        Err(CodecError::WrongModel { .. })
    ));
    for n in [0, 3] {
        assert!(matches!(
            a.encode(&image(20, 20), n),
            Err(CodecError::Iterations { max: 2, .. })
        ));
    }
    for cut in 0..enc.bytes.len() {
        assert!(a.decode(&enc.bytes[..cut]).is_err(), "cut {cut}");
        let _ = a.decode_bits(&enc.bytes[..cut], &Limits::default(), true);
    }
    for i in 0..enc.bytes.len() {
        let mut damaged = enc.bytes.clone();
        damaged[i] ^= 0x21;
        assert!(a.decode(&damaged).is_err(), "byte {i}");
    }
}

#[test]
fn a_decoder_only_cut_decodes_the_full_models_files_identically_and_cannot_encode() {
    let (codec, full) = tiny(11, 3);
    let img = image(40, 24);
    let enc = codec.encode(&img, 3).unwrap();
    let cut = codec.decoder_only_file().unwrap().to_bytes().unwrap();
    let full_bytes = full.to_bytes().unwrap();
    assert_eq!(&cut[..4], b"CVRD");
    assert!(
        cut.len() < full_bytes.len(),
        "cut {} B ≥ full {} B",
        cut.len(),
        full_bytes.len()
    );
    let decoder = RecurrentCodecModel::<B>::load(&cut, &Default::default()).unwrap();
    assert_eq!(decoder.id, codec.id, "the cut names the full model");
    assert!(codec.can_encode() && !decoder.can_encode());
    assert_eq!(
        decoder.decode(&enc.bytes).unwrap(),
        codec.decode(&enc.bytes).unwrap()
    );
    // A prefix of whole iterations too.
    let prefix = codec
        .truncate_iterations(&enc.bytes, 1, &Limits::default())
        .unwrap();
    assert_eq!(
        decoder.decode(&prefix).unwrap(),
        codec.decode(&prefix).unwrap()
    );
    let err = decoder.encode(&img, 1).unwrap_err();
    assert!(matches!(err, CodecError::DecoderOnly { .. }), "{err}");
    assert!(err.to_string().contains("decoder-only"), "{err}");
}

/// A tiny model with `cell` and `mode`, seeded, and a second copy loaded from its file
/// with the decoder's CPU kernels on.
fn tiny_of(
    cell: CellKind,
    mode: ReconstructionMode,
) -> (RecurrentCodecModel<B>, RecurrentCodecModel<B>) {
    let _rng = common::seeded(13);
    let device = Default::default();
    let mut cfg = RecurrentConfig::preset(RecurrentPreset::Tiny);
    (cfg.cell, cfg.mode, cfg.iterations) = (cell, mode, 3);
    let net = RecurrentCodec::<B>::new(&cfg, &device).unwrap();
    let (burn, file) =
        RecurrentCodecModel::freeze(net, cfg, WeightPrecision::F32, &device).unwrap();
    let cpu = RecurrentCodecModel::load(&file.to_bytes().unwrap(), &device).unwrap();
    (burn, cpu.with_cpu_kernels(2))
}

/// The encoder's CPU kernels (stride-2 convolutions, the cells, the binarizer's sign)
/// give the codes its Burn modules give, for both cells and the additive and one-shot
/// modes: a code may take the other sign only where the binarizer's output is within
/// float rounding of 0 (at most 1 % of them here; the test models give none on x86-64),
/// and the file decodes like any other; a queued encode on the kernels writes the same
/// file. A residual-scaling model encodes on Burn.
#[test]
fn the_cpu_kernels_encode_what_the_burn_modules_encode() {
    let img = image(96, 75);
    for cell in [CellKind::Lstm, CellKind::Gru] {
        for mode in [ReconstructionMode::Additive, ReconstructionMode::OneShot] {
            let (burn, cpu) = tiny_of(cell, mode);
            let (a, b) = (burn.encode(&img, 3).unwrap(), cpu.encode(&img, 3).unwrap());
            let planes = |bytes: &[u8]| {
                cpu.decode_bits(bytes, &Limits::default(), false)
                    .unwrap()
                    .planes
            };
            let (pa, pb) = (planes(&a.bytes), planes(&b.bytes));
            assert_eq!(pa.len(), 3);
            let total: usize = pa.iter().map(Vec::len).sum();
            assert_eq!(total, 3 * 4 * 6 * 5, "{cell:?} {mode:?}");
            let differing: usize = pa
                .iter()
                .zip(&pb)
                .map(|(x, y)| x.iter().zip(y).filter(|(p, q)| p != q).count())
                .sum();
            assert!(
                differing * 100 <= total,
                "{cell:?} {mode:?}: {differing} of {total}"
            );
            if differing == 0 {
                assert_eq!(a.bytes, b.bytes, "{cell:?} {mode:?}");
            }
            let decoded = cpu.decode(&b.bytes).unwrap();
            assert_eq!((decoded.width, decoded.height), (96, 75));
            // a queued encode on the kernels reads back the codes that encode writes
            let queued = cpu.queue_encode(&img, 3).unwrap().finish().unwrap();
            assert_eq!(queued.bytes, b.bytes, "{cell:?} {mode:?}");
        }
    }
    let (scaling, scaling_cpu) = tiny_of(CellKind::Lstm, ReconstructionMode::ResidualScaling);
    assert_eq!(
        scaling_cpu.encode(&img, 2).unwrap().bytes,
        scaling.encode(&img, 2).unwrap().bytes
    );
}

/// The decoder's CPU kernels compute what its Burn modules compute, for both cells and
/// the additive and one-shot modes, iteration by iteration (up to float summation order:
/// < 1e-3 on the 0..255 scale, the decoded pixels within ±1); a residual-scaling model
/// keeps the Burn path; a decode started on the kernels does not continue on Burn.
#[test]
fn the_cpu_kernels_decode_what_the_burn_modules_decode() {
    let img = image(45, 38);
    for cell in [CellKind::Lstm, CellKind::Gru] {
        for mode in [ReconstructionMode::Additive, ReconstructionMode::OneShot] {
            let (burn, cpu) = tiny_of(cell, mode);
            let bytes = burn.encode(&img, 3).unwrap().bytes;
            let bits = burn.decode_bits(&bytes, &Limits::default(), false).unwrap();
            assert!(cpu.uses_cpu_kernels(), "{cell:?} {mode:?}");
            let (mut a, mut b) = (
                burn.progressive(&bits.header),
                cpu.progressive(&bits.header),
            );
            let mut t = 0;
            while burn.step(&mut a, &bits).unwrap() {
                assert!(cpu.step(&mut b, &bits).unwrap());
                t += 1;
                let values = |p| {
                    RecurrentCodecModel::<B>::pixels(p)
                        .into_data()
                        .into_vec::<f32>()
                        .unwrap()
                };
                let (va, vb) = (values(&a), values(&b));
                assert_eq!(va.len(), vb.len());
                let err = va
                    .iter()
                    .zip(&vb)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max);
                assert!(err < 1e-3, "{cell:?} {mode:?} iteration {t}: {err}");
                let spread = va.iter().fold(0f32, |m, v| m.max((v - va[0]).abs()));
                assert!(spread > 1.0, "the test image gives a varied reconstruction");
                let (ia, ib) = (burn.image(&a).unwrap(), cpu.image(&b).unwrap());
                assert!(
                    ia.data
                        .iter()
                        .zip(&ib.data)
                        .all(|(x, y)| x.abs_diff(*y) <= 1)
                );
            }
            assert_eq!(t, 3);
            assert_eq!(cpu.decode(&bytes).unwrap(), cpu.image(&b).unwrap());
            // a decode started on the kernels is not continued by the Burn path
            let mut started = cpu.progressive(&bits.header);
            assert!(matches!(
                burn.step(&mut started, &bits),
                Err(CodecError::BadImage(_))
            ));
        }
    }
    let (scaling, scaling_cpu) = tiny_of(CellKind::Lstm, ReconstructionMode::ResidualScaling);
    let bytes = scaling.encode(&img, 2).unwrap().bytes;
    assert!(!scaling_cpu.uses_cpu_kernels());
    assert_eq!(
        scaling_cpu.decode(&bytes).unwrap(),
        scaling.decode(&bytes).unwrap()
    );
}
