//! The embedded models: `cvq encode` without `--model` uses the model of `--quality`
//! (default 3), `cvq decode` without `--model` finds the embedded model named in the
//! file's header, and an unknown quality is a clear error; `--max-bytes` /
//! `--target-bpp` pick the best rate point whose file fits.

use tests::{Bin, write_test_png};

fn cvq() -> Bin {
    Bin::new(env!("CARGO_BIN_EXE_cvq"))
}

/// A temporary folder with `in.png`, a `w`×`h` test picture, and that file's path.
fn picture(w: u32, h: u32, k: u32) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("in.png");
    write_test_png(&png, w, h, k);
    let path = png.to_str().unwrap().to_string();
    (dir, path)
}

#[test]
fn every_quality_round_trips_with_the_embedded_models() {
    let (dir, png) = picture(96, 80, 0);
    let png = png.as_str();
    let mut headers = Vec::new();
    for q in [None, Some("1"), Some("2"), Some("3"), Some("4"), Some("5")] {
        let file = dir.path().join(format!("q{}.cvq", q.unwrap_or("default")));
        let back = dir.path().join(format!("q{}.png", q.unwrap_or("default")));
        let (file, back) = (file.to_str().unwrap(), back.to_str().unwrap());
        let mut args = vec!["encode", png, "-o", file];
        if let Some(q) = q {
            args.extend(["--quality", q]);
        }
        cvq().run(args).success();
        cvq().run(["decode", file, "-o", back]).success();
        let img = image::open(back).unwrap();
        assert_eq!((img.width(), img.height()), (96, 80));
        let info = cvq().run(["info", file]);
        let model_line = info
            .stdout
            .lines()
            .find(|l| l.starts_with("model:"))
            .unwrap()
            .to_string();
        headers.push(model_line);
    }
    assert_eq!(headers[0], headers[3], "the default quality is 3");
    for pair in headers[1..].windows(2) {
        assert_ne!(pair[0], pair[1], "each quality has its own model");
    }

    cvq()
        .run(["encode", png, "-o", "/dev/null", "--quality", "9"])
        .fails(1)
        .stderr_has("no embedded psnr model for quality 9 (available: 1, 2, 3, 4, 5)");
}

#[test]
fn tune_ms_ssim_encodes_with_the_ms_ssim_model() {
    let (dir, png) = picture(96, 80, 1);
    let png = png.as_str();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (psnr, ssim, back) = (file("psnr.cvq"), file("ssim.cvq"), file("ssim.png"));
    cvq().run(["encode", png, "-o", &psnr]).success();
    let out = cvq()
        .run(["encode", png, "-o", &ssim, "--tune", "ms-ssim"])
        .success();
    assert_eq!(quality_of(&out.stdout), 3, "{}", out.stdout);
    assert_ne!(std::fs::read(&psnr).unwrap(), std::fs::read(&ssim).unwrap());
    // decoding needs no --tune: the file names its model
    cvq().run(["decode", &ssim, "-o", &back]).success();
    assert_eq!(image::open(&back).unwrap().width(), 96);

    cvq()
        .run([
            "encode",
            png,
            "-o",
            &ssim,
            "--tune",
            "ms-ssim",
            "--quality",
            "5",
        ])
        .fails(1)
        .stderr_has("no embedded ms-ssim model for quality 5 (available: 1, 2, 3, 4)");
    cvq()
        .run(["encode", png, "-o", &ssim, "--tune", "sharp"])
        .fails(2)
        .stderr_has("unknown tune \"sharp\" (expected psnr or ms-ssim)");
    cvq()
        .run([
            "encode", png, "-o", &ssim, "--tune", "ms-ssim", "--model", &psnr,
        ])
        .fails(2)
        .stderr_has("cannot be used with");
}

/// The quality line of `cvq encode`'s report.
fn quality_of(stdout: &str) -> u8 {
    let at = stdout.find("(quality ").expect("quality in the report") + 9;
    stdout[at..at + 1].parse().unwrap()
}

#[test]
fn size_targets_pick_the_best_quality_that_fits() {
    let (dir, png) = picture(200, 168, 3);
    let png = png.as_str();
    let out = dir.path().join("out.cvq");
    let out = out.to_str().unwrap();
    // `cvq encode in.png -o out.cvq` with more arguments
    let encode = |more: &[&str]| cvq().run([&["encode", png, "-o", out][..], more].concat());
    // the size of every rate point's file
    let sizes: Vec<(u8, u64)> = (1..=4u8)
        .map(|q| {
            encode(&["--quality", &q.to_string()]).success();
            (q, std::fs::metadata(out).unwrap().len())
        })
        .collect();
    let best_within = |budget: u64| {
        sizes
            .iter()
            .filter(|(_, s)| *s <= budget)
            .map(|(q, _)| *q)
            .max()
    };
    let smallest = sizes.iter().map(|(_, s)| *s).min().unwrap();
    let largest = sizes.iter().map(|(_, s)| *s).max().unwrap();

    for budget in [smallest, (smallest + largest) / 2, largest] {
        let expected = best_within(budget).unwrap();
        let run = encode(&["--max-bytes", &budget.to_string()]).success();
        assert_eq!(quality_of(&run.stdout), expected, "{}", run.stdout);
        let size = std::fs::metadata(out).unwrap().len();
        assert!(size <= budget, "{size} > {budget}");
        assert_eq!(size, sizes[usize::from(expected) - 1].1);
    }

    // --target-bpp: budget = floor(bpp · pixels / 8) bytes
    let pixels = 200.0 * 168.0;
    let bpp = (smallest as f64 + 0.5) * 8.0 / pixels;
    let run = encode(&["--target-bpp", &format!("{bpp}")]).success();
    assert_eq!(quality_of(&run.stdout), best_within(smallest).unwrap());

    // --quality caps the rate points tried
    let run = encode(&["--max-bytes", &largest.to_string(), "--quality", "1"]).success();
    assert_eq!(quality_of(&run.stdout), 1);

    // nothing fits: a clear error naming the smallest size, exit 1
    std::fs::remove_file(out).unwrap();
    let budget = smallest - 1;
    encode(&["--max-bytes", &budget.to_string()])
        .fails(1)
        .stderr_has(&format!(
            "does not fit in {budget} bytes: the smallest file, at quality"
        ))
        .stderr_has(&format!("is {smallest} bytes"));
    assert!(!std::path::Path::new(out).exists(), "no file on failure");
    for bad in ["--max-bytes=0", "--target-bpp=-1", "--target-bpp=NaN"] {
        encode(&[bad]).fails(1).stderr_has("must be");
    }
}

/// The shipped recurrent model (`models/cvq-rnn.cvqm`) encodes from its file, and
/// `cvq decode` finds it embedded by the file's header, whole and partially.
#[test]
fn the_embedded_recurrent_model_decodes_its_files() {
    let (dir, png) = picture(80, 48, 3);
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/cvq-rnn.cvqm");
    let file = dir.path().join("r.cvq");
    let back = dir.path().join("r.png");
    let (file, back) = (file.to_str().unwrap(), back.to_str().unwrap());
    cvq()
        .run([
            "encode",
            &png,
            "-o",
            file,
            "--model",
            model,
            "--iterations",
            "3",
        ])
        .success()
        .stdout_has("cvq-rnn#");
    cvq()
        .run(["decode", file, "-o", back])
        .success()
        .stdout_has("80 x 48, groups 3/3");
    let bytes = std::fs::read(file).unwrap();
    let cut = dir.path().join("cut.cvq");
    std::fs::write(&cut, &bytes[..bytes.len() - 1]).unwrap();
    cvq()
        .run(["decode", cut.to_str().unwrap(), "-o", back, "--partial"])
        .success()
        .stdout_has("groups 2/3");
}
