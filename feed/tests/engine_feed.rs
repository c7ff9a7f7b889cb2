//! End to end on the subscriber's side of the wire: a real `Engine` driven by random order
//! flow (limit and market orders, icebergs, IOC/FOK, post-only, every STP mode, cancels,
//! reduces, replaces, mass cancels, halts and end of day). After every command its events are
//! encoded to ITCH, packed into MoldUDP64 packets, decoded by the `Subscriber` and applied to
//! the feed `Book`; the feed book must then equal the engine's displayed book exactly, level by
//! level and order by order, for every instrument and side ("Feed consistency").

use peregrine_engine::{
    AccountConfig, AccountId, CancelOrder, Command, Engine, EngineConfig, Event, InstrumentConfig,
    InstrumentId, MassCancel, NewOrder, OrderId, OrderType, Price, Qty, ReduceOrder, ReplaceOrder,
    SessionId, Side, StpMode, TimeInForce, TradingStatus,
};
use peregrine_feed::book::{Book, BookConfig};
use peregrine_feed::encoder::{Encoder, EncoderConfig};
use peregrine_feed::itch::ItchPrice;
use peregrine_feed::moldudp64::{Packetiser, Session, PACKET_BYTES_DEFAULT};
use peregrine_feed::subscriber::{PacketOutcome, Subscriber};
use peregrine_feed::wire::Mpid;
use proptest::prelude::*;

const INSTRUMENTS: u32 = 2;
const ACCOUNTS: u32 = 4;
const TICK: i64 = 100;
const MID_PRICE: i64 = 1_000_000;

fn engine_config() -> EngineConfig {
    let instruments = (0..INSTRUMENTS)
        .map(|index| InstrumentConfig {
            symbol: InstrumentConfig::symbol_from_str(&format!("SYM{index}")),
            tick_size: Price(TICK),
            lot_size: Qty(1),
            min_price: Price(MID_PRICE - 100 * TICK),
            max_price: Price(MID_PRICE + 100 * TICK),
            max_order_qty: Qty(100_000),
        })
        .collect();
    let stp = [
        StpMode::CancelResting,
        StpMode::Off,
        StpMode::Decrement,
        StpMode::CancelBoth,
    ];
    let accounts = stp.iter().map(|&stp| AccountConfig { stp }).collect();
    EngineConfig {
        instruments,
        accounts,
        order_capacity: 512,
        level_capacity: 256,
    }
}

/// One random action; indices are resolved against the engine's state when applied.
#[derive(Clone, Debug)]
enum Action {
    New {
        instrument: u32,
        account: u32,
        side: Side,
        offset_ticks: i64,
        qty: u32,
        display: u32,
        kind: u8,
        post_only: bool,
        stp: StpMode,
    },
    Cancel {
        pick: u64,
    },
    Reduce {
        pick: u64,
        leaves: u32,
    },
    Replace {
        pick: u64,
        offset_ticks: i64,
        qty: u32,
        display: u32,
    },
    MassCancel {
        account: u32,
        instrument: Option<u32>,
    },
    Status {
        instrument: u32,
        halt: bool,
    },
    EndOfDay,
}

fn action() -> impl Strategy<Value = Action> {
    let stp = prop::sample::select(StpMode::ALL);
    let new = (
        (
            0..INSTRUMENTS,
            0..ACCOUNTS,
            prop::sample::select(Side::ALL),
            -6i64..=6,
        ),
        (
            1u32..400,
            prop_oneof![3 => Just(0u32), 1 => 1u32..100],
            0u8..10,
            any::<bool>(),
            stp,
        ),
    )
        .prop_map(
            |((instrument, account, side, offset_ticks), (qty, display, kind, post_only, stp))| {
                Action::New {
                    instrument,
                    account,
                    side,
                    offset_ticks,
                    qty,
                    display,
                    kind,
                    post_only: post_only && kind < 2,
                    stp,
                }
            },
        );
    prop_oneof![
        12 => new,
        3 => any::<u64>().prop_map(|pick| Action::Cancel { pick }),
        2 => (any::<u64>(), 0u32..300).prop_map(|(pick, leaves)| Action::Reduce { pick, leaves }),
        3 => (any::<u64>(), -6i64..=6, 1u32..400, prop_oneof![3 => Just(0u32), 1 => 1u32..100])
            .prop_map(|(pick, offset_ticks, qty, display)| Action::Replace { pick, offset_ticks, qty, display }),
        1 => (0..ACCOUNTS, prop::option::of(0..INSTRUMENTS))
            .prop_map(|(account, instrument)| Action::MassCancel { account, instrument }),
        1 => (0..INSTRUMENTS, prop::bool::weighted(0.3)).prop_map(|(instrument, halt)| Action::Status { instrument, halt }),
        1 => prop::bool::weighted(0.02).prop_map(|eod| if eod { Action::EndOfDay } else { Action::Cancel { pick: 0 } }),
    ]
}

/// An order to act on: usually a resting one (with its owner), sometimes any id ever issued
/// (then often gone, and the command is rejected with its owner or account 0, which is fine).
fn pick_order(engine: &Engine, pick: u64) -> (OrderId, AccountId) {
    let resting = engine.snapshot().orders;
    if pick & 7 != 0 && !resting.is_empty() {
        let order = resting[(pick / 8 % resting.len() as u64) as usize];
        return (order.id, order.account);
    }
    let issued = engine.next_order_id().0.saturating_sub(1).max(1);
    let id = OrderId(1 + pick / 8 % issued);
    let owner = engine.order(id).map_or(AccountId(0), |order| order.account);
    (id, owner)
}

fn command(engine: &Engine, action: &Action, client_ref: u64) -> Command {
    let session = SessionId(1);
    match *action {
        Action::New {
            instrument,
            account,
            side,
            offset_ticks,
            qty,
            display,
            kind,
            post_only,
            stp,
        } => {
            let (order_type, time_in_force) = match kind {
                0..=5 => (OrderType::Limit, TimeInForce::Day),
                6 => (OrderType::Limit, TimeInForce::Gtc),
                7 => (OrderType::Limit, TimeInForce::Ioc),
                8 => (OrderType::Limit, TimeInForce::Fok),
                _ => (OrderType::Market, TimeInForce::Ioc),
            };
            let market = order_type == OrderType::Market;
            Command::NewOrder(NewOrder {
                account: AccountId(account),
                session,
                client_ref,
                instrument: InstrumentId(instrument),
                side,
                order_type,
                time_in_force,
                price: if market {
                    Price(0)
                } else {
                    Price(MID_PRICE + offset_ticks * TICK)
                },
                qty: Qty(qty),
                display_qty: if market {
                    Qty(0)
                } else {
                    Qty(display.min(qty))
                },
                min_qty: Qty(0),
                post_only,
                stp,
            })
        }
        Action::Cancel { pick } => {
            let (order, account) = pick_order(engine, pick);
            Command::Cancel(CancelOrder {
                account,
                session,
                client_ref,
                order,
            })
        }
        Action::Reduce { pick, leaves } => {
            let (order, account) = pick_order(engine, pick);
            Command::Reduce(ReduceOrder {
                account,
                session,
                client_ref,
                order,
                leaves_qty: Qty(leaves),
            })
        }
        Action::Replace {
            pick,
            offset_ticks,
            qty,
            display,
        } => {
            let (order, account) = pick_order(engine, pick);
            Command::Replace(ReplaceOrder {
                account,
                session,
                client_ref,
                order,
                price: Price(MID_PRICE + offset_ticks * TICK),
                qty: Qty(qty),
                display_qty: Qty(display.min(qty)),
            })
        }
        Action::MassCancel {
            account,
            instrument,
        } => Command::MassCancel(MassCancel {
            account: Some(AccountId(account)),
            instrument: instrument.map(InstrumentId),
            session,
            client_ref,
        }),
        Action::Status { instrument, halt } => Command::SetTradingStatus {
            instrument: InstrumentId(instrument),
            status: if halt {
                TradingStatus::Halted
            } else {
                TradingStatus::Trading
            },
        },
        Action::EndOfDay => Command::EndOfDay,
    }
}

/// The publisher and the subscriber, connected by a vector of datagrams.
struct Pipeline {
    encoder: Encoder,
    packetiser: Packetiser<Vec<u8>>,
    subscriber: Subscriber,
    book: Book,
    datagrams: Vec<Vec<u8>>,
    messages_published: u64,
}

impl Pipeline {
    fn new(config: &EngineConfig) -> Pipeline {
        let session = Session::from_text("PGRNTEST01").expect("ascii");
        let mut encoder_config = EncoderConfig::anonymous(ACCOUNTS as usize);
        encoder_config.attribution[1] = Some(Mpid::from_text("ACCT").expect("ascii"));
        Pipeline {
            encoder: Encoder::new(&config.instruments, encoder_config).expect("encoder"),
            packetiser: Packetiser::new(vec![0; 1500], session, 1, PACKET_BYTES_DEFAULT)
                .expect("packetiser"),
            subscriber: Subscriber::new(Some(session), 1),
            book: Book::new(BookConfig {
                locate_count: INSTRUMENTS as u16,
                order_capacity: config.order_capacity,
                level_capacity: config.level_capacity,
                levels_per_side_max: 256,
            }),
            datagrams: Vec::new(),
            messages_published: 0,
        }
    }

    /// Publishes one core batch (the events of one command) and lets the subscriber catch up.
    fn publish(&mut self, timestamp_ns: u64, events: &[Event]) {
        let datagrams = &mut self.datagrams;
        for event in events {
            let Some(message) = self.encoder.encode(timestamp_ns, event).expect("encodable") else {
                continue;
            };
            self.packetiser
                .push_with(&message, &mut |packet: &[u8]| {
                    datagrams.push(packet.to_vec())
                })
                .expect("push");
            self.messages_published += 1;
        }
        if let Some(packet) = self.packetiser.flush() {
            datagrams.push(packet.to_vec());
        }
        let book = &mut self.book;
        for datagram in self.datagrams.drain(..) {
            let outcome = self
                .subscriber
                .handle_packet_parsed(&datagram, |seq, message| {
                    book.apply(message)
                        .unwrap_or_else(|error| panic!("seq {seq} {message}: {error}"));
                });
            assert!(
                matches!(outcome, PacketOutcome::Delivered(_)),
                "{outcome:?}"
            );
        }
        assert_eq!(self.subscriber.expected_seq(), self.messages_published + 1);
        assert_eq!(self.subscriber.gap(), None);
    }
}

/// The feed book equals the engine's displayed book, level by level and order by order.
fn assert_books_equal(engine: &Engine, book: &Book) {
    for instrument in 0..INSTRUMENTS {
        let locate = u16::try_from(instrument + 1).expect("small");
        for &side in Side::ALL {
            let mut engine_levels = Vec::new();
            engine.for_each_level(InstrumentId(instrument), side, |level| {
                engine_levels.push((level.price, level.displayed_qty, level.order_count));
            });
            let mut feed_levels = Vec::new();
            book.for_each_level(locate, side, |level| {
                feed_levels.push((level.price.to_price(), level.shares, level.order_count));
            });
            assert_eq!(feed_levels, engine_levels, "levels of {instrument} {side}");
            let mut engine_orders = Vec::new();
            engine.for_each_order(InstrumentId(instrument), side, |order| {
                engine_orders.push((order.id, order.price, order.displayed));
            });
            let mut feed_orders = Vec::new();
            book.for_each_order(locate, side, |order| {
                feed_orders.push((order.order, order.price.to_price(), order.shares));
            });
            assert_eq!(feed_orders, engine_orders, "orders of {instrument} {side}");
        }
    }
    assert_eq!(book.order_count(), engine.resting_order_count());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn subscriber_book_equals_engine_book(actions in prop::collection::vec(action(), 1..250)) {
        let config = engine_config();
        let mut engine = Engine::new(config.clone()).expect("valid config");
        let mut pipeline = Pipeline::new(&config);
        let start_ns = 1_790_000_000_000_000_000u64;
        let mut events = Vec::new();
        for (index, action) in actions.iter().enumerate() {
            let command = command(&engine, action, index as u64);
            events.clear();
            engine.apply(&command, &mut events);
            engine.verify();
            pipeline.publish(start_ns + index as u64 * 1_000, &events);
            pipeline.book.verify();
            assert_books_equal(&engine, &pipeline.book);
        }
    }
}

#[test]
fn prices_round_trip_through_itch() {
    assert_eq!(
        ItchPrice::from_price(Price(MID_PRICE)).map(ItchPrice::to_price),
        Some(Price(MID_PRICE))
    );
}

/// A long deterministic flow (a fixed xorshift stream choosing the same actions) that must
/// exercise every book-change event kind, so the property above is known to cover them.
#[test]
fn long_flow_covers_every_book_event_and_stays_equal() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    let rng = TestRng::from_seed(RngAlgorithm::XorShift, &[7; 16]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let config = engine_config();
    let mut engine = Engine::new(config.clone()).expect("valid config");
    let mut pipeline = Pipeline::new(&config);
    let mut seen = [0u32; 16];
    let mut events = Vec::new();
    for index in 0..4_000u64 {
        let action = action().new_tree(&mut runner).expect("tree").current();
        let command = command(&engine, &action, index);
        events.clear();
        engine.apply(&command, &mut events);
        for event in &events {
            seen[usize::from(event.kind().code())] += 1;
        }
        pipeline.publish(1_790_000_000_000_000_000 + index, &events);
        assert_books_equal(&engine, &pipeline.book);
    }
    pipeline.book.verify();
    eprintln!(
        "event counts by kind: {seen:?}, resting {}",
        engine.resting_order_count()
    );
    use peregrine_engine::EventKind;
    for kind in [
        EventKind::Executed,
        EventKind::Restated,
        EventKind::TradingStatus,
        EventKind::BookAdd,
        EventKind::BookReduce,
        EventKind::BookDelete,
        EventKind::BookReplace,
    ] {
        assert!(seen[usize::from(kind.code())] > 0, "{kind} never happened");
    }
}
