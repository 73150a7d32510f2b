//! `cvq info` end to end.

use assert_cmd::Command;

#[test]
fn info_prints_every_preset() {
    for preset in ["paper", "thesis", "baseline", "small"] {
        let out = Command::cargo_bin("cvq")
            .unwrap()
            .args(["info", "--preset", preset])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("decoder") && text.contains("MAC / pixel"),
            "{text}"
        );
    }
}

#[test]
fn info_rejects_unknown_preset_with_message() {
    let out = Command::cargo_bin("cvq")
        .unwrap()
        .args(["info", "--preset", "huge"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown preset `huge`"), "{err}");
}

#[test]
fn info_json_round_trips_as_config() {
    let out = Command::cargo_bin("cvq")
        .unwrap()
        .args(["info", "--preset", "small", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = std::env::temp_dir().join(format!("cvq-info-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("small.json");
    std::fs::write(&path, v["config"].to_string()).unwrap();
    let out2 = Command::cargo_bin("cvq")
        .unwrap()
        .args(["info", "--config", path.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out2.status.success());
    let v2: serde_json::Value = serde_json::from_slice(&out2.stdout).unwrap();
    assert_eq!(v["complexity"], v2["complexity"]);
}
