//! Image ⇄ `.cvq` with a frozen (seeded, randomly initialised) tiny model on the CPU
//! backend: exact round trip, model-file round trip, progressive prefixes, wrong-model
//! and corrupt-file errors, and integer-vs-float rate agreement.

use burn::backend::Flex;
use cvq_bitstream::format::Limits;
use cvq_core::codec::{CodecError, CodecModel, RgbImage, image_to_tensor};
use cvq_core::config::{AttentionKind, CvqnConfig, EntropyKind, Preset};
use cvq_core::entropy::{ModelFile, WeightPrecision};
use cvq_core::model::Cvqn;
use cvq_core::tiling::{SEGMENT_BUDGET_BYTES, synthesis_plan};

type B = Flex;

mod common;

fn tiny_codec(seed: u64, entropy: EntropyKind) -> (CodecModel<B>, ModelFile) {
    let _guard = common::seeded(seed);
    let device = Default::default();
    let cfg = CvqnConfig::preset(Preset::Tiny).with_entropy(entropy);
    let mut model = Cvqn::<B>::new(&cfg, &device).unwrap();
    // Spread the quantizer means over the latent's range so symbols vary.
    let latent = model
        .encoder
        .forward(image_to_tensor::<B>(&test_image(64, 48), &device));
    model.fit_quantizer_means(latent);
    CodecModel::freeze(model, cfg, 1, WeightPrecision::F32, &device).unwrap()
}

/// A smooth synthetic photo-like image (gradients, a disc, mild texture).
fn test_image(width: usize, height: usize) -> RgbImage {
    let mut data = Vec::with_capacity(3 * width * height);
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
            let disc = ((fx - 0.6).powi(2) + (fy - 0.4).powi(2)) < 0.05;
            let tex = ((x * 7 + y * 13) % 17) as f32 * 2.0;
            let r = 40.0 + 160.0 * fx + tex;
            let g = if disc { 220.0 } else { 60.0 + 120.0 * fy };
            let b = 200.0 - 150.0 * fx * fy + tex;
            data.extend([r, g, b].map(|v| v.clamp(0.0, 255.0) as u8));
        }
    }
    RgbImage::new(width, height, data).unwrap()
}

#[test]
fn encode_decode_round_trip_is_exact_for_both_entropy_models() {
    for kind in [EntropyKind::Parallel, EntropyKind::Context3d] {
        let (codec, _) = tiny_codec(7, kind);
        let image = test_image(45, 37); // not multiples of 16: padded, then cropped
        let enc = codec.encode(&image).unwrap();
        let decoded = codec
            .decode_symbols(&enc.bytes, &Limits::default(), false)
            .unwrap();
        assert_eq!(decoded.header.width, 45);
        assert_eq!(decoded.header.height, 37);
        assert_eq!(decoded.groups_received, 3);
        // The decoded symbols are exactly the encoder's.
        let q = codec
            .model
            .as_ref()
            .unwrap()
            .quantize(burn::tensor::Tensor::<B, 4>::from_data(
                burn::tensor::TensorData::new(padded_planar(&image), [1, 3, 48, 48]),
                &Default::default(),
            ));
        for ((_, s), d) in q.groups.iter().zip(&decoded.symbols) {
            let s: Vec<i64> = s.clone().into_data().convert::<i64>().into_vec().unwrap();
            assert_eq!(s.iter().map(|&v| v as usize).collect::<Vec<_>>(), *d);
        }
        let out = codec.synthesize(&decoded).unwrap();
        assert_eq!(
            (out.width, out.height, out.data.len()),
            (45, 37, 45 * 37 * 3)
        );
        assert_eq!(codec.decode(&enc.bytes).unwrap(), out);
        // Stored payload sizes add up to the file minus the header.
        let total: usize = enc.payload_bytes.iter().sum();
        assert!(total < enc.bytes.len());
    }
}

#[test]
fn a_queued_encode_read_back_later_writes_the_encoders_file_across_bands() {
    // 45×300 px: 19 latent rows, two bands of quantisation (16 rows each).
    let (codec, _) = tiny_codec(11, EntropyKind::Parallel);
    let image = test_image(45, 300);
    let pending = codec.queue_encode(&image, codec.quality).unwrap();
    let data = pending.symbols.clone().into_data();
    let encoded = pending.writer.write(data.clone()).unwrap();
    assert_eq!(encoded.bytes, codec.encode(&image).unwrap().bytes);
    let decoded = codec
        .decode_symbols(&encoded.bytes, &Limits::default(), false)
        .unwrap();
    let q = codec
        .model
        .as_ref()
        .unwrap()
        .quantize(burn::tensor::Tensor::<B, 4>::from_data(
            burn::tensor::TensorData::new(padded_planar(&image), [1, 3, 304, 48]),
            &Default::default(),
        ));
    for ((_, s), d) in q.groups.iter().zip(&decoded.symbols) {
        let s: Vec<i64> = s.clone().into_data().convert::<i64>().into_vec().unwrap();
        assert_eq!(s.iter().map(|&v| v as usize).collect::<Vec<_>>(), *d);
    }
    // Data that is not the pending encode's is refused, not misread.
    let mut short: Vec<i64> = data.convert::<i64>().into_vec().unwrap();
    short.pop();
    let n = short.len();
    let err = pending
        .writer
        .write(burn::tensor::TensorData::new(short, [n]))
        .unwrap_err();
    assert!(matches!(err, CodecError::Weights(_)), "{err}");
    assert!(!codec.encode_reads_order());
}

/// Independent reference for the encoder's padding (edge replication to 16), so the
/// round-trip test also checks `image_to_tensor`.
fn padded_planar(image: &RgbImage) -> Vec<f32> {
    let (w, h) = (image.width, image.height);
    let (pw, ph) = (w.div_ceil(16) * 16, h.div_ceil(16) * 16);
    let mut out = vec![0.0; 3 * pw * ph];
    for c in 0..3 {
        for y in 0..ph {
            for x in 0..pw {
                let (sy, sx) = (y.min(h - 1), x.min(w - 1));
                out[(c * ph + y) * pw + x] = f32::from(image.data[(sy * w + sx) * 3 + c]) / 255.0;
            }
        }
    }
    out
}

#[test]
fn model_file_round_trip_reproduces_the_bytes() {
    let (codec, file) = tiny_codec(11, EntropyKind::Parallel);
    let bytes = file.to_bytes().unwrap();
    let loaded = CodecModel::<B>::load(&bytes, &Default::default()).unwrap();
    assert_eq!(loaded.id, codec.id);
    let image = test_image(32, 20);
    assert_eq!(
        loaded.encode(&image).unwrap().bytes,
        codec.encode(&image).unwrap().bytes
    );
    // f16 weights load too and name a different model.
    let mut half = file.clone();
    half.precision = WeightPrecision::F16;
    half.weights =
        cvq_core::codec::record_bytes(codec.model.as_ref().unwrap(), WeightPrecision::F16).unwrap();
    let half = CodecModel::<B>::load(&half.to_bytes().unwrap(), &Default::default()).unwrap();
    assert_ne!(half.id.hash, codec.id.hash);
    // A corrupted model file is refused with a typed error.
    let mut bad = bytes.clone();
    bad[bytes.len() / 2] ^= 1;
    assert!(CodecModel::<B>::load(&bad, &Default::default()).is_err());
    assert!(CodecModel::<B>::load(&bytes[..100], &Default::default()).is_err());
}

#[test]
fn decoder_only_file_decodes_identically_and_refuses_to_encode() {
    for (precision, seed) in [(WeightPrecision::F32, 21), (WeightPrecision::F16, 22)] {
        let (codec, mut file) = tiny_codec(seed, EntropyKind::Context3d);
        file.precision = precision;
        file.weights =
            cvq_core::codec::record_bytes(codec.model.as_ref().unwrap(), precision).unwrap();
        let full = CodecModel::<B>::load(&file.to_bytes().unwrap(), &Default::default()).unwrap();
        let cut = full.decoder_only_file().unwrap().to_bytes().unwrap();
        let decoder = CodecModel::<B>::load(&cut, &Default::default()).unwrap();
        assert!(decoder.model.is_none());
        assert_eq!(decoder.id, full.id, "a .cvqd carries the full model's id");
        // Cutting the decoder-only model out of itself gives the same bytes.
        assert_eq!(
            decoder.decoder_only_file().unwrap().to_bytes().unwrap(),
            cut
        );
        let image = test_image(40, 24);
        let bytes = full.encode(&image).unwrap().bytes;
        assert_eq!(
            decoder.decode(&bytes).unwrap(),
            full.decode(&bytes).unwrap(),
            "{precision:?}"
        );
        let err = decoder.encode(&image).unwrap_err();
        assert!(matches!(err, CodecError::DecoderOnly { .. }), "{err}");
        assert!(err.to_string().contains("decoder-only"), "{err}");
    }
}

#[test]
fn prefixes_decode_to_previews_and_full_prefix_equals_full_decode() {
    let (codec, _) = tiny_codec(3, EntropyKind::Parallel);
    let image = test_image(40, 33);
    let bytes = codec.encode(&image).unwrap().bytes;
    let full = codec.decode(&bytes).unwrap();
    let mut received = Vec::new();
    for cut in [bytes.len() / 3, bytes.len() * 2 / 3, bytes.len()] {
        match codec.decode_symbols(&bytes[..cut], &Limits::default(), true) {
            Ok(d) => {
                received.push(d.groups_received);
                let preview = codec.synthesize(&d).unwrap();
                assert_eq!((preview.width, preview.height), (40, 33));
                if d.groups_received == 3 {
                    assert_eq!(preview, full);
                }
            }
            Err(e) => assert!(matches!(e, CodecError::Format(_)), "{e}"),
        }
    }
    assert_eq!(received.last(), Some(&3));
}

#[test]
fn wrong_model_and_corrupt_files_give_typed_errors() {
    let (codec, _) = tiny_codec(5, EntropyKind::Parallel);
    let (other, _) = tiny_codec(6, EntropyKind::Parallel);
    let bytes = codec.encode(&test_image(20, 18)).unwrap().bytes;
    assert!(matches!(
        other.decode(&bytes),
        Err(CodecError::WrongModel { .. })
    ));
    for cut in 0..bytes.len() {
        assert!(codec.decode(&bytes[..cut]).is_err(), "prefix {cut} decoded");
    }
    for i in 0..bytes.len() {
        for bit in [0u8, 3, 7] {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            // Never panics; almost always an error (CRCs), else a valid image.
            if let Ok(img) = codec.decode(&b) {
                assert_eq!(img.data.len(), img.width * img.height * 3);
            }
        }
    }
}

/// The integer model's ideal code length is within 1 % of the float twin's estimate.
#[test]
fn integer_rate_matches_float_estimate() {
    for kind in [EntropyKind::Parallel, EntropyKind::Context3d] {
        let (codec, _) = tiny_codec(21, kind);
        let image = test_image(256, 192);
        let enc = codec.encode(&image).unwrap();
        let out = codec
            .model
            .as_ref()
            .unwrap()
            .forward(image_to_tensor::<B>(&image, &Default::default()));
        let float_bits: f32 = out.bpp().into_scalar() * (256.0 * 192.0);
        let rel = (enc.estimated_bits - f64::from(float_bits)).abs() / f64::from(float_bits);
        eprintln!(
            "{kind:?}: integer {:.1} bits, float {float_bits:.1} bits, |Δ| {:.3} %",
            enc.estimated_bits,
            100.0 * rel
        );
        assert!(
            rel < 0.01,
            "{kind:?}: integer {} bits vs float {float_bits} bits",
            enc.estimated_bits
        );
        // The real payload is the estimate plus a few bytes per group.
        let payload: usize = enc.payload_bytes.iter().sum();
        assert!((payload * 8) as f64 >= enc.estimated_bits - 1.0);
        assert!(((payload * 8) as f64) < enc.estimated_bits + 3.0 * 64.0);
    }
}

/// The float parallel model's causality: non-anchor values are never context, and an
/// anchor's value reaches only non-anchor positions (never anchors, never itself).
#[test]
fn parallel_float_model_is_causal() {
    use burn::tensor::{Distribution, Tensor};
    use cvq_core::model::parallel::ParallelContextModel;
    let _guard = common::seeded(77);
    let device = Default::default();
    let (l, c, p, f, h, w) = (5, 3, 4, 8, 6, 7);
    let model = ParallelContextModel::<B>::new(l, c, p, f, 1, &device);
    let prior = Tensor::<B, 4>::random([1, p, h, w], Distribution::Normal(0.0, 1.0), &device);
    let values = Tensor::<B, 4>::random([1, c, h, w], Distribution::Normal(0.0, 1.0), &device);
    let logits = |v: Tensor<B, 4>| -> Vec<f32> {
        model
            .forward(Some(prior.clone()), v, 0)
            .into_data()
            .convert::<f32>()
            .into_vec()
            .unwrap()
    };
    let base = logits(values.clone());
    let at = |v: &[f32], k: usize, ch: usize, y: usize, x: usize| v[((k * c + ch) * h + y) * w + x];
    for (y0, x0) in [(2, 3), (3, 3), (0, 0), (5, 6)] {
        let mut data: Vec<f32> = values
            .clone()
            .into_data()
            .convert::<f32>()
            .into_vec()
            .unwrap();
        for ch in 0..c {
            data[(ch * h + y0) * w + x0] += 3.0;
        }
        let changed = logits(Tensor::from_data(
            burn::tensor::TensorData::new(data, [1, c, h, w]),
            &device,
        ));
        let anchor0 = (y0 + x0) % 2 == 0;
        let mut reached = false;
        for y in 0..h {
            for x in 0..w {
                let same = (0..l)
                    .all(|k| (0..c).all(|ch| at(&base, k, ch, y, x) == at(&changed, k, ch, y, x)));
                let anchor = (y + x) % 2 == 0;
                if !anchor0 || anchor || (y, x) == (y0, x0) {
                    assert!(same, "value at ({y0},{x0}) leaked into ({y},{x})");
                } else if !same {
                    reached = true;
                }
            }
        }
        assert_eq!(reached, anchor0, "anchor context must reach its neighbours");
    }
}

/// A tiny variable-rate model (3 rate points) whose gains and rate biases differ per
/// rate point, frozen like a trained one.
fn tiny_variable_rate_codec(seed: u64) -> (CodecModel<B>, ModelFile) {
    use burn::module::Param;
    use burn::tensor::{Distribution, Tensor};
    let _guard = common::seeded(seed);
    let device = Default::default();
    let mut cfg = CvqnConfig::preset(Preset::Tiny);
    cfg.rate_points = Some(3);
    let mut model = Cvqn::<B>::new(&cfg, &device).unwrap();
    let latent = model
        .encoder
        .forward(image_to_tensor::<B>(&test_image(64, 48), &device));
    model.fit_quantizer_means(latent);
    for p in &mut model.parallel {
        let dims = p.rate_bias.as_ref().unwrap().dims();
        p.rate_bias = Some(Param::from_tensor(Tensor::random(
            dims,
            Distribution::Normal(0.0, 1.0),
            &device,
        )));
    }
    CodecModel::freeze(model, cfg, 2, WeightPrecision::F32, &device).unwrap()
}

#[test]
fn variable_rate_model_encodes_at_every_quality_and_decodes_exactly() {
    let (codec, file) = tiny_variable_rate_codec(31);
    assert_eq!(codec.qualities(), vec![1, 2, 3]);
    assert_eq!(file.entropy.rate_points(), 3);
    let image = test_image(50, 40);
    let mut sizes = Vec::new();
    for quality in 1..=3u8 {
        let enc = codec.encode_at(&image, quality).unwrap();
        let decoded = codec
            .decode_symbols(&enc.bytes, &Limits::default(), false)
            .unwrap();
        assert_eq!(decoded.header.quality, quality);
        // The symbols are the float model's at that rate point (gain applied).
        let q = codec.model.as_ref().unwrap().quantize_at(
            image_to_tensor::<B>(&image, &Default::default()),
            usize::from(quality) - 1,
        );
        for ((_, s), d) in q.groups.iter().zip(&decoded.symbols) {
            let s: Vec<i64> = s.clone().into_data().convert::<i64>().into_vec().unwrap();
            assert_eq!(s.iter().map(|&v| v as usize).collect::<Vec<_>>(), *d);
        }
        // Decoding through the model file's own path gives the same image.
        let reloaded =
            CodecModel::<B>::load(&file.to_bytes().unwrap(), &Default::default()).unwrap();
        assert_eq!(
            reloaded.decode(&enc.bytes).unwrap(),
            codec.decode(&enc.bytes).unwrap()
        );
        sizes.push(enc.bytes.len());
    }
    // The gains start at 0.5, 1 and 2: a larger gain spreads the latent over more levels.
    assert!(sizes[0] <= sizes[2], "file sizes by quality: {sizes:?}");
    // The default quality is the one stored in the model file.
    assert_eq!(
        codec.encode(&image).unwrap().bytes,
        codec.encode_at(&image, 2).unwrap().bytes
    );
    for bad in [0u8, 4] {
        let err = codec.encode_at(&image, bad).unwrap_err();
        assert!(
            matches!(err, CodecError::Quality { quality, .. } if quality == bad),
            "{err}"
        );
    }
}

#[test]
fn variable_rate_integer_rate_matches_float_estimate_at_each_rate_point() {
    let (codec, _) = tiny_variable_rate_codec(32);
    let image = test_image(128, 96);
    for quality in 1..=3u8 {
        let enc = codec.encode_at(&image, quality).unwrap();
        let out = codec.model.as_ref().unwrap().forward_at(
            image_to_tensor::<B>(&image, &Default::default()),
            usize::from(quality) - 1,
        );
        let float_bits: f32 = out.bpp().into_scalar() * (128.0 * 96.0);
        let rel = (enc.estimated_bits - f64::from(float_bits)).abs() / f64::from(float_bits);
        assert!(
            rel < 0.01,
            "quality {quality}: integer {} bits vs float {float_bits} bits",
            enc.estimated_bits
        );
    }
}

#[test]
fn fixed_rate_model_has_one_quality() {
    let (codec, _) = tiny_codec(33, EntropyKind::Parallel);
    assert_eq!(codec.qualities(), vec![1]);
    let image = test_image(20, 20);
    assert!(matches!(
        codec.encode_at(&image, 2).unwrap_err(),
        CodecError::Quality { quality: 2, .. }
    ));
}

/// A tiny parallel-entropy codec with residual blocks in the decoder and the given
/// channel attention.
fn codec_with_attention(seed: u64, attention: AttentionKind) -> (CodecModel<B>, ModelFile) {
    let _guard = common::seeded(seed);
    let device = Default::default();
    let mut cfg = CvqnConfig::preset(Preset::Tiny).with_entropy(EntropyKind::Parallel);
    cfg.encoder.attention = attention;
    cfg.decoder.attention = attention;
    cfg.encoder.blocks = [0, 0, 1, 1];
    cfg.decoder.blocks = [1, 1, 0, 0];
    let mut model = Cvqn::<B>::new(&cfg, &device).unwrap();
    let latent = model
        .encoder
        .forward(image_to_tensor::<B>(&test_image(64, 48), &device));
    model.fit_quantizer_means(latent);
    CodecModel::freeze(model, cfg, 1, WeightPrecision::F32, &device).unwrap()
}

/// Tiled analysis and synthesis without channel attention give the whole-image file and
/// decode (the halo covers the receptive field), for tiles that do and do not divide the
/// latent.
#[test]
fn tiled_synthesis_equals_the_whole_image_for_a_local_decoder() {
    let (codec, file) = codec_with_attention(11, AttentionKind::None);
    // 300×200 px: latent 13×19, halo 8 (16 + 4·16 + 4·8 + 2·4 + 2·2 + 1 = 125 px).
    let image = test_image(300, 200);
    let bytes = codec.encode(&image).unwrap().bytes;
    // Tiled analysis: the same latent, so the same symbols and bytes.
    for (tile, threads) in [(4, 2), (7, 1)] {
        let tiled = codec.encode_tiled(&image, 1, tile, threads).unwrap().bytes;
        assert!(tiled == bytes, "encoder tile {tile}: the file differs");
    }
    // One pass per segment (every stage's output is kept whole at this size).
    assert_tiles_match_the_whole_image(&codec, &bytes, 4, 1);
    // The same on the CPU kernels, whose whole-image decode is the Burn one's up to ±1.
    let kernels = on_cpu_kernels(&file);
    assert_tiles_match_the_whole_image(&kernels, &bytes, 4, 1);
    assert_close(
        &codec.decode(&bytes).unwrap(),
        &kernels.decode(&bytes).unwrap(),
    );
    assert_kernel_encodes_tile(&kernels, &codec, &image);
}

/// The model of `file` on the CPU kernels, 2 threads.
fn on_cpu_kernels(file: &ModelFile) -> CodecModel<B> {
    CodecModel::from_model_file(file, &Default::default())
        .unwrap()
        .with_cpu_kernels(2)
}

/// The CPU kernels' encoder writes the same file whole and in tiles, and the Burn
/// model decodes it as the kernels do (±1).
fn assert_kernel_encodes_tile(kernels: &CodecModel<B>, burn: &CodecModel<B>, image: &RgbImage) {
    let bytes = kernels.encode(image).unwrap().bytes;
    eprintln!(
        "kernel encode {} bytes, same as the Burn encoder's: {}",
        bytes.len(),
        bytes == burn.encode(image).unwrap().bytes
    );
    for (tile, threads) in [(4, 2), (7, 1)] {
        let tiled = kernels.encode_tiled(image, 1, tile, threads).unwrap().bytes;
        assert!(
            tiled == bytes,
            "kernel encoder tile {tile}: the file differs"
        );
    }
    assert_analysis_segments_agree(kernels, image, 0.0);
    assert_analysis_segments_agree(burn, image, 1e-4);
    assert_close(
        &burn.decode(&bytes).unwrap(),
        &kernels.decode(&bytes).unwrap(),
    );
}

/// Tiled analysis in segments (every stage's output kept whole at this size) and
/// without (every window through the whole encoder) gives the same latent, within
/// `tolerance` (0: bit for bit, as the CPU kernels compute it).
fn assert_analysis_segments_agree(codec: &CodecModel<B>, image: &RgbImage, tolerance: f32) {
    for (tile, threads) in [(4, 2), (7, 1)] {
        let latent = |budget| -> Vec<f32> {
            codec
                .analyze_tiled_within(image, tile, threads, budget)
                .unwrap()
                .into_data()
                .into_vec()
                .unwrap()
        };
        let (segmented, whole_encoder) = (latent(SEGMENT_BUDGET_BYTES), latent(0));
        let diff = segmented
            .iter()
            .zip(&whole_encoder)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert_eq!(segmented.len(), whole_encoder.len());
        assert!(diff <= tolerance, "tile {tile}: latents differ by {diff}");
    }
}

/// Two decodes of the same file agree within ±1 in at most 0.1 % of the values.
fn assert_close(a: &RgbImage, b: &RgbImage) {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let diff: Vec<u8> = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| x.abs_diff(*y))
        .collect();
    let off = diff.iter().filter(|&&d| d > 0).count();
    eprintln!("{off} of {} values differ", diff.len());
    assert!(*diff.iter().max().unwrap() <= 1 && off * 1000 <= diff.len());
}

/// An encoder and a decoder with channel attention (2 blocks each) tile in passes: the
/// encoder in 3 (two gather the whole image's means, the third encodes), the decoder in
/// 6 (its four segments of one stage each, the first two with a pass for the mean of
/// their block); the file is the whole-image file, and the pixels match the whole-image
/// decode within
/// ±1 (float summation order of the means and convolutions). (This untrained model's
/// gates barely depend on the means; `cvq/tests/api.rs` checks with a trained model
/// that a window pooling alone would differ.)
#[test]
fn tiled_synthesis_with_channel_attention_gathers_the_means_first() {
    let (codec, file) = codec_with_attention(11, AttentionKind::Sigmoid);
    let image = test_image(300, 200);
    let bytes = codec.encode(&image).unwrap().bytes;
    // The encoder (2 attention blocks) tiles the same way: the same latent, the same file.
    for (tile, threads) in [(4, 2), (7, 1)] {
        let tiled = codec.encode_tiled(&image, 1, tile, threads).unwrap().bytes;
        assert!(tiled == bytes, "encoder tile {tile}: the file differs");
    }
    assert_tiles_match_the_whole_image(&codec, &bytes, 6, 3);
    let kernels = on_cpu_kernels(&file);
    assert_eq!(kernels.cpu_kernel_threads(), Some(2));
    assert_tiles_match_the_whole_image(&kernels, &bytes, 6, 3);
    assert_close(
        &codec.decode(&bytes).unwrap(),
        &kernels.decode(&bytes).unwrap(),
    );
    assert_kernel_encodes_tile(&kernels, &codec, &image);
}

/// Synthesis of `bytes` in tiles of several sizes and thread counts against the whole
/// image: every window reported once per pass, `passes` passes with the default segment
/// budget and `unsegmented` with none (every window through the whole decoder), ±1 in at
/// most 0.1 % of the values.
fn assert_tiles_match_the_whole_image(
    codec: &CodecModel<B>,
    bytes: &[u8],
    passes: usize,
    unsegmented: usize,
) {
    let decoded = codec
        .decode_symbols(bytes, &Limits::default(), false)
        .unwrap();
    let whole = codec.synthesize(&decoded).unwrap();
    let (lh, lw) = decoded.header.latent_size();
    let (lh, lw) = (lh as usize, lw as usize);
    let kept = SEGMENT_BUDGET_BYTES;
    let cases = [
        (1, 2, kept),
        (4, 1, kept),
        (5, 2, kept),
        (13, 2, kept),
        (64, 1, kept),
        (4, 2, 0),
        (7, 1, 0),
    ];
    for (tile, threads, budget) in cases {
        let mut calls = 0;
        let (w, h) = (
            decoded.header.width as usize,
            decoded.header.height as usize,
        );
        let mut rgb = vec![0u8; 3 * w * h];
        codec
            .synthesize_tiles_within(
                &decoded,
                tile,
                threads,
                budget,
                |done, total| {
                    calls += 1;
                    assert_eq!(done, calls);
                    assert!(done <= total);
                },
                |t| {
                    for (y, row) in t.image.data.chunks_exact(3 * t.image.width).enumerate() {
                        let at = 3 * ((t.y + y) * w + t.x);
                        rgb[at..at + row.len()].copy_from_slice(row);
                    }
                },
            )
            .unwrap();
        let tiled = RgbImage::new(w, h, rgb).unwrap();
        let plan = synthesis_plan(&codec.config, lh, lw, tile, budget);
        let expected = if budget == 0 { unsegmented } else { passes };
        let passes_run: usize = plan.iter().map(|s| s.attention_blocks + 1).sum();
        assert_eq!(passes_run, expected);
        let windows: usize = plan.iter().map(|s| s.windows(lh, lw)).sum();
        assert_eq!(calls, windows, "tile {tile}");
        assert_eq!(
            plan.last().unwrap().tile,
            tile,
            "the pixels come in tiles of {tile}"
        );
        assert_eq!((tiled.width, tiled.height), (300, 200));
        let diff: Vec<u8> = whole
            .data
            .iter()
            .zip(&tiled.data)
            .map(|(a, b)| a.abs_diff(*b))
            .collect();
        let max = diff.iter().copied().max().unwrap();
        let off = diff.iter().filter(|&&d| d > 0).count();
        // Float summation order may differ between window sizes: allow ±1 in at most
        // 0.1 % of the values (the figure measured on Flex is printed).
        eprintln!(
            "tile {tile} ({threads} threads, {expected} passes): {calls} windows, max diff \
             {max}, {off} values differ"
        );
        assert!(
            max <= 1 && off * 1000 <= diff.len(),
            "tile {tile}: max {max}, {off} values differ"
        );
    }
    // The same plan with nothing read back before each tile (the WebGPU path's), one
    // tile of the last segment at a time: every pixel once, ±1 of the whole image.
    for tile in [1, 4, 13] {
        let (w, h) = (whole.width, whole.height);
        let mut rgb = vec![0u8; 3 * w * h];
        let mut painted = vec![0u8; w * h];
        let tiles = codec.queued_tiles(&decoded, tile).unwrap();
        let total = tiles.total();
        assert_eq!(total, cvq_core::tiling::tile_count(lh, lw, tile));
        let mut made = 0;
        for queued in tiles {
            let t = queued.unwrap().finish().unwrap();
            for (y, row) in t.image.data.chunks_exact(3 * t.image.width).enumerate() {
                let at = (t.y + y) * w + t.x;
                rgb[3 * at..3 * at + row.len()].copy_from_slice(row);
                painted[at..at + t.image.width]
                    .iter_mut()
                    .for_each(|n| *n += 1);
            }
            made += 1;
        }
        assert_eq!(made, total);
        assert!(
            painted.iter().all(|&n| n == 1),
            "tile {tile}: a pixel painted twice or never"
        );
        eprint!("queued tiles of {tile}: ");
        assert_close(&RgbImage::new(w, h, rgb).unwrap(), &whole);
    }
}
