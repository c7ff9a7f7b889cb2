//! A third-party ITCH 5.0 decoder (the `itchy` crate) reads what we emit: every message type,
//! hand-made and from the encoder, plus random order-flow messages. Messages are framed as in
//! Nasdaq's ITCH files (`u16` length + message) and read as one stream, so a wrong length
//! would desynchronise every later message.
//!
//! What `itchy` 0.3 checks and what it does not: it judges coded fields against its own sets
//! (it rejects e.g. a NOII cross type `I`, which our enum shares with Cross Trade, so the
//! values here avoid it), requires UTF-8 alpha fields (it panics otherwise; ours are printable
//! ASCII by construction), panics on message types it does not know, and ignores the length
//! prefix (it parses by type), which is why the whole stream is compared field by field.

use itchy::{Body, Message, MessageStream};
use peregrine_engine::{
    AccountId, BookAdd, BookDelete, BookReduce, BookReplace, Event, Executed, InstrumentConfig,
    InstrumentId, MatchId, OrderId, Price, Qty, SessionId, Side, TradingStatus,
};
use peregrine_feed::encoder::{Encoder, EncoderConfig};
use peregrine_feed::itch::*;
use peregrine_feed::wire::{Alpha, Mpid, Symbol};
use proptest::prelude::*;

fn frame(messages: &[MessageRepr]) -> Vec<u8> {
    let mut stream = Vec::new();
    for message in messages {
        let len = message.buffer_len();
        stream.extend_from_slice(&u16::try_from(len).expect("short").to_be_bytes());
        let start = stream.len();
        stream.resize(start + len, 0xa5);
        message.emit(&mut stream[start..]);
    }
    stream
}

fn decode(stream: &[u8]) -> Vec<Message> {
    MessageStream::from_reader(stream)
        .map(|message| message.unwrap_or_else(|error| panic!("itchy rejected: {error}")))
        .collect()
}

fn side(side: Side) -> itchy::Side {
    match side {
        Side::Buy => itchy::Side::Buy,
        Side::Sell => itchy::Side::Sell,
    }
}

fn cross(cross: CrossType) -> itchy::CrossType {
    match cross {
        CrossType::Opening => itchy::CrossType::Opening,
        CrossType::Closing => itchy::CrossType::Closing,
        CrossType::HaltOrIpo => itchy::CrossType::IpoOrHalted,
        CrossType::Intraday => itchy::CrossType::Intraday,
        CrossType::ExtendedTradingClose => itchy::CrossType::ExtendedTradingClose,
    }
}

fn stock(symbol: Symbol) -> String {
    String::from_utf8(symbol.bytes().to_vec()).expect("ascii")
}

/// Field-by-field comparison of our value with itchy's reading of our bytes.
fn check(ours: &MessageRepr, theirs: &Message) {
    let header = ours.header();
    assert_eq!(theirs.tag, ours.type_byte(), "{ours}");
    assert_eq!(theirs.stock_locate, header.stock_locate, "{ours}");
    assert_eq!(theirs.tracking_number, header.tracking_number, "{ours}");
    assert_eq!(theirs.timestamp, header.timestamp_ns, "{ours}");
    match (ours, &theirs.body) {
        (MessageRepr::SystemEvent(m), Body::SystemEvent { event }) => {
            assert_eq!(format!("{:?}", m.event_code), format!("{event:?}"));
        }
        (MessageRepr::StockDirectory(m), Body::StockDirectory(d)) => {
            assert_eq!(d.stock.as_str(), stock(m.stock));
            assert_eq!(d.round_lot_size, m.round_lot_size);
            assert_eq!(d.round_lots_only, m.round_lots_only == YesNo::Yes);
            assert_eq!(d.authenticity, m.authenticity == Authenticity::Production);
            assert_eq!(d.etp_leverage_factor, m.etp_leverage_factor);
            assert_eq!(d.inverse_indicator, m.inverse_indicator == YesNo::Yes);
        }
        (
            MessageRepr::TradingAction(m),
            Body::TradingAction {
                stock: s,
                trading_state,
                reason,
            },
        ) => {
            assert_eq!(s.as_str(), stock(m.stock));
            assert_eq!(
                format!("{:?}", m.trading_state),
                format!("{trading_state:?}")
            );
            assert_eq!(reason.as_bytes(), m.reason.bytes());
        }
        (MessageRepr::RegSho(m), Body::RegShoRestriction { stock: s, action }) => {
            assert_eq!(s.as_str(), stock(m.stock));
            let expected = match m.action {
                RegShoAction::NoPriceTest => itchy::RegShoAction::None,
                RegShoAction::IntradayPriceDrop => itchy::RegShoAction::Intraday,
                RegShoAction::PriceTestContinued => itchy::RegShoAction::Extant,
            };
            assert_eq!(*action, expected);
        }
        (MessageRepr::AddOrder(m), Body::AddOrder(a)) => {
            let expected = (
                m.order.0,
                side(m.side),
                m.shares.0,
                stock(m.stock),
                m.price.0,
                None,
            );
            assert_eq!(
                (
                    a.reference,
                    a.side,
                    a.shares,
                    a.stock.to_string(),
                    a.price.raw(),
                    a.mpid
                ),
                expected
            );
        }
        (MessageRepr::AddOrderMpid(m), Body::AddOrder(a)) => {
            let mpid = Some(itchy::ArrayString4::from(m.attribution.trimmed()).expect("4"));
            let theirs_mpid = a
                .mpid
                .map(|s| itchy::ArrayString4::from(s.trim_end()).expect("4"));
            let expected = (
                m.order.0,
                side(m.side),
                m.shares.0,
                stock(m.stock),
                m.price.0,
                mpid,
            );
            assert_eq!(
                (
                    a.reference,
                    a.side,
                    a.shares,
                    a.stock.to_string(),
                    a.price.raw(),
                    theirs_mpid
                ),
                expected
            );
        }
        (
            MessageRepr::OrderExecuted(m),
            Body::OrderExecuted {
                reference,
                executed,
                match_number,
            },
        ) => {
            assert_eq!(
                (*reference, *executed, *match_number),
                (m.order.0, m.executed_shares.0, m.match_number.0)
            );
        }
        (
            MessageRepr::OrderExecutedWithPrice(m),
            Body::OrderExecutedWithPrice {
                reference,
                executed,
                match_number,
                printable,
                price,
            },
        ) => {
            assert_eq!(
                (
                    *reference,
                    *executed,
                    *match_number,
                    *printable,
                    price.raw()
                ),
                (
                    m.order.0,
                    m.executed_shares.0,
                    m.match_number.0,
                    m.printable == YesNo::Yes,
                    m.execution_price.0
                )
            );
        }
        (
            MessageRepr::OrderCancel(m),
            Body::OrderCancelled {
                reference,
                cancelled,
            },
        ) => {
            assert_eq!((*reference, *cancelled), (m.order.0, m.cancelled_shares.0));
        }
        (MessageRepr::OrderDelete(m), Body::DeleteOrder { reference }) => {
            assert_eq!(*reference, m.order.0);
        }
        (MessageRepr::OrderReplace(m), Body::ReplaceOrder(r)) => {
            assert_eq!(
                (r.old_reference, r.new_reference, r.shares, r.price.raw()),
                (m.original_order.0, m.new_order.0, m.shares.0, m.price.0)
            );
        }
        (MessageRepr::Trade(m), Body::NonCrossTrade(t)) => {
            assert_eq!(
                (
                    t.reference,
                    t.side,
                    t.shares,
                    t.stock.to_string(),
                    t.price.raw(),
                    t.match_number
                ),
                (
                    m.order.0,
                    side(m.side),
                    m.shares.0,
                    stock(m.stock),
                    m.price.0,
                    m.match_number.0
                )
            );
        }
        (MessageRepr::CrossTrade(m), Body::CrossTrade(c)) => {
            assert_eq!(
                (
                    c.shares,
                    c.stock.to_string(),
                    c.cross_price.raw(),
                    c.match_number,
                    c.cross_type
                ),
                (
                    m.shares,
                    stock(m.stock),
                    m.cross_price.0,
                    m.match_number.0,
                    cross(m.cross_type)
                )
            );
        }
        (MessageRepr::BrokenTrade(m), Body::BrokenTrade { match_number }) => {
            assert_eq!(*match_number, m.match_number.0);
        }
        (MessageRepr::Noii(m), Body::Imbalance(i)) => {
            assert_eq!(
                (i.paired_shares, i.imbalance_shares),
                (m.paired_shares, m.imbalance_shares)
            );
            assert_eq!(
                format!("{:?}", m.imbalance_direction),
                format!("{:?}", i.imbalance_direction)
            );
            assert_eq!(i.stock.as_str(), stock(m.stock));
            assert_eq!(
                (
                    i.far_price.raw(),
                    i.near_price.raw(),
                    i.current_ref_price.raw()
                ),
                (m.far_price.0, m.near_price.0, m.current_reference_price.0)
            );
            assert_eq!(i.cross_type, cross(m.cross_type));
            assert_eq!(
                i.price_variation_indicator,
                m.price_variation.code() as char
            );
        }
        (ours, theirs) => panic!("{ours} read as {theirs:?}"),
    }
}

fn header(locate: u16) -> HeaderRepr {
    HeaderRepr {
        stock_locate: locate,
        tracking_number: 7,
        timestamp_ns: 57_600_000_000_001,
    }
}

/// One message of every type, with values `itchy` accepts.
fn every_type() -> Vec<MessageRepr> {
    let stock = Symbol::from_text("PGRN").expect("ascii");
    let h = header(3);
    vec![
        MessageRepr::SystemEvent(SystemEventRepr {
            header: header(0),
            event_code: EventCode::EndOfMessages,
        }),
        MessageRepr::StockDirectory(StockDirectoryRepr {
            header: h,
            stock,
            market_category: MarketCategory::NasdaqCapitalMarket,
            financial_status: FinancialStatus::Normal,
            round_lot_size: 100,
            round_lots_only: YesNo::Yes,
            issue_classification: Alpha::new(*b"C").expect("ascii"),
            issue_sub_type: Alpha::new(*b"Z ").expect("ascii"),
            authenticity: Authenticity::Production,
            short_sale_threshold: Indicator::Yes,
            ipo_flag: Indicator::No,
            luld_tier: LuldTier::Tier2,
            etp_flag: Indicator::NotAvailable,
            etp_leverage_factor: 3,
            inverse_indicator: YesNo::Yes,
        }),
        MessageRepr::TradingAction(TradingActionRepr {
            header: h,
            stock,
            trading_state: TradingState::Paused,
            reason: Alpha::new(*b"LUDP").expect("ascii"),
        }),
        MessageRepr::RegSho(RegShoRepr {
            header: h,
            stock,
            action: RegShoAction::PriceTestContinued,
        }),
        MessageRepr::AddOrder(AddOrderRepr {
            header: h,
            order: OrderId(u64::MAX),
            side: Side::Sell,
            shares: Qty(u32::MAX),
            stock,
            price: ItchPrice(u32::MAX),
        }),
        MessageRepr::AddOrderMpid(AddOrderMpidRepr {
            header: h,
            order: OrderId(2),
            side: Side::Buy,
            shares: Qty(1),
            stock,
            price: ItchPrice(1),
            attribution: Mpid::from_text("AB").expect("ascii"),
        }),
        MessageRepr::OrderExecuted(OrderExecutedRepr {
            header: h,
            order: OrderId(2),
            executed_shares: Qty(1),
            match_number: MatchId(u64::MAX),
        }),
        MessageRepr::OrderExecutedWithPrice(OrderExecutedWithPriceRepr {
            header: h,
            order: OrderId(3),
            executed_shares: Qty(9),
            match_number: MatchId(4),
            printable: YesNo::No,
            execution_price: ItchPrice(12_345),
        }),
        MessageRepr::OrderCancel(OrderCancelRepr {
            header: h,
            order: OrderId(3),
            cancelled_shares: Qty(2),
        }),
        MessageRepr::OrderDelete(OrderDeleteRepr {
            header: h,
            order: OrderId(3),
        }),
        MessageRepr::OrderReplace(OrderReplaceRepr {
            header: h,
            original_order: OrderId(3),
            new_order: OrderId(4),
            shares: Qty(5),
            price: ItchPrice(6),
        }),
        MessageRepr::Trade(TradeRepr {
            header: h,
            order: OrderId(0),
            side: Side::Sell,
            shares: Qty(8),
            stock,
            price: ItchPrice(9),
            match_number: MatchId(10),
        }),
        MessageRepr::CrossTrade(CrossTradeRepr {
            header: h,
            shares: u64::MAX,
            stock,
            cross_price: ItchPrice(11),
            match_number: MatchId(12),
            cross_type: CrossType::Intraday,
        }),
        MessageRepr::BrokenTrade(BrokenTradeRepr {
            header: h,
            match_number: MatchId(12),
        }),
        MessageRepr::Noii(NoiiRepr {
            header: h,
            paired_shares: 13,
            imbalance_shares: 14,
            imbalance_direction: ImbalanceDirection::InsufficientOrders,
            stock,
            far_price: ItchPrice(15),
            near_price: ItchPrice(16),
            current_reference_price: ItchPrice(17),
            cross_type: CrossType::HaltOrIpo,
            price_variation: PriceVariation::NotAvailable,
        }),
    ]
}

#[test]
fn itchy_reads_every_message_type_we_emit() {
    let messages = every_type();
    let mut types: Vec<u8> = messages.iter().map(MessageRepr::type_byte).collect();
    types.sort_unstable();
    assert_eq!(types, b"ABCDEFHIPQRSUXY".to_vec());
    let decoded = decode(&frame(&messages));
    assert_eq!(decoded.len(), messages.len());
    for (ours, theirs) in messages.iter().zip(&decoded) {
        check(ours, theirs);
    }
}

#[test]
fn itchy_reads_what_the_encoder_emits() {
    let instruments: Vec<InstrumentConfig> = (0..2)
        .map(|index| InstrumentConfig {
            symbol: InstrumentConfig::symbol_from_str(&format!("SYM{index}")),
            tick_size: Price(100),
            lot_size: Qty(100),
            min_price: Price(100),
            max_price: Price(10_000_000),
            max_order_qty: Qty(1_000_000),
        })
        .collect();
    let mut config = EncoderConfig::anonymous(2);
    config.attribution[1] = Some(Mpid::from_text("MMKR").expect("ascii"));
    let encoder = Encoder::new(&instruments, config).expect("valid");
    let stamp_ns = 1_790_000_000_123_456_789;
    let add = |order, account| {
        Event::BookAdd(BookAdd {
            order: OrderId(order),
            instrument: InstrumentId(1),
            account: AccountId(account),
            side: Side::Buy,
            price: Price(1_000_000),
            display_qty: Qty(100),
        })
    };
    let events = [
        add(1, 0),
        add(2, 1),
        Event::Executed(Executed {
            match_id: MatchId(1),
            instrument: InstrumentId(1),
            price: Price(1_000_000),
            qty: Qty(40),
            taker_side: Side::Sell,
            maker_order: OrderId(1),
            maker_account: AccountId(0),
            maker_session: SessionId(0),
            maker_leaves: Qty(60),
            taker_order: OrderId(3),
            taker_account: AccountId(1),
            taker_session: SessionId(1),
            taker_leaves: Qty(0),
        }),
        Event::BookReduce(BookReduce {
            order: OrderId(1),
            instrument: InstrumentId(1),
            qty: Qty(10),
        }),
        Event::BookReplace(BookReplace {
            old_order: OrderId(2),
            new_order: OrderId(4),
            instrument: InstrumentId(1),
            price: Price(990_000),
            display_qty: Qty(300),
        }),
        Event::BookDelete(BookDelete {
            order: OrderId(1),
            instrument: InstrumentId(1),
        }),
        Event::TradingStatus {
            instrument: InstrumentId(0),
            status: TradingStatus::Halted,
        },
    ];
    let mut messages = vec![
        encoder.system_event(stamp_ns, EventCode::StartOfMessages),
        encoder
            .stock_directory(stamp_ns, InstrumentId(0))
            .expect("known"),
        encoder
            .stock_directory(stamp_ns, InstrumentId(1))
            .expect("known"),
    ];
    for event in &events {
        messages.push(
            encoder
                .encode(stamp_ns, event)
                .expect("encodable")
                .expect("book event"),
        );
    }
    messages.push(encoder.system_event(stamp_ns, EventCode::EndOfMessages));
    let decoded = decode(&frame(&messages));
    assert_eq!(decoded.len(), messages.len());
    for (ours, theirs) in messages.iter().zip(&decoded) {
        check(ours, theirs);
    }
    assert_eq!(decoded[4].timestamp, stamp_ns % 86_400_000_000_000);
    assert_eq!(decoded[4].stock_locate, 2, "instrument 1 is locate 2");
}

fn order_flow_message() -> impl Strategy<Value = MessageRepr> {
    let h = (any::<u16>(), any::<u16>(), 0..NS_PER_DAY).prop_map(|(l, t, ns)| HeaderRepr {
        stock_locate: l,
        tracking_number: t,
        timestamp_ns: ns,
    });
    let symbol =
        prop::array::uniform8(0x20u8..=0x7e).prop_map(|b| Symbol::new(b).expect("printable"));
    let side = prop::sample::select(Side::ALL);
    prop_oneof![
        (
            h.clone(),
            any::<u64>(),
            side.clone(),
            any::<u32>(),
            symbol.clone(),
            any::<u32>()
        )
            .prop_map(
                |(header, order, side, shares, stock, price)| MessageRepr::AddOrder(AddOrderRepr {
                    header,
                    order: OrderId(order),
                    side,
                    shares: Qty(shares),
                    stock,
                    price: ItchPrice(price),
                })
            ),
        (h.clone(), any::<u64>(), any::<u32>(), any::<u64>()).prop_map(
            |(header, order, shares, m)| {
                MessageRepr::OrderExecuted(OrderExecutedRepr {
                    header,
                    order: OrderId(order),
                    executed_shares: Qty(shares),
                    match_number: MatchId(m),
                })
            }
        ),
        (h.clone(), any::<u64>(), any::<u32>()).prop_map(|(header, order, shares)| {
            MessageRepr::OrderCancel(OrderCancelRepr {
                header,
                order: OrderId(order),
                cancelled_shares: Qty(shares),
            })
        }),
        (h.clone(), any::<u64>()).prop_map(|(header, order)| {
            MessageRepr::OrderDelete(OrderDeleteRepr {
                header,
                order: OrderId(order),
            })
        }),
        (h, any::<u64>(), any::<u64>(), any::<u32>(), any::<u32>()).prop_map(
            |(header, a, b, s, p)| {
                MessageRepr::OrderReplace(OrderReplaceRepr {
                    header,
                    original_order: OrderId(a),
                    new_order: OrderId(b),
                    shares: Qty(s),
                    price: ItchPrice(p),
                })
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn itchy_reads_random_order_flow(messages in prop::collection::vec(order_flow_message(), 1..100)) {
        let decoded = decode(&frame(&messages));
        prop_assert_eq!(decoded.len(), messages.len());
        for (ours, theirs) in messages.iter().zip(&decoded) {
            check(ours, theirs);
        }
    }
}
