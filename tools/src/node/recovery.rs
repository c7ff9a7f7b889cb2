//! Start-up recovery of the gateway's view after a crash: the journal may hold inputs whose
//! events never reached the users' logs (the node died between the core and the gateway).
//! Their events are recomputed here, by replaying the journal into a scratch core (from the
//! newest snapshot at or before the checkpoint, else from the start), and handed to a sink (the
//! node routes them to the OUCH gateway and the FIX gateway, each after its own checkpoint)
//! as if the core had just emitted them; each gateway's per-user position check skips any
//! event a log already holds.
//!
//! # Invariants
//! - Events are regenerated for inputs `checkpoint + 1 ..= journal last seq` only, in order,
//!   with the same `(input_seq, event_index)` the live core gave them (same journal ⇒ same
//!   events: the determinism contract).
//! - The scratch core is dropped afterwards; the live core comes from `CoreStage::open`.

use std::path::Path;

use anyhow::Context;
use peregrine_engine::record::decode_command;
use peregrine_engine::{Event, Sequenced};
use peregrine_replay::snapshot::{list_snapshots, load_snapshot};
use peregrine_replay::{CoreConfig, JournalReader, RecordKind};
use peregrine_risk::Core;

use super::records::{OutboundKind, OutboundRecord};

/// A scratch core at or before `seq`: the newest usable snapshot, else a fresh core.
fn scratch_core(dir: &Path, config: &CoreConfig, seq: u64) -> anyhow::Result<Core> {
    for (snapshot_seq, path) in list_snapshots(dir).unwrap_or_default() {
        if snapshot_seq > seq {
            continue;
        }
        let Ok(snapshot) = load_snapshot(&path) else {
            continue;
        };
        let restored = Core::restore_with_market(
            config.engine.clone(),
            config.risk.clone(),
            config.market.clone(),
            &snapshot.core,
        );
        if let Ok(core) = restored {
            return Ok(core);
        }
    }
    Core::with_market(
        config.engine.clone(),
        config.risk.clone(),
        config.market.clone(),
    )
    .map_err(|error| anyhow::anyhow!("core: {error}"))
}

/// Regenerates the events of inputs after `checkpoint_seq` and hands each record (every
/// event, then the input's `InputDone`) to `route`; returns the number of inputs routed.
pub fn regenerate(
    journal_dir: &Path,
    config: &CoreConfig,
    checkpoint_seq: u64,
    mut route: impl FnMut(&OutboundRecord) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let reader = JournalReader::open(journal_dir)
        .with_context(|| format!("cannot read journal {}", journal_dir.display()))?;
    let mut core = scratch_core(journal_dir, config, checkpoint_seq)?;
    let mut events: Vec<Event> = Vec::with_capacity(1024);
    let mut routed = 0;
    let mut cursor = reader.cursor();
    while let Some(record) = cursor.next_record()? {
        if record.kind != RecordKind::Command || record.seq <= core.last_seq() {
            continue;
        }
        let command = decode_command(record.payload).map_err(|_| {
            anyhow::anyhow!("journal command at seq {} does not decode", record.seq)
        })?;
        let input = Sequenced {
            seq: record.seq,
            timestamp_ns: record.timestamp_ns,
            command,
        };
        events.clear();
        core.apply(&input, &mut events);
        if input.seq <= checkpoint_seq {
            continue;
        }
        for (index, event) in events.iter().enumerate() {
            route(&OutboundRecord {
                input_seq: input.seq,
                timestamp_ns: input.timestamp_ns,
                event_index: u32::try_from(index)?,
                kind: OutboundKind::Event(*event),
            })?;
        }
        route(&OutboundRecord {
            input_seq: input.seq,
            timestamp_ns: input.timestamp_ns,
            event_index: u32::try_from(events.len())?,
            kind: OutboundKind::InputDone,
        })?;
        routed += 1;
    }
    Ok(routed)
}
