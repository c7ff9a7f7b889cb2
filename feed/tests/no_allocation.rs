//! After construction, the publisher path (encode, packetise) and the subscriber path (decode,
//! gap check, book) never allocate. A counting global allocator counts the allocations made
//! by this test's thread while a realistic engine event stream flows through both paths.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use peregrine_engine::{
    AccountId, CancelOrder, Command, Engine, EngineConfig, Event, InstrumentId, NewOrder, OrderId,
    OrderType, Price, Qty, SessionId, Side, StpMode, TimeInForce,
};
use peregrine_feed::book::{Book, BookConfig};
use peregrine_feed::encoder::{Encoder, EncoderConfig};
use peregrine_feed::moldudp64::{Packetiser, Session, PACKET_BYTES_DEFAULT};
use peregrine_feed::subscriber::{PacketOutcome, Subscriber};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    if COUNTING.with(Cell::get) {
        // Relaxed: a plain counter, read by the same thread after the measured section.
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is `System`'s; counting touches no memory the allocator hands out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's layout (non-zero size per the caller's contract).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (every allocation is).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: `ptr` and `layout` come from a previous `System` allocation; forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Events of a small seeded flow (allocates: done before measuring).
fn events() -> (EngineConfig, Vec<Event>) {
    let config = EngineConfig::demo(2, 2, 4_096);
    let mut engine = Engine::new(config.clone()).expect("config");
    let mut events = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for index in 0..3_000u64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let command = if state.is_multiple_of(3) {
            let order = OrderId(1 + state % engine.next_order_id().0.max(1));
            let account = engine
                .order(order)
                .map_or(AccountId(0), |order| order.account);
            Command::Cancel(CancelOrder {
                account,
                session: SessionId(0),
                client_ref: index,
                order,
            })
        } else {
            Command::NewOrder(NewOrder {
                account: AccountId((state % 2) as u32),
                session: SessionId(0),
                client_ref: index,
                instrument: InstrumentId((state / 2 % 2) as u32),
                side: if (state / 4).is_multiple_of(2) {
                    Side::Buy
                } else {
                    Side::Sell
                },
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Day,
                price: Price(1_000_000 + (state / 8 % 9) as i64 * 100 - 400),
                qty: Qty(1 + (state / 80 % 300) as u32),
                display_qty: Qty(if state.is_multiple_of(7) { 10 } else { 0 }),
                min_qty: Qty(0),
                post_only: false,
                stp: StpMode::AccountDefault,
            })
        };
        engine.apply(&command, &mut events);
    }
    (config, events)
}

#[test]
fn publisher_and_subscriber_paths_do_not_allocate() {
    let (config, events) = events();
    let encoder = Encoder::new(&config.instruments, EncoderConfig::anonymous(2)).expect("encoder");
    let session = Session::from_text("NOALLOC001").expect("ascii");
    let mut packetiser =
        Packetiser::new(vec![0u8; 1500], session, 1, PACKET_BYTES_DEFAULT).expect("packetiser");
    let mut subscriber = Subscriber::new(Some(session), 1);
    let mut book = Book::new(BookConfig {
        locate_count: 2,
        order_capacity: 4_096,
        level_capacity: 4_096,
        levels_per_side_max: 1_024,
    });
    let mut delivered = 0u64;
    let mut published = 0u64;

    COUNTING.with(|counting| counting.set(true));
    for event in &events {
        let Ok(Some(message)) = encoder.encode(1_790_000_000_000_000_000, event) else {
            continue;
        };
        published += 1;
        let mut send = |datagram: &[u8]| {
            let outcome = subscriber.handle_packet_parsed(datagram, |_, message| {
                book.apply(message).expect("consistent");
                delivered += 1;
            });
            assert!(matches!(outcome, PacketOutcome::Delivered(_)));
        };
        packetiser.push_with(&message, &mut send).expect("push");
    }
    if let Some(datagram) = packetiser.flush() {
        subscriber.handle_packet_parsed(datagram, |_, message| {
            book.apply(message).expect("consistent");
            delivered += 1;
        });
    }
    COUNTING.with(|counting| counting.set(false));

    assert!(
        published > 1_000,
        "a realistic stream: {published} messages"
    );
    assert_eq!(delivered, published);
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "allocations after start-up"
    );
    book.verify();
}

/// The publisher stage (sans-IO publisher, store append) and the re-request path (judge a
/// request, answer from the store) after construction: no allocation either.
#[test]
fn publisher_store_and_rerequest_paths_do_not_allocate() {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use peregrine_feed::moldudp64::{Request, RequestRepr};
    use peregrine_feed::publisher::{Publisher, PublisherConfig};
    use peregrine_feed::rerequest::{answer, RerequestConfig, RerequestServer};
    use peregrine_feed::retransmit::{lock, RetransmitConfig, SharedStore, Store};

    let (config, events) = events();
    let session = Session::from_text("NOALLOC002").expect("ascii");
    let mut publisher = Publisher::new(
        &PublisherConfig::default(),
        session,
        &config,
        EncoderConfig::anonymous(2),
    )
    .expect("publisher");
    let dir = tempfile::tempdir().expect("tempdir");
    let store_config = RetransmitConfig {
        path: dir.path().join("store.dat"),
        message_capacity: 1 << 16,
        data_capacity_bytes: 4 << 20,
    };
    let store: SharedStore = Arc::new(Mutex::new(
        Store::create(&store_config, session, 1).expect("store"),
    ));
    let mut server = RerequestServer::new(&RerequestConfig::default(), session).expect("server");
    let source: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let mut request = [0u8; 20];
    let mut answer_buffer = vec![0u8; PACKET_BYTES_DEFAULT];
    let (mut packets, mut answered) = (0u64, 0u64);

    COUNTING.with(|counting| counting.set(true));
    let mut send = |packet: &[u8]| {
        lock(&store).append_packet(packet);
        packets += 1;
    };
    publisher.start_session(0, 1_790_000_000_000_000_000, &mut send);
    for (index, event) in events.iter().enumerate() {
        let now_ns = index as u64 * 1_000;
        publisher.handle_event(
            now_ns,
            index as u64,
            1_790_000_000_000_000_000,
            event,
            &mut send,
        );
        if index % 16 == 15 {
            publisher.handle_batch_end(now_ns, &mut send);
        }
        publisher.handle_timeout(now_ns, &mut send);
    }
    publisher.handle_batch_end(u64::MAX / 2, &mut send);
    let next_seq = publisher.next_seq();
    for (index, first_seq) in (1..next_seq).step_by(97).enumerate() {
        RequestRepr {
            session,
            seq: first_seq,
            count: 200,
        }
        .emit(&mut Request::new_unchecked(&mut request[..]));
        let now_ns = index as u64 * 1_000_000_000;
        let grant = server.handle_request(now_ns, source, &request, &lock(&store));
        let grant = grant.expect("stored and within the rate");
        let sent = answer(&store, grant, &mut answer_buffer, |_| true);
        server.note_answer(&sent);
        answered += u64::from(sent.messages);
    }
    COUNTING.with(|counting| counting.set(false));

    assert!(next_seq > 1_000, "a realistic stream: {next_seq}");
    assert_eq!(lock(&store).next_seq(), next_seq);
    assert!(
        packets > 10 && answered > 1_000,
        "{packets} packets, {answered} answered"
    );
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "allocations after start-up"
    );
}
