//! Golden vectors for every ITCH 5.0 message, checked both ways (parse the bytes, emit the
//! value into a buffer pre-filled with 0xa5), plus rejection of bad lengths, type bytes and
//! values, and the property `parse(emit(r)) == r` over random values of every `Repr`.
//!
//! The byte arrays were produced independently of this crate (Python `struct.pack`, from the
//! layouts in the spec) and are written out literally.

use peregrine_engine::{MatchId, OrderId, Qty, Side};
use proptest::prelude::*;

use super::*;
use crate::wire::{Alpha, Error, Mpid, Symbol};

const S_BYTES: [u8; 12] = [
    0x53, 0x00, 0x00, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x51,
];
const R_BYTES: [u8; 39] = [
    0x52, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x53, 0x59, 0x4d, 0x30, 0x20,
    0x20, 0x20, 0x20, 0x51, 0x4e, 0x00, 0x00, 0x00, 0x64, 0x4e, 0x43, 0x43, 0x20, 0x50, 0x4e, 0x20,
    0x31, 0x4e, 0x00, 0x00, 0x00, 0x00, 0x4e,
];
const H_BYTES: [u8; 25] = [
    0x48, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x53, 0x59, 0x4d, 0x30, 0x20,
    0x20, 0x20, 0x20, 0x48, 0x20, 0x54, 0x31, 0x20, 0x20,
];
const Y_BYTES: [u8; 20] = [
    0x59, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x53, 0x59, 0x4d, 0x30, 0x20,
    0x20, 0x20, 0x20, 0x31,
];
const A_BYTES: [u8; 36] = [
    0x41, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x05, 0x42, 0x00, 0x00, 0x01, 0x2c, 0x53, 0x59, 0x4d, 0x30, 0x20, 0x20, 0x20, 0x20,
    0x00, 0x12, 0xd6, 0x44,
];
const F_BYTES: [u8; 40] = [
    0x46, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x06, 0x53, 0x00, 0x00, 0x00, 0xc8, 0x53, 0x59, 0x4d, 0x30, 0x20, 0x20, 0x20, 0x20,
    0x00, 0x12, 0xd6, 0xa8, 0x50, 0x47, 0x52, 0x4e,
];
const E_BYTES: [u8; 31] = [
    0x45, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4d,
];
const C_BYTES: [u8; 36] = [
    0x43, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4e, 0x59,
    0x00, 0x12, 0xd5, 0xe0,
];
const X_BYTES: [u8; 23] = [
    0x58, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x32,
];
const D_BYTES: [u8; 19] = [
    0x44, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x05,
];
const U_BYTES: [u8; 35] = [
    0x55, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x01, 0x90, 0x00,
    0x12, 0xd7, 0x0c,
];
const P_BYTES: [u8; 44] = [
    0x50, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00, 0x0a, 0x53, 0x59, 0x4d, 0x30, 0x20, 0x20, 0x20, 0x20,
    0x00, 0x12, 0xd6, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4f,
];
const Q_BYTES: [u8; 40] = [
    0x51, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0f, 0x42, 0x40, 0x53, 0x59, 0x4d, 0x30, 0x20, 0x20, 0x20, 0x20, 0x00, 0x12, 0xd6, 0x44, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x4f,
];
const B_BYTES: [u8; 19] = [
    0x42, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x4f,
];
const I_BYTES: [u8; 50] = [
    0x49, 0x00, 0x01, 0x00, 0x02, 0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x13, 0x88, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xb0, 0x42, 0x53, 0x59, 0x4d, 0x30,
    0x20, 0x20, 0x20, 0x20, 0x00, 0x12, 0xd4, 0x50, 0x00, 0x12, 0xd8, 0x38, 0x00, 0x12, 0xd6, 0x44,
    0x43, 0x4c,
];

const HEADER: HeaderRepr = HeaderRepr {
    stock_locate: 1,
    tracking_number: 2,
    timestamp_ns: 34_200_000_000_123,
};

fn sym0() -> Symbol {
    Symbol::from_text("SYM0").expect("ascii")
}

/// One message of every type, from the golden table (for other modules' tests).
pub(crate) fn all_messages() -> Vec<MessageRepr> {
    golden_rows().into_iter().map(|row| row.3).collect()
}

fn golden_rows() -> Vec<(&'static str, &'static str, &'static [u8], MessageRepr)> {
    let stock = sym0();
    vec![
        (
            "system event, start of market hours",
            "1.1",
            &S_BYTES,
            MessageRepr::SystemEvent(SystemEventRepr {
                header: HeaderRepr {
                    stock_locate: 0,
                    ..HEADER
                },
                event_code: EventCode::StartOfMarketHours,
            }),
        ),
        (
            "stock directory",
            "1.2.1",
            &R_BYTES,
            MessageRepr::StockDirectory(StockDirectoryRepr {
                header: HEADER,
                stock,
                market_category: MarketCategory::NasdaqGlobalSelect,
                financial_status: FinancialStatus::Normal,
                round_lot_size: 100,
                round_lots_only: YesNo::No,
                issue_classification: Alpha::new(*b"C").expect("ascii"),
                issue_sub_type: Alpha::new(*b"C ").expect("ascii"),
                authenticity: Authenticity::Production,
                short_sale_threshold: Indicator::No,
                ipo_flag: Indicator::NotAvailable,
                luld_tier: LuldTier::Tier1,
                etp_flag: Indicator::No,
                etp_leverage_factor: 0,
                inverse_indicator: YesNo::No,
            }),
        ),
        (
            "stock trading action, halted",
            "1.2.2",
            &H_BYTES,
            MessageRepr::TradingAction(TradingActionRepr {
                header: HEADER,
                stock,
                trading_state: TradingState::Halted,
                reason: Alpha::new(*b"T1  ").expect("ascii"),
            }),
        ),
        (
            "reg SHO restriction",
            "1.2.3",
            &Y_BYTES,
            MessageRepr::RegSho(RegShoRepr {
                header: HEADER,
                stock,
                action: RegShoAction::IntradayPriceDrop,
            }),
        ),
        (
            "add order",
            "1.3.1",
            &A_BYTES,
            MessageRepr::AddOrder(AddOrderRepr {
                header: HEADER,
                order: OrderId(5),
                side: Side::Buy,
                shares: Qty(300),
                stock,
                price: ItchPrice(1_234_500),
            }),
        ),
        (
            "add order with MPID",
            "1.3.2",
            &F_BYTES,
            MessageRepr::AddOrderMpid(AddOrderMpidRepr {
                header: HEADER,
                order: OrderId(6),
                side: Side::Sell,
                shares: Qty(200),
                stock,
                price: ItchPrice(1_234_600),
                attribution: Mpid::from_text("PGRN").expect("ascii"),
            }),
        ),
        (
            "order executed",
            "1.4.1",
            &E_BYTES,
            MessageRepr::OrderExecuted(OrderExecutedRepr {
                header: HEADER,
                order: OrderId(5),
                executed_shares: Qty(100),
                match_number: MatchId(77),
            }),
        ),
        (
            "order executed with price",
            "1.4.2",
            &C_BYTES,
            MessageRepr::OrderExecutedWithPrice(OrderExecutedWithPriceRepr {
                header: HEADER,
                order: OrderId(5),
                executed_shares: Qty(100),
                match_number: MatchId(78),
                printable: YesNo::Yes,
                execution_price: ItchPrice(1_234_400),
            }),
        ),
        (
            "order cancel",
            "1.4.3",
            &X_BYTES,
            MessageRepr::OrderCancel(OrderCancelRepr {
                header: HEADER,
                order: OrderId(5),
                cancelled_shares: Qty(50),
            }),
        ),
        (
            "order delete",
            "1.4.4",
            &D_BYTES,
            MessageRepr::OrderDelete(OrderDeleteRepr {
                header: HEADER,
                order: OrderId(5),
            }),
        ),
        (
            "order replace",
            "1.4.5",
            &U_BYTES,
            MessageRepr::OrderReplace(OrderReplaceRepr {
                header: HEADER,
                original_order: OrderId(5),
                new_order: OrderId(9),
                shares: Qty(400),
                price: ItchPrice(1_234_700),
            }),
        ),
        (
            "trade (non-cross)",
            "1.5.1",
            &P_BYTES,
            MessageRepr::Trade(TradeRepr {
                header: HEADER,
                order: OrderId(0),
                side: Side::Buy,
                shares: Qty(10),
                stock,
                price: ItchPrice(1_234_500),
                match_number: MatchId(79),
            }),
        ),
        (
            "cross trade",
            "1.5.2",
            &Q_BYTES,
            MessageRepr::CrossTrade(CrossTradeRepr {
                header: HEADER,
                shares: 1_000_000,
                stock,
                cross_price: ItchPrice(1_234_500),
                match_number: MatchId(80),
                cross_type: CrossType::Opening,
            }),
        ),
        (
            "broken trade",
            "1.5.3",
            &B_BYTES,
            MessageRepr::BrokenTrade(BrokenTradeRepr {
                header: HEADER,
                match_number: MatchId(79),
            }),
        ),
        (
            "NOII",
            "1.6",
            &I_BYTES,
            MessageRepr::Noii(NoiiRepr {
                header: HEADER,
                paired_shares: 5_000,
                imbalance_shares: 1_200,
                imbalance_direction: ImbalanceDirection::Buy,
                stock,
                far_price: ItchPrice(1_234_000),
                near_price: ItchPrice(1_235_000),
                current_reference_price: ItchPrice(1_234_500),
                cross_type: CrossType::Closing,
                price_variation: PriceVariation::BelowOnePct,
            }),
        ),
    ]
}

#[test]
fn golden_rows_parse() {
    for (name, section, bytes, repr) in golden_rows() {
        assert_eq!(MessageRepr::parse(bytes), Ok(repr), "{name} ({section})");
        assert_eq!(repr.type_byte(), bytes[0], "{name}");
        assert_eq!(message_len(bytes[0]), Some(bytes.len()), "{name}");
    }
}

#[test]
fn golden_rows_emit_every_byte() {
    for (name, section, bytes, repr) in golden_rows() {
        assert_eq!(repr.buffer_len(), bytes.len(), "{name}");
        let mut buffer = [0xa5u8; MESSAGE_LEN_MAX];
        repr.emit(&mut buffer[..bytes.len()]);
        assert_eq!(&buffer[..bytes.len()], bytes, "{name} ({section})");
        assert!(
            buffer[bytes.len()..].iter().all(|&byte| byte == 0xa5),
            "{name} overran"
        );
    }
}

#[test]
fn golden_rows_cover_every_type() {
    let mut types: Vec<u8> = golden_rows().iter().map(|row| row.2[0]).collect();
    types.sort_unstable();
    assert_eq!(types, b"ABCDEFHIPQRSUXY".to_vec());
}

#[test]
fn views_read_fields_in_place() {
    let view = AddOrder::new_checked(&A_BYTES[..]).expect("valid");
    assert_eq!(view.message_type(), b'A');
    assert_eq!(view.stock_locate(), 1);
    assert_eq!(view.tracking_number(), 2);
    assert_eq!(view.timestamp_ns(), 34_200_000_000_123);
    assert_eq!(view.order_ref(), 5);
    assert_eq!(view.side(), b'B');
    assert_eq!(view.shares(), 300);
    assert_eq!(&view.stock(), b"SYM0    ");
    assert_eq!(view.price(), 1_234_500);
    let replace = OrderReplace::new_checked(&U_BYTES[..]).expect("valid");
    assert_eq!(replace.original_order_ref(), 5);
    assert_eq!(replace.new_order_ref(), 9);
    assert_eq!(replace.shares(), 400);
    assert_eq!(replace.price(), 1_234_700);
}

#[test]
fn lengths_are_exact() {
    for (name, _, bytes, _) in golden_rows() {
        let len = bytes.len();
        assert_eq!(
            MessageRepr::parse(&bytes[..len - 1]),
            Err(Error::Truncated),
            "{name}"
        );
        let mut longer = bytes.to_vec();
        longer.push(b' ');
        assert_eq!(MessageRepr::parse(&longer), Err(Error::Overlong), "{name}");
    }
    assert_eq!(MessageRepr::parse(&[]), Err(Error::Truncated));
    assert_eq!(MessageRepr::parse(b"A"), Err(Error::Truncated));
}

#[test]
fn wrong_and_unknown_type_bytes_are_rejected() {
    assert_eq!(
        AddOrder::new_checked(&F_BYTES[..36]).err(),
        Some(Error::WrongType(b'F'))
    );
    assert_eq!(
        OrderDelete::new_checked(&B_BYTES[..]).err(),
        Some(Error::WrongType(b'B'))
    );
    for unknown in [b'L', b'V', b'W', b'K', b'J', b'h', b'N', 0, 0xff] {
        let mut bytes = D_BYTES;
        bytes[0] = unknown;
        assert_eq!(MessageRepr::parse(&bytes), Err(Error::UnknownType(unknown)));
    }
}

#[test]
fn bad_values_name_their_field() {
    // (message, byte to corrupt, value written, offset of the field the error names)
    let cases: [(&[u8], usize, u8, u8); 12] = [
        (&A_BYTES, 19, b'X', 19), // side
        (&A_BYTES, 27, 0x00, 24), // stock, non-printable
        (&F_BYTES, 39, 0x80, 36), // attribution
        (&S_BYTES, 11, b'Z', 11), // event code
        (&H_BYTES, 19, b'X', 19), // trading state
        (&H_BYTES, 22, 0x07, 21), // reason
        (&Y_BYTES, 19, b'3', 19), // reg SHO action
        (&C_BYTES, 31, b'X', 31), // printable
        (&Q_BYTES, 39, b'Z', 39), // cross type
        (&I_BYTES, 27, b'Z', 27), // imbalance direction
        (&I_BYTES, 49, b'Z', 49), // price variation
        (&R_BYTES, 29, b'X', 29), // authenticity
    ];
    for (bytes, corrupt_at, value, field_offset) in cases {
        let mut corrupt = bytes.to_vec();
        corrupt[corrupt_at] = value;
        assert_eq!(
            MessageRepr::parse(&corrupt),
            Err(Error::BadValue(field_offset)),
            "type {} byte {corrupt_at}",
            bytes[0] as char
        );
    }
}

#[test]
fn timestamps_of_a_day_or_more_are_rejected() {
    let mut bytes = D_BYTES;
    bytes[5..11].copy_from_slice(&NS_PER_DAY.to_be_bytes()[2..]);
    assert_eq!(MessageRepr::parse(&bytes), Err(Error::BadValue(5)));
    bytes[5..11].copy_from_slice(&(NS_PER_DAY - 1).to_be_bytes()[2..]);
    assert!(MessageRepr::parse(&bytes).is_ok());
}

#[test]
fn the_reserved_byte_of_trading_action_is_ignored_and_emitted_as_space() {
    let mut bytes = H_BYTES;
    bytes[20] = b'Z';
    let repr = MessageRepr::parse(&bytes).expect("reserved byte is not judged");
    let mut emitted = [0xa5u8; 25];
    repr.emit(&mut emitted);
    assert_eq!(emitted, H_BYTES);
}

#[test]
fn display_prints_one_readable_line() {
    for (name, _, _, repr) in golden_rows() {
        let line = repr.to_string();
        assert!(line.starts_with(repr.type_byte() as char), "{name}: {line}");
        assert!(line.contains("09:30:00.000000123"), "{name}: {line}");
        assert!(!line.contains('\n'), "{name}");
    }
    let (_, _, _, add) = golden_rows()[4];
    assert_eq!(
        add.to_string(),
        "A 09:30:00.000000123 locate=1 track=2 ref=5 Buy 300 SYM0 @ 123.4500"
    );
}

#[test]
fn itch_price_converts_without_truncation() {
    use peregrine_engine::Price;
    assert_eq!(
        ItchPrice::from_price(Price(1_234_500)),
        Some(ItchPrice(1_234_500))
    );
    assert_eq!(
        ItchPrice::from_price(Price(i64::from(u32::MAX))),
        Some(ItchPrice(u32::MAX))
    );
    assert_eq!(ItchPrice::from_price(Price(i64::from(u32::MAX) + 1)), None);
    assert_eq!(ItchPrice::from_price(Price(-1)), None);
    assert_eq!(ItchPrice(u32::MAX).to_price(), Price(4_294_967_295));
    assert_eq!(ItchPrice(5).to_string(), "0.0005");
}

// ---- property: parse(emit(r)) == r ----

fn header() -> impl Strategy<Value = HeaderRepr> {
    (any::<u16>(), any::<u16>(), 0..NS_PER_DAY).prop_map(
        |(stock_locate, tracking_number, timestamp_ns)| HeaderRepr {
            stock_locate,
            tracking_number,
            timestamp_ns,
        },
    )
}

fn alpha<const N: usize>() -> impl Strategy<Value = Alpha<N>> {
    prop::array::uniform::<_, N>(0x20u8..=0x7e)
        .prop_map(|bytes| Alpha::new(bytes).expect("printable"))
}

fn pick<E: Copy + core::fmt::Debug + 'static>(all: &'static [E]) -> impl Strategy<Value = E> {
    prop::sample::select(all)
}

fn price() -> impl Strategy<Value = ItchPrice> {
    any::<u32>().prop_map(ItchPrice)
}

fn side() -> impl Strategy<Value = Side> {
    pick(Side::ALL)
}

fn order_messages() -> impl Strategy<Value = MessageRepr> {
    let add = (
        header(),
        any::<u64>(),
        side(),
        any::<u32>(),
        alpha::<8>(),
        price(),
    )
        .prop_map(|(header, order, side, shares, stock, price)| {
            MessageRepr::AddOrder(AddOrderRepr {
                header,
                order: OrderId(order),
                side,
                shares: Qty(shares),
                stock,
                price,
            })
        });
    let add_mpid = (
        header(),
        any::<u64>(),
        side(),
        any::<u32>(),
        alpha::<8>(),
        price(),
        alpha(),
    )
        .prop_map(|(header, order, side, shares, stock, price, attribution)| {
            MessageRepr::AddOrderMpid(AddOrderMpidRepr {
                header,
                order: OrderId(order),
                side,
                shares: Qty(shares),
                stock,
                price,
                attribution,
            })
        });
    let executed = (header(), any::<u64>(), any::<u32>(), any::<u64>()).prop_map(
        |(header, order, shares, match_number)| {
            MessageRepr::OrderExecuted(OrderExecutedRepr {
                header,
                order: OrderId(order),
                executed_shares: Qty(shares),
                match_number: MatchId(match_number),
            })
        },
    );
    let executed_price = (
        header(),
        any::<u64>(),
        any::<u32>(),
        any::<u64>(),
        pick(YesNo::ALL),
        price(),
    )
        .prop_map(
            |(header, order, shares, match_number, printable, execution_price)| {
                MessageRepr::OrderExecutedWithPrice(OrderExecutedWithPriceRepr {
                    header,
                    order: OrderId(order),
                    executed_shares: Qty(shares),
                    match_number: MatchId(match_number),
                    printable,
                    execution_price,
                })
            },
        );
    let cancel = (header(), any::<u64>(), any::<u32>()).prop_map(|(header, order, shares)| {
        MessageRepr::OrderCancel(OrderCancelRepr {
            header,
            order: OrderId(order),
            cancelled_shares: Qty(shares),
        })
    });
    let delete = (header(), any::<u64>()).prop_map(|(header, order)| {
        MessageRepr::OrderDelete(OrderDeleteRepr {
            header,
            order: OrderId(order),
        })
    });
    let replace = (header(), any::<u64>(), any::<u64>(), any::<u32>(), price()).prop_map(
        |(header, original, new, shares, price)| {
            MessageRepr::OrderReplace(OrderReplaceRepr {
                header,
                original_order: OrderId(original),
                new_order: OrderId(new),
                shares: Qty(shares),
                price,
            })
        },
    );
    prop_oneof![
        add,
        add_mpid,
        executed,
        executed_price,
        cancel,
        delete,
        replace
    ]
}

fn trade_messages() -> impl Strategy<Value = MessageRepr> {
    let trade = (
        header(),
        any::<u64>(),
        side(),
        any::<u32>(),
        alpha::<8>(),
        price(),
        any::<u64>(),
    )
        .prop_map(
            |(header, order, side, shares, stock, price, match_number)| {
                MessageRepr::Trade(TradeRepr {
                    header,
                    order: OrderId(order),
                    side,
                    shares: Qty(shares),
                    stock,
                    price,
                    match_number: MatchId(match_number),
                })
            },
        );
    let cross = (
        header(),
        any::<u64>(),
        alpha::<8>(),
        price(),
        any::<u64>(),
        pick(CrossType::ALL),
    )
        .prop_map(
            |(header, shares, stock, cross_price, match_number, cross_type)| {
                MessageRepr::CrossTrade(CrossTradeRepr {
                    header,
                    shares,
                    stock,
                    cross_price,
                    match_number: MatchId(match_number),
                    cross_type,
                })
            },
        );
    let broken = (header(), any::<u64>()).prop_map(|(header, match_number)| {
        MessageRepr::BrokenTrade(BrokenTradeRepr {
            header,
            match_number: MatchId(match_number),
        })
    });
    let noii = (
        header(),
        any::<u64>(),
        any::<u64>(),
        pick(ImbalanceDirection::ALL),
        alpha::<8>(),
        (price(), price(), price()),
        pick(CrossType::ALL),
        pick(PriceVariation::ALL),
    )
        .prop_map(
            |(header, paired, imbalance, direction, stock, prices, cross, variation)| {
                MessageRepr::Noii(NoiiRepr {
                    header,
                    paired_shares: paired,
                    imbalance_shares: imbalance,
                    imbalance_direction: direction,
                    stock,
                    far_price: prices.0,
                    near_price: prices.1,
                    current_reference_price: prices.2,
                    cross_type: cross,
                    price_variation: variation,
                })
            },
        );
    prop_oneof![trade, cross, broken, noii]
}

fn status_messages() -> impl Strategy<Value = MessageRepr> {
    let system = (header(), pick(EventCode::ALL)).prop_map(|(header, event_code)| {
        MessageRepr::SystemEvent(SystemEventRepr { header, event_code })
    });
    let action = (
        header(),
        alpha::<8>(),
        pick(TradingState::ALL),
        alpha::<4>(),
    )
        .prop_map(|(header, stock, trading_state, reason)| {
            MessageRepr::TradingAction(TradingActionRepr {
                header,
                stock,
                trading_state,
                reason,
            })
        });
    let reg_sho =
        (header(), alpha::<8>(), pick(RegShoAction::ALL)).prop_map(|(header, stock, action)| {
            MessageRepr::RegSho(RegShoRepr {
                header,
                stock,
                action,
            })
        });
    let directory = (
        (
            header(),
            alpha::<8>(),
            pick(MarketCategory::ALL),
            pick(FinancialStatus::ALL),
        ),
        (
            any::<u32>(),
            pick(YesNo::ALL),
            alpha::<1>(),
            alpha::<2>(),
            pick(Authenticity::ALL),
        ),
        (
            pick(Indicator::ALL),
            pick(Indicator::ALL),
            pick(LuldTier::ALL),
            pick(Indicator::ALL),
        ),
        (any::<u32>(), pick(YesNo::ALL)),
    )
        .prop_map(|(a, b, c, d)| {
            MessageRepr::StockDirectory(StockDirectoryRepr {
                header: a.0,
                stock: a.1,
                market_category: a.2,
                financial_status: a.3,
                round_lot_size: b.0,
                round_lots_only: b.1,
                issue_classification: b.2,
                issue_sub_type: b.3,
                authenticity: b.4,
                short_sale_threshold: c.0,
                ipo_flag: c.1,
                luld_tier: c.2,
                etp_flag: c.3,
                etp_leverage_factor: d.0,
                inverse_indicator: d.1,
            })
        });
    prop_oneof![system, action, reg_sho, directory]
}

/// Any message this crate can emit.
pub(crate) fn any_message() -> impl Strategy<Value = MessageRepr> {
    prop_oneof![order_messages(), trade_messages(), status_messages()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn parse_of_emit_is_identity(message in any_message()) {
        let mut buffer = [0xa5u8; MESSAGE_LEN_MAX];
        let len = message.buffer_len();
        message.emit(&mut buffer[..len]);
        prop_assert_eq!(message_len(buffer[0]), Some(len));
        prop_assert_eq!(MessageRepr::parse(&buffer[..len]), Ok(message));
    }

    #[test]
    fn parse_never_panics_and_round_trips_what_it_accepts(
        bytes in prop::collection::vec(any::<u8>(), 0..60),
    ) {
        if let Ok(message) = MessageRepr::parse(&bytes) {
            let mut buffer = [0u8; MESSAGE_LEN_MAX];
            let len = message.buffer_len();
            prop_assert_eq!(len, bytes.len());
            message.emit(&mut buffer[..len]);
            // Only the reserved byte of `H` may differ.
            let mut expected = bytes.clone();
            if expected[0] == b'H' {
                expected[20] = b' ';
            }
            prop_assert_eq!(&buffer[..len], &expected[..]);
        }
    }
}
