//! Declares the `loom` cfg so `cfg(loom)` is a checked configuration, not a typo.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
