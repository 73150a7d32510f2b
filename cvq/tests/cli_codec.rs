//! `cvq encode` / `decode` / `info FILE.cvq` end to end with a seeded, randomly
//! initialised tiny model (format and plumbing only; never shipped).

use std::path::Path;

use burn::backend::Flex;
use cvq_core::codec::CodecModel;
use cvq_core::config::{CvqnConfig, Preset};
use cvq_core::entropy::WeightPrecision;
use cvq_core::model::Cvqn;
use tests::{Bin, write_test_png};

fn write_model(path: &Path) {
    let device = Default::default();
    <Flex as burn::tensor::backend::Backend>::seed(&device, 99);
    let cfg = CvqnConfig::preset(Preset::Tiny);
    let model = Cvqn::<Flex>::new(&cfg, &device).unwrap();
    let (_, file) = CodecModel::freeze(model, cfg, 2, WeightPrecision::F32, &device).unwrap();
    std::fs::write(path, file.to_bytes().unwrap()).unwrap();
}

fn cvq() -> Bin {
    Bin::new(env!("CARGO_BIN_EXE_cvq"))
}

#[test]
fn encode_info_decode_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.cvqm");
    let png = dir.path().join("in.png");
    let cvqf = dir.path().join("out.cvq");
    let back = dir.path().join("back.png");
    write_model(&model);
    write_test_png(&png, 170, 165, 1);
    let (model, png, cvqf, back) = (
        model.to_str().unwrap(),
        png.to_str().unwrap(),
        cvqf.to_str().unwrap(),
        back.to_str().unwrap(),
    );

    let run = cvq()
        .run(["encode", png, "-o", cvqf, "--model", model, "--metrics"])
        .success()
        .stdout_has("bpp")
        .stdout_has("PSNR")
        .stdout_has("MS-SSIM");
    let size = std::fs::metadata(cvqf).unwrap().len();
    run.stdout_has(&format!("({size} bytes"));

    let run = cvq()
        .run(["info", cvqf])
        .success()
        .stdout_has("image:       170 x 165")
        .stdout_has("cvq-tiny#")
        .stdout_has("Parallel");
    assert_eq!(
        run.stdout.lines().filter(|l| l.ends_with(" yes")).count(),
        3,
        "{}",
        run.stdout
    );

    cvq()
        .run(["decode", cvqf, "-o", back, "--model", model])
        .success();
    let img = image::open(back).unwrap();
    assert_eq!((img.width(), img.height()), (170, 165));

    // A truncated file: refused without --partial, previewed with it.
    let bytes = std::fs::read(cvqf).unwrap();
    let cut = dir.path().join("cut.cvq");
    std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
    let cut = cut.to_str().unwrap();
    let run = cvq()
        .run(["decode", cut, "-o", back, "--model", model])
        .fails(1);
    assert!(run.stderr.starts_with("cvq: error: "), "{}", run.stderr);
    cvq()
        .run(["decode", cut, "-o", back, "--partial", "--model", model])
        .success()
        .stdout_has("groups 2/3");
    cvq().run(["info", cut]).stdout_has("incomplete");

    // A file of a model that is not embedded, wrong quality, not an image, not a .cvq
    // file: messages, exit 1.
    cvq()
        .run(["decode", cvqf, "-o", back])
        .fails(1)
        .stderr_has("not embedded in this build; pass --model");
    cvq()
        .run([
            "encode",
            png,
            "-o",
            cvqf,
            "--model",
            model,
            "--quality",
            "9",
        ])
        .fails(1)
        .stderr_has("has no quality 9 (it encodes at 2)");
    cvq()
        .run(["encode", model, "-o", cvqf, "--model", model])
        .fails(1);
    cvq()
        .run(["info", png])
        .fails(1)
        .stderr_has("not a .cvq file");
    // missing -o is a usage error
    cvq().run(["decode", cvqf]).fails(2);
}
