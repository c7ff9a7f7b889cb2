//! The namespace clean-up for exits that skip `VethPair`'s drop: the panic hook removes this
//! process's pairs (what a `panic = "abort"` benchmark relies on), and
//! `remove_this_process_pairs` removes only this process's. One test in its own binary: the
//! hook is process-global. Needs root (network namespaces).

use std::path::Path;

use peregrine_gateway::frame::netns::{self, VethPair};

fn exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

#[test]
fn a_panic_removes_this_process_pairs_and_no_others() {
    if !netns::root_or_notice("netns_cleanup") {
        return;
    }
    // Another process's namespace (by name) must survive.
    let foreign = format!("pg-byp-{}-0-a", std::process::id() + 1_000_000);
    netns::ip(&["netns", "add", &foreign]).expect("foreign namespace");
    struct Foreign(String);
    impl Drop for Foreign {
        fn drop(&mut self) {
            let _ = netns::ip(&["netns", "del", &self.0]);
        }
    }
    let _foreign = Foreign(foreign.clone());

    let first = VethPair::create().expect("first pair");
    let names = first.names();
    assert!(exists(&names.ns_a) && exists(&names.ns_b));
    assert_eq!(netns::remove_this_process_pairs(), 2);
    assert!(!exists(&names.ns_a) && !exists(&names.ns_b));
    assert!(exists(&foreign), "another process's namespace was removed");
    drop(first); // deleting what is gone already is harmless

    let second = VethPair::create().expect("second pair");
    let names = second.names();
    netns::remove_pairs_on_panic();
    let panicked = std::thread::spawn(|| panic!("planted: the hook must clean up"))
        .join()
        .is_err();
    assert!(panicked);
    assert!(
        !exists(&names.ns_a) && !exists(&names.ns_b),
        "the hook left {names:?}"
    );
    assert!(exists(&foreign), "another process's namespace was removed");
    assert_eq!(netns::remove_this_process_pairs(), 0);
}
