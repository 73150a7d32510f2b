//! The library facade: `encode` / `decode` with the embedded models, `Options`
//! (validation, size targets, limits, a given model), and typed errors for bad input.

use std::sync::Arc;

use cvq::{Error, InvalidOptions, Limits, Model, Options, RgbImage, Tune};

/// A seeded, untrained tiny model (format and plumbing only), loaded from its file bytes.
fn tiny_model() -> Model {
    use burn::backend::Flex;
    use cvq_core::codec::CodecModel;
    use cvq_core::config::{CvqnConfig, Preset};
    use cvq_core::entropy::WeightPrecision;
    use cvq_core::model::Cvqn;
    let device = Default::default();
    <Flex as burn::tensor::backend::Backend>::seed(&device, 5);
    let cfg = CvqnConfig::preset(Preset::Tiny);
    let model = Cvqn::<Flex>::new(&cfg, &device).unwrap();
    let (_, file) = CodecModel::freeze(model, cfg, 2, WeightPrecision::F32, &device).unwrap();
    Model::from_bytes(&file.to_bytes().unwrap()).unwrap()
}

/// A seeded, untrained tiny recurrent model of 5 iterations, loaded from its file bytes.
fn tiny_recurrent_model() -> Model {
    Model::from_bytes(&tests::tiny_recurrent_model_file(43, 5)).unwrap()
}

fn pattern(w: usize, h: usize) -> RgbImage {
    let data = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            [(x * 5) as u8, (y * 3) as u8, ((x * y) % 251) as u8]
        })
        .collect();
    RgbImage::new(w, h, data).unwrap()
}

#[test]
fn round_trip_finds_the_embedded_model_by_hash() {
    let image = pattern(80, 48);
    let mut ids = Vec::new();
    for q in cvq::qualities() {
        let bytes = cvq::encode(&image, q).unwrap();
        let back = cvq::decode(&bytes).unwrap();
        assert_eq!((back.width, back.height), (80, 48));
        assert!(cvq::compare(&image, &back).psnr > 10.0);
        // the same bytes as the model's own encoder, decoded by the same model
        let model = Model::embedded(q).unwrap();
        assert_eq!(model.encode(&image).unwrap().bytes, bytes);
        assert_eq!(model.decode(&bytes).unwrap(), back);
        assert_eq!(Model::for_file(&bytes).unwrap().id(), model.id());
        ids.push(model.id());
    }
    ids.dedup();
    assert_eq!(ids.len(), 5, "one model per rate point: {ids:?}");
    assert_eq!(
        cvq::qualities().collect::<Vec<_>>(),
        [1, 2, 3, 4, 5],
        "lowest rate first"
    );
}

#[test]
fn options_are_validated_before_any_work() {
    let q3 = Arc::new(Model::embedded(3).unwrap());
    let cases: [(Options, &str); 7] = [
        (
            Options::default().with_quality(9),
            "no embedded psnr model for quality 9 (available: 1, 2, 3, 4, 5)",
        ),
        (
            Options::default().with_tune(Tune::MsSsim).with_quality(5),
            "no embedded ms-ssim model for quality 5 (available: 1, 2, 3, 4)",
        ),
        (
            Options {
                model: Some(Arc::clone(&q3)),
                tune: Tune::MsSsim,
                ..Options::default()
            },
            "tune ms-ssim chooses among the embedded models",
        ),
        (
            Options {
                model: Some(Arc::clone(&q3)),
                quality: Some(2),
                ..Options::default()
            },
            "has no quality 2 (it encodes at 3)",
        ),
        (
            Options::default().with_max_bytes(0),
            "max_bytes must be at least 1",
        ),
        (
            Options::default().with_target_bpp(0.0),
            "target_bpp must be a positive number",
        ),
        (
            Options::default().with_target_bpp(f64::INFINITY),
            "target_bpp must be a positive number",
        ),
    ];
    let image = pattern(32, 32);
    for (options, message) in cases {
        let err = options.validate().unwrap_err();
        assert!(err.to_string().contains(message), "{err}");
        let err = cvq::encode_with(&image, &options).unwrap_err();
        assert!(matches!(err, Error::Options(_)), "{err:?}");
    }
    assert!(matches!(
        cvq::encode(&image, 0),
        Err(Error::Options(InvalidOptions::NoSuchQuality {
            quality: 0,
            ..
        }))
    ));
    assert!(Options::default().validate().is_ok());
}

#[test]
fn the_ms_ssim_tune_encodes_with_its_own_model_and_decodes_as_any_file() {
    let image = pattern(80, 48);
    assert_eq!(
        cvq::qualities_for(Tune::MsSsim).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let psnr = cvq::encode_with(&image, &Options::default()).unwrap();
    let ssim = cvq::encode_with(&image, &Options::default().with_tune(Tune::MsSsim)).unwrap();
    assert_eq!(ssim.quality, 3);
    assert_ne!(ssim.model, psnr.model, "a model of its own");
    let model = Model::embedded_tuned(3, Tune::MsSsim).unwrap();
    assert_eq!(ssim.model, model.id());
    assert_eq!(model.encode(&image).unwrap().bytes, ssim.bytes);
    // decoding needs no tune: the header names the model
    let back = cvq::decode(&ssim.bytes).unwrap();
    assert_eq!(back, model.decode(&ssim.bytes).unwrap());
    assert!(cvq::compare(&image, &back).psnr > 10.0);
    // a size target tries only the tune's rate points
    let fits = Options::default()
        .with_tune(Tune::MsSsim)
        .with_max_bytes(ssim.bytes.len() as u64);
    assert_eq!(cvq::encode_with(&image, &fits).unwrap().bytes, ssim.bytes);
    let ssim_at = |q| {
        Model::embedded_tuned(q, Tune::MsSsim)
            .unwrap()
            .encode(&image)
            .unwrap()
    };
    let q2 = ssim_at(2);
    assert!(q2.bytes.len() < ssim.bytes.len());
    let below = fits.with_max_bytes(ssim.bytes.len() as u64 - 1);
    assert_eq!(cvq::encode_with(&image, &below).unwrap().bytes, q2.bytes);
    let q1 = ssim_at(1);
    assert!(q1.bytes.len() < q2.bytes.len());
    assert!(matches!(
        cvq::encode_with(&image, &below.with_max_bytes(q1.bytes.len() as u64 - 1)),
        Err(Error::TooLarge { quality: 1, .. })
    ));
}

#[test]
fn size_targets_choose_the_highest_rate_point_that_fits() {
    let image = pattern(176, 160);
    let pixels = 176 * 160;
    let sizes: Vec<(u8, u64)> = cvq::qualities()
        .map(|q| (q, cvq::encode(&image, q).unwrap().len() as u64))
        .collect();
    let best_within = |budget: u64, top: u8| {
        sizes
            .iter()
            .filter(|&&(q, s)| s <= budget && q <= top)
            .map(|&(q, _)| q)
            .max()
    };
    let smallest = sizes.iter().map(|&(_, s)| s).min().unwrap();
    let largest = sizes.iter().map(|&(_, s)| s).max().unwrap();
    let mut budgets: Vec<u64> = sizes.iter().flat_map(|&(_, s)| [s - 1, s]).collect();
    budgets.extend([largest * 2, u64::MAX]);
    for budget in budgets {
        for top in [None, Some(2)] {
            let mut options = Options::default().with_max_bytes(budget);
            options.quality = top;
            let expected = best_within(budget, top.unwrap_or(u8::MAX));
            match (cvq::encode_with(&image, &options), expected) {
                (Ok(enc), Some(q)) => {
                    assert_eq!(enc.quality, q, "budget {budget}, top {top:?}");
                    assert_eq!(enc.bytes, cvq::encode(&image, q).unwrap());
                    assert!(enc.bytes.len() as u64 <= budget);
                }
                (
                    Err(Error::TooLarge {
                        budget: b,
                        smallest: s,
                        ..
                    }),
                    None,
                ) => {
                    assert_eq!(b, budget);
                    let tried_smallest = sizes
                        .iter()
                        .filter(|&&(q, _)| q <= top.unwrap_or(u8::MAX))
                        .map(|&(_, s)| s)
                        .min()
                        .unwrap();
                    assert_eq!(s, tried_smallest);
                }
                (got, expected) => panic!("budget {budget}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    // target_bpp is the same budget in bits per pixel, floored to whole bytes; with both
    // targets the smaller budget counts.
    let bpp = |bytes: u64| (bytes as f64 + 0.5) * 8.0 / pixels as f64;
    let options = Options::default().with_target_bpp(bpp(smallest));
    assert_eq!(options.budget(pixels), Some(smallest));
    let enc = cvq::encode_with(&image, &options).unwrap();
    assert_eq!(Some(enc.quality), best_within(smallest, u8::MAX));
    let both = Options::default()
        .with_target_bpp(bpp(largest))
        .with_max_bytes(smallest);
    assert_eq!(both.budget(pixels), Some(smallest));
    let err = cvq::encode_with(
        &image,
        &Options::default().with_target_bpp(bpp(smallest - 1)),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "does not fit in {} bytes: the smallest file",
            smallest - 1
        )),
        "{err}"
    );

    // with a given model its own file must fit
    let q4 = Options::default().with_model(Model::embedded(4).unwrap());
    let q4_size = sizes[3].1;
    assert_eq!(
        cvq::encode_with(&image, &q4.clone().with_max_bytes(q4_size))
            .unwrap()
            .quality,
        4
    );
    assert!(matches!(
        cvq::encode_with(&image, &q4.with_max_bytes(q4_size - 1)),
        Err(Error::TooLarge { quality: 4, .. })
    ));
}

/// A recurrent model's size target is met by its most iterations that fit, from one
/// encode cut after each iteration: the same bytes as an encode at that count.
#[test]
fn a_recurrent_size_target_keeps_the_most_iterations_that_fit() {
    let image = pattern(96, 64);
    let model = tiny_recurrent_model();
    let files: Vec<Vec<u8>> = (1..=5)
        .map(|t| model.encode_at(&image, t).unwrap().bytes)
        .collect();
    let each = model.encode_each_iteration(&image, 5).unwrap();
    assert_eq!(each.len(), 5);
    for (t, enc) in (1..=5).zip(&each) {
        assert_eq!(enc.quality, t);
        assert!(enc.bytes == files[usize::from(t) - 1], "{t} iterations");
        assert!(enc.estimated_bits < 8.0 * enc.bytes.len() as f64);
    }
    let sizes: Vec<u64> = files.iter().map(|f| f.len() as u64).collect();
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");

    let options = Options::default().with_model(model);
    for budget in sizes.iter().flat_map(|&s| [s - 1, s]) {
        for top in [None, Some(3)] {
            let mut options = options.clone().with_max_bytes(budget);
            options.quality = top;
            let expected = (1..=top.unwrap_or(5))
                .filter(|&t| sizes[usize::from(t) - 1] <= budget)
                .max();
            match (cvq::encode_with(&image, &options), expected) {
                (Ok(enc), Some(t)) => {
                    assert_eq!(enc.quality, t, "budget {budget}, top {top:?}");
                    assert!(enc.bytes == files[usize::from(t) - 1]);
                }
                (
                    Err(Error::TooLarge {
                        smallest, quality, ..
                    }),
                    None,
                ) => {
                    assert_eq!((smallest, quality), (sizes[0], 1), "budget {budget}");
                }
                (got, expected) => panic!("budget {budget}: got {got:?}, expected {expected:?}"),
            }
        }
    }
    // more iterations than the model has, and a CVQN model, are errors
    let model = options.model.as_ref().unwrap();
    assert!(matches!(
        model.encode_each_iteration(&image, 6),
        Err(Error::Options(InvalidOptions::QualityMismatch {
            quality: 6,
            ..
        }))
    ));
    let err = tiny_model().encode_each_iteration(&image, 1).unwrap_err();
    assert!(
        err.to_string()
            .contains("iteration counts belong to recurrent models"),
        "{err}"
    );
}

#[test]
fn limits_and_bad_input_are_errors() {
    let image = pattern(64, 40);
    let mut narrow = Limits::default();
    narrow.max_width = 63;
    let err =
        cvq::encode_with(&image, &Options::default().with_limits(narrow.clone())).unwrap_err();
    assert!(
        err.to_string()
            .contains("image width 64 exceeds the limit of 63"),
        "{err}"
    );
    let bytes = cvq::encode(&image, 1).unwrap();
    let limited = Options {
        limits: narrow,
        ..Options::default()
    };
    assert!(matches!(
        cvq::decode_with(&bytes, &limited),
        Err(Error::Codec(_))
    ));

    // truncated: an error, or a preview with `partial`
    let cut = &bytes[..bytes.len() - 3];
    assert!(matches!(cvq::decode(cut), Err(Error::Codec(_))));
    let partial = Options {
        partial: true,
        ..Options::default()
    };
    let preview = cvq::decode_with(cut, &partial).unwrap();
    assert!(preview.groups_received < preview.groups);
    assert_eq!((preview.image.width, preview.image.height), (64, 40));

    // not a .cvq file, a corrupt byte, another model's file, not a model file
    assert!(matches!(
        cvq::decode(b"not a cvq file"),
        Err(Error::Codec(_))
    ));
    assert!(cvq::decode(&[]).is_err());
    let mut corrupt = bytes.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x55;
    assert!(cvq::decode(&corrupt).is_err());
    // a file of a model that is not embedded: decoded with that model only
    let tiny = tiny_model();
    let foreign = tiny.encode(&image).unwrap().bytes;
    match cvq::decode(&foreign) {
        Err(Error::ModelNotEmbedded { model }) => assert_eq!(model, tiny.id()),
        Err(e) => panic!("expected ModelNotEmbedded, got {e}"),
        Ok(_) => panic!("a file of an unknown model decoded"),
    }
    let with_tiny = Options {
        model: Some(Arc::new(tiny)),
        ..Options::default()
    };
    let back = cvq::decode_with(&foreign, &with_tiny).unwrap();
    assert_eq!(back.groups_received, back.groups);
    assert!(matches!(
        cvq::decode_with(&bytes, &with_tiny),
        Err(Error::Codec(cvq::CodecError::WrongModel { .. }))
    ));
    assert!(matches!(
        Model::from_bytes(b"CVQM nonsense"),
        Err(Error::Codec(_))
    ));
    let missing = std::path::Path::new("/nonexistent/model.cvqm");
    assert!(matches!(Model::open(missing), Err(Error::Io { .. })));
    assert!(RgbImage::new(2, 2, vec![0; 11]).is_err());
}

/// `Options::tile`: a model without channel attention decodes in tiles to the same
/// pixels as the whole image.
#[test]
fn tiled_decode_gives_the_whole_image_pixels() {
    let model = Arc::new(tiny_model());
    assert!(model.can_tile(), "the tiny preset has no residual blocks");
    let image = pattern(300, 200);
    let opts = Options {
        model: Some(Arc::clone(&model)),
        ..Options::default()
    };
    let bytes = cvq::encode_with(&image, &opts).unwrap().bytes;
    let whole = cvq::decode_with(
        &bytes,
        &Options {
            tile: Some(0),
            ..opts.clone()
        },
    )
    .unwrap();
    assert_eq!(whole.tiles, 1);
    // 64 px tiles over a 13 × 19 latent: 4 × 5 tiles, the progress told after every
    // window of every pass, up to the total.
    let reports = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let tiled = cvq::decode_with(
        &bytes,
        &Options {
            tile: Some(64),
            ..opts.clone()
        }
        .with_progress(cvq::Progress::new(move |done, total| {
            sink.lock().unwrap().push((done, total));
        })),
    )
    .unwrap();
    assert_eq!(tiled.tiles, 20);
    assert!(tiled.image.data == whole.image.data);
    let reports = reports.lock().unwrap();
    let total = reports[0].1;
    assert!(total >= 20, "at least one pass over the 20 tiles: {total}");
    let expected: Vec<_> = (1..=total).map(|done| (done, total)).collect();
    assert_eq!(*reports, expected);
    // By default an image this small (≤ 4 MP) runs whole; larger ones in 512-px tiles.
    assert_eq!(cvq::decode_with(&bytes, &opts).unwrap().tiles, 1);
    assert_eq!(cvq::tile_for(None, 300, 200), 0);
    assert_eq!(cvq::tile_for(None, 4000, 3000), cvq::DEFAULT_TILE);
    assert_eq!(cvq::tile_for(Some(64), 300, 200), 64);
}

/// The embedded models have channel attention: tiled synthesis gathers the whole
/// image's means in passes first and gives the whole-image pixels (±1 at most), while a
/// window that pooled over itself alone would not.
#[test]
fn tiled_decode_with_channel_attention_gives_the_whole_image_pixels() {
    let embedded = Model::embedded(3).unwrap();
    assert!(embedded.can_tile());
    // Right third dark: a window's own means differ from the whole image's.
    let mut image = pattern(300, 200);
    for row in image.data.chunks_exact_mut(3 * 300) {
        row[3 * 208..].fill(10);
    }
    let bytes = cvq::encode(&image, 3).unwrap();
    // The encoder (channel attention too) in 64-px tiles writes the same file.
    let tiled_file = cvq::encode_with(
        &image,
        &Options {
            quality: Some(3),
            tile: Some(64),
            ..Options::default()
        },
    )
    .unwrap();
    assert!(
        tiled_file.bytes == bytes,
        "the tiled encoder's file differs"
    );
    let decode = |tile| {
        let opts = Options {
            tile: Some(tile),
            ..Options::default()
        };
        cvq::decode_with(&bytes, &opts).unwrap()
    };
    let whole = decode(0);
    let tiled = decode(64);
    assert_eq!((whole.tiles, tiled.tiles), (1, 20));
    let diff = |a: &[u8], b: &[u8]| {
        let d: Vec<u8> = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).collect();
        let max = d.iter().copied().max().unwrap();
        (max, d.iter().filter(|&&v| v > 0).count())
    };
    let (max, off) = diff(&whole.image.data, &tiled.image.data);
    eprintln!(
        "tiled with attention passes: max diff {max}, {off} of {} values differ",
        whole.image.data.len()
    );
    assert!(
        max <= 1 && off * 1000 <= whole.image.data.len(),
        "max {max}, {off} differ"
    );
    // One window pooled over itself (latent rows 0..13, cols 0..13: the tile 0..4 with
    // its 9-position halo): the tile's pixels move by more than the ±1 the tiled decode
    // above is allowed (how far depends on the weights: 1.86 levels with the 2026-11-29
    // default model).
    let codec = embedded.codec().unwrap();
    let symbols = codec
        .decode_symbols(&bytes, &cvq::Limits::default(), false)
        .unwrap();
    let (lh, lw) = symbols.header.latent_size();
    let crop = |t: burn::tensor::Tensor<cvq::Cpu, 4>| t.narrow(2, 0, 64).narrow(3, 0, 64);
    let global = crop(codec.synthesis_region(&symbols, 0..lh as usize, 0..lw as usize));
    let local = crop(codec.synthesis_region(&symbols, 0..13, 0..13));
    let gap = (global - local).abs().max().into_scalar();
    eprintln!("a window pooling alone: pixels off by up to {gap}");
    assert!(
        gap > 1.5,
        "pooling over the window changed pixels by only {gap}"
    );
}
