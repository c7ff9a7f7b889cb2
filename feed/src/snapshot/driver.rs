//! The snapshot server's thread: every connection's [`SnapshotSession`] over mio.
//!
//! Each turn waits for readiness (at most 50 ms, so `stop` and timeouts are seen), accepts
//! what is pending, then services every open connection: read what is there, hand it to the
//! session, write what the session transmits until the socket is full, check its timeout,
//! close it when the session has ended and its bytes are written. Servicing every connection
//! each turn (at most `clients_max`) keeps edge-triggered readiness simple and bounded.

use super::*;

const LISTENER: Token = Token(0);
/// Bytes a client may have sent and the session not yet consumed.
const INBOUND_BYTES: usize = 256;

/// One open connection and its fixed buffers.
struct Connection {
    stream: mio::net::TcpStream,
    session: SnapshotSession,
    inbound: [u8; INBOUND_BYTES],
    inbound_len: usize,
    outbound: Box<[u8]>,
    /// `outbound[out_start..out_end]` is transmitted but not yet written to the socket.
    out_start: usize,
    out_end: usize,
    /// The peer closed or the socket failed.
    broken: bool,
}

/// The server thread's body: serves `handle`'s latest snapshot on `listener` (bound to
/// [`SnapshotConfig::listen`]) until `stop` is set. Returns the counters.
pub fn run(
    config: &SnapshotConfig,
    listener: std::net::TcpListener,
    session: Session,
    handle: &SnapshotHandle,
    stop: &AtomicBool,
) -> io::Result<SnapshotCounters> {
    let live = LiveSnapshot::default();
    run_observed(config, listener, session, handle, stop, &live)
}

/// As [`run`], also storing the counters into `live` at the end of every turn (at least every
/// 50 ms; a few Relaxed stores).
pub fn run_observed(
    config: &SnapshotConfig,
    listener: std::net::TcpListener,
    session: Session,
    handle: &SnapshotHandle,
    stop: &AtomicBool,
    live: &LiveSnapshot,
) -> io::Result<SnapshotCounters> {
    let clients_max = usize::try_from(config.clients_max.max(1)).unwrap_or(1);
    let buffer_bytes = usize::try_from(config.transmit_buffer_bytes)
        .unwrap_or(usize::MAX)
        .max(4 * FRAME_LEN_MAX);
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(256);
    let mut slots: Vec<Option<Connection>> = (0..clients_max).map(|_| None).collect();
    let mut counters = SnapshotCounters::default();
    let clock = Clock::new();
    // Relaxed: a plain flag; the thread that sets it joins this one afterwards.
    while !stop.load(Ordering::Relaxed) {
        match poll.poll(&mut events, Some(Duration::from_millis(50))) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
        let now_ns = clock.now_ns();
        let accepting = events.iter().any(|event| event.token() == LISTENER);
        if accepting {
            accept(
                &listener,
                &poll,
                &mut slots,
                now_ns,
                session,
                config,
                buffer_bytes,
                &mut counters,
            )?;
        }
        for slot in slots.iter_mut() {
            let Some(connection) = slot else {
                continue;
            };
            service(connection, now_ns, handle);
            let written = connection.out_start == connection.out_end;
            if !connection.broken && (connection.session.end().is_none() || !written) {
                continue;
            }
            counters.note(if connection.broken {
                None
            } else {
                connection.session.end()
            });
            let _ = poll.registry().deregister(&mut connection.stream);
            let _ = connection.stream.shutdown(std::net::Shutdown::Write);
            *slot = None;
        }
        live.store(&counters);
    }
    Ok(counters)
}

#[allow(clippy::too_many_arguments)]
fn accept(
    listener: &TcpListener,
    poll: &Poll,
    slots: &mut [Option<Connection>],
    now_ns: u64,
    session: Session,
    config: &SnapshotConfig,
    buffer_bytes: usize,
    counters: &mut SnapshotCounters,
) -> io::Result<()> {
    // Bounded by the kernel's accept queue.
    loop {
        let (mut stream, _) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(error) => return Err(error),
        };
        let Some(index) = slots.iter().position(Option::is_none) else {
            counters.refused += 1;
            continue;
        };
        poll.registry().register(
            &mut stream,
            Token(index + 1),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let _ = stream.set_nodelay(true);
        counters.accepted += 1;
        slots[index] = Some(Connection {
            stream,
            session: SnapshotSession::new(now_ns, session, config),
            inbound: [0u8; INBOUND_BYTES],
            inbound_len: 0,
            outbound: vec![0u8; buffer_bytes].into_boxed_slice(),
            out_start: 0,
            out_end: 0,
            broken: false,
        });
    }
}

fn service(connection: &mut Connection, now_ns: u64, handle: &SnapshotHandle) {
    read_input(connection, now_ns, handle);
    write_output(connection, now_ns);
    connection.session.handle_timeout(now_ns);
}

fn read_input(connection: &mut Connection, now_ns: u64, handle: &SnapshotHandle) {
    // Bounded: each pass reads bytes into a fixed buffer or stops.
    while !connection.broken && connection.session.end().is_none() {
        let free = &mut connection.inbound[connection.inbound_len..];
        if free.is_empty() {
            // The session consumes every whole packet; a full buffer is a packet that can
            // never complete (split bounds the length field far below the buffer).
            connection.broken = true;
            return;
        }
        match connection.stream.read(free) {
            Ok(0) => connection.broken = true,
            Ok(len) => connection.inbound_len += len,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => connection.broken = true,
        }
        let pending = &connection.inbound[..connection.inbound_len];
        let consumed = connection
            .session
            .handle_input(now_ns, pending, || handle.latest());
        connection
            .inbound
            .copy_within(consumed..connection.inbound_len, 0);
        connection.inbound_len -= consumed;
    }
}

fn write_output(connection: &mut Connection, now_ns: u64) {
    // Bounded: each pass writes bytes, refills the buffer from the session, or stops.
    while !connection.broken {
        if connection.out_start == connection.out_end {
            connection.out_start = 0;
            connection.out_end = connection.session.poll_transmit(&mut connection.outbound);
            if connection.out_end == 0 {
                return;
            }
        }
        let pending = &connection.outbound[connection.out_start..connection.out_end];
        match connection.stream.write(pending) {
            Ok(0) => connection.broken = true,
            Ok(len) => {
                connection.out_start += len;
                connection.session.handle_written(now_ns);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => connection.broken = true,
        }
    }
}
