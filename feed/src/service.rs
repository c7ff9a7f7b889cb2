//! The whole publishing side in one call: [`FeedService::start`] creates the retransmission
//! store, binds the re-request (UDP) and snapshot (TCP) servers, opens the multicast sender,
//! and spawns the three threads (`feed-publisher`, `feed-rerequest`, `feed-snapshot`).
//! The node hands it the record source closure and, from time to time, engine snapshots
//! ([`FeedService::publish_snapshot`]); [`FeedService::finish`] waits for the publisher to
//! end the session (the source said [`FeedPoll::Finished`]) and stops the servers.
//!
//! Threads inherit the caller's network namespace. The node that wants the publisher pinned
//! to a core can do so from the source closure's first call, or use the pieces directly
//! ([`publisher::run`], [`rerequest::run`], [`snapshot::run`]).
//!
//! **Live counters.** The three threads publish their counters into one shared
//! [`FeedMetrics`] ([`FeedService::metrics`]) while they run, so an operator's metrics
//! endpoint can read them: the publisher at most every [`COUNTER_PUBLISH_NS`] (and at the
//! session's end), the servers after each request or turn. Each value has one writer thread,
//! which only stores (Relaxed); readers load (Relaxed). No lock, no allocation.
//!
//! # Invariants
//! - Everything that can fail at start-up (configuration, file, sockets) fails in `start`,
//!   before any thread runs; nothing is left running when `start` returns an error.
//! - The servers outlive the publisher: `finish` stops them only after the session ended, so
//!   late re-requests are answered until then.

use core::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use peregrine_engine::{EngineConfig, EngineSnapshot};

use crate::bypass::FrameCounters;
use crate::config::{FeedConfig, FeedConfigError};
use crate::encoder::{EncodeError, Encoder, EncoderConfig};
use crate::net::{multicast_sender, unicast_socket};
use crate::publisher::{
    self, FeedPoll, PacketOut, Publisher, PublisherCounters, PublisherError, PublisherReport,
};
use crate::rerequest::{self, RerequestConfigError, RerequestCounters, RerequestServer};
use crate::retransmit::{SharedStore, Store, StoreError};
use crate::snapshot::{self, BookSnapshot, SnapshotCounters, SnapshotHandle};

/// Least time between two stores of the publisher's counters into [`FeedMetrics`].
pub const COUNTER_PUBLISH_NS: u64 = 10_000_000;

/// Declares an atomic mirror of a plain `Copy` counter struct: `store` copies every field in
/// (one writer thread), `load` copies every field out (any thread). Relaxed both ways: a
/// reader needs each value, not an ordering between them.
macro_rules! live_mirror {
    ($(#[$meta:meta])* $live:ident of $plain:ident { $($field:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub struct $live {
            $($field: AtomicU64,)*
        }

        impl $live {
            /// Publishes `counters` (its single writer only).
            pub fn store(&self, counters: &$plain) {
                $(self.$field.store(counters.$field, Ordering::Relaxed);)*
            }

            /// The last published values.
            pub fn load(&self) -> $plain {
                $plain {
                    $($field: self.$field.load(Ordering::Relaxed),)*
                }
            }
        }
    };
}

live_mirror!(
    /// The publisher thread's [`PublisherCounters`].
    LivePublisher of PublisherCounters {
        events, messages, packets, heartbeats, end_of_session_packets, flushes_full,
        flushes_batch, flushes_delay, bytes, last_input_seq,
    }
);

live_mirror!(
    /// The publisher thread's bypass [`FrameCounters`] (zero on a kernel socket).
    LiveFrames of FrameCounters { frames, payload_bytes, dropped, tx_waits }
);

live_mirror!(
    /// The re-request thread's [`RerequestCounters`].
    LiveRerequest of RerequestCounters {
        requests, granted, clamped, messages_answered, packets_answered, malformed,
        wrong_session, zero_count, evicted, not_yet_published, rate_limited, table_full,
        send_errors, answers_cut,
    }
);

live_mirror!(
    /// The snapshot thread's [`SnapshotCounters`].
    LiveSnapshot of SnapshotCounters {
        accepted, refused, complete, rejected, protocol_errors, logouts, timeouts, io_errors,
    }
);

/// The feed threads' counters while they run (module docs: one writer per part).
#[derive(Debug, Default)]
pub struct FeedMetrics {
    /// Written by the publisher thread.
    pub publisher: LivePublisher,
    /// Written by the publisher thread: packets its output refused.
    send_errors: AtomicU64,
    /// Written by the publisher thread: the sequence number the next message gets.
    next_seq: AtomicU64,
    /// Written by the publisher thread, on a kernel-bypass output only.
    pub frames: LiveFrames,
    /// Written by the re-request thread.
    pub rerequest: LiveRerequest,
    /// Written by the snapshot thread.
    pub snapshot: LiveSnapshot,
}

impl FeedMetrics {
    /// Publisher thread: its report so far.
    pub fn store_publisher(&self, report: &PublisherReport) {
        self.publisher.store(&report.counters);
        self.send_errors
            .store(report.send_errors, Ordering::Relaxed);
        self.next_seq.store(report.next_seq, Ordering::Relaxed);
    }

    /// The publisher's last published report (`last_send_error` is not mirrored: `None`).
    pub fn load_publisher(&self) -> PublisherReport {
        PublisherReport {
            counters: self.publisher.load(),
            next_seq: self.next_seq.load(Ordering::Relaxed),
            send_errors: self.send_errors.load(Ordering::Relaxed),
            last_send_error: None,
        }
    }
}

/// Why the service could not start or finish.
#[derive(Debug)]
pub enum ServiceError {
    Config(FeedConfigError),
    Publisher(PublisherError),
    Store(StoreError),
    Rerequest(RerequestConfigError),
    /// A socket could not be opened or bound, or a server failed while running.
    Io(io::Error),
    /// A feed thread panicked (its name).
    Thread(&'static str),
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Config(error) => write!(f, "{error}"),
            ServiceError::Publisher(error) => write!(f, "feed.publisher: {error}"),
            ServiceError::Store(error) => write!(f, "feed.retransmit: {error}"),
            ServiceError::Rerequest(error) => write!(f, "feed.rerequest: {error}"),
            ServiceError::Io(error) => write!(f, "feed sockets: {error}"),
            ServiceError::Thread(name) => write!(f, "thread {name} panicked"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<io::Error> for ServiceError {
    fn from(error: io::Error) -> Self {
        ServiceError::Io(error)
    }
}

fn spawn<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> io::Result<JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(body)
}

/// Stops the server threads that were started (start-up failed after them).
fn stop_servers(
    stop: &AtomicBool,
    rerequest: Option<JoinHandle<io::Result<RerequestCounters>>>,
    snapshot: Option<JoinHandle<io::Result<SnapshotCounters>>>,
) {
    // Relaxed: a plain flag; the threads are joined right after.
    stop.store(true, Ordering::Relaxed);
    if let Some(thread) = rerequest {
        let _ = thread.join();
    }
    if let Some(thread) = snapshot {
        let _ = thread.join();
    }
}

/// What the three threads did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedReport {
    pub publisher: PublisherReport,
    pub rerequest: RerequestCounters,
    pub snapshot: SnapshotCounters,
}

/// The running publishing side.
#[derive(Debug)]
pub struct FeedService {
    publisher: JoinHandle<PublisherReport>,
    rerequest: JoinHandle<io::Result<RerequestCounters>>,
    snapshot: JoinHandle<io::Result<SnapshotCounters>>,
    snapshots: SnapshotHandle,
    encoder: Encoder,
    store: SharedStore,
    stop: Arc<AtomicBool>,
    rerequest_addr: SocketAddr,
    snapshot_addr: SocketAddr,
    metrics: Arc<FeedMetrics>,
}

impl FeedService {
    /// Starts everything (see the module doc), publishing on a kernel UDP multicast socket.
    /// `session_start_timestamp_ns` stamps the start of the session's messages (System
    /// Event `O`, Stock Directory).
    pub fn start(
        config: &FeedConfig,
        engine: &EngineConfig,
        encoder: EncoderConfig,
        session_start_timestamp_ns: u64,
        source: impl FnMut() -> FeedPoll + Send + 'static,
    ) -> Result<FeedService, ServiceError> {
        let sender = multicast_sender(&config.multicast)?;
        FeedService::start_with(
            config,
            engine,
            encoder,
            session_start_timestamp_ns,
            sender,
            source,
        )
    }

    /// As [`FeedService::start`], publishing through `out` (a kernel-bypass frame output,
    /// [`crate::bypass::FrameOut`]) instead of a socket of its own; `config.multicast` is then
    /// not used. The re-request and snapshot servers stay on kernel sockets.
    pub fn start_with<O: PacketOut + Send + 'static>(
        config: &FeedConfig,
        engine: &EngineConfig,
        encoder: EncoderConfig,
        session_start_timestamp_ns: u64,
        out: O,
        source: impl FnMut() -> FeedPoll + Send + 'static,
    ) -> Result<FeedService, ServiceError> {
        let session = config.session().map_err(ServiceError::Config)?;
        let publisher = Publisher::new(&config.publisher, session, engine, encoder)
            .map_err(ServiceError::Publisher)?;
        let encoder = publisher.encoder().clone();
        let server =
            RerequestServer::new(&config.rerequest, session).map_err(ServiceError::Rerequest)?;
        let store = Store::create(&config.retransmit, session, 1).map_err(ServiceError::Store)?;
        let store: SharedStore = Arc::new(Mutex::new(store));
        let rerequest_socket = unicast_socket(
            config.rerequest.listen,
            config.rerequest.socket_buffer_bytes,
        )?;
        let rerequest_addr = rerequest_socket.local_addr()?;
        let listener = TcpListener::bind(config.snapshot.listen)?;
        let snapshot_addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let snapshots = SnapshotHandle::new();
        let metrics = Arc::new(FeedMetrics::default());
        let rerequest = {
            let (store, stop, live) = (store.clone(), stop.clone(), metrics.clone());
            spawn("feed-rerequest", move || {
                let live = &live.rerequest;
                rerequest::run_observed(server, &rerequest_socket, &store, &stop, live)
            })?
        };
        let snapshot = {
            let (handle, flag, config) = (snapshots.clone(), stop.clone(), config.snapshot);
            let live = metrics.clone();
            spawn("feed-snapshot", move || {
                let live = &live.snapshot;
                snapshot::run_observed(&config, listener, session, &handle, &flag, live)
            })
        };
        let snapshot = match snapshot {
            Ok(thread) => thread,
            Err(error) => {
                stop_servers(&stop, Some(rerequest), None);
                return Err(error.into());
            }
        };
        let store_for_publisher = store.clone();
        let live = metrics.clone();
        let publisher = spawn("feed-publisher", move || {
            let store = store_for_publisher;
            let start_ns = session_start_timestamp_ns;
            publisher::run_observed(publisher, out, &store, start_ns, source, &live)
        });
        let publisher = match publisher {
            Ok(thread) => thread,
            Err(error) => {
                stop_servers(&stop, Some(rerequest), Some(snapshot));
                return Err(error.into());
            }
        };
        Ok(FeedService {
            publisher,
            rerequest,
            snapshot,
            snapshots,
            encoder,
            store,
            stop,
            rerequest_addr,
            snapshot_addr,
            metrics,
        })
    }

    /// The threads' live counters (module docs), for a metrics endpoint to read.
    pub fn metrics(&self) -> &Arc<FeedMetrics> {
        &self.metrics
    }

    /// Where new snapshots go (shared with the snapshot server).
    pub fn snapshots(&self) -> &SnapshotHandle {
        &self.snapshots
    }

    /// Encodes an engine snapshot taken when the feed's next sequence number was `join_seq`
    /// ([`crate::publisher::FeedSeq::next_seq`]) and serves it to new snapshot clients.
    /// Allocates; call it off the core thread's hot path.
    pub fn publish_snapshot(
        &self,
        engine: &EngineSnapshot,
        join_seq: u64,
        timestamp_ns: u64,
    ) -> Result<(), EncodeError> {
        let snapshot = BookSnapshot::from_engine(&self.encoder, engine, join_seq, timestamp_ns)?;
        self.snapshots.publish(Arc::new(snapshot));
        Ok(())
    }

    /// The feed's encoder (for [`BookSnapshot::from_engine`] elsewhere).
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// The re-request server's bound address (useful with port 0 in the configuration).
    pub fn rerequest_addr(&self) -> SocketAddr {
        self.rerequest_addr
    }

    /// The snapshot server's bound address.
    pub fn snapshot_addr(&self) -> SocketAddr {
        self.snapshot_addr
    }

    /// Waits for the publisher to end the session, then stops and joins the servers.
    pub fn finish(self) -> Result<FeedReport, ServiceError> {
        let publisher = self.publisher.join();
        // Relaxed: a plain flag; the server threads are joined right after.
        self.stop.store(true, Ordering::Relaxed);
        let rerequest = self.rerequest.join();
        let snapshot = self.snapshot.join();
        let publisher = publisher.map_err(|_| ServiceError::Thread("feed-publisher"))?;
        let rerequest = rerequest.map_err(|_| ServiceError::Thread("feed-rerequest"))??;
        let snapshot = snapshot.map_err(|_| ServiceError::Thread("feed-snapshot"))??;
        Ok(FeedReport {
            publisher,
            rerequest,
            snapshot,
        })
    }
}
