//! Workloads for tests and figures: MoldUDP64 datagrams made by our own encoder and
//! packetiser from random engine order flow, with a seeded random source.
//!
//! # Invariants
//! - The same seed and command count give the same datagrams (no clock, no thread).
//! - Every message is published: the datagrams number messages from 1 without a gap.

use peregrine_engine::{
    AccountConfig, AccountId, CancelOrder, Command, Engine, EngineConfig, InstrumentConfig,
    InstrumentId, NewOrder, OrderType, Price, Qty, ReduceOrder, ReplaceOrder, SessionId, Side,
    StpMode, TimeInForce, TradingStatus,
};
use peregrine_feed::encoder::{Encoder, EncoderConfig};
use peregrine_feed::itch::{EventCode, MessageRepr};
use peregrine_feed::moldudp64::{Packetiser, Session, PACKET_BYTES_DEFAULT};
use peregrine_feed::wire::Mpid;

/// The session name of the published datagrams.
pub const SESSION: &[u8; 10] = b"PGRNTEST01";

/// xorshift64*: deterministic, seeded.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        self.next_u64() % bound
    }

    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const INSTRUMENTS: u32 = 2;
const ACCOUNTS: u32 = 4;
const TICK: i64 = 100;
const MID_PRICE: i64 = 1_000_000;
const START_NS: u64 = 1_790_000_000_000_000_000;

/// Two instruments, four accounts.
pub fn engine_config() -> EngineConfig {
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
    let accounts = (0..ACCOUNTS)
        .map(|_| AccountConfig { stp: StpMode::Off })
        .collect();
    EngineConfig {
        instruments,
        accounts,
        order_capacity: 512,
        level_capacity: 256,
    }
}

/// A random command: mostly limit orders around the middle (so they trade), some cancels,
/// reduces and replaces of resting orders, now and then a halt or a resume.
pub fn random_command(engine: &Engine, rng: &mut Rng, client_ref: u64) -> Command {
    let session = SessionId(1);
    let resting = engine.snapshot().orders;
    let roll = rng.below(20);
    if roll < 4 && !resting.is_empty() {
        let order = resting[rng.below(resting.len() as u64) as usize];
        return Command::Cancel(CancelOrder {
            account: order.account,
            session,
            client_ref,
            order: order.id,
        });
    }
    if roll < 7 && !resting.is_empty() {
        let order = resting[rng.below(resting.len() as u64) as usize];
        let qty = 1 + rng.below(300) as u32;
        return Command::Replace(ReplaceOrder {
            account: order.account,
            session,
            client_ref,
            order: order.id,
            price: Price(MID_PRICE + (rng.below(13) as i64 - 6) * TICK),
            qty: Qty(qty),
            display_qty: Qty(0),
        });
    }
    if roll < 9 && !resting.is_empty() {
        let order = resting[rng.below(resting.len() as u64) as usize];
        return Command::Reduce(ReduceOrder {
            account: order.account,
            session,
            client_ref,
            order: order.id,
            leaves_qty: Qty(rng.below(50) as u32),
        });
    }
    if roll == 9 {
        return Command::SetTradingStatus {
            instrument: InstrumentId(rng.below(u64::from(INSTRUMENTS)) as u32),
            status: if rng.chance(1, 2) {
                TradingStatus::Halted
            } else {
                TradingStatus::Trading
            },
        };
    }
    let qty = 1 + rng.below(400) as u32;
    Command::NewOrder(NewOrder {
        account: AccountId(rng.below(u64::from(ACCOUNTS)) as u32),
        session,
        client_ref,
        instrument: InstrumentId(rng.below(u64::from(INSTRUMENTS)) as u32),
        side: if rng.chance(1, 2) {
            Side::Buy
        } else {
            Side::Sell
        },
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price: Price(MID_PRICE + (rng.below(13) as i64 - 6) * TICK),
        qty: Qty(qty),
        display_qty: if rng.chance(1, 4) {
            Qty(1 + rng.below(u64::from(qty)) as u32)
        } else {
            Qty(0)
        },
        min_qty: Qty(0),
        post_only: false,
        stp: StpMode::Off,
    })
}

/// The datagrams our encoder and packetiser publish for `commands` random commands: start of
/// day (S, R per instrument), every command's events, heartbeats, end of day and end of session.
pub fn publisher_datagrams(seed: u64, commands: u64) -> Vec<Vec<u8>> {
    let config = engine_config();
    let mut engine = Engine::new(config.clone()).expect("valid config");
    let mut encoder_config = EncoderConfig::anonymous(ACCOUNTS as usize);
    encoder_config.attribution[1] = Some(Mpid::from_text("ACCT").expect("ascii"));
    let encoder = Encoder::new(&config.instruments, encoder_config).expect("encoder");
    let session = Session::new(*SESSION).expect("printable");
    let mut packetiser =
        Packetiser::new(vec![0; 1500], session, 1, PACKET_BYTES_DEFAULT).expect("packetiser");
    let mut datagrams = Vec::new();
    let mut batch = vec![encoder.system_event(START_NS, EventCode::StartOfMessages)];
    for instrument in 0..INSTRUMENTS {
        let directory = encoder.stock_directory(START_NS, InstrumentId(instrument));
        batch.push(directory.expect("listed"));
    }
    publish(&mut packetiser, &batch, &mut datagrams);
    let mut rng = Rng::new(seed);
    let mut events = Vec::new();
    for index in 0..commands {
        let timestamp_ns = START_NS + index * 1_000;
        let command = random_command(&engine, &mut rng, index);
        events.clear();
        engine.apply(&command, &mut events);
        batch.clear();
        for event in &events {
            if let Some(message) = encoder.encode(timestamp_ns, event).expect("encodable") {
                batch.push(message);
            }
        }
        publish(&mut packetiser, &batch, &mut datagrams);
        if rng.chance(1, 16) {
            datagrams.push(packetiser.heartbeat().expect("heartbeat").to_vec());
        }
    }
    let end = encoder.system_event(START_NS + commands * 1_000, EventCode::EndOfMessages);
    publish(&mut packetiser, &[end], &mut datagrams);
    datagrams.push(packetiser.end_of_session().expect("end").to_vec());
    datagrams
}

fn publish(packetiser: &mut Packetiser<Vec<u8>>, batch: &[MessageRepr], out: &mut Vec<Vec<u8>>) {
    for message in batch {
        packetiser
            .push_with(message, &mut |packet: &[u8]| out.push(packet.to_vec()))
            .expect("push");
    }
    if let Some(packet) = packetiser.flush() {
        out.push(packet.to_vec());
    }
}
