//! Builds the Verilated model of `rtl/itch_decoder.v`: runs `verilator --cc` into `OUT_DIR`,
//! then compiles the generated C++, Verilator's runtime and `csrc/shim.cpp` with `cc` into one
//! static library the crate links (`src/rtl.rs` declares the shim's functions).

use std::env;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

const RTL_FILES: [&str; 2] = ["rtl/itch_decoder.v", "rtl/itch_normalize.v"];

fn main() {
    for file in RTL_FILES {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-changed=csrc/shim.cpp");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=VERILATOR");

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let model_dir = out_dir.join("verilated");
    if model_dir.exists() {
        fs::remove_dir_all(&model_dir).expect("remove the previous Verilator output");
    }
    let verilator = env::var("VERILATOR").unwrap_or_else(|_| "verilator".to_string());
    verilate(&verilator, &model_dir);
    let root = verilator_root(&verilator);
    compile(&model_dir, &root.join("include"));
}

fn missing(verilator: &str) -> ! {
    panic!(
        "peregrine-fpga needs Verilator 5 to build its co-simulation model, and `{verilator}` \
         was not found. Install it with `apt install verilator` (Debian/Ubuntu), or set \
         VERILATOR to its path."
    );
}

fn verilate(verilator: &str, model_dir: &Path) {
    let status = Command::new(verilator)
        .args([
            "--cc",
            "-Wall",
            "-O3",
            "--x-assign",
            "fast",
            "--x-initial",
            "fast",
        ])
        .args(["--top-module", "itch_decoder", "--prefix", "Vitch_decoder"])
        .arg("-Mdir")
        .arg(model_dir)
        .args(RTL_FILES)
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("verilator failed ({status}) on {RTL_FILES:?}"),
        Err(error) if error.kind() == ErrorKind::NotFound => missing(verilator),
        Err(error) => panic!("could not run {verilator}: {error}"),
    }
}

fn verilator_root(verilator: &str) -> PathBuf {
    let output = Command::new(verilator)
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .unwrap_or_else(|_| missing(verilator));
    let root = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let root = PathBuf::from(root);
    assert!(
        root.join("include/verilated.cpp").exists(),
        "Verilator's runtime sources are not under {}",
        root.display()
    );
    root
}

fn compile(model_dir: &Path, include: &Path) {
    let mut generated: Vec<PathBuf> = fs::read_dir(model_dir)
        .expect("read the Verilator output")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cpp"))
        .collect();
    generated.sort();
    assert!(!generated.is_empty(), "verilator generated no C++");
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .opt_level(2)
        .warnings(false)
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .define("VM_TRACE", "0")
        .define("VM_TRACE_FST", "0")
        .define("VM_TRACE_VCD", "0")
        .include(model_dir)
        .include(include)
        .include(include.join("vltstd"))
        .files(&generated)
        .file(include.join("verilated.cpp"))
        .file(include.join("verilated_threads.cpp"))
        .file("csrc/shim.cpp")
        .compile("peregrine_fpga_model");
    println!("cargo:rustc-link-lib=pthread");
}
