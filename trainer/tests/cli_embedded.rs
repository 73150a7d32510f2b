//! The embedded models: `cvq encode` without `--model` uses the model of `--quality`
//! (default 3), `cvq decode` without `--model` finds the embedded model named in the
//! file's header, and an unknown quality is a clear error.

use assert_cmd::Command;

fn cvq() -> Command {
    Command::cargo_bin("cvq").unwrap()
}

#[test]
fn every_quality_round_trips_with_the_embedded_models() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("in.png");
    image::RgbImage::from_fn(96, 80, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x * y) % 251) as u8])
    })
    .save(&png)
    .unwrap();
    let mut headers = Vec::new();
    for q in [None, Some("1"), Some("2"), Some("3"), Some("4")] {
        let file = dir.path().join(format!("q{}.cvq", q.unwrap_or("default")));
        let back = dir.path().join(format!("q{}.png", q.unwrap_or("default")));
        let mut cmd = cvq();
        cmd.args([
            "encode",
            png.to_str().unwrap(),
            "-o",
            file.to_str().unwrap(),
        ]);
        if let Some(q) = q {
            cmd.args(["--quality", q]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = cvq()
            .args([
                "decode",
                file.to_str().unwrap(),
                "-o",
                back.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let img = image::open(&back).unwrap();
        assert_eq!((img.width(), img.height()), (96, 80));
        let info = cvq()
            .args(["info", file.to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&info.stdout).into_owned();
        let model_line = text
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

    let out = cvq()
        .args([
            "encode",
            png.to_str().unwrap(),
            "-o",
            "/dev/null",
            "--quality",
            "9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no embedded model for quality 9 (available: 1, 2, 3, 4)"),
        "{err}"
    );
}
