//! Peregrine market data.
//!
//! Sans-IO cores (no socket, no clock, no thread): ITCH 5.0 messages ([`itch`]), the
//! engine-event encoder ([`encoder`]), MoldUDP64 framing and the packetiser ([`moldudp64`]),
//! the publisher's timing rules ([`publisher::Publisher`]), the retransmission store
//! ([`retransmit`]), the re-request server's judgement and rate limits
//! ([`rerequest::RerequestServer`]), one snapshot connection ([`snapshot::SnapshotSession`]),
//! and the subscriber side: a packet decoder with gap detection ([`subscriber`]) and an
//! order-by-order book builder ([`book`]).
//!
//! Thin drivers around them, each the body of one thread: [`publisher::run`] (UDP multicast
//! via [`net`], or Ethernet frames through a kernel-bypass backend via [`bypass::FrameOut`]), [`rerequest::run`] (unicast UDP), [`snapshot::run`] (TCP over mio), and for
//! subscribers [`subscriber_net::FeedClient`] and [`tap::run`]. [`service::FeedService`]
//! starts the three publishing-side threads in one call.
//!
//! # Wiring in the node
//!
//! ```text
//! core thread ──ring──► publisher::run(publisher, out, &store, start_ns, source)
//!   │ FeedSeq::observe(event) for every event        │ appends every packet to the store
//!   │ EngineSnapshot + FeedSeq::next_seq()           ▼
//!   ▼                                         SharedStore ◄── rerequest::run(server, &socket, &store, &stop)
//! BookSnapshot::from_engine ─► SnapshotHandle::publish ──► snapshot::run(&config, listener, session, &handle, &stop)
//! ```
//!
//! Configuration is [`FeedConfig`] (a `[feed]` table with `publisher`, `multicast`,
//! `retransmit`, `rerequest` and `snapshot` sub-tables, every key defaulted).
//!
//! # Example: publisher to subscriber book
//!
//! ```
//! use peregrine_engine::{AccountId, BookAdd, EngineConfig, Event, InstrumentId, OrderId, Price, Qty, Side};
//! use peregrine_feed::book::{Book, BookConfig};
//! use peregrine_feed::encoder::{Encoder, EncoderConfig};
//! use peregrine_feed::moldudp64::{Packetiser, Session, PACKET_BYTES_DEFAULT};
//! use peregrine_feed::subscriber::Subscriber;
//!
//! let config = EngineConfig::demo(1, 1, 16);
//! let encoder = Encoder::new(&config.instruments, EncoderConfig::anonymous(1)).unwrap();
//! let session = Session::from_text("DEMO000001").unwrap();
//! let mut packetiser = Packetiser::new([0u8; 1500], session, 1, PACKET_BYTES_DEFAULT).unwrap();
//! let add = Event::BookAdd(BookAdd {
//!     order: OrderId(1), instrument: InstrumentId(0), account: AccountId(0),
//!     side: Side::Buy, price: Price(1_000_000), display_qty: Qty(100),
//! });
//! // Publisher: one core batch of events, then flush.
//! let message = encoder.encode(1_790_000_000_000_000_000, &add).unwrap().unwrap();
//! assert_eq!(packetiser.push(&message), Ok(1));
//! let datagram = packetiser.flush().unwrap().to_vec();
//!
//! // Subscriber: decode, check sequence, build the book.
//! let mut subscriber = Subscriber::new(Some(session), 1);
//! let mut book = Book::new(BookConfig {
//!     locate_count: 1, order_capacity: 16, level_capacity: 16, levels_per_side_max: 16,
//! });
//! subscriber.handle_packet_parsed(&datagram, |_seq, message| book.apply(message).unwrap());
//! let best_bid = book.best(1, Side::Buy).unwrap();
//! assert_eq!((best_bid.price.to_price(), best_bid.shares), (Price(1_000_000), 100));
//! ```
//!
//! # Invariants
//! - Codecs are views over caller-provided bytes plus validated `Repr` values; they never
//!   allocate and never use `unsafe`. The crate denies `unsafe` everywhere but the one call
//!   that maps the retransmission store's file (`retransmit::map_file`).
//! - Untrusted bytes are judged in one place per layer (`new_checked`, `Repr::parse`,
//!   [`subscriber::Subscriber::handle_packet`]); bad input is a typed error, never a panic.
//! - The encoder, packetiser, publisher, store, re-request server and subscriber allocate only
//!   at construction; drivers allocate their buffers when they start.
//!
//! # Panic contract
//! As in smoltcp's `wire`: after `new_checked` succeeds no getter panics; `emit` never panics
//! on a buffer of exactly `buffer_len()` bytes. Assertions (on in release) guard this crate's
//! own invariants, never the input.

#![deny(unsafe_code)]

pub mod book;
pub mod bypass;
pub mod encoder;
pub mod itch;
pub mod moldudp64;
pub mod net;
pub mod publisher;
pub mod rerequest;
pub mod retransmit;
pub mod service;
pub mod snapshot;
pub mod subscriber;
pub mod subscriber_net;
pub mod tap;
pub mod wire;

mod config;
pub use config::{FeedConfig, FeedConfigError};
