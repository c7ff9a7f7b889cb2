//! Same input, same output, byte for byte; and the record layouts round-trip.
//!
//! Method: a sequenced command stream (realistic flow from `reference::flow` with halts,
//! resumes, phase changes, end of day, mass cancels and invalid commands mixed in, stamped with
//! sequencer time across market rules that make every phase happen: a day schedule, a
//! volatility band, resume calls, batch auctions) is generated once, then applied to two fresh
//! engines; the `EventDigest`s and the encoded bytes of every event must be identical, and a
//! third run restored from both snapshots halfway must give the same digest.
//! Every event the engines emit must decode back to itself, and proptest checks that arbitrary
//! commands and events (any field values the types allow) round-trip through their records and
//! that encoding writes every byte of the record.

mod reference;

use peregrine_engine::command::RiskLimit;
use peregrine_engine::market::NS_PER_DAY;
use peregrine_engine::record::{
    decode_command, decode_event, encode_command, encode_event, EventDigest, COMMAND_BYTES,
    EVENT_BYTES,
};
use peregrine_engine::{
    Accepted, AccountId, AuctionFill, AuctionIndicative, AuctionUncrossed, BookAdd, BookDelete,
    BookReduce, BookReplace, CancelOrder, CancelReason, Cancelled, Command, CommandKind,
    ControlAck, Engine, Event, Executed, ImbalanceSide, InstrumentId, MarketConfig, MassCancel,
    MassCancelled, MatchId, NewOrder, OrderId, OrderType, Price, Qty, ReduceOrder, RejectReason,
    Rejected, ReplaceOrder, Replaced, RestateReason, Restated, ScheduleEntry, Sequenced, SessionId,
    SetRiskLimit, Side, StpMode, TimeInForce, TradingStatus,
};
use proptest::prelude::*;
use reference::flow::{flow_config, FlowGen, XorShift, FLOW_ACCOUNTS, FLOW_INSTRUMENTS};

const STREAM_LEN: usize = 100_000;
const BATCH_LEN: usize = 1_000;
const SECOND_NS: u64 = 1_000_000_000;
/// The stream starts at 09:59:58.5 UTC of day 20,000 after the epoch.
const START_NS: u64 = 20_000 * NS_PER_DAY + (10 * 3_600 - 2) * SECOND_NS + SECOND_NS / 2;

/// Market rules that make every phase happen within the stream's few seconds: instrument 0
/// has a day schedule (pre-open, opening call, continuous, closing call, closed), instrument 1
/// a tight volatility band and a resume call, instrument 2 batch auctions of 20 ms, instrument
/// 3 stays continuous with a resume call.
fn market_config() -> MarketConfig {
    let at = |second_of_day: u64, phase| ScheduleEntry {
        time_of_day_ns: second_of_day * SECOND_NS,
        phase,
    };
    let ten = 10 * 3_600;
    let mut market = MarketConfig::continuous(FLOW_INSTRUMENTS as usize);
    market.instruments[0].schedule = vec![
        at(ten - 1, TradingStatus::PreOpen),
        at(ten, TradingStatus::OpeningAuction),
        at(ten + 1, TradingStatus::Trading),
        at(ten + 3, TradingStatus::ClosingAuction),
        at(ten + 4, TradingStatus::Closed),
    ];
    market.instruments[0].indicative_interval_ns = SECOND_NS / 10;
    market.instruments[1].volatility_band_bps = 150;
    market.instruments[1].volatility_call_ns = SECOND_NS / 20;
    market.instruments[1].resume_call_ns = SECOND_NS / 50;
    market.instruments[2].batch_interval_ns = SECOND_NS / 50;
    market.instruments[3].resume_call_ns = SECOND_NS / 100;
    market
}

fn new_engine() -> Engine {
    Engine::with_market(flow_config(), market_config()).expect("valid config")
}

fn pick_one<T>(rng: &mut XorShift, all: &'static [T]) -> &'static T {
    &all[rng.below(all.len() as u64) as usize]
}

/// An admin or odd command now and then, chosen by `rng`.
fn admin_command(rng: &mut XorShift) -> Command {
    let instrument = InstrumentId(rng.below_u32(FLOW_INSTRUMENTS + 1));
    let account = AccountId(rng.below_u32(FLOW_ACCOUNTS + 1));
    match rng.below(10) {
        0 => Command::SetTradingStatus {
            instrument,
            status: TradingStatus::Halted,
        },
        1 | 2 => Command::SetTradingStatus {
            instrument,
            status: TradingStatus::Trading,
        },
        3 => Command::EndOfDay,
        4 => Command::MassCancel(MassCancel {
            account: Some(account),
            instrument: rng.chance(50).then_some(instrument),
            session: SessionId(1),
            client_ref: rng.next_u64(),
        }),
        5 => Command::BlockAccount { account },
        6 => Command::Cancel(CancelOrder {
            account,
            session: SessionId(2),
            client_ref: 0,
            order: OrderId(rng.next_u64()),
        }),
        7 => Command::SetTradingStatus {
            instrument,
            status: *pick_one(rng, TradingStatus::ALL),
        },
        8 => Command::SetReferencePrice {
            instrument,
            price: Price(200_000),
        },
        _ => Command::SessionLost {
            account,
            session: SessionId(3),
        },
    }
}

/// Generates the stream against a scratch engine (so that cancels and replaces name live
/// orders), with about one admin command in 200 and 0 to 100 µs of sequencer time between
/// commands (about five seconds in all).
fn generate_stream(seed: u64) -> Vec<Sequenced> {
    let mut scratch = new_engine();
    let mut flow = FlowGen::new(seed, 2_000);
    let mut rng = XorShift::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut batch = Vec::with_capacity(BATCH_LEN);
    let mut stream = Vec::with_capacity(STREAM_LEN);
    let mut ignored = Vec::new();
    let mut timestamp_ns = START_NS;
    while stream.len() < STREAM_LEN {
        flow.refresh(
            |id| scratch.order(id),
            scratch.next_order_id(),
            scratch.resting_order_count(),
        );
        flow.fill(&mut batch, BATCH_LEN);
        for command in &batch {
            let command = if rng.chance(1) && rng.chance(50) {
                admin_command(&mut rng)
            } else {
                *command
            };
            timestamp_ns += rng.below(100_000);
            ignored.clear();
            scratch.apply_at(timestamp_ns, &command, &mut ignored);
            stream.push(Sequenced {
                seq: stream.len() as u64 + 1,
                timestamp_ns,
                command,
            });
        }
    }
    stream
}

/// Applies `stream` to `engine`, folding every event into `digest` and `records`.
fn feed(
    engine: &mut Engine,
    stream: &[Sequenced],
    digest: &mut EventDigest,
    records: &mut Vec<[u8; EVENT_BYTES]>,
) {
    let mut events = Vec::new();
    for input in stream {
        events.clear();
        engine.apply_at(input.timestamp_ns, &input.command, &mut events);
        if input.seq.is_multiple_of(1_000) {
            engine.verify();
        }
        for event in &events {
            digest.add(event);
            let mut bytes = [0u8; EVENT_BYTES];
            encode_event(event, &mut bytes);
            assert_eq!(
                decode_event(&bytes),
                Ok(*event),
                "an emitted event round-trips"
            );
            records.push(bytes);
        }
    }
}

/// Runs `stream` into a fresh engine: its digest and every event's record bytes.
fn run(stream: &[Sequenced]) -> (EventDigest, Vec<[u8; EVENT_BYTES]>) {
    let mut engine = new_engine();
    let mut digest = EventDigest::default();
    let mut records = Vec::new();
    feed(&mut engine, stream, &mut digest, &mut records);
    engine.verify();
    (digest, records)
}

#[test]
fn same_stream_gives_the_same_digest_and_bytes() {
    let stream = generate_stream(0xd37e_4a11);
    let (digest_first, records_first) = run(&stream);
    let (digest_second, records_second) = run(&stream);
    assert_eq!(digest_first, digest_second);
    assert_eq!(records_first.len(), records_second.len());
    assert!(
        records_first == records_second,
        "the encoded event streams differ"
    );
    assert_eq!(digest_first.event_count, records_first.len() as u64);
    // The stream is busy enough to mean something: trades, refreshes, replaces, rejects,
    // uncrosses and indicatives.
    let kinds: std::collections::BTreeSet<u8> =
        records_first.iter().map(|record| record[0]).collect();
    assert_eq!(
        kinds.len(),
        peregrine_engine::EventKind::ALL.len(),
        "every event kind occurs"
    );
    // Every phase is entered at least once (byte 5 of a TradingStatus record: kind 1 +
    // instrument 4).
    let statuses: std::collections::BTreeSet<u8> = records_first
        .iter()
        .filter(|record| record[0] == peregrine_engine::EventKind::TradingStatus.code())
        .map(|record| record[5])
        .collect();
    assert_eq!(
        statuses.len(),
        TradingStatus::ALL.len(),
        "every phase occurs"
    );
}

#[test]
fn restoring_both_snapshots_midway_gives_the_same_events() {
    let stream = generate_stream(0x5eed_0a0c);
    let (whole, _) = run(&stream);
    let half = stream.len() / 2;
    let mut first = new_engine();
    let mut digest = EventDigest::default();
    let mut records = Vec::new();
    feed(&mut first, &stream[..half], &mut digest, &mut records);
    let mut restored = Engine::restore_with_market(
        flow_config(),
        market_config(),
        &first.snapshot(),
        &first.market_snapshot(),
    )
    .expect("a snapshot restores");
    restored.verify();
    feed(&mut restored, &stream[half..], &mut digest, &mut records);
    restored.verify();
    assert_eq!(digest, whole);
}

#[test]
fn a_different_stream_gives_a_different_digest() {
    let stream = generate_stream(1);
    let mut changed = stream.clone();
    let last = changed.len() - 1;
    changed[last].command = Command::EndOfDay;
    assert_ne!(run(&stream[..last]).0, run(&changed).0);
    assert_ne!(run(&stream).0, run(&changed).0);
}

// ----- arbitrary records -----

fn pick<T: Copy + core::fmt::Debug>(all: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(all)
}

fn new_order_strategy() -> impl Strategy<Value = NewOrder> {
    (
        (
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
            any::<u32>(),
            pick(Side::ALL),
        ),
        (
            pick(OrderType::ALL),
            pick(TimeInForce::ALL),
            any::<i64>(),
            any::<u32>(),
        ),
        (
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            pick(StpMode::ALL),
        ),
    )
        .prop_map(|(a, b, c)| NewOrder {
            account: AccountId(a.0),
            session: SessionId(a.1),
            client_ref: a.2,
            instrument: InstrumentId(a.3),
            side: a.4,
            order_type: b.0,
            time_in_force: b.1,
            price: Price(b.2),
            qty: Qty(b.3),
            display_qty: Qty(c.0),
            min_qty: Qty(c.1),
            post_only: c.2,
            stp: c.3,
        })
}

fn command_strategy() -> impl Strategy<Value = Command> {
    let ids = (any::<u32>(), any::<u32>(), any::<u64>(), any::<u64>());
    prop_oneof![
        new_order_strategy().prop_map(Command::NewOrder),
        ids.prop_map(|(a, s, r, o)| Command::Cancel(CancelOrder {
            account: AccountId(a),
            session: SessionId(s),
            client_ref: r,
            order: OrderId(o),
        })),
        (ids, any::<u32>()).prop_map(|((a, s, r, o), q)| Command::Reduce(ReduceOrder {
            account: AccountId(a),
            session: SessionId(s),
            client_ref: r,
            order: OrderId(o),
            leaves_qty: Qty(q),
        })),
        (ids, any::<i64>(), any::<u32>(), any::<u32>()).prop_map(|((a, s, r, o), p, q, d)| {
            Command::Replace(ReplaceOrder {
                account: AccountId(a),
                session: SessionId(s),
                client_ref: r,
                order: OrderId(o),
                price: Price(p),
                qty: Qty(q),
                display_qty: Qty(d),
            })
        }),
        (
            any::<Option<u32>>(),
            any::<Option<u32>>(),
            any::<u32>(),
            any::<u64>()
        )
            .prop_map(|(a, i, s, r)| Command::MassCancel(MassCancel {
                account: a.map(AccountId),
                instrument: i.map(InstrumentId),
                session: SessionId(s),
                client_ref: r,
            })),
        (any::<u32>(), pick(TradingStatus::ALL)).prop_map(|(i, status)| {
            Command::SetTradingStatus {
                instrument: InstrumentId(i),
                status,
            }
        }),
        Just(Command::EndOfDay),
        (
            any::<u32>(),
            any::<Option<u32>>(),
            pick(RiskLimit::ALL),
            any::<i64>()
        )
            .prop_map(|(a, i, limit, value)| Command::SetRiskLimit(SetRiskLimit {
                account: AccountId(a),
                instrument: i.map(InstrumentId),
                limit,
                value,
            })),
        any::<u32>().prop_map(|a| Command::BlockAccount {
            account: AccountId(a)
        }),
        any::<u32>().prop_map(|a| Command::UnblockAccount {
            account: AccountId(a)
        }),
        (any::<u32>(), any::<i64>()).prop_map(|(i, p)| Command::SetReferencePrice {
            instrument: InstrumentId(i),
            price: Price(p),
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(a, s)| Command::SessionLost {
            account: AccountId(a),
            session: SessionId(s),
        }),
    ]
}

/// Order-side fields shared by several events: (order, account, session, instrument).
fn order_fields() -> impl Strategy<Value = (OrderId, AccountId, SessionId, InstrumentId)> {
    (any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>())
        .prop_map(|(o, a, s, i)| (OrderId(o), AccountId(a), SessionId(s), InstrumentId(i)))
}

fn member_event_strategy() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            order_fields(),
            any::<u64>(),
            pick(Side::ALL),
            pick(OrderType::ALL),
            pick(TimeInForce::ALL),
            any::<(i64, u32, u32)>()
        )
            .prop_map(
                |(
                    (order, account, session, instrument),
                    client_ref,
                    side,
                    order_type,
                    time_in_force,
                    (p, q, d),
                )| {
                    Event::Accepted(Accepted {
                        order,
                        account,
                        session,
                        client_ref,
                        instrument,
                        side,
                        order_type,
                        time_in_force,
                        price: Price(p),
                        qty: Qty(q),
                        display_qty: Qty(d),
                    })
                }
            ),
        (
            order_fields(),
            any::<u64>(),
            pick(CommandKind::ALL),
            pick(RejectReason::ALL)
        )
            .prop_map(
                |((order, account, session, instrument), client_ref, command, reason)| {
                    Event::Rejected(Rejected {
                        account,
                        session,
                        client_ref,
                        instrument,
                        order,
                        command,
                        reason,
                    })
                }
            ),
        (
            order_fields(),
            order_fields(),
            any::<(u64, i64, u32, u32, u32)>(),
            pick(Side::ALL)
        )
            .prop_map(|(maker, taker, (m, p, q, ml, tl), taker_side)| {
                Event::Executed(Executed {
                    match_id: MatchId(m),
                    instrument: maker.3,
                    price: Price(p),
                    qty: Qty(q),
                    taker_side,
                    maker_order: maker.0,
                    maker_account: maker.1,
                    maker_session: maker.2,
                    maker_leaves: Qty(ml),
                    taker_order: taker.0,
                    taker_account: taker.1,
                    taker_session: taker.2,
                    taker_leaves: Qty(tl),
                })
            }),
        (
            order_fields(),
            pick(Side::ALL),
            any::<(i64, u32, u32)>(),
            pick(CancelReason::ALL)
        )
            .prop_map(
                |((order, account, session, instrument), side, (p, c, l), reason)| {
                    Event::Cancelled(Cancelled {
                        order,
                        account,
                        session,
                        instrument,
                        side,
                        price: Price(p),
                        cancelled_qty: Qty(c),
                        leaves: Qty(l),
                        reason,
                    })
                }
            ),
        (
            order_fields(),
            any::<(u64, u64, i64, u32, u32, bool)>(),
            pick(Side::ALL)
        )
            .prop_map(
                |((old_order, account, session, instrument), (new, r, p, q, d, kept), side)| {
                    Event::Replaced(Replaced {
                        old_order,
                        new_order: OrderId(new),
                        account,
                        session,
                        client_ref: r,
                        instrument,
                        side,
                        price: Price(p),
                        qty: Qty(q),
                        display_qty: Qty(d),
                        priority_kept: kept,
                    })
                }
            ),
        (
            order_fields(),
            any::<(u32, u32)>(),
            pick(RestateReason::ALL)
        )
            .prop_map(|((order, account, session, instrument), (d, l), reason)| {
                Event::Restated(Restated {
                    order,
                    account,
                    session,
                    instrument,
                    display_qty: Qty(d),
                    leaves: Qty(l),
                    reason,
                })
            }),
    ]
}

fn other_event_strategy() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            any::<Option<u32>>(),
            any::<Option<u32>>(),
            any::<(u32, u64, u32)>()
        )
            .prop_map(|(a, i, (s, r, n))| {
                Event::MassCancelled(MassCancelled {
                    account: a.map(AccountId),
                    instrument: i.map(InstrumentId),
                    session: SessionId(s),
                    client_ref: r,
                    cancelled_count: n,
                })
            }),
        (pick(CommandKind::ALL), any::<(u32, u32, i64)>()).prop_map(|(command, (a, i, value))| {
            Event::ControlAck(ControlAck {
                command,
                account: AccountId(a),
                instrument: InstrumentId(i),
                value,
            })
        }),
        (any::<u32>(), pick(TradingStatus::ALL)).prop_map(|(i, status)| Event::TradingStatus {
            instrument: InstrumentId(i),
            status
        }),
        (order_fields(), pick(Side::ALL), any::<(i64, u32)>()).prop_map(
            |((order, account, _, instrument), side, (p, d))| {
                Event::BookAdd(BookAdd {
                    order,
                    instrument,
                    account,
                    side,
                    price: Price(p),
                    display_qty: Qty(d),
                })
            }
        ),
        (any::<u64>(), any::<u32>(), any::<u32>()).prop_map(|(o, i, q)| {
            Event::BookReduce(BookReduce {
                order: OrderId(o),
                instrument: InstrumentId(i),
                qty: Qty(q),
            })
        }),
        (any::<u64>(), any::<u32>()).prop_map(|(o, i)| Event::BookDelete(BookDelete {
            order: OrderId(o),
            instrument: InstrumentId(i)
        })),
        any::<(u64, u64, u32, i64, u32)>().prop_map(|(old, new, i, p, d)| {
            Event::BookReplace(BookReplace {
                old_order: OrderId(old),
                new_order: OrderId(new),
                instrument: InstrumentId(i),
                price: Price(p),
                display_qty: Qty(d),
            })
        }),
        auction_event_strategy(),
    ]
}

fn auction_event_strategy() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            order_fields(),
            any::<(u64, i64, u32, i64, u32, u64)>(),
            pick(Side::ALL),
            pick(TradingStatus::ALL)
        )
            .prop_map(
                |((order, account, session, instrument), (m, p, q, op, l, c), side, phase)| {
                    Event::AuctionFill(AuctionFill {
                        match_id: MatchId(m),
                        instrument,
                        price: Price(p),
                        qty: Qty(q),
                        side,
                        order,
                        account,
                        session,
                        order_price: Price(op),
                        leaves: Qty(l),
                        contra_order: OrderId(c),
                        phase,
                    })
                }
            ),
        (any::<(u64, u32, i64, u64)>(), pick(TradingStatus::ALL)).prop_map(
            |((m, i, p, q), phase)| Event::AuctionUncrossed(AuctionUncrossed {
                match_id: MatchId(m),
                instrument: InstrumentId(i),
                price: Price(p),
                qty: q,
                phase,
            })
        ),
        (
            any::<(u32, i64, u64, u64, i64)>(),
            pick(TradingStatus::ALL),
            pick(ImbalanceSide::ALL)
        )
            .prop_map(|((i, p, paired, imbalance, r), phase, side)| {
                Event::AuctionIndicative(AuctionIndicative {
                    instrument: InstrumentId(i),
                    phase,
                    price: Price(p),
                    paired_qty: paired,
                    imbalance_qty: imbalance,
                    imbalance_side: side,
                    reference_price: Price(r),
                })
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn commands_round_trip_and_fill_every_byte(command in command_strategy()) {
        let mut zeroed = [0u8; COMMAND_BYTES];
        let mut filled = [0xa5u8; COMMAND_BYTES];
        encode_command(&command, &mut zeroed);
        encode_command(&command, &mut filled);
        prop_assert_eq!(zeroed, filled, "encoding leaves bytes unwritten");
        prop_assert_eq!(zeroed[0], command.kind().code());
        prop_assert_eq!(decode_command(&zeroed), Ok(command));
    }

    #[test]
    fn events_round_trip_and_fill_every_byte(
        event in prop_oneof![member_event_strategy(), other_event_strategy()],
    ) {
        let mut zeroed = [0u8; EVENT_BYTES];
        let mut filled = [0xa5u8; EVENT_BYTES];
        encode_event(&event, &mut zeroed);
        encode_event(&event, &mut filled);
        prop_assert_eq!(zeroed, filled, "encoding leaves bytes unwritten");
        prop_assert_eq!(zeroed[0], event.kind().code());
        prop_assert_eq!(decode_event(&zeroed), Ok(event));
    }
}
