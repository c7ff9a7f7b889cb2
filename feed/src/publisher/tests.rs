//! The sans-IO publisher on a fake clock: what it sends at the session's start, per event, at
//! batch ends, after the flush delay, when idle (heartbeats) and at the end; and that the
//! core-side [`FeedSeq`] count agrees with the sequence numbers it assigns.

use peregrine_engine::{
    AccountId, BookAdd, CancelReason, Cancelled, Command, Engine, EngineConfig, NewOrder, OrderId,
    OrderType, Price, Qty, SessionId, Side, StpMode, TimeInForce, TradingStatus,
};

use super::*;
use crate::itch::MessageRepr;
use crate::moldudp64::{Packet, PacketKind, PacketRepr};
use crate::subscriber::{PacketOutcome, Subscriber};

const STAMP_NS: u64 = 1_790_000_000_000_000_000;

fn session() -> Session {
    Session::from_text("PUBTEST").expect("session")
}

fn config() -> PublisherConfig {
    PublisherConfig {
        packet_size_bytes: 200,
        flush_delay_us: 10,
        flush_on_idle: false,
        heartbeat_interval_ms: 1,
        end_of_session_repeat: 3,
    }
}

fn make_publisher(config: &PublisherConfig) -> Publisher {
    let engine = EngineConfig::demo(2, 3, 64);
    Publisher::new(config, session(), &engine, EncoderConfig::anonymous(3)).expect("publisher")
}

fn add(order: u64) -> Event {
    Event::BookAdd(BookAdd {
        order: OrderId(order),
        instrument: InstrumentId(1),
        account: AccountId(2),
        side: Side::Sell,
        price: Price(1_000_000),
        display_qty: Qty(10),
    })
}

fn member_only() -> Event {
    Event::Cancelled(Cancelled {
        order: OrderId(1),
        account: AccountId(0),
        session: SessionId(0),
        instrument: InstrumentId(0),
        side: Side::Buy,
        price: Price(100),
        cancelled_qty: Qty(1),
        leaves: Qty(0),
        reason: CancelReason::UserRequested,
    })
}

fn header(packet: &[u8]) -> PacketRepr {
    PacketRepr::parse(&Packet::new_checked(packet).expect("header")).expect("well-formed")
}

/// Every message of the packets, in order, through a real subscriber (which checks the
/// sequence numbers).
fn messages(packets: &[Vec<u8>]) -> Vec<(u64, MessageRepr)> {
    let mut subscriber = Subscriber::new(Some(session()), 1);
    let mut out = Vec::new();
    for packet in packets {
        let outcome =
            subscriber.handle_packet_parsed(packet, |seq, message| out.push((seq, *message)));
        assert!(
            matches!(
                outcome,
                PacketOutcome::Delivered(_)
                    | PacketOutcome::Heartbeat
                    | PacketOutcome::EndOfSession
            ),
            "{outcome:?}"
        );
    }
    out
}

#[test]
fn session_starts_with_start_of_messages_and_a_directory_per_instrument() {
    let mut publisher = make_publisher(&config());
    let mut sent: Vec<Vec<u8>> = Vec::new();
    publisher.start_session(0, STAMP_NS, &mut |packet| sent.push(packet.to_vec()));
    let messages = messages(&sent);
    assert_eq!(messages.len(), 3);
    assert!(matches!(
        messages[0],
        (1, MessageRepr::SystemEvent(event)) if event.event_code == EventCode::StartOfMessages
    ));
    for (index, (seq, message)) in messages[1..].iter().enumerate() {
        assert_eq!(*seq, index as u64 + 2);
        let MessageRepr::StockDirectory(directory) = message else {
            panic!("directory expected: {message}");
        };
        assert_eq!(directory.header.stock_locate, index as u16 + 1);
    }
    assert_eq!(publisher.next_seq(), 1 + session_start_message_count(2));
    assert_eq!(
        FeedSeq::at_session_start(2).next_seq(),
        publisher.next_seq()
    );
}

#[test]
fn batches_fill_packets_and_flush_at_the_batch_end() {
    let mut publisher = make_publisher(&config());
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut send = |packet: &[u8]| sent.push(packet.to_vec());
    publisher.start_session(0, STAMP_NS, &mut send);
    for order in 1..=12 {
        publisher.handle_event(1, 7, STAMP_NS, &add(order), &mut send);
        publisher.handle_event(1, 7, STAMP_NS, &member_only(), &mut send);
    }
    // 200-byte packets hold 4 Add Orders (20 + 4 * 38 = 172): three were full.
    assert_eq!(publisher.counters().flushes_full, 2);
    publisher.handle_batch_end(2, &mut send);
    assert!(sent.iter().all(|packet| packet.len() <= 200));
    let messages = messages(&sent);
    assert_eq!(messages.len(), 3 + 12);
    for (index, (_, message)) in messages[3..].iter().enumerate() {
        let MessageRepr::AddOrder(add) = message else {
            panic!("add expected: {message}");
        };
        assert_eq!(add.order, OrderId(index as u64 + 1));
    }
    let counters = publisher.counters();
    assert_eq!((counters.events, counters.messages), (24, 15));
    assert_eq!(counters.last_input_seq, 7);
    assert_eq!(counters.packets, sent.len() as u64);
    // Nothing pending: a second batch end sends nothing.
    publisher.handle_batch_end(3, &mut |_| panic!("nothing to send"));
}

#[test]
fn a_pending_packet_leaves_after_the_flush_delay_and_silence_brings_heartbeats() {
    let mut publisher = make_publisher(&config());
    let mut sent: Vec<Vec<u8>> = Vec::new();
    publisher.start_session(0, STAMP_NS, &mut |packet| sent.push(packet.to_vec()));
    sent.clear();
    publisher.handle_event(5_000, 1, STAMP_NS, &add(1), &mut |_| panic!("not yet"));
    assert_eq!(publisher.poll_timeout(), Some(15_000));
    publisher.handle_timeout(14_999, &mut |_| panic!("not yet"));
    publisher.handle_event(14_999, 1, STAMP_NS, &add(2), &mut |_| panic!("not yet"));
    publisher.handle_timeout(15_000, &mut |packet| sent.push(packet.to_vec()));
    assert_eq!(sent.len(), 1);
    assert_eq!(header(&sent[0]).kind, PacketKind::Messages(2));
    assert_eq!(publisher.counters().flushes_delay, 1);
    // Then silence: a heartbeat one interval (1 ms) after the last packet, carrying next_seq.
    assert_eq!(publisher.poll_timeout(), Some(1_015_000));
    publisher.handle_timeout(1_014_999, &mut |_| panic!("not yet"));
    publisher.handle_timeout(1_015_000, &mut |packet| sent.push(packet.to_vec()));
    let heartbeat = header(&sent[1]);
    assert_eq!(
        (heartbeat.kind, heartbeat.seq),
        (PacketKind::Heartbeat, publisher.next_seq())
    );
    assert_eq!(publisher.poll_timeout(), Some(2_015_000));
    assert_eq!(publisher.counters().heartbeats, 1);
}

#[test]
fn idle_flushes_when_configured() {
    let mut publisher = make_publisher(&PublisherConfig {
        flush_on_idle: true,
        ..config()
    });
    let mut sent: Vec<Vec<u8>> = Vec::new();
    publisher.start_session(0, STAMP_NS, &mut |packet| sent.push(packet.to_vec()));
    publisher.handle_event(1, 1, STAMP_NS, &add(1), &mut |_| panic!("not yet"));
    publisher.handle_idle(2, &mut |packet| sent.push(packet.to_vec()));
    assert_eq!(sent.len(), 2);
    let mut quiet = make_publisher(&config());
    quiet.start_session(0, STAMP_NS, &mut |_| {});
    quiet.handle_event(1, 1, STAMP_NS, &add(1), &mut |_| panic!("not yet"));
    quiet.handle_idle(2, &mut |_| panic!("flush_on_idle is off"));
}

#[test]
fn the_session_ends_with_end_of_messages_and_repeated_end_of_session_packets() {
    let mut publisher = make_publisher(&config());
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut send = |packet: &[u8]| sent.push(packet.to_vec());
    publisher.start_session(0, STAMP_NS, &mut send);
    publisher.handle_event(1, 1, STAMP_NS, &add(1), &mut send);
    publisher.end_session(2, STAMP_NS + 5, &mut send);
    assert!(!publisher.is_ended());
    let mut now_ns = 2;
    // Bounded: three repeats in all.
    for _ in 0..10 {
        let Some(deadline_ns) = publisher.poll_timeout() else {
            break;
        };
        assert_eq!(deadline_ns, now_ns + 1_000_000);
        now_ns = deadline_ns;
        publisher.handle_timeout(now_ns, &mut send);
    }
    assert!(publisher.is_ended());
    let ends: Vec<PacketRepr> = sent
        .iter()
        .map(|packet| header(packet))
        .filter(|repr| repr.kind == PacketKind::EndOfSession)
        .collect();
    assert_eq!(ends.len(), 3);
    assert!(ends.iter().all(|repr| repr.seq == publisher.next_seq()));
    let messages = messages(&sent);
    let (last_seq, last) = messages.last().expect("messages");
    assert_eq!(*last_seq, publisher.next_seq() - 1);
    assert!(
        matches!(last, MessageRepr::SystemEvent(event) if event.event_code == EventCode::EndOfMessages)
    );
    assert_eq!(publisher.counters().end_of_session_packets, 3);
}

#[test]
fn feed_seq_counts_what_the_publisher_numbers() {
    let engine_config = EngineConfig::demo(3, 4, 4_096);
    let mut engine = Engine::new(engine_config.clone()).expect("engine");
    let mut publisher = Publisher::new(
        &config(),
        session(),
        &engine_config,
        EncoderConfig::anonymous(4),
    )
    .expect("publisher");
    let mut feed_seq = FeedSeq::at_session_start(3);
    publisher.start_session(0, STAMP_NS, &mut |_| {});
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for input_seq in 1..=2_000u64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let command = if state.is_multiple_of(11) {
            Command::SetTradingStatus {
                instrument: InstrumentId((state % 3) as u32),
                status: if state.is_multiple_of(4) {
                    TradingStatus::Halted
                } else {
                    TradingStatus::Trading
                },
            }
        } else {
            Command::NewOrder(NewOrder {
                account: AccountId((state % 4) as u32),
                session: SessionId(1),
                client_ref: input_seq,
                instrument: InstrumentId((state / 7 % 3) as u32),
                side: if state & 1 == 0 {
                    Side::Buy
                } else {
                    Side::Sell
                },
                order_type: OrderType::Limit,
                time_in_force: if state.is_multiple_of(5) {
                    TimeInForce::Ioc
                } else {
                    TimeInForce::Day
                },
                price: Price(1_000_000 + (state / 13 % 9) as i64 * 100 - 400),
                qty: Qty(1 + (state / 17 % 50) as u32),
                display_qty: Qty(0),
                min_qty: Qty(0),
                post_only: false,
                stp: StpMode::Off,
            })
        };
        let mut events: Vec<Event> = Vec::new();
        engine.apply(&command, &mut events);
        for event in &events {
            feed_seq.observe(event);
            publisher.handle_event(input_seq, input_seq, STAMP_NS, event, &mut |_| {});
        }
        assert_eq!(
            feed_seq.next_seq(),
            publisher.next_seq(),
            "after input {input_seq}"
        );
    }
    assert!(
        publisher.counters().messages > 1_000,
        "{:?}",
        publisher.counters()
    );
}

#[test]
fn bad_configurations_are_refused() {
    let engine = EngineConfig::demo(2, 3, 64);
    let make = |config: &PublisherConfig, engine: &EngineConfig, accounts: usize| {
        Publisher::new(
            config,
            session(),
            engine,
            EncoderConfig::anonymous(accounts),
        )
        .err()
    };
    let small = PublisherConfig {
        packet_size_bytes: PACKET_BYTES_MIN as u32 - 1,
        ..config()
    };
    assert_eq!(make(&small, &engine, 3), Some(PublisherError::PacketSize));
    let large = PublisherConfig {
        packet_size_bytes: PACKET_BYTES_MAX + 1,
        ..config()
    };
    assert_eq!(make(&large, &engine, 3), Some(PublisherError::PacketSize));
    let no_end = PublisherConfig {
        end_of_session_repeat: 0,
        ..config()
    };
    assert_eq!(
        make(&no_end, &engine, 3),
        Some(PublisherError::EndOfSessionRepeat)
    );
    assert_eq!(
        make(&config(), &engine, 2),
        Some(PublisherError::Attribution {
            accounts: 3,
            entries: 2
        })
    );
    let mut wide = engine.clone();
    wide.instruments[1].max_price = Price(i64::from(u32::MAX) + 100);
    assert_eq!(
        make(&config(), &wide, 3),
        Some(PublisherError::PriceBand(InstrumentId(1)))
    );
}

#[test]
fn config_reads_from_toml_with_defaults() {
    let config: PublisherConfig =
        toml::from_str("flush_delay_us = 20\nheartbeat_interval_ms = 500\n").expect("toml");
    assert_eq!(config.flush_delay_us, 20);
    assert_eq!(config.heartbeat_interval_ms, 500);
    assert_eq!(
        config.packet_size_bytes,
        PublisherConfig::default().packet_size_bytes
    );
    assert!(toml::from_str::<PublisherConfig>("flush_delay = 20\n").is_err());
}

#[test]
fn iter_source_yields_the_records_then_finished() {
    let records = [FeedRecord::BatchEnd, FeedRecord::BatchEnd];
    let mut source = iter_source(records, 42);
    assert_eq!(source(), FeedPoll::Record(FeedRecord::BatchEnd));
    assert_eq!(source(), FeedPoll::Record(FeedRecord::BatchEnd));
    assert_eq!(source(), FeedPoll::Finished { timestamp_ns: 42 });
    assert_eq!(source(), FeedPoll::Finished { timestamp_ns: 42 });
}
