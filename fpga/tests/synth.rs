//! Runs `synth/decoder.ys` through yosys and checks that the report parses into plausible
//! counts. yosys takes about a minute of CPU on this design, so the run is behind
//! `PEREGRINE_LONG=1` (the figures example runs it too); without it the test says so loudly.
//! With the variable set and yosys absent, the test fails: CI installs yosys.

use peregrine_fpga::synth::{run_yosys, SynthError};

#[test]
fn yosys_reports_luts_and_flip_flops() {
    if std::env::var_os("PEREGRINE_LONG").is_none() {
        eprintln!("SKIPPED yosys synthesis: set PEREGRINE_LONG=1 to run synth/decoder.ys");
        return;
    }
    let resources = match run_yosys(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))) {
        Ok(resources) => resources,
        Err(SynthError::YosysMissing) => panic!("yosys is not installed: apt install yosys"),
        Err(SynthError::Failed(log)) => panic!("yosys failed:\n{log}"),
    };
    eprintln!("{resources:?}");
    // The registers the RTL declares: output beat (512), header (160), two message buffers
    // (2 x 384), accumulator (128), counters (19 x 32) and sequence state, at the least.
    assert!(resources.flip_flops >= 2_000, "{resources:?}");
    assert!(resources.luts > 1_000, "{resources:?}");
    assert!(resources.cells >= resources.luts + resources.flip_flops);
}
