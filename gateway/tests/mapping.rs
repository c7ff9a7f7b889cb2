//! OUCH ⇄ engine mapping, end to end through the real engine. Goal: every inbound message type
//! becomes the right command (or the spec's silence), and every member event comes back to the
//! owning session as the right OUCH message with the client's references. Method: a `Venue`
//! runs sessions' `OrderEntry` against a real `Engine`, routes every event to every session and
//! collects the outbound messages per session.

use peregrine_engine::{
    AccountId, CancelReason as EngineCancelReason, Command, Engine, EngineConfig, Event,
    RejectReason, SessionId, StpMode,
};
use peregrine_gateway::mapping::{
    cancel_reason, reject_code, IgnoreReason, InboundAction, Instruments, OrderEntry,
    SessionContext,
};
use peregrine_gateway::ouch::inbound::{
    CancelOrder, EnterOrder, MassCancel, ModifyOrder, ReplaceOrder,
};
use peregrine_gateway::ouch::{
    AccountQuery, CancelReason, Capacity, CrossType, Display, Inbound, LiquidityFlag, Options,
    Outbound, RejectCode, RestateReason, Side, TimeInForce, MARKET_PRICE,
};

const SYM0: [u8; 8] = *b"SYM0    ";
const T: u64 = 5;

struct Venue {
    engine: Engine,
    instruments: Instruments,
    sessions: Vec<OrderEntry>,
    /// Outbound messages per session, in order.
    outbound: Vec<Vec<Outbound>>,
    submitted: Vec<Command>,
}

impl Venue {
    fn new(session_count: u32, order_capacity: u32, stp: StpMode) -> Venue {
        let mut config = EngineConfig::demo(2, session_count as usize, 64);
        config
            .accounts
            .iter_mut()
            .for_each(|account| account.stp = stp);
        let instruments = Instruments::new(&config);
        let sessions = (0..session_count)
            .map(|index| {
                let context = SessionContext {
                    account: AccountId(index),
                    session: SessionId(index + 1),
                    firm: *b"FIRM",
                };
                OrderEntry::new(context, order_capacity)
            })
            .collect();
        Venue {
            engine: Engine::new(config).unwrap(),
            instruments,
            sessions,
            outbound: vec![Vec::new(); session_count as usize],
            submitted: Vec::new(),
        }
    }

    fn apply(&mut self, command: Command) {
        self.submitted.push(command);
        let mut events: Vec<Event> = Vec::new();
        self.engine.apply(&command, &mut events);
        self.engine.verify();
        let mut deferred = Vec::new();
        for event in &events {
            for (index, session) in self.sessions.iter_mut().enumerate() {
                let output = session.on_event(&self.instruments, T, event);
                self.outbound[index].extend(output.iter().copied());
                deferred.extend(output.command);
            }
        }
        for command in deferred {
            self.apply(command);
        }
    }

    /// Sends one message from a session; returns the action and that session's new messages.
    fn send(&mut self, session: usize, message: Inbound) -> (InboundAction, Vec<Outbound>) {
        let start = self.outbound[session].len();
        let action = self.sessions[session].on_inbound(&self.instruments, T, &message);
        match action {
            InboundAction::Submit(command) => self.apply(command),
            InboundAction::Reply(reply) => self.outbound[session].push(reply),
            InboundAction::Deferred | InboundAction::Ignore(_) => {}
        }
        (action, self.outbound[session][start..].to_vec())
    }
}

fn enter(user_ref_num: u32, side: Side, quantity: u32, price: u64) -> EnterOrder {
    EnterOrder {
        user_ref_num,
        side,
        quantity,
        symbol: SYM0,
        price,
        time_in_force: TimeInForce::Day,
        display: Display::Visible,
        capacity: Capacity::Agency,
        intermarket_sweep: false,
        cross_type: CrossType::Continuous,
        cl_ord_id: *b"CLORD         ",
        options: Options::default(),
    }
}

fn cancel(user_ref_num: u32, quantity: u32) -> Inbound {
    Inbound::CancelOrder(CancelOrder {
        user_ref_num,
        quantity,
        options: Options::default(),
    })
}

fn only(messages: &[Outbound]) -> Outbound {
    assert_eq!(messages.len(), 1, "{messages:?}");
    messages[0]
}

#[test]
fn enter_order_is_accepted_with_the_clients_references() {
    let mut venue = Venue::new(1, 16, StpMode::CancelResting);
    let mut order = enter(1, Side::Buy, 100, 1_000_000);
    order.options.max_floor = Some(10);
    let (action, out) = venue.send(0, Inbound::EnterOrder(order));
    assert!(matches!(
        action,
        InboundAction::Submit(Command::NewOrder(_))
    ));
    let Outbound::OrderAccepted(accepted) = only(&out) else {
        panic!("{out:?}")
    };
    assert_eq!(accepted.user_ref_num, 1);
    assert_eq!(accepted.symbol, SYM0);
    assert_eq!(accepted.price, 1_000_000);
    assert_eq!(accepted.quantity, 100);
    assert_eq!(accepted.cl_ord_id, *b"CLORD         ");
    assert_eq!(accepted.order_reference_number, 1);
    assert_eq!(accepted.options.max_floor, Some(10));
    assert_eq!(venue.sessions[0].open_orders(), 1);
}

#[test]
fn user_ref_nums_must_increase_and_stale_ones_never_reach_the_engine() {
    let mut venue = Venue::new(1, 16, StpMode::CancelResting);
    venue.send(0, Inbound::EnterOrder(enter(1, Side::Buy, 10, 1_000_000)));
    // A gap is allowed: the PDF asks for strictly increasing, not consecutive, numbers.
    let (action, _) = venue.send(0, Inbound::EnterOrder(enter(5, Side::Buy, 10, 1_000_000)));
    assert!(matches!(action, InboundAction::Submit(_)));
    for stale in [5, 3, 1, 0] {
        let (action, out) = venue.send(0, Inbound::EnterOrder(enter(stale, Side::Buy, 10, 100)));
        assert_eq!(action, InboundAction::Ignore(IgnoreReason::StaleUserRefNum));
        assert!(out.is_empty());
    }
    assert_eq!(venue.submitted.len(), 2);
    let query = Inbound::AccountQuery(AccountQuery {
        options: Options::default(),
    });
    let Outbound::AccountQueryResponse(response) = only(&venue.send(0, query).1) else {
        panic!()
    };
    assert_eq!(response.next_user_ref_num, 6);
}

#[test]
fn user_ref_idx_channels_count_separately_and_are_echoed() {
    let mut venue = Venue::new(1, 16, StpMode::CancelResting);
    venue.send(0, Inbound::EnterOrder(enter(7, Side::Buy, 10, 1_000_000)));
    let mut on_channel = enter(1, Side::Buy, 10, 1_000_000);
    on_channel.options.user_ref_idx = Some(3);
    let (action, out) = venue.send(0, Inbound::EnterOrder(on_channel));
    assert!(matches!(action, InboundAction::Submit(_)));
    let Outbound::OrderAccepted(accepted) = only(&out) else {
        panic!()
    };
    assert_eq!(accepted.options.user_ref_idx, Some(3));
    let cancel = Inbound::CancelOrder(CancelOrder {
        user_ref_num: 1,
        quantity: 0,
        options: Options::user_ref_idx(Some(3)),
    });
    let Outbound::OrderCanceled(canceled) = only(&venue.send(0, cancel).1) else {
        panic!()
    };
    assert_eq!(canceled.options.user_ref_idx, Some(3));
}

#[test]
fn a_trade_gives_maker_and_taker_executions_with_liquidity_flags() {
    let mut venue = Venue::new(2, 16, StpMode::CancelResting);
    venue.send(0, Inbound::EnterOrder(enter(1, Side::Sell, 100, 1_000_000)));
    let (_, taker_out) = venue.send(1, Inbound::EnterOrder(enter(1, Side::Buy, 100, 1_000_000)));
    let maker_out = &venue.outbound[0];
    let Outbound::OrderExecuted(maker) = maker_out[1] else {
        panic!("{maker_out:?}")
    };
    let Outbound::OrderExecuted(taker) = taker_out[1] else {
        panic!("{taker_out:?}")
    };
    assert_eq!(maker.liquidity_flag, LiquidityFlag::Added);
    assert_eq!(taker.liquidity_flag, LiquidityFlag::Removed);
    assert_eq!(maker.match_number, taker.match_number);
    assert_eq!((maker.quantity, maker.price), (100, 1_000_000));
    assert_eq!(venue.sessions[0].open_orders(), 0);
    assert_eq!(venue.sessions[1].open_orders(), 0);
}

#[test]
fn a_self_trade_in_one_session_gives_two_executions() {
    let mut venue = Venue::new(1, 16, StpMode::Off);
    venue.send(0, Inbound::EnterOrder(enter(1, Side::Sell, 10, 1_000_000)));
    let (_, out) = venue.send(0, Inbound::EnterOrder(enter(2, Side::Buy, 10, 1_000_000)));
    let flags: Vec<_> = out
        .iter()
        .filter_map(|m| match m {
            Outbound::OrderExecuted(e) => Some((e.user_ref_num, e.liquidity_flag)),
            _ => None,
        })
        .collect();
    assert_eq!(
        flags,
        [(1, LiquidityFlag::Added), (2, LiquidityFlag::Removed)]
    );
}

#[test]
fn cancel_reduce_and_superfluous_cancels() {
    let mut venue = Venue::new(1, 16, StpMode::CancelResting);
    venue.send(0, Inbound::EnterOrder(enter(1, Side::Buy, 100, 1_000_000)));
    let Outbound::OrderCanceled(reduced) = only(&venue.send(0, cancel(1, 40)).1) else {
        panic!()
    };
    assert_eq!(
        (reduced.quantity, reduced.reason),
        (60, CancelReason::UserRequested)
    );
    // Not lower than the open quantity: the engine refuses, the client hears nothing (§2.3).
    let (action, out) = venue.send(0, cancel(1, 40));
    assert!(matches!(action, InboundAction::Submit(Command::Reduce(_))));
    assert!(out.is_empty());
    let Outbound::OrderCanceled(gone) = only(&venue.send(0, cancel(1, 0)).1) else {
        panic!()
    };
    assert_eq!(gone.quantity, 40);
    assert_eq!(venue.sessions[0].open_orders(), 0);
    let (action, out) = venue.send(0, cancel(1, 0));
    assert_eq!(action, InboundAction::Ignore(IgnoreReason::UnknownOrder));
    assert!(out.is_empty());
}

#[test]
fn a_cancel_before_the_accept_is_applied_after_it() {
    let mut venue = Venue::new(1, 16, StpMode::CancelResting);
    let order = enter(1, Side::Buy, 100, 1_000_000);
    let InboundAction::Submit(command) =
        venue.sessions[0].on_inbound(&venue.instruments, T, &Inbound::EnterOrder(order))
    else {
        panic!()
    };
    // The cancel arrives while the order is still on its way to the core.
    let (action, _) = venue.send(0, cancel(1, 0));
    assert_eq!(action, InboundAction::Deferred);
    venue.apply(command);
    let kinds: Vec<u8> = venue.outbound[0]
        .iter()
        .map(Outbound::message_type)
        .collect();
    assert_eq!(kinds, b"AC");
    assert_eq!(venue.sessions[0].open_orders(), 0);
}

#[test]
fn modify_changes_side_among_sells_and_reduces() {
    let mut venue = Venue::new(1, 16, StpMode::CancelResting);
    venue.send(0, Inbound::EnterOrder(enter(1, Side::Sell, 100, 1_000_000)));
    let modify = |side, quantity| {
        Inbound::ModifyOrder(ModifyOrder {
            user_ref_num: 1,
            side,
            quantity,
            options: Options::default(),
        })
    };
    let (action, out) = venue.send(0, modify(Side::SellShort, 100));
    assert!(matches!(action, InboundAction::Reply(_)));
    let Outbound::OrderModified(side_only) = only(&out) else {
        panic!()
    };
    assert_eq!((side_only.side, side_only.quantity), (Side::SellShort, 100));
    let (action, out) = venue.send(0, modify(Side::SellShortExempt, 70));
    assert!(matches!(action, InboundAction::Submit(Command::Reduce(_))));
    let Outbound::OrderModified(reduced) = only(&out) else {
        panic!("{out:?}")
    };
    assert_eq!(
        (reduced.side, reduced.quantity),
        (Side::SellShortExempt, 70)
    );
    let (action, _) = venue.send(0, modify(Side::Buy, 10));
    assert_eq!(
        action,
        InboundAction::Ignore(IgnoreReason::ModifySideNotAllowed)
    );
    let (action, _) = venue.send(0, modify(Side::SellShortExempt, 90));
    assert_eq!(action, InboundAction::Ignore(IgnoreReason::ModifyNoChange));
}

fn replace(orig: u32, new: u32, quantity: u32, price: u64) -> Inbound {
    Inbound::ReplaceOrder(ReplaceOrder {
        orig_user_ref_num: orig,
        user_ref_num: new,
        quantity,
        price,
        time_in_force: TimeInForce::Day,
        display: Display::Visible,
        intermarket_sweep: false,
        cl_ord_id: *b"REPLACED      ",
        options: Options::default(),
    })
}

#[test]
fn replace_links_the_chain_and_counts_executions() {
    let mut venue = Venue::new(2, 16, StpMode::CancelResting);
    venue.send(0, Inbound::EnterOrder(enter(1, Side::Sell, 100, 1_000_000)));
    venue.send(1, Inbound::EnterOrder(enter(1, Side::Buy, 30, 1_000_000)));
    // 30 executed: a chain total of 100 leaves 70 open on the replacement.
    let (action, out) = venue.send(0, replace(1, 2, 100, 1_010_000));
    let InboundAction::Submit(Command::Replace(command)) = action else {
        panic!("{action:?}")
    };
    assert_eq!(command.qty.0, 70);
    let Outbound::OrderReplaced(replaced) = only(&out) else {
        panic!("{out:?}")
    };
    assert_eq!((replaced.orig_user_ref_num, replaced.user_ref_num), (1, 2));
    assert_eq!((replaced.quantity, replaced.price), (70, 1_010_000));
    assert_eq!(replaced.cl_ord_id, *b"REPLACED      ");
    // The old reference is gone, the new one cancels.
    assert_eq!(
        venue.send(0, cancel(1, 0)).0,
        InboundAction::Ignore(IgnoreReason::UnknownOrder)
    );
    let Outbound::OrderCanceled(gone) = only(&venue.send(0, cancel(2, 0)).1) else {
        panic!()
    };
    assert_eq!(gone.quantity, 70);
}

#[test]
fn replace_of_an_unknown_order_is_ignored_and_does_not_consume_the_number() {
    let mut venue = Venue::new(1, 16, StpMode::CancelResting);
    venue.send(0, Inbound::EnterOrder(enter(1, Side::Buy, 10, 1_000_000)));
    let (action, out) = venue.send(0, replace(9, 2, 10, 1_000_000));
    assert_eq!(action, InboundAction::Ignore(IgnoreReason::UnknownOrder));
    assert!(out.is_empty());
    let (action, _) = venue.send(0, replace(1, 2, 20, 1_000_000));
    assert!(matches!(action, InboundAction::Submit(_)));
}

#[test]
fn gateway_and_engine_rejects_carry_the_mapped_code() {
    let mut venue = Venue::new(1, 2, StpMode::CancelResting);
    let mut unknown = enter(1, Side::Buy, 10, 1_000_000);
    unknown.symbol = *b"NOPE    ";
    let Outbound::Rejected(rejected) = only(&venue.send(0, Inbound::EnterOrder(unknown)).1) else {
        panic!()
    };
    assert_eq!(
        (rejected.user_ref_num, rejected.reason),
        (1, RejectCode::InvalidSymbol)
    );
    // Engine reject: price not a multiple of the one-cent tick.
    let (action, out) = venue.send(0, Inbound::EnterOrder(enter(2, Side::Buy, 10, 1_000_001)));
    assert!(matches!(action, InboundAction::Submit(_)));
    let Outbound::Rejected(rejected) = only(&out) else {
        panic!()
    };
    assert_eq!(
        (rejected.user_ref_num, rejected.reason),
        (2, RejectCode::InvalidPrice)
    );
    assert_eq!(rejected.cl_ord_id, *b"CLORD         ");
    assert_eq!(venue.sessions[0].open_orders(), 0);
    let mut hidden = enter(3, Side::Buy, 10, 1_000_000);
    hidden.display = Display::Hidden;
    let Outbound::Rejected(rejected) = only(&venue.send(0, Inbound::EnterOrder(hidden)).1) else {
        panic!()
    };
    assert_eq!(rejected.reason, RejectCode::InvalidDisplay);
}

#[test]
fn a_full_order_table_rejects_new_orders() {
    let mut venue = Venue::new(1, 2, StpMode::CancelResting);
    venue.send(0, Inbound::EnterOrder(enter(1, Side::Buy, 10, 1_000_000)));
    venue.send(0, Inbound::EnterOrder(enter(2, Side::Buy, 10, 1_000_000)));
    let (action, out) = venue.send(0, Inbound::EnterOrder(enter(3, Side::Buy, 10, 1_000_000)));
    assert!(matches!(action, InboundAction::Reply(_)));
    let Outbound::Rejected(rejected) = only(&out) else {
        panic!()
    };
    assert_eq!(rejected.reason, RejectCode::ProcessingError);
    assert_eq!(venue.submitted.len(), 2);
}

#[test]
fn malformed_enter_order_is_rejected_with_the_field_code() {
    let mut venue = Venue::new(1, 2, StpMode::CancelResting);
    let mut bytes = vec![0u8; 64];
    let length = Inbound::EnterOrder(enter(4, Side::Buy, 10, 1_000_000)).emit(&mut bytes);
    bytes.truncate(length);
    bytes[5] = b'?'; // side
    let action = venue.sessions[0].on_message(&venue.instruments, T, &bytes);
    let InboundAction::Reply(Outbound::Rejected(rejected)) = action else {
        panic!("{action:?}")
    };
    assert_eq!(
        (rejected.user_ref_num, rejected.reason),
        (4, RejectCode::InvalidSide)
    );
    let action = venue.sessions[0].on_message(&venue.instruments, T, &bytes);
    assert_eq!(action, InboundAction::Ignore(IgnoreReason::StaleUserRefNum));
    let action = venue.sessions[0].on_message(&venue.instruments, T, b"X\x00");
    assert!(matches!(
        action,
        InboundAction::Ignore(IgnoreReason::Malformed(_))
    ));
}

#[test]
fn ioc_remainder_market_orders_and_mass_cancel() {
    let mut venue = Venue::new(2, 16, StpMode::CancelResting);
    venue.send(0, Inbound::EnterOrder(enter(1, Side::Sell, 10, 1_000_000)));
    venue.send(0, Inbound::EnterOrder(enter(2, Side::Sell, 10, 1_100_000)));
    let mut ioc = enter(1, Side::Buy, 15, 1_000_000);
    ioc.time_in_force = TimeInForce::Ioc;
    let (_, out) = venue.send(1, Inbound::EnterOrder(ioc));
    let Outbound::OrderCanceled(rest) = out[2] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (rest.quantity, rest.reason),
        (5, CancelReason::ImmediateOrCancel)
    );
    let market = enter(2, Side::Buy, 1, MARKET_PRICE);
    let (_, out) = venue.send(1, Inbound::EnterOrder(market));
    let Outbound::OrderAccepted(accepted) = out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(accepted.price, MARKET_PRICE);
    let mass = Inbound::MassCancel(MassCancel {
        user_ref_num: 3,
        firm: *b"FIRM",
        symbol: [b' '; 8],
        options: Options::default(),
    });
    let (_, out) = venue.send(0, mass);
    let kinds: Vec<u8> = out.iter().map(Outbound::message_type).collect();
    assert_eq!(kinds, b"CX", "{out:?}");
    let Outbound::OrderCanceled(canceled) = out[0] else {
        panic!()
    };
    assert_eq!(canceled.reason, CancelReason::UserRequested);
    assert_eq!(venue.sessions[0].open_orders(), 0);
}

#[test]
fn iceberg_refresh_is_restated() {
    let mut venue = Venue::new(2, 16, StpMode::CancelResting);
    let mut iceberg = enter(1, Side::Sell, 100, 1_000_000);
    iceberg.options.max_floor = Some(10);
    venue.send(0, Inbound::EnterOrder(iceberg));
    venue.send(1, Inbound::EnterOrder(enter(1, Side::Buy, 10, 1_000_000)));
    let restated = venue.outbound[0].iter().find_map(|message| match message {
        Outbound::OrderRestated(restated) => Some(*restated),
        _ => None,
    });
    let restated = restated.expect("a restatement");
    assert_eq!(restated.reason, RestateReason::Refresh);
    assert_eq!(restated.options.display_qty, Some(10));
}

#[test]
fn reject_and_cancel_tables() {
    let rows = [
        (RejectReason::UnknownInstrument, RejectCode::InvalidSymbol),
        (RejectReason::InstrumentHalted, RejectCode::Halted),
        (
            RejectReason::QtyAboveInstrumentMax,
            RejectCode::SharesExceedThreshold,
        ),
        (RejectReason::PriceNotTickMultiple, RejectCode::InvalidPrice),
        (RejectReason::InvalidDisplayQty, RejectCode::InvalidMaxFloor),
        (RejectReason::InvalidMinQty, RejectCode::InvalidMinQuantity),
        (RejectReason::PostOnlyWouldTake, RejectCode::CrossedMarket),
        (
            RejectReason::RiskMaxOrderQty,
            RejectCode::RiskMaxQuantityExceeded,
        ),
        (
            RejectReason::RiskMaxOrderNotional,
            RejectCode::RiskSingleOrderNotionalExceeded,
        ),
        (RejectReason::RiskPriceCollar, RejectCode::RiskFatFinger),
        (
            RejectReason::RiskThrottle,
            RejectCode::RiskPortMessageRateRestriction,
        ),
        (
            RejectReason::RiskAccountBlocked,
            RejectCode::FirmNotAuthorized,
        ),
    ];
    for (reason, code) in rows {
        assert_eq!(reject_code(reason), code, "{reason}");
    }
    assert_eq!(
        cancel_reason(EngineCancelReason::SelfTrade),
        CancelReason::SelfMatchPrevention
    );
    assert_eq!(
        cancel_reason(EngineCancelReason::EndOfDay),
        CancelReason::Timeout
    );
    assert_eq!(
        cancel_reason(EngineCancelReason::KillSwitch),
        CancelReason::Supervisory
    );
}
