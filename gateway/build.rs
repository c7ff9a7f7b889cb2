//! Builds the DPDK shim (gateway/csrc/dpdk_shim.c) when the cargo feature `dpdk` is on; the
//! default build needs nothing from DPDK.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "dpdk")]
    dpdk();
}

#[cfg(feature = "dpdk")]
fn dpdk() {
    println!("cargo:rerun-if-changed=csrc/dpdk_shim.c");
    let library = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .unwrap_or_else(|error| {
            panic!("feature `dpdk` needs libdpdk 22.11 (apt install libdpdk-dev): {error}")
        });
    let mut build = cc::Build::new();
    build
        .file("csrc/dpdk_shim.c")
        .warnings(true)
        .flag_if_supported("-march=corei7");
    for path in &library.include_paths {
        build.include(path);
    }
    build.compile("peregrine_dpdk_shim");
}
