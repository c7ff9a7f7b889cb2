//! Determinism: a journal with risk changes (limits, kill switches, reference prices, lost
//! sessions, throttles) replays into a fresh core with every event identical, rejects
//! included, also after a trip through the journal's byte layout; and a core restored from a
//! snapshot (risk part through its byte layout) emits exactly what the original emits.

mod common;

use common::{Driver, FlowGen};
use peregrine_engine::record::{decode_command, encode_command, EventDigest, COMMAND_BYTES};
use peregrine_engine::{AccountId, EngineConfig, Event, InstrumentId, Sequenced};
use peregrine_risk::{Core, CoreError, CoreSnapshot, RiskConfig, RiskSnapshot, SnapshotFault};

const ACCOUNTS: usize = 4;
const INSTRUMENTS: usize = 2;

fn engine_config() -> EngineConfig {
    EngineConfig::demo(INSTRUMENTS, ACCOUNTS, 2_048)
}

fn risk_config() -> RiskConfig {
    let mut risk = RiskConfig::permissive(ACCOUNTS, INSTRUMENTS);
    for (index, account) in risk.accounts.iter_mut().enumerate() {
        account.throttle_orders_per_interval = 4 + index as i64;
        account.throttle_interval_ns = 1_500;
        account.max_open_orders = 150;
        account.instrument_limits.max_net_position = 2_000;
        account.instrument_limits.price_collar_bps = 15;
        account.cancel_on_disconnect = index % 2 == 0;
    }
    risk.instruments[0].reference_price = common::MID_PRICE;
    risk
}

/// Run a generated flow live; returns the journal and every event.
fn live_run(seed: u64, steps: usize) -> (Vec<Sequenced>, Vec<Event>) {
    let mut driver = Driver::new(engine_config(), risk_config());
    let mut flow = FlowGen::new(seed, ACCOUNTS as u32, INSTRUMENTS as u32, true);
    let mut events = Vec::new();
    for _ in 0..steps {
        let (advance_ns, command) = flow.next(&driver.core);
        driver.advance_ns(advance_ns);
        events.extend(driver.apply(command));
    }
    driver.core.verify();
    (driver.journal, events)
}

fn replay(journal: &[Sequenced]) -> (Core, Vec<Event>) {
    let mut core = Core::new(engine_config(), risk_config()).unwrap();
    let mut events = Vec::new();
    for input in journal {
        core.apply(input, &mut events);
    }
    (core, events)
}

fn risk_reject_count(events: &[Event], code: u8) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Rejected(r) if r.reason.code() == code))
        .count()
}

#[test]
fn replaying_the_journal_reproduces_every_event_and_reject() {
    let (journal, live) = live_run(0xfeed_0002, 6_000);
    // Through the journal's byte layout, as the replay tool reads it.
    let decoded: Vec<Sequenced> = journal
        .iter()
        .map(|input| {
            let mut bytes = [0u8; COMMAND_BYTES];
            encode_command(&input.command, &mut bytes);
            Sequenced {
                command: decode_command(&bytes).unwrap(),
                ..*input
            }
        })
        .collect();
    assert_eq!(decoded, journal);
    let (core, replayed) = replay(&decoded);
    assert_eq!(replayed.len(), live.len());
    assert_eq!(replayed, live);
    core.verify();
    // The flow must exercise what it claims to reproduce.
    for code in [34u8, 35, 37, 39, 40] {
        assert!(
            risk_reject_count(&live, code) > 0,
            "no reject with code {code}"
        );
    }
    let mut live_digest = EventDigest::default();
    let mut replay_digest = EventDigest::default();
    live.iter().for_each(|e| live_digest.add(e));
    replayed.iter().for_each(|e| replay_digest.add(e));
    assert_eq!(live_digest, replay_digest);
}

#[test]
fn the_same_stream_twice_gives_identical_events_including_throttle_rejects() {
    let (journal, _) = live_run(0x0ddba11, 3_000);
    let (first_core, first) = replay(&journal);
    let (second_core, second) = replay(&journal);
    assert_eq!(first, second);
    assert!(
        risk_reject_count(&first, 39) > 0,
        "the flow must hit the throttle"
    );
    assert_eq!(first_core.snapshot(), second_core.snapshot());
    // A different clock gives different throttle decisions: time is an input.
    let shifted: Vec<Sequenced> = journal
        .iter()
        .map(|i| Sequenced {
            timestamp_ns: i.timestamp_ns / 4,
            ..*i
        })
        .collect();
    let (_, third) = replay(&shifted);
    assert_ne!(risk_reject_count(&third, 39), risk_reject_count(&first, 39));
}

#[test]
fn restored_core_emits_identical_events() {
    let (journal, _) = live_run(0xabcd_0003, 5_000);
    let (split_a, split_b) = (2_000, 3_500);
    for split in [split_a, split_b] {
        let (mut original, _) = replay(&journal[..split]);
        let snapshot = original.snapshot();
        let mut bytes = Vec::new();
        snapshot.risk.encode(&mut bytes);
        let through_bytes = CoreSnapshot {
            risk: RiskSnapshot::decode(&bytes).unwrap(),
            ..snapshot.clone()
        };
        assert_eq!(through_bytes, snapshot);
        let mut restored = Core::restore(engine_config(), risk_config(), &through_bytes).unwrap();
        assert_eq!(restored.last_seq(), original.last_seq());
        restored.verify();
        for account in 0..ACCOUNTS as u32 {
            assert_eq!(
                restored.risk().account(AccountId(account)),
                original.risk().account(AccountId(account))
            );
            for instrument in 0..INSTRUMENTS as u32 {
                let (a, i) = (AccountId(account), InstrumentId(instrument));
                assert_eq!(
                    restored.risk().exposure(a, i),
                    original.risk().exposure(a, i)
                );
            }
        }
        let (mut after_original, mut after_restored) = (Vec::new(), Vec::new());
        for input in &journal[split..] {
            original.apply(input, &mut after_original);
            restored.apply(input, &mut after_restored);
        }
        assert!(after_original.len() > 1_000);
        assert_eq!(after_restored, after_original);
        assert_eq!(restored.snapshot(), original.snapshot());
        restored.verify();
    }
}

#[test]
fn restore_rejects_snapshots_of_another_shape() {
    let (journal, _) = live_run(0x1234_5678, 300);
    let (core, _) = replay(&journal);
    let snapshot = core.snapshot();
    let mut wrong_history = risk_config();
    wrong_history.throttle_history_len = 8;
    assert!(matches!(
        Core::restore(engine_config(), wrong_history, &snapshot),
        Err(CoreError::RiskSnapshot(SnapshotFault::HistoryLen))
    ));
    let mut broken = snapshot.clone();
    broken.risk.cells.pop();
    assert!(matches!(
        Core::restore(engine_config(), risk_config(), &broken),
        Err(CoreError::RiskSnapshot(SnapshotFault::TableLength))
    ));
    let mut fewer = risk_config();
    fewer.accounts.pop();
    assert!(matches!(
        Core::restore(engine_config(), fewer, &snapshot),
        Err(CoreError::Risk(_))
    ));
}
