//! A real third-party FIX engine as the counterparty: QuickFIX 1.15/1.16 (Python bindings, FIX44
//! data dictionary validation on) runs `fix/quickfix_session.py` against the node: logon,
//! orders, fills, a replace, cancels, rejects, status, mass cancel, a resend after a
//! disconnect, logout. The script exits non-zero on any failed check, and when QuickFIX
//! rejects any of our messages.
//!
//! Needs the venv `tools/tests/fix/setup-quickfix.sh` builds (under
//! `${PEREGRINE_CACHE:-$HOME/.cache/peregrine}`); without it this test fails, loudly.

#[path = "fix/client.rs"]
mod fix_client;
mod node_common;

use std::path::PathBuf;
use std::process::Command;

use fix_client::fix_addr;
use node_common::{data_dir, NodeProcess};

fn cache_dir() -> PathBuf {
    match std::env::var_os("PEREGRINE_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/peregrine"),
    }
}

#[test]
fn quickfix_with_its_fix44_dictionary_trades_through_the_gateway() {
    let cache = cache_dir();
    let python = cache.join("quickfix-venv/bin/python");
    let dictionary = cache.join("FIX44.xml");
    assert!(
        python.exists() && dictionary.exists(),
        "QuickFIX venv or FIX44.xml missing under {}: run tools/tests/fix/setup-quickfix.sh",
        cache.display()
    );
    let dir = data_dir("fix-quickfix");
    let node = NodeProcess::start(&dir, &[]);
    let addr = fix_addr(&dir);
    let work = dir.join("quickfix");
    std::fs::create_dir_all(&work).expect("workdir");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fix/quickfix_session.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .arg(&work)
        .arg(&dictionary)
        .output()
        .expect("run the QuickFIX script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "QuickFIX checks failed:\n{stdout}\n{stderr}\nnode log:\n{}",
        node.log()
    );
    assert!(stdout.contains("0 failed checks"), "{stdout}");
    assert!(node.terminate());
}
