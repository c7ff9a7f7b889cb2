//! Encoder: each engine event maps to its ITCH message with the documented locate, timestamp
//! and price rules; member-only events produce nothing; out-of-range prices, unknown
//! instruments and accounts are typed errors; and hand-written event streams (add, partial and
//! full execution, iceberg refresh, reduce, replace, delete) encoded and applied to the book
//! builder give the book those events describe.

use peregrine_engine::{
    AccountId, BookAdd, BookDelete, BookReduce, BookReplace, CancelReason, Cancelled, CommandKind,
    ControlAck, Event, Executed, InstrumentConfig, InstrumentId, MatchId, OrderId, Price, Qty,
    SessionId, Side, TradingStatus,
};

use super::*;
use crate::book::{Book, BookConfig};
use crate::itch::{ItchPrice, OrderExecutedRepr};

const DAY_NS: u64 = 86_400 * 1_000_000_000;
/// 2026-11-22 09:30:00.000000123 UTC as ns since the epoch.
const STAMP_NS: u64 = 20_779 * DAY_NS + 34_200_000_000_123;

fn instruments() -> Vec<InstrumentConfig> {
    (0..2)
        .map(|index| InstrumentConfig {
            symbol: InstrumentConfig::symbol_from_str(&format!("SYM{index}")),
            tick_size: Price(100),
            lot_size: Qty(100),
            min_price: Price(100),
            max_price: Price(1_000 * Price::SCALE),
            max_order_qty: Qty(1_000_000),
        })
        .collect()
}

fn encoder() -> Encoder {
    let mut config = EncoderConfig::anonymous(3);
    config.attribution[2] = Some(Mpid::from_text("PGRN").expect("ascii"));
    config.halt_reason = Alpha::new(*b"T12 ").expect("ascii");
    Encoder::new(&instruments(), config).expect("valid")
}

fn header(locate: u16) -> HeaderRepr {
    HeaderRepr {
        stock_locate: locate,
        tracking_number: 0,
        timestamp_ns: 34_200_000_000_123,
    }
}

fn book_add(order: u64, account: u32, side: Side, price: i64, display: u32) -> Event {
    Event::BookAdd(BookAdd {
        order: OrderId(order),
        instrument: InstrumentId(0),
        account: AccountId(account),
        side,
        price: Price(price),
        display_qty: Qty(display),
    })
}

fn executed(match_id: u64, maker: u64, qty: u32, maker_leaves: u32) -> Event {
    Event::Executed(Executed {
        match_id: MatchId(match_id),
        instrument: InstrumentId(0),
        price: Price(1_000_000),
        qty: Qty(qty),
        taker_side: Side::Sell,
        maker_order: OrderId(maker),
        maker_account: AccountId(0),
        maker_session: SessionId(0),
        maker_leaves: Qty(maker_leaves),
        taker_order: OrderId(99),
        taker_account: AccountId(1),
        taker_session: SessionId(1),
        taker_leaves: Qty(0),
    })
}

#[test]
fn book_events_map_to_their_messages() {
    let encoder = encoder();
    let add = encoder.encode(STAMP_NS, &book_add(7, 0, Side::Buy, 1_234_500, 300));
    let expected_add = AddOrderRepr {
        header: header(1),
        order: OrderId(7),
        side: Side::Buy,
        shares: Qty(300),
        stock: Symbol::from_text("SYM0").expect("ascii"),
        price: ItchPrice(1_234_500),
    };
    assert_eq!(add, Ok(Some(MessageRepr::AddOrder(expected_add))));
    let attributed = encoder.encode(STAMP_NS, &book_add(8, 2, Side::Sell, 1_234_600, 100));
    let Ok(Some(MessageRepr::AddOrderMpid(attributed))) = attributed else {
        panic!("account 2 has an MPID: {attributed:?}");
    };
    assert_eq!(attributed.attribution.trimmed(), "PGRN");
    assert_eq!(
        encoder.encode(STAMP_NS, &executed(5, 7, 100, 200)),
        Ok(Some(MessageRepr::OrderExecuted(OrderExecutedRepr {
            header: header(1),
            order: OrderId(7),
            executed_shares: Qty(100),
            match_number: MatchId(5),
        })))
    );
    let reduce = Event::BookReduce(BookReduce {
        order: OrderId(7),
        instrument: InstrumentId(1),
        qty: Qty(50),
    });
    assert_eq!(
        encoder.encode(STAMP_NS, &reduce),
        Ok(Some(MessageRepr::OrderCancel(OrderCancelRepr {
            header: header(2),
            order: OrderId(7),
            cancelled_shares: Qty(50),
        })))
    );
    let delete = Event::BookDelete(BookDelete {
        order: OrderId(7),
        instrument: InstrumentId(0),
    });
    assert_eq!(
        encoder.encode(STAMP_NS, &delete),
        Ok(Some(MessageRepr::OrderDelete(OrderDeleteRepr {
            header: header(1),
            order: OrderId(7)
        })))
    );
    let replace = Event::BookReplace(BookReplace {
        old_order: OrderId(7),
        new_order: OrderId(9),
        instrument: InstrumentId(0),
        price: Price(1_234_700),
        display_qty: Qty(400),
    });
    assert_eq!(
        encoder.encode(STAMP_NS, &replace),
        Ok(Some(MessageRepr::OrderReplace(OrderReplaceRepr {
            header: header(1),
            original_order: OrderId(7),
            new_order: OrderId(9),
            shares: Qty(400),
            price: ItchPrice(1_234_700),
        })))
    );
}

#[test]
fn trading_status_system_event_and_directory() {
    let encoder = encoder();
    let halt = Event::TradingStatus {
        instrument: InstrumentId(1),
        status: TradingStatus::Halted,
    };
    let Ok(Some(MessageRepr::TradingAction(halt))) = encoder.encode(STAMP_NS, &halt) else {
        panic!("halt encodes to H");
    };
    assert_eq!(
        (halt.header, halt.trading_state),
        (header(2), TradingState::Halted)
    );
    assert_eq!(
        (halt.stock.trimmed(), halt.reason.trimmed()),
        ("SYM1", "T12")
    );
    let resume = encoder.trading_action(STAMP_NS, InstrumentId(1), TradingStatus::Trading);
    let Ok(MessageRepr::TradingAction(resume)) = resume else {
        panic!("H")
    };
    assert_eq!(
        (resume.trading_state, resume.reason),
        (TradingState::Trading, Alpha::BLANK)
    );
    let start = encoder.system_event(STAMP_NS, EventCode::StartOfMessages);
    assert_eq!(
        start,
        MessageRepr::SystemEvent(SystemEventRepr {
            header: header(0),
            event_code: EventCode::StartOfMessages
        })
    );
    let Ok(MessageRepr::StockDirectory(directory)) =
        encoder.stock_directory(STAMP_NS, InstrumentId(1))
    else {
        panic!("R");
    };
    assert_eq!(
        (directory.header, directory.stock.trimmed()),
        (header(2), "SYM1")
    );
    assert_eq!(directory.round_lot_size, 100);
    assert_eq!(directory.authenticity, Authenticity::Test);
}

#[test]
fn member_only_events_produce_nothing() {
    let encoder = encoder();
    let cancelled = Event::Cancelled(Cancelled {
        order: OrderId(1),
        account: AccountId(0),
        session: SessionId(0),
        instrument: InstrumentId(0),
        side: Side::Buy,
        price: Price(100),
        cancelled_qty: Qty(1),
        leaves: Qty(0),
        reason: CancelReason::UserRequested,
    });
    let ack = Event::ControlAck(ControlAck {
        command: CommandKind::EndOfDay,
        account: AccountId(0),
        instrument: InstrumentId(0),
        value: 0,
    });
    assert_eq!(encoder.encode(STAMP_NS, &cancelled), Ok(None));
    assert_eq!(encoder.encode(STAMP_NS, &ack), Ok(None));
}

#[test]
fn out_of_range_values_are_typed_errors() {
    let encoder = encoder();
    let too_high = i64::from(u32::MAX) + 1;
    assert_eq!(
        encoder.encode(STAMP_NS, &book_add(1, 0, Side::Buy, too_high, 1)),
        Err(EncodeError::PriceOutOfRange(Price(too_high)))
    );
    assert_eq!(
        encoder.encode(STAMP_NS, &book_add(1, 0, Side::Buy, -100, 1)),
        Err(EncodeError::PriceOutOfRange(Price(-100)))
    );
    assert_eq!(
        encoder
            .encode(STAMP_NS, &book_add(1, 0, Side::Buy, i64::from(u32::MAX), 1))
            .map(|m| m.is_some()),
        Ok(true)
    );
    assert_eq!(
        encoder.encode(STAMP_NS, &book_add(1, 3, Side::Buy, 100, 1)),
        Err(EncodeError::UnknownAccount(AccountId(3)))
    );
    let unknown = Event::BookDelete(BookDelete {
        order: OrderId(1),
        instrument: InstrumentId(2),
    });
    assert_eq!(
        encoder.encode(STAMP_NS, &unknown),
        Err(EncodeError::UnknownInstrument(InstrumentId(2)))
    );
    assert_eq!(
        encoder.stock_directory(0, InstrumentId(u32::MAX)),
        Err(EncodeError::UnknownInstrument(InstrumentId(u32::MAX)))
    );
    let mut bad = instruments();
    bad[1].symbol[0] = 0x00;
    assert_eq!(
        Encoder::new(&bad, EncoderConfig::anonymous(1)).err(),
        Some(EncodeError::BadSymbol(InstrumentId(1)))
    );
}

#[test]
fn locates_and_timestamps() {
    assert_eq!(stock_locate(InstrumentId(0)), Some(1));
    assert_eq!(stock_locate(InstrumentId(65_534)), Some(65_535));
    assert_eq!(stock_locate(InstrumentId(65_535)), None);
    assert_eq!(instrument_of_locate(0), None);
    assert_eq!(instrument_of_locate(1), Some(InstrumentId(0)));
    assert_eq!(since_midnight_ns(STAMP_NS), 34_200_000_000_123);
    assert_eq!(since_midnight_ns(DAY_NS - 1), DAY_NS - 1);
    assert_eq!(since_midnight_ns(DAY_NS), 0);
}

/// (order ref, price, shares) of a resting order.
type Resting = (u64, u32, u32);

/// Encodes a stream and applies it to a fresh book, returning the bid and ask orders of
/// instrument 0 as (ref, price, shares).
fn book_of(events: &[Event]) -> (Vec<Resting>, Vec<Resting>) {
    let encoder = encoder();
    let mut book = Book::new(BookConfig {
        locate_count: 2,
        order_capacity: 16,
        level_capacity: 16,
        levels_per_side_max: 8,
    });
    for event in events {
        if let Some(message) = encoder.encode(STAMP_NS, event).expect("encodable") {
            book.apply(&message)
                .unwrap_or_else(|error| panic!("{message}: {error}"));
            book.verify();
        }
    }
    let mut sides = (Vec::new(), Vec::new());
    book.for_each_order(1, Side::Buy, |o| {
        sides.0.push((o.order.0, o.price.0, o.shares.0))
    });
    book.for_each_order(1, Side::Sell, |o| {
        sides.1.push((o.order.0, o.price.0, o.shares.0))
    });
    sides
}

#[test]
fn event_stream_builds_the_described_book() {
    // Two bids at 100.00, one ask; partial then full execution of the first bid; an iceberg
    // ask refreshed behind a later ask; a reduce; a replace to a new price; a delete.
    let events = [
        book_add(1, 0, Side::Buy, 1_000_000, 300),
        book_add(2, 2, Side::Buy, 1_000_000, 200),
        book_add(3, 1, Side::Sell, 1_010_000, 100),
        executed(1, 1, 100, 200),
        executed(2, 1, 200, 0),
        book_add(4, 0, Side::Sell, 1_010_000, 50),
        executed(3, 3, 100, 400),
        book_add(3, 1, Side::Sell, 1_010_000, 100),
        Event::BookReduce(BookReduce {
            order: OrderId(2),
            instrument: InstrumentId(0),
            qty: Qty(50),
        }),
        Event::BookReplace(BookReplace {
            old_order: OrderId(4),
            new_order: OrderId(5),
            instrument: InstrumentId(0),
            price: Price(1_020_000),
            display_qty: Qty(60),
        }),
    ];
    let (bids, asks) = book_of(&events);
    assert_eq!(bids, vec![(2, 1_000_000, 150)]);
    assert_eq!(asks, vec![(3, 1_010_000, 100), (5, 1_020_000, 60)]);
    let mut with_delete = events.to_vec();
    with_delete.push(Event::BookDelete(BookDelete {
        order: OrderId(3),
        instrument: InstrumentId(0),
    }));
    let (_, asks) = book_of(&with_delete);
    assert_eq!(asks, vec![(5, 1_020_000, 60)]);
}

#[test]
fn publishes_agrees_with_encode() {
    let encoder = encoder();
    let events = [
        book_add(1, 0, Side::Buy, 1_000_000, 300),
        executed(1, 1, 100, 200),
        Event::BookReduce(BookReduce {
            order: OrderId(2),
            instrument: InstrumentId(0),
            qty: Qty(50),
        }),
        Event::BookDelete(BookDelete {
            order: OrderId(3),
            instrument: InstrumentId(0),
        }),
        Event::TradingStatus {
            instrument: InstrumentId(0),
            status: TradingStatus::Halted,
        },
        Event::ControlAck(ControlAck {
            command: CommandKind::EndOfDay,
            account: AccountId(0),
            instrument: InstrumentId(0),
            value: 0,
        }),
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
        }),
    ];
    for event in &events {
        let encoded = encoder.encode(STAMP_NS, event).expect("encodable");
        assert_eq!(publishes(event), encoded.is_some(), "{event:?}");
    }
}

#[test]
fn auction_events_encode_as_executions_cross_trade_and_noii() {
    use peregrine_engine::{AuctionFill, AuctionIndicative, AuctionUncrossed, ImbalanceSide};
    let encoder = encoder();
    let fill = Event::AuctionFill(AuctionFill {
        match_id: MatchId(11),
        instrument: InstrumentId(0),
        price: Price(1_000_000),
        qty: Qty(300),
        side: Side::Sell,
        order: OrderId(5),
        account: AccountId(1),
        session: SessionId(2),
        order_price: Price(990_000),
        leaves: Qty(0),
        contra_order: OrderId(6),
        phase: TradingStatus::OpeningAuction,
    });
    assert_eq!(
        encoder.encode(STAMP_NS, &fill),
        Ok(Some(MessageRepr::OrderExecutedWithPrice(
            OrderExecutedWithPriceRepr {
                header: header(1),
                order: OrderId(5),
                executed_shares: Qty(300),
                match_number: MatchId(11),
                printable: YesNo::No,
                execution_price: ItchPrice(1_000_000),
            }
        )))
    );
    let cross = Event::AuctionUncrossed(AuctionUncrossed {
        match_id: MatchId(12),
        instrument: InstrumentId(1),
        price: Price(1_000_000),
        qty: 300,
        phase: TradingStatus::ClosingAuction,
    });
    let Ok(Some(MessageRepr::CrossTrade(cross))) = encoder.encode(STAMP_NS, &cross) else {
        panic!("an uncross encodes to Q");
    };
    assert_eq!(
        (
            cross.header,
            cross.shares,
            cross.cross_price,
            cross.match_number
        ),
        (header(2), 300, ItchPrice(1_000_000), MatchId(12))
    );
    assert_eq!(
        (cross.stock.trimmed(), cross.cross_type),
        ("SYM1", CrossType::Closing)
    );
    let indicative = Event::AuctionIndicative(AuctionIndicative {
        instrument: InstrumentId(0),
        phase: TradingStatus::VolatilityAuction,
        price: Price(1_030_000),
        paired_qty: 700,
        imbalance_qty: 200,
        imbalance_side: ImbalanceSide::Sell,
        reference_price: Price(1_000_000),
    });
    let Ok(Some(MessageRepr::Noii(noii))) = encoder.encode(STAMP_NS, &indicative) else {
        panic!("an indicative encodes to I");
    };
    assert_eq!(
        (
            noii.paired_shares,
            noii.imbalance_shares,
            noii.imbalance_direction
        ),
        (700, 200, ImbalanceDirection::Sell)
    );
    assert_eq!(
        (
            noii.near_price,
            noii.far_price,
            noii.current_reference_price
        ),
        (
            ItchPrice(1_030_000),
            ItchPrice(1_030_000),
            ItchPrice(1_030_000)
        )
    );
    assert_eq!(
        (noii.cross_type, noii.price_variation),
        (CrossType::HaltOrIpo, PriceVariation::Pct3)
    );
    for event in [fill, indicative] {
        assert!(publishes(&event));
    }
}

#[test]
fn every_phase_has_a_trading_action() {
    let encoder = encoder();
    let expected = [
        (TradingStatus::Trading, TradingState::Trading),
        (TradingStatus::Halted, TradingState::Halted),
        (TradingStatus::PreOpen, TradingState::QuotationOnly),
        (TradingStatus::OpeningAuction, TradingState::QuotationOnly),
        (TradingStatus::ClosingAuction, TradingState::QuotationOnly),
        (TradingStatus::ResumeAuction, TradingState::QuotationOnly),
        (TradingStatus::VolatilityAuction, TradingState::Paused),
        (TradingStatus::BatchAuction, TradingState::QuotationOnly),
        (TradingStatus::Closed, TradingState::Halted),
    ];
    assert_eq!(expected.len(), TradingStatus::ALL.len());
    for (status, state) in expected {
        let Ok(MessageRepr::TradingAction(action)) =
            encoder.trading_action(STAMP_NS, InstrumentId(0), status)
        else {
            panic!("H");
        };
        assert_eq!(action.trading_state, state, "{status}");
    }
    assert_eq!(
        price_variation(Price(0), Price(5)),
        PriceVariation::NotAvailable
    );
    assert_eq!(
        price_variation(Price(100), Price(100)),
        PriceVariation::BelowOnePct
    );
    assert_eq!(
        price_variation(Price(150), Price(100)),
        PriceVariation::Pct30OrMore
    );
    assert_eq!(
        price_variation(Price(115), Price(100)),
        PriceVariation::Pct10To19
    );
}

#[test]
fn an_engine_uncross_encoded_gives_the_engines_displayed_book() {
    use peregrine_engine::{
        AccountConfig, Command, Engine, EngineConfig, NewOrder, OrderType, StpMode, TimeInForce,
    };
    let config = EngineConfig {
        instruments: instruments(),
        accounts: vec![AccountConfig { stp: StpMode::Off }; 3],
        order_capacity: 16,
        level_capacity: 16,
    };
    let mut engine = Engine::new(config).expect("valid config");
    let mut events = Vec::new();
    let call = Command::SetTradingStatus {
        instrument: InstrumentId(0),
        status: TradingStatus::OpeningAuction,
    };
    engine.apply(&call, &mut events);
    // (account, side, price, qty, display): an iceberg ask refreshes during the uncross.
    let rows = [
        (0, Side::Buy, 1_010_000, 500, 0),
        (1, Side::Sell, 1_000_000, 600, 200),
        (2, Side::Sell, 1_000_000, 200, 0),
        (2, Side::Buy, 1_000_000, 400, 0),
        (1, Side::Sell, 1_020_000, 300, 0),
    ];
    for (account, side, price, qty, display) in rows {
        let order = NewOrder {
            account: AccountId(account),
            session: SessionId(1),
            client_ref: 0,
            instrument: InstrumentId(0),
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            price: Price(price),
            qty: Qty(qty),
            display_qty: Qty(display),
            min_qty: Qty(0),
            post_only: false,
            stp: StpMode::AccountDefault,
        };
        engine.apply(&Command::NewOrder(order), &mut events);
    }
    let open = Command::SetTradingStatus {
        instrument: InstrumentId(0),
        status: TradingStatus::Trading,
    };
    engine.apply(&open, &mut events);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::AuctionUncrossed(u) if u.qty == 800)));
    let (bids, asks) = book_of(&events);
    let mut expected = (Vec::new(), Vec::new());
    engine.for_each_order(InstrumentId(0), Side::Buy, |o| {
        expected.0.push((
            o.id.0,
            u32::try_from(o.price.0).expect("fits"),
            o.displayed.0,
        ))
    });
    engine.for_each_order(InstrumentId(0), Side::Sell, |o| {
        expected.1.push((
            o.id.0,
            u32::try_from(o.price.0).expect("fits"),
            o.displayed.0,
        ))
    });
    assert_eq!((bids, asks), expected);
}
