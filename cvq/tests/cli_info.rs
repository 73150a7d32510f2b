//! `cvq info` end to end.

use tests::Bin;

fn cvq() -> Bin {
    Bin::new(env!("CARGO_BIN_EXE_cvq"))
}

#[test]
fn info_prints_every_preset() {
    for preset in ["paper", "thesis", "baseline", "small"] {
        cvq()
            .run(["info", "--preset", preset])
            .success()
            .stdout_has("decoder")
            .stdout_has("MAC / pixel");
    }
}

#[test]
fn info_rejects_unknown_preset_with_message() {
    let run = cvq().run(["info", "--preset", "huge"]);
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    run.stderr_has("unknown preset `huge`");
}

#[test]
fn info_json_round_trips_as_config() {
    let run = cvq().run(["info", "--preset", "small", "--json"]).success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.json");
    std::fs::write(&path, v["config"].to_string()).unwrap();
    let run2 = cvq()
        .run(["info", "--config", path.to_str().unwrap(), "--json"])
        .success();
    let v2: serde_json::Value = serde_json::from_str(&run2.stdout).unwrap();
    assert_eq!(v["complexity"], v2["complexity"]);
}

#[test]
fn info_prints_the_recurrent_presets_cost_per_iteration() {
    cvq()
        .run(["info", "--preset", "rnn-seed"])
        .success()
        .stdout_has("MAC / pixel / iteration")
        .stdout_has("274,592");
    cvq()
        .run(["info", "--preset", "rnn-compact"])
        .success()
        .stdout_has("17,192");
    let run = cvq()
        .run(["info", "--preset", "rnn-compact", "--json"])
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["config"]["decoder_states"][3], 32);
    cvq()
        .run(["info", "--preset", "rnn-huge"])
        .fails(1)
        .stderr_has("unknown recurrent preset `huge`");
}

fn shipped(name: &str) -> String {
    format!("{}/../models/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn info_describes_model_files_of_both_families() {
    cvq()
        .run(["info", &shipped("cvq-compact-q3.cvqm")])
        .success()
        .stdout_has("model:       cvq-compact#")
        .stdout_has("family:      CVQN, encoder + decoder")
        .stdout_has("quality:")
        // The compact decoder's cost (models/README.md).
        .stdout_has("9,778");
    cvq()
        .run(["info", &shipped("cvq-compact-q3.cvqd")])
        .success()
        .stdout_has("decoder only (cannot encode)");
    cvq()
        .run(["info", &shipped("cvq-rnn.cvqm")])
        .success()
        .stdout_has("family:      recurrent (progressive), encoder + decoder")
        .stdout_has("iterations:  1, 2, 3, 4, 5, 6, 7, 8 (default 8)")
        .stdout_has("17,192");
}

#[test]
fn info_reports_a_damaged_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.cvqm");
    let bytes = std::fs::read(shipped("cvq-compact-q3.cvqm")).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    cvq()
        .run(["info", path.to_str().unwrap()])
        .fails(1)
        .stderr_has("cut.cvqm");
}
