//! Runs the yosys script `synth/decoder.ys` and reads the resource counts from its `stat`.
//!
//! # Invariants
//! - [`parse_stat`] only reads the last `Number of cells` report (the top module's, flattened).

use std::path::Path;
use std::process::Command;

/// Cells of the flattened design after `synth_xilinx`, by class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub cells: u64,
    /// LUT1..LUT6.
    pub luts: u64,
    /// FDRE, FDSE, FDCE, FDPE.
    pub flip_flops: u64,
    /// CARRY4/CARRY8.
    pub carries: u64,
    /// MUXF7/MUXF8/MUXF9.
    pub muxes: u64,
}

/// Why synthesis could not report.
#[derive(Debug)]
pub enum SynthError {
    /// `yosys` is not on the PATH.
    YosysMissing,
    /// yosys ran and failed, or printed no statistics.
    Failed(String),
}

/// Parses a yosys `stat` report.
pub fn parse_stat(log: &str) -> Option<Resources> {
    let start = log.rfind("Number of cells:")?;
    let mut resources = Resources::default();
    for line in log[start..].lines() {
        let mut words = line.split_whitespace();
        let (Some(first), Some(second)) = (words.next(), words.next()) else {
            continue;
        };
        if line.trim_start().starts_with("Number of cells:") {
            resources.cells = second.parse().ok().or_else(|| words.next()?.parse().ok())?;
            continue;
        }
        let Ok(count) = second.parse::<u64>() else {
            continue;
        };
        match first {
            "LUT1" | "LUT2" | "LUT3" | "LUT4" | "LUT5" | "LUT6" => resources.luts += count,
            "FDRE" | "FDSE" | "FDCE" | "FDPE" => resources.flip_flops += count,
            "CARRY4" | "CARRY8" => resources.carries += count,
            "MUXF7" | "MUXF8" | "MUXF9" => resources.muxes += count,
            _ => {}
        }
    }
    Some(resources)
}

/// Runs `yosys -s synth/decoder.ys` in the crate directory and parses its statistics.
pub fn run_yosys(crate_dir: &Path) -> Result<Resources, SynthError> {
    let output = Command::new("yosys")
        .args(["-s", "synth/decoder.ys"])
        .current_dir(crate_dir)
        .output()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => SynthError::YosysMissing,
            _ => SynthError::Failed(error.to_string()),
        })?;
    let log = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(SynthError::Failed(format!("{log}\n{stderr}")));
    }
    parse_stat(&log).ok_or_else(|| SynthError::Failed(log.into_owned()))
}
