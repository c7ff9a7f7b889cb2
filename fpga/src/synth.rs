//! Runs the yosys script `synth/decoder.ys` and reads the resource counts from its `stat`.
//!
//! # Invariants
//! - [`parse_stat`] reads only the last `Number of cells` report (the flattened top module's)
//!   and stops at the first line that is not `<cell> <count>`.

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

/// Parses the last `stat` report in a yosys log: the cell total and the cells by class.
pub fn parse_stat(log: &str) -> Option<Resources> {
    let start = log.rfind("Number of cells:")?;
    let mut lines = log[start..].lines();
    let total = lines.next()?.split_whitespace().last()?.parse().ok()?;
    let mut resources = Resources {
        cells: total,
        ..Resources::default()
    };
    for line in lines {
        let mut words = line.split_whitespace();
        let (Some(cell), Some(count), None) = (words.next(), words.next(), words.next()) else {
            break;
        };
        let Ok(count) = count.parse::<u64>() else {
            break;
        };
        match cell {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_last_report_by_class() {
        let log = "   Number of cells:   5\n     LUT2 1\n\n\
                   === top ===\n   Number of cells:  40\n     BUFG 1\n     CARRY4 3\n\
                   \x20    FDRE 10\n     FDSE 2\n     LUT1 4\n     LUT6 6\n     MUXF7 5\n\
                   \x20    MUXF9 1\n\n   Estimated number of LCs: 9\n     LUT3 100\n";
        let resources = parse_stat(log).expect("a report");
        assert_eq!(
            resources,
            Resources {
                cells: 40,
                luts: 10,
                flip_flops: 12,
                carries: 3,
                muxes: 6
            }
        );
        assert_eq!(parse_stat("no statistics here"), None);
    }
}
