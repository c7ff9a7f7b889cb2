//! The feed's metric families, rendered from the feed crate's [`FeedMetrics`] (loaded with
//! Relaxed atomics; see the parent module's docs).
//!
//! # Invariants
//! - Every family is written with its `# HELP` and `# TYPE` lines, feed or no feed, so a
//!   dashboard sees the same series whether or not the feed started (`peregrine_feed_up`
//!   says which).
//! - Counter names end in `_total`; gauges never do (checked by a test).

use std::fmt::Write as _;

use peregrine_feed::bypass::FrameCounters;
use peregrine_feed::publisher::PublisherReport;
use peregrine_feed::rerequest::RerequestCounters;
use peregrine_feed::service::FeedMetrics;
use peregrine_feed::snapshot::SnapshotCounters;

use super::Kind;

/// One family: its name, type, help and samples (label value, value); `label` is the label's
/// name, empty for an unlabelled family of one sample.
struct Family<'a> {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    label: &'static str,
    samples: &'a [(&'static str, u64)],
}

fn write_family(out: &mut String, family: &Family<'_>) {
    let kind = match family.kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
    };
    let name = family.name;
    let _ = writeln!(out, "# HELP {name} {}", family.help);
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (label_value, value) in family.samples {
        if family.label.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{}=\"{label_value}\"}} {value}", family.label);
        }
    }
}

/// An unlabelled family of one sample.
struct Single {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    value: u64,
}

const fn single(name: &'static str, kind: Kind, help: &'static str, value: u64) -> Single {
    Single {
        name,
        kind,
        help,
        value,
    }
}

fn write_singles(out: &mut String, singles: &[Single]) {
    for one in singles {
        let family = Family {
            name: one.name,
            kind: one.kind,
            help: one.help,
            label: "",
            samples: &[("", one.value)],
        };
        write_family(out, &family);
    }
}

/// Every feed family; zeros (and `peregrine_feed_up 0`) when `feed` is `None`.
pub(super) fn render_feed(out: &mut String, feed: Option<&FeedMetrics>) {
    let up = u64::from(feed.is_some());
    let publisher = feed.map(FeedMetrics::load_publisher).unwrap_or_default();
    let frames = feed.map(|f| f.frames.load()).unwrap_or_default();
    let rerequest = feed.map(|f| f.rerequest.load()).unwrap_or_default();
    let snapshot = feed.map(|f| f.snapshot.load()).unwrap_or_default();
    let up = single(
        "peregrine_feed_up",
        Kind::Gauge,
        "1 when the market-data feed is running, 0 when it is disabled or did not start.",
        up,
    );
    write_singles(out, &[up]);
    render_publisher(out, &publisher, &frames);
    render_rerequest(out, &rerequest);
    render_snapshot(out, &snapshot);
}

fn render_publisher(out: &mut String, report: &PublisherReport, frames: &FrameCounters) {
    use Kind::{Counter, Gauge};
    let c = &report.counters;
    let families = [
        single(
            "peregrine_feed_events_total",
            Counter,
            "Core events handed to the feed publisher (published as ITCH or not).",
            c.events,
        ),
        single(
            "peregrine_feed_messages_total",
            Counter,
            "ITCH messages published (session start and end included).",
            c.messages,
        ),
        single(
            "peregrine_feed_packets_total",
            Counter,
            "MoldUDP64 packets with messages sent.",
            c.packets,
        ),
        single(
            "peregrine_feed_heartbeats_total",
            Counter,
            "MoldUDP64 heartbeats sent (no packet for a heartbeat interval).",
            c.heartbeats,
        ),
        single(
            "peregrine_feed_end_of_session_packets_total",
            Counter,
            "MoldUDP64 end-of-session packets sent.",
            c.end_of_session_packets,
        ),
        single(
            "peregrine_feed_bytes_total",
            Counter,
            "Bytes of all feed packets sent, MoldUDP64 headers included.",
            c.bytes,
        ),
        single(
            "peregrine_feed_send_errors_total",
            Counter,
            "Feed packets the socket or bypass output refused (kept for re-requests).",
            report.send_errors,
        ),
        single(
            "peregrine_feed_next_seq",
            Gauge,
            "MoldUDP64 sequence number the next feed message gets (published messages + 1).",
            report.next_seq,
        ),
        single(
            "peregrine_feed_last_input_seq",
            Gauge,
            "Highest journal input sequence number whose events reached the feed publisher.",
            c.last_input_seq,
        ),
        single(
            "peregrine_feed_bypass_frames_total",
            Counter,
            "Frames the kernel-bypass feed output queued (0 on a kernel socket).",
            frames.frames,
        ),
        single(
            "peregrine_feed_bypass_frames_dropped_total",
            Counter,
            "Feed packets the bypass output dropped (too long, or no transmit buffer in time).",
            frames.dropped,
        ),
        single(
            "peregrine_feed_bypass_tx_waits_total",
            Counter,
            "Times the bypass feed output flushed to get a transmit buffer back.",
            frames.tx_waits,
        ),
    ];
    write_singles(out, &families);
    let flushes = [
        ("full", c.flushes_full),
        ("batch", c.flushes_batch),
        ("delay", c.flushes_delay),
    ];
    write_family(
        out,
        &Family {
            name: "peregrine_feed_flushes_total",
            kind: Kind::Counter,
            help: "Feed packets sent, by why they left (full, batch end or idle, flush delay).",
            label: "reason",
            samples: &flushes,
        },
    );
}

fn render_rerequest(out: &mut String, r: &RerequestCounters) {
    use Kind::Counter;
    let families = [
        single(
            "peregrine_feed_rerequests_total",
            Counter,
            "MoldUDP64 re-requests received (granted or refused).",
            r.requests,
        ),
        single(
            "peregrine_feed_rerequests_granted_total",
            Counter,
            "Re-requests answered from the retransmission store.",
            r.granted,
        ),
        single(
            "peregrine_feed_rerequests_clamped_total",
            Counter,
            "Granted re-requests answered with fewer messages than asked.",
            r.clamped,
        ),
        single(
            "peregrine_feed_rerequest_messages_resent_total",
            Counter,
            "Messages sent again in answer to re-requests.",
            r.messages_answered,
        ),
        single(
            "peregrine_feed_rerequest_packets_resent_total",
            Counter,
            "Packets sent in answer to re-requests.",
            r.packets_answered,
        ),
        single(
            "peregrine_feed_rerequest_send_errors_total",
            Counter,
            "Re-request answer packets the kernel refused.",
            r.send_errors,
        ),
        single(
            "peregrine_feed_rerequest_answers_cut_total",
            Counter,
            "Re-request answers cut short because the store evicted their messages meanwhile.",
            r.answers_cut,
        ),
    ];
    write_singles(out, &families);
    let refused = [
        ("malformed", r.malformed),
        ("wrong_session", r.wrong_session),
        ("zero_count", r.zero_count),
        ("evicted", r.evicted),
        ("not_yet_published", r.not_yet_published),
        ("rate_limited", r.rate_limited),
        ("table_full", r.table_full),
    ];
    write_family(
        out,
        &Family {
            name: "peregrine_feed_rerequests_refused_total",
            kind: Kind::Counter,
            help: "Re-requests dropped unanswered, by reason.",
            label: "reason",
            samples: &refused,
        },
    );
}

fn render_snapshot(out: &mut String, s: &SnapshotCounters) {
    use Kind::Counter;
    let families = [
        single(
            "peregrine_feed_snapshot_clients_total",
            Counter,
            "Connections the snapshot server accepted.",
            s.accepted,
        ),
        single(
            "peregrine_feed_snapshot_clients_refused_total",
            Counter,
            "Snapshot connections closed at once because the client limit was reached.",
            s.refused,
        ),
    ];
    write_singles(out, &families);
    let ends = [
        ("complete", s.complete),
        ("rejected", s.rejected),
        ("protocol_error", s.protocol_errors),
        ("logout", s.logouts),
        ("timeout", s.timeouts),
        ("io_error", s.io_errors),
    ];
    write_family(
        out,
        &Family {
            name: "peregrine_feed_snapshot_sessions_ended_total",
            kind: Kind::Counter,
            help: "Snapshot sessions ended, by outcome (complete: the whole book was sent).",
            label: "outcome",
            samples: &ends,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn families(text: &str) -> Vec<(&str, &str)> {
        text.lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.split_once(' '))
            .collect()
    }

    #[test]
    fn without_a_feed_every_family_is_zero_and_up_is_0() {
        let mut text = String::new();
        render_feed(&mut text, None);
        assert!(text.contains("\nperegrine_feed_up 0\n"), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.ends_with(" 0"), "{line}");
        }
        for (name, kind) in families(&text) {
            assert_eq!(name.ends_with("_total"), kind == "counter", "{name}");
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
        }
    }

    #[test]
    fn stored_counters_are_rendered_under_their_names() {
        let feed = FeedMetrics::default();
        let mut report = PublisherReport::default();
        report.counters.packets = 7;
        report.counters.messages = 30;
        report.counters.flushes_delay = 2;
        report.next_seq = 31;
        report.send_errors = 1;
        feed.store_publisher(&report);
        feed.rerequest.store(&RerequestCounters {
            requests: 5,
            granted: 3,
            messages_answered: 12,
            rate_limited: 2,
            ..RerequestCounters::default()
        });
        feed.snapshot.store(&SnapshotCounters {
            accepted: 4,
            complete: 3,
            ..SnapshotCounters::default()
        });
        feed.frames.store(&FrameCounters {
            dropped: 6,
            ..FrameCounters::default()
        });
        let mut text = String::new();
        render_feed(&mut text, Some(&feed));
        for expected in [
            "peregrine_feed_up 1",
            "peregrine_feed_packets_total 7",
            "peregrine_feed_messages_total 30",
            "peregrine_feed_next_seq 31",
            "peregrine_feed_send_errors_total 1",
            "peregrine_feed_flushes_total{reason=\"delay\"} 2",
            "peregrine_feed_rerequests_total 5",
            "peregrine_feed_rerequests_granted_total 3",
            "peregrine_feed_rerequest_messages_resent_total 12",
            "peregrine_feed_rerequests_refused_total{reason=\"rate_limited\"} 2",
            "peregrine_feed_snapshot_clients_total 4",
            "peregrine_feed_snapshot_sessions_ended_total{outcome=\"complete\"} 3",
            "peregrine_feed_bypass_frames_dropped_total 6",
        ] {
            assert!(
                text.lines().any(|line| line == expected),
                "{expected}\n{text}"
            );
        }
    }
}
