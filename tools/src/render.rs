//! Human-readable and JSON renderings of journal records, commands and events, shared by the
//! `journal` and `replay` subcommands.
//!
//! # Invariants
//! - Rendering never panics on a record the cursor returned; a payload that does not decode
//!   is shown as such, with its error.

use peregrine_engine::record::decode_command;
use peregrine_engine::{Command, Event};
use peregrine_replay::{DigestPayload, Record, RecordKind};
use serde_json::{json, Value};

fn opt_u32(value: Option<u32>) -> Value {
    value.map_or(Value::Null, Value::from)
}

/// One line: the command's kind and its fields as `name=value`.
pub fn command_text(command: &Command) -> String {
    match command {
        Command::NewOrder(o) => format!(
            "NewOrder account={} session={} ref={} instrument={} {} {} {} price={} qty={} \
             display={} min={} post_only={} stp={}",
            o.account.0,
            o.session.0,
            o.client_ref,
            o.instrument.0,
            o.side,
            o.order_type,
            o.time_in_force,
            o.price,
            o.qty.0,
            o.display_qty.0,
            o.min_qty.0,
            o.post_only,
            o.stp
        ),
        Command::Cancel(c) => format!(
            "Cancel account={} session={} ref={} order={}",
            c.account.0, c.session.0, c.client_ref, c.order.0
        ),
        Command::Reduce(r) => format!(
            "Reduce account={} session={} ref={} order={} leaves={}",
            r.account.0, r.session.0, r.client_ref, r.order.0, r.leaves_qty.0
        ),
        Command::Replace(r) => format!(
            "Replace account={} session={} ref={} order={} price={} qty={} display={}",
            r.account.0, r.session.0, r.client_ref, r.order.0, r.price, r.qty.0, r.display_qty.0
        ),
        Command::MassCancel(m) => format!(
            "MassCancel account={:?} instrument={:?} session={} ref={}",
            m.account.map(|a| a.0),
            m.instrument.map(|i| i.0),
            m.session.0,
            m.client_ref
        ),
        Command::SetTradingStatus { instrument, status } => {
            format!(
                "SetTradingStatus instrument={} status={status}",
                instrument.0
            )
        }
        Command::EndOfDay => "EndOfDay".to_string(),
        Command::SetRiskLimit(s) => format!(
            "SetRiskLimit account={} instrument={:?} limit={} value={}",
            s.account.0,
            s.instrument.map(|i| i.0),
            s.limit,
            s.value
        ),
        Command::BlockAccount { account } => format!("BlockAccount account={}", account.0),
        Command::UnblockAccount { account } => format!("UnblockAccount account={}", account.0),
        Command::SetReferencePrice { instrument, price } => {
            format!(
                "SetReferencePrice instrument={} price={price}",
                instrument.0
            )
        }
        Command::SessionLost { account, session } => {
            format!("SessionLost account={} session={}", account.0, session.0)
        }
    }
}

/// The command as a JSON object with a `"type"` field.
pub fn command_json(command: &Command) -> Value {
    match command {
        Command::NewOrder(o) => json!({
            "type": "NewOrder", "account": o.account.0, "session": o.session.0,
            "client_ref": o.client_ref, "instrument": o.instrument.0,
            "side": o.side.to_string(), "order_type": o.order_type.to_string(),
            "time_in_force": o.time_in_force.to_string(), "price": o.price.0, "qty": o.qty.0,
            "display_qty": o.display_qty.0, "min_qty": o.min_qty.0, "post_only": o.post_only,
            "stp": o.stp.to_string(),
        }),
        Command::Cancel(c) => json!({
            "type": "Cancel", "account": c.account.0, "session": c.session.0,
            "client_ref": c.client_ref, "order": c.order.0,
        }),
        Command::Reduce(r) => json!({
            "type": "Reduce", "account": r.account.0, "session": r.session.0,
            "client_ref": r.client_ref, "order": r.order.0, "leaves_qty": r.leaves_qty.0,
        }),
        Command::Replace(r) => json!({
            "type": "Replace", "account": r.account.0, "session": r.session.0,
            "client_ref": r.client_ref, "order": r.order.0, "price": r.price.0, "qty": r.qty.0,
            "display_qty": r.display_qty.0,
        }),
        Command::MassCancel(m) => json!({
            "type": "MassCancel", "account": opt_u32(m.account.map(|a| a.0)),
            "instrument": opt_u32(m.instrument.map(|i| i.0)), "session": m.session.0,
            "client_ref": m.client_ref,
        }),
        Command::SetTradingStatus { instrument, status } => json!({
            "type": "SetTradingStatus", "instrument": instrument.0, "status": status.to_string(),
        }),
        Command::EndOfDay => json!({ "type": "EndOfDay" }),
        Command::SetRiskLimit(s) => json!({
            "type": "SetRiskLimit", "account": s.account.0,
            "instrument": opt_u32(s.instrument.map(|i| i.0)), "limit": s.limit.to_string(),
            "value": s.value,
        }),
        Command::BlockAccount { account } => {
            json!({ "type": "BlockAccount", "account": account.0 })
        }
        Command::UnblockAccount { account } => {
            json!({ "type": "UnblockAccount", "account": account.0 })
        }
        Command::SetReferencePrice { instrument, price } => json!({
            "type": "SetReferencePrice", "instrument": instrument.0, "price": price.0,
        }),
        Command::SessionLost { account, session } => json!({
            "type": "SessionLost", "account": account.0, "session": session.0,
        }),
    }
}

/// An event on one line (its `Debug` form is complete and unambiguous).
pub fn event_text(event: &Event) -> String {
    format!("{event:?}")
}

/// Payload description of a record, human form.
fn payload_text(record: &Record<'_>) -> String {
    match record.kind {
        RecordKind::Config => format!("{} bytes", record.payload.len()),
        RecordKind::Command => match decode_command(record.payload) {
            Ok(command) => command_text(&command),
            Err(error) => format!("<undecodable command: {error}>"),
        },
        RecordKind::Digest => match DigestPayload::parse(record.payload) {
            Some(d) => format!(
                "events={} digest={:016x} reason={}",
                d.event_count,
                d.digest,
                d.reason.name()
            ),
            None => "<invalid digest payload>".to_string(),
        },
    }
}

/// One record as a human-readable line.
pub fn record_text(record: &Record<'_>) -> String {
    format!(
        "seq={} ts={} seg={} off={} {} {}",
        record.seq,
        record.timestamp_ns,
        record.segment_index,
        record.offset,
        record.kind,
        payload_text(record)
    )
}

/// One record as a JSON object (one line of JSON-lines output).
pub fn record_json(record: &Record<'_>) -> Value {
    let mut object = json!({
        "kind": record.kind.name(), "seq": record.seq, "timestamp_ns": record.timestamp_ns,
        "segment": record.segment_index, "offset": record.offset, "bytes": record.record_bytes,
    });
    let detail = match record.kind {
        RecordKind::Config => json!({ "config_bytes": record.payload.len() }),
        RecordKind::Command => match decode_command(record.payload) {
            Ok(command) => json!({ "command": command_json(&command) }),
            Err(error) => json!({ "error": error.to_string() }),
        },
        RecordKind::Digest => match DigestPayload::parse(record.payload) {
            Some(d) => json!({
                "event_count": d.event_count, "digest": format!("{:016x}", d.digest),
                "reason": d.reason.name(),
            }),
            None => json!({ "error": "invalid digest payload" }),
        },
    };
    if let (Some(target), Value::Object(extra)) = (object.as_object_mut(), detail) {
        target.extend(extra);
    }
    object
}
