//! OUCH 5.0 codec tests. Goal: every message matches the PDF byte for byte, both ways, and
//! every `Repr` survives `emit` then `parse`. Method: golden rows (name, spec section, bytes
//! written by hand from the PDF's offset tables, `Repr`) parsed and emitted into a buffer
//! pre-filled with `0xa5`; proptest round trips with options drawn within each message's set;
//! random and truncated bytes never panic.

use proptest::prelude::*;

use super::inbound::*;
use super::options::strategy::options;
use super::options::{HandleInst, TagSet, USER_REF_IDX_ONLY};
use super::outbound::*;
use super::*;

const ORDER1: ClOrdId = *b"ORDER1        ";
const ORDER2: ClOrdId = *b"ORDER2        ";
const ORDER9: ClOrdId = *b"ORDER9        ";
const AAPL: Symbol = *b"AAPL    ";
const BLANK: Symbol = *b"        ";
const FIRM: Firm = *b"FIRM";
const T1000: u64 = 1000;

struct InboundRow {
    name: &'static str,
    section: &'static str,
    bytes: &'static [u8],
    repr: Inbound,
}

struct OutboundRow {
    name: &'static str,
    section: &'static str,
    bytes: &'static [u8],
    repr: Outbound,
}

fn none() -> Options {
    Options::default()
}

fn inbound_rows() -> Vec<InboundRow> {
    vec![
        InboundRow {
            name: "Enter Order with MinQty, MaxFloor, PostOnly",
            section: "2.1",
            bytes: b"O\x00\x00\x00\x01B\x00\x00\x00\x64AAPL    \
                     \x00\x00\x00\x00\x00\x16\xe3\x60\
                     0YANNORDER1        \
                     \x00\x0f\x05\x03\x00\x00\x00\x64\x05\x05\x00\x00\x00\x32\x02\x0cP",
            repr: Inbound::EnterOrder(EnterOrder {
                user_ref_num: 1,
                side: Side::Buy,
                quantity: 100,
                symbol: AAPL,
                price: 1_500_000,
                time_in_force: TimeInForce::Day,
                display: Display::Visible,
                capacity: Capacity::Agency,
                intermarket_sweep: false,
                cross_type: CrossType::Continuous,
                cl_ord_id: ORDER1,
                options: Options {
                    min_qty: Some(100),
                    max_floor: Some(50),
                    post_only: Some(true),
                    ..none()
                },
            }),
        },
        InboundRow {
            name: "Replace Order",
            section: "2.2",
            bytes: b"U\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\xc8\
                     \x00\x00\x00\x00\x00\x17\x0a\x70\
                     3YNORDER2        \x00\x00",
            repr: Inbound::ReplaceOrder(ReplaceOrder {
                orig_user_ref_num: 1,
                user_ref_num: 2,
                quantity: 200,
                price: 1_510_000,
                time_in_force: TimeInForce::Ioc,
                display: Display::Visible,
                intermarket_sweep: false,
                cl_ord_id: ORDER2,
                options: none(),
            }),
        },
        InboundRow {
            name: "Cancel Order without appendage",
            section: "2.3",
            bytes: b"X\x00\x00\x00\x02\x00\x00\x00\x00",
            repr: Inbound::CancelOrder(CancelOrder {
                user_ref_num: 2,
                quantity: 0,
                options: none(),
            }),
        },
        InboundRow {
            name: "Cancel Order with UserRefIdx",
            section: "2.3",
            bytes: b"X\x00\x00\x00\x02\x00\x00\x00\x32\x00\x03\x02\x1c\x03",
            repr: Inbound::CancelOrder(CancelOrder {
                user_ref_num: 2,
                quantity: 50,
                options: Options::user_ref_idx(Some(3)),
            }),
        },
        InboundRow {
            name: "Modify Order",
            section: "2.4",
            bytes: b"M\x00\x00\x00\x05T\x00\x00\x00\x50",
            repr: Inbound::ModifyOrder(ModifyOrder {
                user_ref_num: 5,
                side: Side::SellShort,
                quantity: 80,
                options: none(),
            }),
        },
        InboundRow {
            name: "Mass Cancel, every symbol",
            section: "2.5",
            bytes: b"C\x00\x00\x00\x06FIRM        \x00\x00",
            repr: Inbound::MassCancel(MassCancel {
                user_ref_num: 6,
                firm: FIRM,
                symbol: BLANK,
                options: none(),
            }),
        },
        InboundRow {
            name: "Disable Order Entry",
            section: "2.6",
            bytes: b"D\x00\x00\x00\x07FIRM\x00\x00",
            repr: Inbound::DisableOrderEntry(OrderEntryControl {
                user_ref_num: 7,
                firm: FIRM,
                options: none(),
            }),
        },
        InboundRow {
            name: "Enable Order Entry",
            section: "2.7",
            bytes: b"E\x00\x00\x00\x08FIRM\x00\x00",
            repr: Inbound::EnableOrderEntry(OrderEntryControl {
                user_ref_num: 8,
                firm: FIRM,
                options: none(),
            }),
        },
        InboundRow {
            name: "Account Query",
            section: "2.8",
            bytes: b"Q",
            repr: Inbound::AccountQuery(AccountQuery { options: none() }),
        },
        InboundRow {
            name: "Account Query with UserRefIdx",
            section: "2.8",
            bytes: b"Q\x00\x03\x02\x1c\x01",
            repr: Inbound::AccountQuery(AccountQuery {
                options: Options::user_ref_idx(Some(1)),
            }),
        },
    ]
}

fn outbound_rows() -> Vec<OutboundRow> {
    let ts = T1000;
    vec![
        OutboundRow {
            name: "System Event, start of day",
            section: "3.1",
            bytes: b"S\x00\x00\x00\x00\x00\x00\x03\xe8S",
            repr: Outbound::SystemEvent(SystemEvent {
                timestamp_ns: ts,
                event_code: EventCode::StartOfDay,
            }),
        },
        OutboundRow {
            name: "Order Accepted with MaxFloor",
            section: "3.2",
            bytes: b"A\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x01B\x00\x00\x00\x64AAPL    \
                     \x00\x00\x00\x00\x00\x16\xe3\x60\
                     0Y\x00\x00\x00\x00\x00\x00\x00\x2aANNLORDER1        \
                     \x00\x06\x05\x05\x00\x00\x00\x32",
            repr: Outbound::OrderAccepted(OrderAccepted {
                timestamp_ns: ts,
                user_ref_num: 1,
                side: Side::Buy,
                quantity: 100,
                symbol: AAPL,
                price: 1_500_000,
                time_in_force: TimeInForce::Day,
                display: Display::Visible,
                order_reference_number: 42,
                capacity: Capacity::Agency,
                intermarket_sweep: false,
                cross_type: CrossType::Continuous,
                order_state: OrderState::Live,
                cl_ord_id: ORDER1,
                options: Options {
                    max_floor: Some(50),
                    ..none()
                },
            }),
        },
        OutboundRow {
            name: "Order Replaced",
            section: "3.3",
            bytes: b"U\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x01\x00\x00\x00\x02\
                     B\x00\x00\x00\xc8AAPL    \x00\x00\x00\x00\x00\x17\x0a\x70\
                     3Y\x00\x00\x00\x00\x00\x00\x00\x2bANNLORDER2        \x00\x00",
            repr: Outbound::OrderReplaced(OrderReplaced {
                timestamp_ns: ts,
                orig_user_ref_num: 1,
                user_ref_num: 2,
                side: Side::Buy,
                quantity: 200,
                symbol: AAPL,
                price: 1_510_000,
                time_in_force: TimeInForce::Ioc,
                display: Display::Visible,
                order_reference_number: 43,
                capacity: Capacity::Agency,
                intermarket_sweep: false,
                cross_type: CrossType::Continuous,
                order_state: OrderState::Live,
                cl_ord_id: ORDER2,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Order Canceled",
            section: "3.4",
            bytes: b"C\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x02\x00\x00\x00\xc8U",
            repr: Outbound::OrderCanceled(OrderCanceled {
                timestamp_ns: ts,
                user_ref_num: 2,
                quantity: 200,
                reason: CancelReason::UserRequested,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Order Canceled with UserRefIdx",
            section: "3.4",
            bytes: b"C\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x02\x00\x00\x00\x00I\
                     \x00\x03\x02\x1c\x05",
            repr: Outbound::OrderCanceled(OrderCanceled {
                timestamp_ns: ts,
                user_ref_num: 2,
                quantity: 0,
                reason: CancelReason::ImmediateOrCancel,
                options: Options::user_ref_idx(Some(5)),
            }),
        },
        OutboundRow {
            name: "AIQ Canceled",
            section: "3.5",
            bytes: b"D\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x02\x00\x00\x00\x0aQ\
                     \x00\x00\x00\x0a\x00\x00\x00\x00\x00\x16\xe3\x60AO",
            repr: Outbound::AiqCanceled(AiqCanceled {
                timestamp_ns: ts,
                user_ref_num: 2,
                decrement_shares: 10,
                reason: CancelReason::SelfMatchPrevention,
                quantity_prevented: 10,
                execution_price: 1_500_000,
                liquidity_flag: LiquidityFlag::Added,
                aiq_strategy: b'O',
                options: none(),
            }),
        },
        OutboundRow {
            name: "Order Executed",
            section: "3.6",
            bytes: b"E\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x01\x00\x00\x00\x28\
                     \x00\x00\x00\x00\x00\x16\xe3\x60R\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00",
            repr: Outbound::OrderExecuted(OrderExecuted {
                timestamp_ns: ts,
                user_ref_num: 1,
                quantity: 40,
                price: 1_500_000,
                liquidity_flag: LiquidityFlag::Removed,
                match_number: 7,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Broken Trade",
            section: "3.7",
            bytes: b"B\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x01\
                     \x00\x00\x00\x00\x00\x00\x00\x07EORDER1        ",
            repr: Outbound::BrokenTrade(BrokenTrade {
                timestamp_ns: ts,
                user_ref_num: 1,
                match_number: 7,
                reason: BrokenReason::Erroneous,
                cl_ord_id: ORDER1,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Rejected, invalid quantity",
            section: "3.8",
            bytes: b"J\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x09\x00\x13ORDER9        ",
            repr: Outbound::Rejected(Rejected {
                timestamp_ns: ts,
                user_ref_num: 9,
                reason: RejectCode::InvalidQuantity,
                cl_ord_id: ORDER9,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Cancel Pending",
            section: "3.9",
            bytes: b"P\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x01",
            repr: Outbound::CancelPending(CancelPending {
                timestamp_ns: ts,
                user_ref_num: 1,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Cancel Reject",
            section: "3.10",
            bytes: b"I\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x01",
            repr: Outbound::CancelReject(CancelReject {
                timestamp_ns: ts,
                user_ref_num: 1,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Order Priority Update",
            section: "3.11",
            bytes: b"T\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x01\
                     \x00\x00\x00\x00\x00\x16\xe3\x60Y\x00\x00\x00\x00\x00\x00\x00\x2c",
            repr: Outbound::OrderPriorityUpdate(OrderPriorityUpdate {
                timestamp_ns: ts,
                user_ref_num: 1,
                price: 1_500_000,
                display: Display::Visible,
                order_reference_number: 44,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Order Modified",
            section: "3.12",
            bytes: b"M\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x05T\x00\x00\x00\x50",
            repr: Outbound::OrderModified(OrderModified {
                timestamp_ns: ts,
                user_ref_num: 5,
                side: Side::SellShort,
                quantity: 80,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Order Restated, display refresh",
            section: "3.13",
            bytes: b"R\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x01R\
                     \x00\x06\x05\x16\x00\x00\x00\x32",
            repr: Outbound::OrderRestated(OrderRestated {
                timestamp_ns: ts,
                user_ref_num: 1,
                reason: RestateReason::Refresh,
                options: Options {
                    display_qty: Some(50),
                    ..none()
                },
            }),
        },
        OutboundRow {
            name: "Mass Cancel Response",
            section: "3.14",
            bytes: b"X\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x06FIRM        \x00\x00",
            repr: Outbound::MassCancelResponse(MassCancelResponse {
                timestamp_ns: ts,
                user_ref_num: 6,
                firm: FIRM,
                symbol: BLANK,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Disable Order Entry Response",
            section: "3.15",
            bytes: b"G\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x07FIRM\x00\x00",
            repr: Outbound::DisableOrderEntryResponse(OrderEntryControlResponse {
                timestamp_ns: ts,
                user_ref_num: 7,
                firm: FIRM,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Enable Order Entry Response",
            section: "3.16",
            bytes: b"K\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x08FIRM\x00\x00",
            repr: Outbound::EnableOrderEntryResponse(OrderEntryControlResponse {
                timestamp_ns: ts,
                user_ref_num: 8,
                firm: FIRM,
                options: none(),
            }),
        },
        OutboundRow {
            name: "Account Query Response",
            section: "3.17",
            bytes: b"Q\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x0a",
            repr: Outbound::AccountQueryResponse(AccountQueryResponse {
                timestamp_ns: ts,
                next_user_ref_num: 10,
                options: none(),
            }),
        },
    ]
}

/// Emits into a buffer pre-filled with `0xa5` (so an unwritten byte shows) and checks the bytes
/// and that nothing past `buffer_len` was touched.
fn check_emit(name: &str, bytes: &[u8], buffer_len: usize, emit: impl Fn(&mut [u8]) -> usize) {
    assert_eq!(buffer_len, bytes.len(), "{name}: buffer_len");
    let mut buffer = [0xa5u8; 128];
    let written = emit(&mut buffer);
    assert_eq!(written, bytes.len(), "{name}: written");
    assert_eq!(&buffer[..written], bytes, "{name}: bytes");
    assert!(
        buffer[written..].iter().all(|&byte| byte == 0xa5),
        "{name}: wrote past the end"
    );
}

#[test]
fn inbound_golden_rows() {
    let rows = inbound_rows();
    assert_eq!(rows.len(), 10);
    for row in &rows {
        let name = format!("{} (§{})", row.name, row.section);
        assert_eq!(Inbound::parse(row.bytes), Ok(row.repr), "{name}: parse");
        check_emit(&name, row.bytes, row.repr.buffer_len(), |buffer| {
            row.repr.emit(buffer)
        });
        assert_eq!(row.repr.message_type(), row.bytes[0], "{name}");
        assert!(!row.repr.to_string().is_empty());
    }
}

#[test]
fn outbound_golden_rows() {
    let rows = outbound_rows();
    assert_eq!(rows.len(), 18);
    for row in &rows {
        let name = format!("{} (§{})", row.name, row.section);
        assert_eq!(Outbound::parse(row.bytes), Ok(row.repr), "{name}: parse");
        check_emit(&name, row.bytes, row.repr.buffer_len(), |buffer| {
            row.repr.emit(buffer)
        });
        assert_eq!(row.repr.message_type(), row.bytes[0], "{name}");
        assert!(!row.repr.to_string().is_empty());
    }
}

#[test]
fn optional_appendage_may_be_present_but_empty() {
    let with_empty = b"X\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00";
    let without = b"X\x00\x00\x00\x02\x00\x00\x00\x00";
    assert_eq!(Inbound::parse(with_empty), Inbound::parse(without));
    let canceled = b"C\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x02\x00\x00\x00\xc8U\x00\x00";
    assert!(Outbound::parse(canceled).is_ok());
}

#[test]
fn mandatory_appendage_must_be_present() {
    let rows = inbound_rows();
    let enter = rows[0].bytes;
    let error = Inbound::parse(&enter[..ENTER_ORDER_LEN]).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Truncated);
    let error = Inbound::parse(&enter[..ENTER_ORDER_LEN - 1]).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Truncated);
}

#[test]
fn invalid_fields_carry_the_spec_reject_code() {
    let enter = inbound_rows()[0].bytes.to_vec();
    let with = |offset: usize, bytes: &[u8]| {
        let mut message = enter.clone();
        message[offset..offset + bytes.len()].copy_from_slice(bytes);
        Inbound::parse(&message).unwrap_err()
    };
    assert_eq!(with(5, b"X").reject, RejectCode::InvalidSide);
    assert_eq!(with(6, &[0, 0, 0, 0]).reject, RejectCode::InvalidQuantity);
    assert_eq!(
        with(6, &1_000_000u32.to_be_bytes()).reject,
        RejectCode::InvalidQuantity
    );
    assert_eq!(
        with(18, &(PRICE_MAX + 1).to_be_bytes()).reject,
        RejectCode::InvalidPrice
    );
    assert_eq!(with(27, b"Q").reject, RejectCode::InvalidDisplay);
    assert_eq!(with(29, b"Q").reject, RejectCode::IsoNotAllowed);
    assert_eq!(with(30, b"Q").reject, RejectCode::InvalidCrossOrder);
    assert_eq!(with(31, b"#").reject, RejectCode::Other);
    assert_eq!(with(10, b"\x01").reject, RejectCode::InvalidSymbol);
    assert_eq!(with(31, b"#").kind, ErrorKind::InvalidField { offset: 31 });
    // A market sentinel is a valid price.
    let mut market = enter.clone();
    market[18..26].copy_from_slice(&MARKET_PRICE.to_be_bytes());
    assert!(Inbound::parse(&market).is_ok());
    assert_eq!(
        Inbound::reject_context(&enter[..ENTER_ORDER_LEN]),
        Some((1, ORDER1))
    );
}

#[test]
fn unknown_types_and_empty_input() {
    assert_eq!(Inbound::parse(b"").unwrap_err().kind, ErrorKind::Empty);
    assert_eq!(
        Inbound::parse(b"Z").unwrap_err().kind,
        ErrorKind::UnknownType(b'Z')
    );
    assert_eq!(
        Outbound::parse(b"O").unwrap_err().kind,
        ErrorKind::UnknownType(b'O')
    );
}

#[test]
fn views_agree_with_the_pdf_offsets() {
    // Offsets of "Appendage Length" in the PDF's tables.
    assert_eq!(ENTER_ORDER_LEN, 45);
    assert_eq!(REPLACE_ORDER_LEN, 38);
    assert_eq!(CANCEL_ORDER_LEN, 9);
    assert_eq!(MODIFY_ORDER_LEN, 10);
    assert_eq!(MASS_CANCEL_LEN, 17);
    assert_eq!(ORDER_ACCEPTED_LEN, 62);
    assert_eq!(ORDER_REPLACED_LEN, 66);
    assert_eq!(ORDER_EXECUTED_LEN, 34);
    assert_eq!(AIQ_CANCELED_LEN, 32);
    assert_eq!(REJECTED_LEN, 29);
    assert_eq!(MASS_CANCEL_RESPONSE_LEN, 25);
}

fn alnum14() -> impl Strategy<Value = ClOrdId> {
    let chars: &'static [u8] = b"ABCXYZabcz0189 ";
    proptest::array::uniform14(proptest::sample::select(chars))
}

fn printable8() -> impl Strategy<Value = Symbol> {
    proptest::array::uniform8(0x20u8..0x7f)
}

fn printable4() -> impl Strategy<Value = Firm> {
    proptest::array::uniform4(0x20u8..0x7f)
}

fn pick<T: Copy + core::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

fn entered_price() -> impl Strategy<Value = u64> {
    prop_oneof![0..=PRICE_MAX, Just(MARKET_PRICE), Just(MARKET_PRICE_ALT)]
}

fn enter_order() -> impl Strategy<Value = Inbound> {
    (
        (
            any::<u32>(),
            pick(Side::ALL),
            1..QUANTITY_LIMIT,
            printable8(),
            entered_price(),
        ),
        (
            pick(TimeInForce::ALL),
            pick(Display::ALL),
            pick(Capacity::ALL),
            any::<bool>(),
        ),
        (
            pick(CrossType::ALL),
            alnum14(),
            options(ENTER_ORDER_OPTIONS),
        ),
    )
        .prop_map(|(a, b, c)| {
            Inbound::EnterOrder(EnterOrder {
                user_ref_num: a.0,
                side: a.1,
                quantity: a.2,
                symbol: a.3,
                price: a.4,
                time_in_force: b.0,
                display: b.1,
                capacity: b.2,
                intermarket_sweep: b.3,
                cross_type: c.0,
                cl_ord_id: c.1,
                options: c.2,
            })
        })
}

fn other_inbound() -> impl Strategy<Value = Inbound> {
    let replace = (
        (
            any::<u32>(),
            any::<u32>(),
            1..QUANTITY_LIMIT,
            entered_price(),
        ),
        (
            pick(TimeInForce::ALL),
            pick(Display::ALL),
            any::<bool>(),
            alnum14(),
        ),
        options(REPLACE_ORDER_OPTIONS),
    )
        .prop_map(|(a, b, options)| {
            Inbound::ReplaceOrder(ReplaceOrder {
                orig_user_ref_num: a.0,
                user_ref_num: a.1,
                quantity: a.2,
                price: a.3,
                time_in_force: b.0,
                display: b.1,
                intermarket_sweep: b.2,
                cl_ord_id: b.3,
                options,
            })
        });
    let cancel = (any::<u32>(), any::<u32>(), options(USER_REF_IDX_ONLY)).prop_map(|(r, q, o)| {
        Inbound::CancelOrder(CancelOrder {
            user_ref_num: r,
            quantity: q,
            options: o,
        })
    });
    let modify = (
        any::<u32>(),
        pick(Side::ALL),
        any::<u32>(),
        options(MODIFY_ORDER_OPTIONS),
    )
        .prop_map(|(r, side, q, o)| {
            Inbound::ModifyOrder(ModifyOrder {
                user_ref_num: r,
                side,
                quantity: q,
                options: o,
            })
        });
    let mass = (
        any::<u32>(),
        printable4(),
        printable8(),
        options(MASS_CANCEL_OPTIONS),
    )
        .prop_map(|(r, firm, symbol, o)| {
            Inbound::MassCancel(MassCancel {
                user_ref_num: r,
                firm,
                symbol,
                options: o,
            })
        });
    let control = (
        any::<bool>(),
        any::<u32>(),
        printable4(),
        options(USER_REF_IDX_ONLY),
    )
        .prop_map(|(disable, r, firm, o)| {
            let control = OrderEntryControl {
                user_ref_num: r,
                firm,
                options: o,
            };
            if disable {
                Inbound::DisableOrderEntry(control)
            } else {
                Inbound::EnableOrderEntry(control)
            }
        });
    let query =
        options(USER_REF_IDX_ONLY).prop_map(|o| Inbound::AccountQuery(AccountQuery { options: o }));
    prop_oneof![replace, cancel, modify, mass, control, query]
}

fn order_acknowledgements() -> impl Strategy<Value = Outbound> {
    let head = (
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        pick(Side::ALL),
        any::<u32>(),
    );
    let middle = (
        printable8(),
        any::<u64>(),
        pick(TimeInForce::ALL),
        pick(Display::ALL),
    );
    let tail = (
        any::<u64>(),
        pick(Capacity::ALL),
        any::<bool>(),
        pick(CrossType::ALL),
    );
    let end = (pick(OrderState::ALL), alnum14(), any::<bool>());
    let set = TagSet(ORDER_ACCEPTED_OPTIONS.0 | ORDER_REPLACED_OPTIONS.0);
    (head, middle, tail, end, options(set)).prop_map(|(h, m, t, e, o)| {
        if e.2 {
            Outbound::OrderAccepted(OrderAccepted {
                timestamp_ns: h.0,
                user_ref_num: h.1,
                side: h.3,
                quantity: h.4,
                symbol: m.0,
                price: m.1,
                time_in_force: m.2,
                display: m.3,
                order_reference_number: t.0,
                capacity: t.1,
                intermarket_sweep: t.2,
                cross_type: t.3,
                order_state: e.0,
                cl_ord_id: e.1,
                options: o.restricted(ORDER_ACCEPTED_OPTIONS),
            })
        } else {
            Outbound::OrderReplaced(OrderReplaced {
                timestamp_ns: h.0,
                orig_user_ref_num: h.2,
                user_ref_num: h.1,
                side: h.3,
                quantity: h.4,
                symbol: m.0,
                price: m.1,
                time_in_force: m.2,
                display: m.3,
                order_reference_number: t.0,
                capacity: t.1,
                intermarket_sweep: t.2,
                cross_type: t.3,
                order_state: e.0,
                cl_ord_id: e.1,
                options: o.restricted(ORDER_REPLACED_OPTIONS),
            })
        }
    })
}

fn order_updates() -> impl Strategy<Value = Outbound> {
    let idx = options(USER_REF_IDX_ONLY);
    (
        any::<(u64, u32, u32, u64, u32)>(),
        pick(CancelReason::ALL),
        pick(LiquidityFlag::ALL),
        idx,
    )
        .prop_flat_map(|(n, reason, flag, o)| {
            let (ts, r, q, price, q2) = n;
            prop_oneof![
                Just(Outbound::OrderCanceled(OrderCanceled {
                    timestamp_ns: ts,
                    user_ref_num: r,
                    quantity: q,
                    reason,
                    options: o,
                })),
                Just(Outbound::AiqCanceled(AiqCanceled {
                    timestamp_ns: ts,
                    user_ref_num: r,
                    decrement_shares: q,
                    reason,
                    quantity_prevented: q2,
                    execution_price: price,
                    liquidity_flag: flag,
                    aiq_strategy: (q2 & 0xff) as u8,
                    options: o,
                })),
                Just(Outbound::OrderExecuted(OrderExecuted {
                    timestamp_ns: ts,
                    user_ref_num: r,
                    quantity: q,
                    price,
                    liquidity_flag: flag,
                    match_number: price ^ ts,
                    options: o,
                })),
                Just(Outbound::CancelPending(CancelPending {
                    timestamp_ns: ts,
                    user_ref_num: r,
                    options: o
                })),
                Just(Outbound::CancelReject(CancelReject {
                    timestamp_ns: ts,
                    user_ref_num: r,
                    options: o
                })),
                Just(Outbound::AccountQueryResponse(AccountQueryResponse {
                    timestamp_ns: ts,
                    next_user_ref_num: q,
                    options: o,
                })),
            ]
        })
}

fn other_outbound() -> impl Strategy<Value = Outbound> {
    let numbers = any::<(u64, u32, u32, u64)>();
    let codes = (
        pick(EventCode::ALL),
        pick(BrokenReason::ALL),
        pick(RejectCode::ALL),
        pick(RestateReason::ALL),
        pick(Display::ALL),
        pick(Side::ALL),
    );
    let alpha = (alnum14(), printable4(), printable8(), 0u8..7);
    let all = TagSet(u32::MAX);
    (numbers, codes, alpha, options(all)).prop_map(|(n, c, a, o)| {
        let (ts, r, q, x) = n;
        let idx = o.restricted(USER_REF_IDX_ONLY);
        match a.3 {
            0 => Outbound::SystemEvent(SystemEvent {
                timestamp_ns: ts,
                event_code: c.0,
            }),
            1 => Outbound::BrokenTrade(BrokenTrade {
                timestamp_ns: ts,
                user_ref_num: r,
                match_number: x,
                reason: c.1,
                cl_ord_id: a.0,
                options: idx,
            }),
            2 => Outbound::Rejected(Rejected {
                timestamp_ns: ts,
                user_ref_num: r,
                reason: c.2,
                cl_ord_id: a.0,
                options: idx,
            }),
            3 => Outbound::OrderPriorityUpdate(OrderPriorityUpdate {
                timestamp_ns: ts,
                user_ref_num: r,
                price: x,
                display: c.4,
                order_reference_number: x.rotate_left(7),
                options: idx,
            }),
            4 => Outbound::OrderModified(OrderModified {
                timestamp_ns: ts,
                user_ref_num: r,
                side: c.5,
                quantity: q,
                options: o.restricted(ORDER_MODIFIED_OPTIONS),
            }),
            5 => Outbound::OrderRestated(OrderRestated {
                timestamp_ns: ts,
                user_ref_num: r,
                reason: c.3,
                options: o.restricted(ORDER_RESTATED_OPTIONS),
            }),
            _ => {
                let response = OrderEntryControlResponse {
                    timestamp_ns: ts,
                    user_ref_num: r,
                    firm: a.1,
                    options: idx,
                };
                if q % 3 == 0 {
                    Outbound::MassCancelResponse(MassCancelResponse {
                        timestamp_ns: ts,
                        user_ref_num: r,
                        firm: a.1,
                        symbol: a.2,
                        options: o.restricted(MASS_CANCEL_RESPONSE_OPTIONS),
                    })
                } else if q % 3 == 1 {
                    Outbound::DisableOrderEntryResponse(response)
                } else {
                    Outbound::EnableOrderEntryResponse(response)
                }
            }
        }
    })
}

fn inbound() -> impl Strategy<Value = Inbound> {
    prop_oneof![enter_order(), other_inbound()]
}

fn outbound() -> impl Strategy<Value = Outbound> {
    prop_oneof![order_acknowledgements(), order_updates(), other_outbound()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn inbound_parse_inverts_emit(message in inbound()) {
        let mut buffer = vec![0xa5u8; message.buffer_len() + 4];
        let written = message.emit(&mut buffer);
        prop_assert_eq!(written, message.buffer_len());
        prop_assert!(buffer[written..].iter().all(|&byte| byte == 0xa5));
        prop_assert_eq!(Inbound::parse(&buffer[..written]), Ok(message));
        // Every strict prefix is an error, never a panic and never a different message.
        for cut in 0..written {
            if let Ok(shorter) = Inbound::parse(&buffer[..cut]) {
                // Only an optional appendage may be cut off whole.
                prop_assert_eq!(shorter.options(), &Options::default());
            }
        }
    }

    #[test]
    fn outbound_parse_inverts_emit(message in outbound()) {
        let mut buffer = vec![0xa5u8; message.buffer_len() + 4];
        let written = message.emit(&mut buffer);
        prop_assert_eq!(written, message.buffer_len());
        prop_assert!(buffer[written..].iter().all(|&byte| byte == 0xa5));
        prop_assert_eq!(Outbound::parse(&buffer[..written]), Ok(message));
        prop_assert!(!message.to_string().is_empty());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        if let Ok(message) = Inbound::parse(&bytes) {
            let mut buffer = vec![0u8; message.buffer_len()];
            message.emit(&mut buffer);
            prop_assert_eq!(Inbound::parse(&buffer), Ok(message));
        }
        if let Ok(message) = Outbound::parse(&bytes) {
            let mut buffer = vec![0u8; message.buffer_len()];
            message.emit(&mut buffer);
            prop_assert_eq!(Outbound::parse(&buffer), Ok(message));
        }
    }

    #[test]
    fn handle_inst_codes_round_trip(code in any::<u8>()) {
        if let Some(value) = HandleInst::from_code(code) {
            prop_assert_eq!(value.code(), code);
        }
    }
}
