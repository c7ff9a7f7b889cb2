//! Same input, same output, byte for byte; and the record layouts round-trip.
//!
//! Method: a command stream (realistic flow from `reference::flow` with halts, resumes, end of
//! day, mass cancels and invalid commands mixed in) is generated once, then applied to two
//! fresh engines; the `EventDigest`s and the encoded bytes of every event must be identical.
//! Every event the engines emit must decode back to itself, and proptest checks that arbitrary
//! commands and events (any field values the types allow) round-trip through their records and
//! that encoding writes every byte of the record.

mod reference;

use peregrine_engine::command::RiskLimit;
use peregrine_engine::record::{
    decode_command, decode_event, encode_command, encode_event, EventDigest, COMMAND_BYTES,
    EVENT_BYTES,
};
use peregrine_engine::{
    Accepted, AccountId, BookAdd, BookDelete, BookReduce, BookReplace, CancelOrder, CancelReason,
    Cancelled, Command, CommandKind, ControlAck, Engine, Event, Executed, InstrumentId, MassCancel,
    MassCancelled, MatchId, NewOrder, OrderId, OrderType, Price, Qty, ReduceOrder, RejectReason,
    Rejected, ReplaceOrder, Replaced, RestateReason, Restated, SessionId, SetRiskLimit, Side,
    StpMode, TimeInForce, TradingStatus,
};
use proptest::prelude::*;
use reference::flow::{flow_config, FlowGen, XorShift, FLOW_ACCOUNTS, FLOW_INSTRUMENTS};

const STREAM_LEN: usize = 100_000;
const BATCH_LEN: usize = 1_000;

/// An admin or odd command now and then, chosen by `rng`.
fn admin_command(rng: &mut XorShift) -> Command {
    let instrument = InstrumentId(rng.below_u32(FLOW_INSTRUMENTS + 1));
    let account = AccountId(rng.below_u32(FLOW_ACCOUNTS + 1));
    match rng.below(8) {
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
        _ => Command::SessionLost {
            account,
            session: SessionId(3),
        },
    }
}

/// Generates the stream against a scratch engine (so that cancels and replaces name live
/// orders), with about one admin command in 200.
fn generate_stream(seed: u64) -> Vec<Command> {
    let mut scratch = Engine::new(flow_config()).expect("valid config");
    let mut flow = FlowGen::new(seed, 2_000);
    let mut rng = XorShift::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut batch = Vec::with_capacity(BATCH_LEN);
    let mut stream = Vec::with_capacity(STREAM_LEN);
    let mut ignored = Vec::new();
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
            ignored.clear();
            scratch.apply(&command, &mut ignored);
            stream.push(command);
        }
    }
    stream
}

/// Runs `stream` into a fresh engine: its digest and every event's record bytes.
fn run(stream: &[Command]) -> (EventDigest, Vec<[u8; EVENT_BYTES]>) {
    let mut engine = Engine::new(flow_config()).expect("valid config");
    let mut digest = EventDigest::default();
    let mut records = Vec::new();
    let mut events = Vec::new();
    for command in stream {
        events.clear();
        engine.apply(command, &mut events);
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
    // The stream is busy enough to mean something: trades, refreshes, replaces, rejects.
    let kinds: std::collections::BTreeSet<u8> =
        records_first.iter().map(|record| record[0]).collect();
    assert_eq!(
        kinds.len(),
        peregrine_engine::EventKind::ALL.len(),
        "every event kind occurs"
    );
}

#[test]
fn a_different_stream_gives_a_different_digest() {
    let stream = generate_stream(1);
    let mut changed = stream.clone();
    let last = changed.len() - 1;
    changed[last] = Command::EndOfDay;
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
