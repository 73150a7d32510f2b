//! `cvq encode` / `decode` / `info FILE.cvq` end to end with a seeded, randomly
//! initialised tiny model (format and plumbing only; never shipped).

use std::path::Path;

use assert_cmd::Command;
use burn::backend::Flex;
use cvq_core::codec::CodecModel;
use cvq_core::config::{CvqnConfig, Preset};
use cvq_core::entropy::WeightPrecision;
use cvq_core::model::Cvqn;

fn write_model(path: &Path) {
    let device = Default::default();
    <Flex as burn::tensor::backend::Backend>::seed(&device, 99);
    let cfg = CvqnConfig::preset(Preset::Tiny);
    let model = Cvqn::<Flex>::new(&cfg, &device).unwrap();
    let (_, file) = CodecModel::freeze(model, cfg, 2, WeightPrecision::F32, &device).unwrap();
    std::fs::write(path, file.to_bytes().unwrap()).unwrap();
}

fn write_png(path: &Path, w: u32, h: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 2) as u8, ((x + y) % 256) as u8])
    });
    img.save(path).unwrap();
}

fn cvq() -> Command {
    Command::cargo_bin("cvq").unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn encode_info_decode_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.cvqm");
    let png = dir.path().join("in.png");
    let cvqf = dir.path().join("out.cvq");
    let back = dir.path().join("back.png");
    write_model(&model);
    write_png(&png, 170, 165);

    let out = cvq()
        .args([
            "encode",
            png.to_str().unwrap(),
            "-o",
            cvqf.to_str().unwrap(),
        ])
        .args(["--model", model.to_str().unwrap(), "--metrics"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("bpp") && text.contains("PSNR") && text.contains("MS-SSIM"),
        "{text}"
    );
    let size = std::fs::metadata(&cvqf).unwrap().len();
    assert!(text.contains(&format!("({size} bytes")), "{text}");

    let out = cvq()
        .args(["info", cvqf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("image:       170 x 165"), "{text}");
    assert!(
        text.contains("cvq-tiny#") && text.contains("Parallel"),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.ends_with(" yes")).count(),
        3,
        "{text}"
    );

    let out = cvq()
        .args([
            "decode",
            cvqf.to_str().unwrap(),
            "-o",
            back.to_str().unwrap(),
        ])
        .args(["--model", model.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let img = image::open(&back).unwrap();
    assert_eq!((img.width(), img.height()), (170, 165));

    // A truncated file: refused without --partial, previewed with it.
    let bytes = std::fs::read(&cvqf).unwrap();
    let cut = dir.path().join("cut.cvq");
    std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
    let out = cvq()
        .args([
            "decode",
            cut.to_str().unwrap(),
            "-o",
            back.to_str().unwrap(),
        ])
        .args(["--model", model.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("cvq: error: "), "{}", stderr(&out));
    let out = cvq()
        .args([
            "decode",
            cut.to_str().unwrap(),
            "-o",
            back.to_str().unwrap(),
            "--partial",
        ])
        .args(["--model", model.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("groups 2/3"), "{}", stdout(&out));
    let out = cvq()
        .args(["info", cut.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(stdout(&out).contains("incomplete"), "{}", stdout(&out));

    // A file of a model that is not embedded, wrong quality, not an image, not a .cvq
    // file: messages, exit 1.
    let out = cvq()
        .args([
            "decode",
            cvqf.to_str().unwrap(),
            "-o",
            back.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not embedded in this build; pass --model"),
        "{}",
        stderr(&out)
    );
    let out = cvq()
        .args([
            "encode",
            png.to_str().unwrap(),
            "-o",
            cvqf.to_str().unwrap(),
        ])
        .args(["--model", model.to_str().unwrap(), "--quality", "9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("quality 2 only"), "{}", stderr(&out));
    let out = cvq()
        .args([
            "encode",
            model.to_str().unwrap(),
            "-o",
            cvqf.to_str().unwrap(),
        ])
        .args(["--model", model.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = cvq()
        .args(["info", png.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a .cvq file"), "{}", stderr(&out));
    let out = cvq()
        .args(["decode", cvqf.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "missing -o is a usage error");
}
