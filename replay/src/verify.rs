//! Certification replay: re-run the core over a journal and compare its outputs with the
//! digests recorded live.
//!
//! The journal holds inputs and, every `digest_interval_inputs` inputs (and at snapshots and
//! at close), a digest record: the rolling digest and count of all events emitted so far. The
//! live events themselves are not journaled. So a divergence is located to a *window*: the
//! inputs after the last digest that matched, up to the first digest that does not. The
//! report names that window, the recorded digest and event count against the replayed ones,
//! and lists, input by input, the events the replay produced in that window: what the
//! certification engineer can compare with the venue's own output logs. An exact "expected
//! event" cannot be shown because the journal does not hold it.
//!
//! # Invariants
//! - Verification reads through the same cursor as recovery: every CRC is checked, a torn
//!   tail is cut, a corrupt record stops it with the file and offset.
//! - The window buffers are bounded ([`WINDOW_EVENTS_MAX`], [`WINDOW_INPUTS_MAX`]).

use peregrine_engine::record::decode_command;
use peregrine_engine::{Event, EventSink, Sequenced};
use peregrine_risk::Core;

use crate::config::CoreConfig;
use crate::digest::OutputDigest;
use crate::format::{DigestPayload, RecordKind};
use crate::journal::segment_path;
use crate::reader::{JournalReader, Record, TornTail};
use crate::stage::StageError;

/// Most events of one window kept for a divergence report.
pub const WINDOW_EVENTS_MAX: usize = 1 << 20;
/// Most inputs of one window kept for a divergence report.
pub const WINDOW_INPUTS_MAX: usize = 1 << 20;

/// Where replayed outputs first differ from the recorded digests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// First input of the window (after the last matching digest).
    pub window_first_seq: u64,
    /// Seq of the digest record that does not match.
    pub window_last_seq: u64,
    pub expected: DigestPayload,
    pub actual: OutputDigest,
    /// Each input of the window with the events the replay produced for it (`events` indexes
    /// into `window_events`). Complete unless `window_truncated`.
    pub window_inputs: Vec<(Sequenced, core::ops::Range<usize>)>,
    pub window_events: Vec<Event>,
    pub window_truncated: bool,
}

/// Outcome of a verification run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub inputs: u64,
    pub last_seq: u64,
    pub digests_checked: u64,
    pub final_digest: OutputDigest,
    pub torn: Option<TornTail>,
    /// `None`: every recorded digest was reproduced.
    pub divergence: Option<Divergence>,
}

/// Decodes a command record into the sequenced input.
pub(crate) fn decode_input(
    reader: &JournalReader,
    record: &Record<'_>,
) -> Result<Sequenced, StageError> {
    let command = decode_command(record.payload).map_err(|_| StageError::BadCommand {
        path: segment_path(reader.dir(), record.segment_index),
        offset: record.offset,
    })?;
    Ok(Sequenced {
        seq: record.seq,
        timestamp_ns: record.timestamp_ns,
        command,
    })
}

/// The current window's replayed events.
struct Window {
    first_seq: u64,
    inputs: Vec<(Sequenced, core::ops::Range<usize>)>,
    events: Vec<Event>,
    truncated: bool,
}

impl Window {
    fn reset(&mut self, next_seq: u64) {
        self.first_seq = next_seq;
        self.inputs.clear();
        self.events.clear();
        self.truncated = false;
    }
}

/// Digests events and keeps them for the window (up to the cap).
struct VerifySink<'a> {
    digest: &'a mut OutputDigest,
    window: &'a mut Window,
}

impl EventSink for VerifySink<'_> {
    fn push(&mut self, event: Event) {
        self.digest.add(&event);
        if self.window.events.len() < WINDOW_EVENTS_MAX {
            self.window.events.push(event);
        } else {
            self.window.truncated = true;
        }
    }
}

/// Replays the whole journal from a fresh core built from `config` (default: the config the
/// journal embeds; a different one is refused) and checks every digest record. `progress` is
/// called with the seq reached about every 64 Ki inputs.
pub fn verify_journal(
    reader: &JournalReader,
    config: Option<&CoreConfig>,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, StageError> {
    let config = resolve_config(reader, config)?;
    let mut core =
        Core::with_market(config.engine, config.risk, config.market).map_err(StageError::Core)?;
    let mut digest = OutputDigest::default();
    let mut window = Window {
        first_seq: 1,
        inputs: Vec::new(),
        events: Vec::new(),
        truncated: false,
    };
    let mut report = VerifyReport {
        inputs: 0,
        last_seq: 0,
        digests_checked: 0,
        final_digest: digest,
        torn: None,
        divergence: None,
    };
    let mut cursor = reader.cursor();
    while let Some(record) = cursor.next_record()? {
        match record.kind {
            RecordKind::Config => {}
            RecordKind::Command => {
                let input = decode_input(reader, &record)?;
                replay_input(&mut core, &mut digest, &mut window, &input);
                report.inputs += 1;
                if input.seq.is_multiple_of(1 << 16) {
                    progress(input.seq);
                }
            }
            RecordKind::Digest => {
                // The cursor has checked that a digest record's payload parses.
                let Some(expected) = DigestPayload::parse(record.payload) else {
                    continue;
                };
                report.digests_checked += 1;
                if expected.digest != digest.state || expected.event_count != digest.event_count {
                    report.divergence = Some(divergence(&mut window, record.seq, expected, digest));
                    break;
                }
                window.reset(record.seq + 1);
            }
        }
    }
    report.last_seq = core.last_seq();
    report.final_digest = digest;
    report.torn = cursor.end().and_then(|end| end.torn.clone());
    progress(report.last_seq);
    Ok(report)
}

/// The config to replay with: the given one if its digest is the journal's, else the
/// journal's own (embedded) one; a different given config is refused.
fn resolve_config(
    reader: &JournalReader,
    config: Option<&CoreConfig>,
) -> Result<CoreConfig, StageError> {
    let config = match config {
        Some(config) => config.clone(),
        None => CoreConfig::decode(reader.config()).map_err(StageError::JournalConfig)?,
    };
    let config_digest = config.digest();
    if config_digest != reader.config_digest() {
        let journal_digest = reader.config_digest();
        return Err(StageError::ConfigMismatch {
            journal_digest,
            config_digest,
        });
    }
    Ok(config)
}

/// Applies one input, digesting its events and keeping them for the window.
fn replay_input(
    core: &mut Core,
    digest: &mut OutputDigest,
    window: &mut Window,
    input: &Sequenced,
) {
    let first = window.events.len();
    core.apply(input, &mut VerifySink { digest, window });
    if window.inputs.len() < WINDOW_INPUTS_MAX {
        window.inputs.push((*input, first..window.events.len()));
    } else {
        window.truncated = true;
    }
}

fn divergence(
    window: &mut Window,
    digest_seq: u64,
    expected: DigestPayload,
    actual: OutputDigest,
) -> Divergence {
    Divergence {
        window_first_seq: window.first_seq,
        window_last_seq: digest_seq,
        expected,
        actual,
        window_inputs: std::mem::take(&mut window.inputs),
        window_events: std::mem::take(&mut window.events),
        window_truncated: window.truncated,
    }
}
