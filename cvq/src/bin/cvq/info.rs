//! `cvq info --preset NAME`: architecture summary with parameters and MACs per sub-network.

use cvq_core::complexity::{ModelComplexity, SubnetCost, complexity};
use cvq_core::config::{CvqnConfig, Preset};

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
}
