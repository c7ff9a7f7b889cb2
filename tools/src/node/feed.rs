//! The feed stage wired into the node: the core hands every event (and the end of each batch)
//! to a third SPSC ring, and a feed thread runs `peregrine_feed::publisher::run` on it: ITCH
//! 5.0 messages in MoldUDP64 packets on a UDP multicast group, every packet kept in the
//! retransmission store (`DATA_DIR/feed.store`) first.
//!
//! # Invariants
//! - The core never drops a feed record: a full ring makes it wait (counted in
//!   `feed_full_waits`), exactly like the gateway's ring.
//! - The feed thread ends only after the core has finished and the ring is empty: every event
//!   the core emitted is published before the session's end.
//! - A feed that cannot start (no multicast route, store file) is logged and the node runs
//!   without it; publishing is never a reason to stop order entry.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context;
use peregrine_engine::Event;
use peregrine_feed::encoder::EncoderConfig;
use peregrine_feed::moldudp64::Session;
use peregrine_feed::net::{multicast_sender, unix_now_ns, MulticastConfig};
use peregrine_feed::publisher::{
    run, FeedPoll, FeedRecord, Publisher, PublisherConfig, PublisherReport,
};
use peregrine_feed::retransmit::{RetransmitConfig, Store};
use peregrine_tuning::ring::{channel, Consumer, Producer};
use peregrine_tuning::wait::Waiter;
use serde::Deserialize;

use crate::config::NodeConfig;

/// `[feed]`: the market-data publisher.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedSection {
    pub enabled: bool,
    pub group: Ipv4Addr,
    pub port: u16,
    /// Interface address to send on (`127.0.0.1` keeps it on this host).
    pub interface: Ipv4Addr,
    /// MoldUDP64 session name (at most 10 characters).
    pub session: String,
    pub ring_records: usize,
}

impl Default for FeedSection {
    fn default() -> Self {
        FeedSection {
            enabled: true,
            group: Ipv4Addr::new(239, 192, 0, 1),
            port: 31_001,
            interface: Ipv4Addr::LOCALHOST,
            session: "PEREGRINE".to_string(),
            ring_records: 16_384,
        }
    }
}

/// The core's end of the feed ring.
pub struct FeedTap {
    producer: Producer<FeedRecord>,
    waiter: Waiter,
    pub full_waits: u64,
}

impl FeedTap {
    fn push(&mut self, record: FeedRecord) {
        let mut record = record;
        loop {
            match self.producer.try_push(record) {
                Ok(()) => {
                    self.waiter.reset();
                    return;
                }
                Err(full) => {
                    record = full.0;
                    self.full_waits += 1;
                    self.waiter.idle();
                }
            }
        }
    }

    pub fn event(&mut self, input_seq: u64, timestamp_ns: u64, event: Event) {
        self.push(FeedRecord::Event {
            input_seq,
            timestamp_ns,
            event,
        });
    }

    pub fn batch_end(&mut self) {
        self.push(FeedRecord::BatchEnd);
    }
}

/// A running feed thread.
pub struct FeedThread {
    handle: JoinHandle<PublisherReport>,
    core_finished: Arc<AtomicBool>,
}

impl FeedThread {
    /// Tells the feed that the core has emitted its last record, and waits for it to end
    /// the session.
    pub fn finish(self) -> anyhow::Result<PublisherReport> {
        // Release: pairs with the feed source's Acquire load; every record pushed before it
        // is visible to the feed thread when it sees the flag.
        self.core_finished.store(true, Ordering::Release);
        self.handle
            .join()
            .map_err(|_| anyhow::anyhow!("feed thread panicked"))
    }
}

/// Starts the feed thread if the config enables it; `None` (logged) if it cannot start.
pub fn start(config: &NodeConfig) -> Option<(FeedTap, FeedThread)> {
    if !config.feed.enabled {
        return None;
    }
    match try_start(config) {
        Ok(started) => Some(started),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "feed publisher not started");
            None
        }
    }
}

fn try_start(config: &NodeConfig) -> anyhow::Result<(FeedTap, FeedThread)> {
    let feed = &config.feed;
    let core = config.core_config();
    let session = Session::from_text(&feed.session).context("feed.session: 1..=10 ASCII")?;
    let publisher_config = PublisherConfig {
        end_of_session_repeat: 1,
        ..PublisherConfig::default()
    };
    let encoder = EncoderConfig::anonymous(core.engine.accounts.len());
    let publisher = Publisher::new(&publisher_config, session, &core.engine, encoder)
        .map_err(|error| anyhow::anyhow!("feed publisher: {error}"))?;
    let retransmit = RetransmitConfig {
        path: config.node.data_dir.join("feed.store"),
        ..RetransmitConfig::default()
    };
    let store = Store::create(&retransmit, session, 1)
        .map_err(|error| anyhow::anyhow!("feed store: {error:?}"))?;
    let store = Arc::new(Mutex::new(store));
    let multicast = MulticastConfig {
        group: feed.group,
        port: feed.port,
        interface: feed.interface,
        ..MulticastConfig::default()
    };
    let socket = multicast_sender(&multicast).context("feed multicast socket")?;
    let (producer, consumer) = channel::<FeedRecord>(feed.ring_records)?;
    let strategy = config.wait_strategy()?;
    let core_finished = Arc::new(AtomicBool::new(false));
    let finished = Arc::clone(&core_finished);
    let handle = std::thread::Builder::new()
        .name("feed".to_string())
        .spawn(move || {
            let mut source = Source {
                consumer,
                waiter: Waiter::new(strategy),
                core_finished: finished,
            };
            run(publisher, &socket, &store, unix_now_ns(), || source.poll())
        })?;
    tracing::info!(group = %multicast.group_addr(), "feed publisher started");
    let tap = FeedTap {
        producer,
        waiter: Waiter::new(strategy),
        full_waits: 0,
    };
    Ok((
        tap,
        FeedThread {
            handle,
            core_finished,
        },
    ))
}

/// The feed thread's record source.
struct Source {
    consumer: Consumer<FeedRecord>,
    waiter: Waiter,
    core_finished: Arc<AtomicBool>,
}

impl Source {
    fn poll(&mut self) -> FeedPoll {
        if let Some(record) = self.consumer.try_pop() {
            self.waiter.reset();
            return FeedPoll::Record(record);
        }
        // Acquire: pairs with `FeedThread::finish`; checked before the emptiness test so a
        // record pushed before the flag is still seen.
        if self.core_finished.load(Ordering::Acquire) && self.consumer.is_empty() {
            return FeedPoll::Finished {
                timestamp_ns: unix_now_ns(),
            };
        }
        self.waiter.idle();
        FeedPoll::Idle
    }
}
