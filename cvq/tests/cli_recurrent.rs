//! `cvq encode --iterations` / `info` / `decode --partial` (and with a decoder-only cut)
//! with a seeded, randomly initialised tiny recurrent model (format and plumbing only;
//! never shipped).

use std::path::Path;

use tests::{Bin, write_test_png};

fn write_model(path: &Path) {
    std::fs::write(path, tests::tiny_recurrent_model_file(41, 6)).unwrap();
}

fn cvq() -> Bin {
    Bin::new(env!("CARGO_BIN_EXE_cvq"))
}

/// Files of the first bit model (entropy kind `Binary`) still decode: the web fixture
/// `kodim23-crop-rnn4-counts.cvq` holds the same codes as `kodim23-crop-rnn4.cvq` (kind
/// `BinaryMixing`), and both decode to its PNG.
#[test]
fn files_of_either_bit_model_decode_to_the_same_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/tests/fixtures");
    let f = |name: &str| fixtures.join(name).to_str().unwrap().to_string();
    let golden = std::fs::read(fixtures.join("kodim23-crop-rnn4.cvq.png")).unwrap();
    for (file, kind) in [
        ("kodim23-crop-rnn4-counts.cvq", "entropy:     Binary\n"),
        ("kodim23-crop-rnn4.cvq", "entropy:     BinaryMixing\n"),
    ] {
        cvq().run(["info", &f(file)]).success().stdout_has(kind);
        let out = dir.path().join("out.png");
        let out = out.to_str().unwrap();
        cvq()
            .run([
                "decode",
                &f(file),
                "-o",
                out,
                "--model",
                &f("rnn-tiny.cvqm"),
            ])
            .success()
            .stdout_has("groups 4/4");
        assert!(std::fs::read(out).unwrap() == golden, "{file}");
    }
}

#[test]
fn iterations_info_partial_decode_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (model, png, cvqf, back) = (p("rnn.cvqm"), p("in.png"), p("out.cvq"), p("back.png"));
    write_model(Path::new(&model));
    write_test_png(Path::new(&png), 100, 70, 2);

    cvq()
        .run([
            "encode",
            &png,
            "-o",
            &cvqf,
            "--model",
            &model,
            "--iterations",
            "4",
        ])
        .success()
        .stdout_has("(quality 4)");
    let run = cvq()
        .run(["info", &cvqf])
        .success()
        .stdout_has("image:       100 x 70")
        .stdout_has("entropy:     BinaryMixing")
        .stdout_has("iteration  bits");
    assert_eq!(
        run.stdout.lines().filter(|l| l.ends_with(" yes")).count(),
        4,
        "{}",
        run.stdout
    );

    // A size target keeps the most iterations that fit, up to --iterations: a budget of
    // the 4-iteration file's size gives that file byte for byte.
    let fit = p("fit.cvq");
    let size = std::fs::metadata(&cvqf).unwrap().len().to_string();
    for (budget, quality) in [(size.as_str(), "(quality 4)"), ("1", "")] {
        let run = cvq().run([
            "encode",
            &png,
            "-o",
            &fit,
            "--model",
            &model,
            "--max-bytes",
            budget,
            "--iterations",
            "4",
        ]);
        if quality.is_empty() {
            run.fails(1).stderr_has("does not fit in 1 bytes");
        } else {
            run.success().stdout_has(quality);
            assert!(std::fs::read(&fit).unwrap() == std::fs::read(&cvqf).unwrap());
        }
    }

    // Decode finds nothing embedded for this model: it needs --model.
    cvq()
        .run(["decode", &cvqf, "-o", &back, "--model", &model])
        .success()
        .stdout_has("100 x 70, groups 4/4");
    let bytes = std::fs::read(&cvqf).unwrap();
    let cut = p("cut.cvq");
    std::fs::write(&cut, &bytes[..bytes.len() - 1]).unwrap();
    cvq()
        .run(["decode", &cut, "-o", &back, "--model", &model, "--partial"])
        .success()
        .stdout_has("groups 3/4");
    cvq()
        .run(["decode", &cut, "-o", &back, "--model", &model])
        .fails(1);

    // The decoder-only cut (`cvq-train decoder-only` writes the same bytes) decodes the
    // full model's file to the same pixels and refuses to encode.
    let full = cvq::Model::open(Path::new(&model)).unwrap();
    let cvqd = p("rnn.cvqd");
    std::fs::write(&cvqd, full.decoder_only_bytes().unwrap()).unwrap();
    assert!(std::fs::metadata(&cvqd).unwrap().len() < std::fs::metadata(&model).unwrap().len());
    let back_cut = p("back-cut.png");
    cvq()
        .run(["decode", &cvqf, "-o", &back_cut, "--model", &cvqd])
        .success()
        .stdout_has("100 x 70, groups 4/4");
    cvq()
        .run(["decode", &cvqf, "-o", &back, "--model", &model])
        .success();
    assert_eq!(
        std::fs::read(&back_cut).unwrap(),
        std::fs::read(&back).unwrap()
    );
    cvq()
        .run([
            "encode",
            &png,
            "-o",
            &p("x.cvq"),
            "--model",
            &cvqd,
            "--iterations",
            "2",
        ])
        .fails(1)
        .stderr_has("decoder-only");

    // --iterations beyond the model's, or with a CVQN model, is refused.
    cvq()
        .run([
            "encode",
            &png,
            "-o",
            &cvqf,
            "--model",
            &model,
            "--iterations",
            "7",
        ])
        .fails(1)
        .stderr_has("quality 7");
    cvq()
        .run(["encode", &png, "-o", &cvqf, "--iterations", "2"])
        .fails(1)
        .stderr_has("--iterations needs a recurrent model");
}
