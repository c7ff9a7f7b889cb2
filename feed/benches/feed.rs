//! Feed throughput on a realistic event stream: a real `Engine` fed with a seeded random flow
//! (adds near the touch, cancels of recent orders, replaces, some marketable orders) produces
//! the events; the benchmarks then time
//! - `encode`: engine events to ITCH messages (`Encoder::encode`), per message;
//! - `encode_packetise`: the same plus MoldUDP64 packets of 1,400 bytes, per message;
//! - `decode`: `Subscriber::handle_packet_parsed` over those packets, per message;
//! - `decode_book`: the same plus applying every message to the feed `Book`, per message.
//!
//! Run: `CARGO_TARGET_DIR=/work/targets/feed cargo bench -p peregrine-feed --bench feed`.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use peregrine_engine::{
    AccountId, CancelOrder, Command, Engine, EngineConfig, Event, InstrumentId, NewOrder, OrderId,
    OrderType, Price, Qty, ReplaceOrder, SessionId, Side, StpMode, TimeInForce,
};
use peregrine_feed::book::{Book, BookConfig};
use peregrine_feed::encoder::{Encoder, EncoderConfig};
use peregrine_feed::moldudp64::{Packetiser, Session, PACKET_BYTES_DEFAULT};
use peregrine_feed::subscriber::Subscriber;

const INSTRUMENTS: usize = 8;
const ACCOUNTS: usize = 16;
const COMMANDS: u64 = 60_000;
const MID: i64 = 1_000_000;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn flow_command(engine: &Engine, rng: &mut Rng, client_ref: u64) -> Command {
    let session = SessionId(0);
    let roll = rng.below(100);
    let issued = engine.next_order_id().0.saturating_sub(1).max(1);
    let recent = OrderId(issued - rng.below(issued.min(400)));
    let owner = engine
        .order(recent)
        .map_or(AccountId(0), |order| order.account);
    if roll < 35 {
        return Command::Cancel(CancelOrder {
            account: owner,
            session,
            client_ref,
            order: recent,
        });
    }
    if roll < 42 {
        let offset = rng.below(10) as i64 - 5;
        return Command::Replace(ReplaceOrder {
            account: owner,
            session,
            client_ref,
            order: recent,
            price: Price(MID + offset * 100),
            qty: Qty(100 + rng.below(5) as u32 * 100),
            display_qty: Qty(0),
        });
    }
    let side = if rng.below(2) == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    // Mostly passive (behind the touch), sometimes marketable.
    let passive_ticks = rng.below(12) as i64 - 2;
    let price = match side {
        Side::Buy => MID - passive_ticks * 100,
        Side::Sell => MID + 100 + passive_ticks * 100,
    };
    Command::NewOrder(NewOrder {
        account: AccountId(rng.below(ACCOUNTS as u64) as u32),
        session,
        client_ref,
        instrument: InstrumentId(rng.below(INSTRUMENTS as u64) as u32),
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price: Price(price),
        qty: Qty(100 * (1 + rng.below(10) as u32)),
        display_qty: if rng.below(10) == 0 { Qty(100) } else { Qty(0) },
        min_qty: Qty(0),
        post_only: false,
        stp: StpMode::AccountDefault,
    })
}

/// The events of a seeded random flow, with their timestamps.
fn event_stream() -> (EngineConfig, Vec<(u64, Event)>) {
    let config = EngineConfig::demo(INSTRUMENTS, ACCOUNTS, 200_000);
    let mut engine = Engine::new(config.clone()).expect("config");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut stream = Vec::new();
    let mut events = Vec::new();
    for index in 0..COMMANDS {
        let command = flow_command(&engine, &mut rng, index);
        events.clear();
        engine.apply(&command, &mut events);
        let timestamp_ns = 1_790_000_000_000_000_000 + index * 1_000;
        stream.extend(events.iter().map(|event| (timestamp_ns, *event)));
    }
    (config, stream)
}

fn packets(encoder: &Encoder, stream: &[(u64, Event)]) -> (Vec<Vec<u8>>, u64) {
    let session = Session::from_text("BENCH00001").expect("ascii");
    let mut packetiser =
        Packetiser::new(vec![0; 1500], session, 1, PACKET_BYTES_DEFAULT).expect("cfg");
    let mut out = Vec::new();
    let mut count = 0;
    for (timestamp_ns, event) in stream {
        if let Some(message) = encoder.encode(*timestamp_ns, event).expect("encodable") {
            packetiser
                .push_with(&message, &mut |packet: &[u8]| out.push(packet.to_vec()))
                .expect("push");
            count += 1;
        }
    }
    out.extend(packetiser.flush().map(<[u8]>::to_vec));
    (out, count)
}

fn book_config(config: &EngineConfig) -> BookConfig {
    BookConfig {
        locate_count: INSTRUMENTS as u16,
        order_capacity: config.order_capacity,
        level_capacity: config.level_capacity,
        levels_per_side_max: 4_096,
    }
}

fn benches(c: &mut Criterion) {
    let (config, stream) = event_stream();
    let encoder =
        Encoder::new(&config.instruments, EncoderConfig::anonymous(ACCOUNTS)).expect("encoder");
    let (datagrams, message_count) = packets(&encoder, &stream);
    eprintln!(
        "stream: {} events, {} ITCH messages, {} packets",
        stream.len(),
        message_count,
        datagrams.len()
    );
    let mut group = c.benchmark_group("feed");
    group.throughput(Throughput::Elements(message_count));
    group.sample_size(20);

    group.bench_function("encode", |b| {
        b.iter(|| {
            let mut shares = 0u64;
            for (timestamp_ns, event) in &stream {
                if let Ok(Some(message)) = encoder.encode(*timestamp_ns, event) {
                    shares += u64::from(message.type_byte());
                }
            }
            black_box(shares)
        })
    });

    let session = Session::from_text("BENCH00001").expect("ascii");
    let mut packetiser =
        Packetiser::new(vec![0u8; 1500], session, 1, PACKET_BYTES_DEFAULT).expect("cfg");
    group.bench_function("encode_packetise", |b| {
        b.iter(|| {
            let mut bytes_sent = 0usize;
            let mut send = |packet: &[u8]| bytes_sent += black_box(packet).len();
            for (timestamp_ns, event) in &stream {
                if let Ok(Some(message)) = encoder.encode(*timestamp_ns, event) {
                    packetiser.push_with(&message, &mut send).expect("push");
                }
            }
            if let Some(packet) = packetiser.flush() {
                send(packet);
            }
            black_box(bytes_sent)
        })
    });

    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut subscriber = Subscriber::new(None, 1);
            let mut types = 0u64;
            for datagram in &datagrams {
                subscriber.handle_packet_parsed(datagram, |_, message| {
                    types += u64::from(message.type_byte())
                });
            }
            assert_eq!(subscriber.expected_seq(), message_count + 1);
            black_box(types)
        })
    });

    group.bench_function("decode_book", |b| {
        b.iter_batched(
            || Book::new(book_config(&config)),
            |mut book| {
                let mut subscriber = Subscriber::new(None, 1);
                for datagram in &datagrams {
                    subscriber.handle_packet_parsed(datagram, |_, message| {
                        book.apply(message).expect("consistent feed");
                    });
                }
                black_box(book.order_count())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(feed, benches);
criterion_main!(feed);
