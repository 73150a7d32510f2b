//! `cvq info --preset NAME`: architecture summary with parameters and MACs per sub-network.

use cvq_core::complexity::{ModelComplexity, SubnetCost, complexity};
use cvq_core::config::{CvqnConfig, Preset};
use cvq_core::recurrent::config::RecurrentConfig;
use cvq_core::recurrent::iteration_cost;

/// Renders the complexity of `cfg` as an aligned text table.
pub fn render_table(cfg: &CvqnConfig) -> String {
    let c = complexity(cfg);
    let mut out = format!(
        "model {}: C = {} latent channels, groups {:?} with levels {:?}, importance {:?}\n",
        cfg.name,
        cfg.code_channels,
        cfg.group_channels(),
        cfg.levels,
        cfg.importance
    );
    out += &format!(
        "{:<12} {:>14} {:>16}\n",
        "sub-network", "parameters", "MAC / pixel"
    );
    let rows: [(&str, SubnetCost); 5] = [
        ("encoder", c.encoder),
        ("decoder", c.decoder),
        ("entropy", c.entropy),
        ("quantizers", c.quantizers),
        ("total", c.total()),
    ];
    for (name, cost) in rows {
        out += &format!(
            "{:<12} {:>14} {:>16}\n",
            name,
            group_digits(cost.params as u64),
            group_digits(cost.macs_per_pixel.round() as u64)
        );
    }
    out
}

/// The complexity of `cfg` as JSON (`{"config": …, "complexity": …}`).
pub fn render_json(cfg: &CvqnConfig) -> String {
    let c: ModelComplexity = complexity(cfg);
    serde_json::to_string_pretty(&serde_json::json!({ "config": cfg, "complexity": c }))
        .expect("serialisable")
}

/// The per-iteration cost of a recurrent codec (`cvq info --preset rnn-NAME`) as a text
/// table, or JSON with `json`.
pub fn render_recurrent(cfg: &RecurrentConfig, json: bool) -> String {
    let c = iteration_cost(cfg);
    if json {
        return serde_json::to_string_pretty(
            &serde_json::json!({ "config": cfg, "iteration_cost": c }),
        )
        .expect("serialisable")
            + "\n";
    }
    let mut out = format!(
        "recurrent model {}: {:?} cells, {:?}, {} bits per 16×16 block per iteration ({} bpp), at most {} iterations\n",
        cfg.name,
        cfg.cell,
        cfg.mode,
        cfg.bits,
        cfg.bpp_per_iteration(),
        cfg.iterations
    );
    out += &format!(
        "{:<12} {:>14} {:>26}\n",
        "sub-network", "parameters", "MAC / pixel / iteration"
    );
    for (name, params, macs) in [
        ("encoder", c.encoder_params, c.encoder_macs_per_pixel),
        ("decoder", c.decoder_params, c.decoder_macs_per_pixel),
    ] {
        out += &format!(
            "{:<12} {:>14} {:>26}\n",
            name,
            group_digits(params as u64),
            group_digits(macs.round() as u64)
        );
    }
    out
}

/// Resolves a preset by name.
pub fn preset_config(name: &str) -> Result<CvqnConfig, cvq_core::config::ConfigError> {
    Ok(CvqnConfig::preset(name.parse::<Preset>()?))
}

/// `1234567` → `"1,234,567"`.
fn group_digits(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1234567), "1,234,567");
    }

    #[test]
    fn table_lists_every_subnetwork() {
        let t = render_table(&preset_config("small").unwrap());
        for name in ["encoder", "decoder", "entropy", "quantizers", "total"] {
            assert!(t.contains(name), "{t}");
        }
        assert!(preset_config("nope").is_err());
    }

    #[test]
    fn recurrent_table_lists_the_cost_per_iteration() {
        use cvq_core::recurrent::config::RecurrentPreset;
        let cfg = RecurrentConfig::preset(RecurrentPreset::Seed);
        let t = render_recurrent(&cfg, false);
        assert!(t.contains("274,592") && t.contains("0.125 bpp"), "{t}");
        let v: serde_json::Value = serde_json::from_str(&render_recurrent(&cfg, true)).unwrap();
        assert_eq!(v["config"]["bits"], 32);
    }
}
