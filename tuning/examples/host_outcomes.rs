//! Tries every host-tuning switch once on this machine and prints what the host said, then
//! undoes what it can. A quick way to see which switches a host allows before writing a config.
//!
//! Run: `cargo run -p peregrine-tuning --example host_outcomes`.

use peregrine_tuning::{cpu, memory};

fn main() {
    let allowed = cpu::allowed_core_indices();
    println!("{:<20}{allowed:?}", "allowed cores:");
    let core_index = allowed.and_then(|cores| cores.last().copied()).unwrap_or(0);
    let pinned = std::thread::spawn(move || cpu::pin_current_thread(core_index))
        .join()
        .unwrap();
    println!("{:<20}{pinned}", format!("pin to core {core_index}:"));
    let fifo = std::thread::spawn(|| {
        let outcome = cpu::set_fifo_priority(1);
        cpu::set_normal_scheduling();
        outcome
    })
    .join()
    .unwrap();
    println!("{:<20}{fifo}", "SCHED_FIFO 1:");
    println!("{:<20}{}", "mlockall:", memory::lock_all_memory());
    println!("{:<20}{}", "munlockall:", memory::unlock_all_memory());
    match memory::Region::huge(4 << 20) {
        Ok((region, outcome)) => {
            println!(
                "{:<20}{outcome} (backing {:?})",
                "hugepages (4 MiB):",
                region.backing()
            )
        }
        Err(error) => println!("{:<20}no region at all: {error}", "hugepages (4 MiB):"),
    }
}
