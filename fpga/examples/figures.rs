//! Figures for fpga/README.md: simulated decoder cycles per message and bytes per cycle on
//! publisher-made packets and per message type, the messages/s they imply at the documented
//! clock, the software decoder's messages/s on the same packets (median of runs, beside the
//! feed crate's own parsed subscriber as a peer), and the yosys resource counts.
//!
//! `cargo run --release -p peregrine-fpga --example figures [commands] [runs]`

use std::time::Instant;

use peregrine_feed::moldudp64::Session;
use peregrine_feed::subscriber::Subscriber;
use peregrine_fpga::card::{reg, Card};
use peregrine_fpga::software::SoftwareDecoder;
use peregrine_fpga::workload::{publisher_datagrams, Rng, SESSION};
use peregrine_fpga::{synth, FeedDecoder};

/// The clock the RTL is documented for.
const CLOCK_HZ: f64 = 250e6;

fn main() {
    let mut args = std::env::args().skip(1);
    let commands: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let datagrams = publisher_datagrams(1, commands);
    let messages: u64 = datagrams.iter().map(|d| message_count(d)).sum();
    let bytes: usize = datagrams.iter().map(Vec::len).sum();
    println!(
        "workload: {commands} engine commands -> {} datagrams, {messages} messages, {bytes} payload bytes",
        datagrams.len()
    );

    let (cycles, sim_seconds) = simulate(&datagrams);
    println!("\n== RTL (Verilated, cycle counts) ==");
    println!(
        "publisher flow: {cycles} cycles, {:.2} cycles/message, {:.2} bytes/cycle, {:.1} M messages/s at {:.0} MHz",
        cycles as f64 / messages as f64,
        bytes as f64 / cycles as f64,
        messages as f64 / cycles as f64 * CLOCK_HZ / 1e6,
        CLOCK_HZ / 1e6
    );
    println!(
        "  (simulation itself: {:.2} M cycles/s of wall time)",
        cycles as f64 / sim_seconds / 1e6
    );
    per_type();

    println!("\n== software on the same packets (median of {runs} runs) ==");
    let software = median(runs, || time_decoder(&datagrams));
    let peer = median(runs, || time_subscriber(&datagrams));
    println!(
        "SoftwareDecoder (normalized events): {:.1} M messages/s",
        messages as f64 / software / 1e6
    );
    println!(
        "peer, feed Subscriber::handle_packet_parsed: {:.1} M messages/s",
        messages as f64 / peer / 1e6
    );

    println!("\n== yosys synth_xilinx (xcup) ==");
    match synth::run_yosys(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))) {
        Ok(r) => println!(
            "cells {}, LUTs {}, flip-flops {}, carry chains {}, wide muxes {}",
            r.cells, r.luts, r.flip_flops, r.carries, r.muxes
        ),
        Err(synth::SynthError::YosysMissing) => {
            println!("SKIPPED: yosys is not installed (apt install yosys)")
        }
        Err(synth::SynthError::Failed(log)) => println!("yosys failed:\n{log}"),
    }
}

fn message_count(datagram: &[u8]) -> u64 {
    let count = u16::from_be_bytes([datagram[18], datagram[19]]);
    if count == 0 || count == 0xffff {
        0
    } else {
        u64::from(count)
    }
}

/// Posts every datagram through the card's ring (the host draining events as it goes);
/// returns decoder cycles and wall seconds.
fn simulate(datagrams: &[Vec<u8>]) -> (u64, f64) {
    let mut card = Card::new(64, 2048);
    card.write_register(reg::CONTROL, 1);
    let start_cycles = card.cycles();
    let start = Instant::now();
    let mut events = 0u64;
    let mut pending = datagrams.iter().peekable();
    while pending.peek().is_some() || !card.is_idle() {
        while let Some(datagram) = pending.peek() {
            if card.post_packet(datagram).is_err() {
                break;
            }
            pending.next();
        }
        card.step();
        card.drain_events(&mut |_| events += 1);
    }
    let counters = card.counters();
    assert_eq!(counters.events, events);
    assert_eq!(counters.packets_dropped, 0);
    (card.cycles() - start_cycles, start.elapsed().as_secs_f64())
}

/// Cycles per message for packets of one message type (valid messages, 30 per packet).
fn per_type() {
    println!("per type (30 messages per packet, steady state):");
    let mut rng = Rng::new(3);
    for kind in *b"AFECXDUPSRH" {
        let mut card = Card::new(64, 2048);
        card.write_register(reg::CONTROL, 1);
        let mut seq = 1u64;
        let packets = 20;
        for _ in 0..packets {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(SESSION);
            bytes.extend_from_slice(&seq.to_be_bytes());
            bytes.extend_from_slice(&30u16.to_be_bytes());
            for _ in 0..30 {
                let message = sample_message(&mut rng, kind);
                bytes.extend_from_slice(&(message.len() as u16).to_be_bytes());
                bytes.extend_from_slice(&message);
            }
            seq += 30;
            card.post_packet(&bytes).expect("fits");
        }
        let start = card.cycles();
        let mut events = 0u64;
        while !card.is_idle() {
            card.step();
            card.drain_events(&mut |_| events += 1);
        }
        assert_eq!(events, 30 * packets);
        let len = sample_message(&mut rng, kind).len();
        println!(
            "  {}  {len:2} bytes: {:.2} cycles/message (formula 1 + ceil(L/8) = {})",
            kind as char,
            (card.cycles() - start) as f64 / events as f64,
            1 + len.div_ceil(8)
        );
    }
}

/// A valid message of `kind` (fields from a fixed template, a random order reference).
fn sample_message(rng: &mut Rng, kind: u8) -> Vec<u8> {
    let len = match kind {
        b'A' => 36,
        b'F' => 40,
        b'E' => 31,
        b'C' => 36,
        b'X' => 23,
        b'D' => 19,
        b'U' => 35,
        b'P' => 44,
        b'S' => 12,
        b'R' => 39,
        _ => 25,
    };
    let mut bytes = vec![b' '; len];
    bytes[0] = kind;
    bytes[1..11].fill(0);
    if len >= 19 {
        bytes[11..19].copy_from_slice(&rng.next_u64().to_be_bytes());
    }
    let fix: &[(usize, u8)] = match kind {
        b'A' | b'F' | b'P' => &[(19, b'B')],
        b'C' => &[(31, b'Y')],
        b'S' => &[(11, b'O')],
        b'R' => &[(19, b'Q'), (20, b'N'), (25, b'Y'), (29, b'P'), (38, b'N')],
        b'H' => &[(19, b'T')],
        _ => &[],
    };
    for &(at, byte) in fix {
        bytes[at] = byte;
    }
    if kind == b'R' || kind == b'H' {
        bytes[11..19].copy_from_slice(b"SYM0    ");
    }
    bytes
}

fn time_decoder(datagrams: &[Vec<u8>]) -> f64 {
    let session = Session::new(*SESSION);
    let mut decoder = SoftwareDecoder::new(session, 1);
    let mut checksum = 0u64;
    let start = Instant::now();
    for datagram in datagrams {
        let outcome = decoder.handle_packet(datagram, &mut |event| checksum ^= event.order_ref);
        assert!(outcome.is_ok());
    }
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    seconds
}

fn time_subscriber(datagrams: &[Vec<u8>]) -> f64 {
    let mut subscriber = Subscriber::new(Session::new(*SESSION), 1);
    let mut checksum = 0u64;
    let start = Instant::now();
    for datagram in datagrams {
        subscriber.handle_packet_parsed(datagram, |seq, _message| checksum ^= seq);
    }
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    seconds
}

fn median(runs: usize, mut measure: impl FnMut() -> f64) -> f64 {
    let mut samples: Vec<f64> = (0..runs.max(1)).map(|_| measure()).collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
