//! The feed's whole configuration: one `[feed]` table of the node's TOML.
//!
//! ```toml
//! [feed]
//! session = "PRGN000001"          # MoldUDP64 session name, 1..=10 printable ASCII
//! [feed.publisher]
//! flush_delay_us = 100
//! [feed.multicast]
//! group = "239.192.0.1"
//! port = 31001
//! interface = "10.0.0.5"
//! [feed.retransmit]
//! path = "/var/lib/peregrine/feed-retransmit.dat"
//! [feed.rerequest]
//! listen = "10.0.0.5:31002"
//! [feed.snapshot]
//! listen = "10.0.0.5:31003"
//! ```
//!
//! # Invariants
//! - Every key has a default ([`Default`] of each section); unknown keys are errors.
//! - [`FeedConfig::session`] is the one place the session name is judged.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::moldudp64::Session;
use crate::net::MulticastConfig;
use crate::publisher::PublisherConfig;
use crate::rerequest::RerequestConfig;
use crate::retransmit::RetransmitConfig;
use crate::snapshot::SnapshotConfig;

/// Everything the feed's threads need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// MoldUDP64 session name (also the snapshot server's SoupBinTCP session).
    pub session: String,
    pub publisher: PublisherConfig,
    pub multicast: MulticastConfig,
    pub retransmit: RetransmitConfig,
    pub rerequest: RerequestConfig,
    pub snapshot: SnapshotConfig,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            session: "PRGN000001".to_string(),
            publisher: PublisherConfig::default(),
            multicast: MulticastConfig::default(),
            retransmit: RetransmitConfig::default(),
            rerequest: RerequestConfig::default(),
            snapshot: SnapshotConfig::default(),
        }
    }
}

/// Why a feed configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedConfigError {
    /// The session name is empty, longer than 10 bytes or not printable ASCII.
    Session,
}

impl fmt::Display for FeedConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedConfigError::Session => {
                write!(f, "feed.session must be 1 to 10 printable ASCII characters")
            }
        }
    }
}

impl std::error::Error for FeedConfigError {}

impl FeedConfig {
    /// The session name as it goes on the wire (left-justified, space-padded).
    pub fn session(&self) -> Result<Session, FeedConfigError> {
        if self.session.is_empty() {
            return Err(FeedConfigError::Session);
        }
        Session::from_text(&self.session).ok_or(FeedConfigError::Session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_reads() {
        let text = r#"
            session = "PRGN000001"
            [publisher]
            flush_delay_us = 100
            [multicast]
            group = "239.192.0.1"
            port = 31001
            interface = "10.0.0.5"
            [retransmit]
            path = "/var/lib/peregrine/feed-retransmit.dat"
            [rerequest]
            listen = "10.0.0.5:31002"
            [snapshot]
            listen = "10.0.0.5:31003"
        "#;
        let config: FeedConfig = toml::from_str(text).expect("toml");
        assert_eq!(config.session().expect("session").trimmed(), "PRGN000001");
        assert_eq!(config.multicast.port, 31_001);
        assert_eq!(
            config.rerequest.listen,
            "10.0.0.5:31002".parse().expect("addr")
        );
        assert_eq!(
            config.snapshot.listen,
            "10.0.0.5:31003".parse().expect("addr")
        );
        assert_eq!(config.publisher.heartbeat_interval_ms, 1_000);
        let empty: FeedConfig = toml::from_str("").expect("toml");
        assert_eq!(empty, FeedConfig::default());
    }

    #[test]
    fn bad_sessions_and_unknown_keys_are_refused() {
        for session in ["", "ELEVENCHARS", "tab\there"] {
            let config = FeedConfig {
                session: session.to_string(),
                ..FeedConfig::default()
            };
            assert_eq!(
                config.session(),
                Err(FeedConfigError::Session),
                "{session:?}"
            );
        }
        assert!(toml::from_str::<FeedConfig>("sesion = \"X\"\n").is_err());
    }
}
