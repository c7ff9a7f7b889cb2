//! The blocking snapshot client: log in, hand every ITCH message to the caller, return the
//! join sequence number.

use super::*;

/// What a complete snapshot said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The session named in Login Accepted.
    pub session: [u8; 10],
    /// MoldUDP64 sequence number to apply live messages from.
    pub join_seq: u64,
    /// ITCH messages handed to the caller.
    pub message_count: u64,
}

/// Why a snapshot could not be had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchError {
    Io(io::ErrorKind),
    /// The server rejected the login (no snapshot yet: retry later).
    Rejected(LoginRejectReason),
    /// The server sent something this client does not expect.
    Protocol(&'static str),
    /// The connection closed before End of Session.
    Closed,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Io(kind) => write!(f, "snapshot connection: {kind}"),
            FetchError::Rejected(reason) => write!(f, "snapshot login rejected: {reason}"),
            FetchError::Protocol(what) => write!(f, "snapshot protocol: {what}"),
            FetchError::Closed => write!(f, "snapshot connection closed early"),
        }
    }
}

impl std::error::Error for FetchError {}

impl From<io::Error> for FetchError {
    fn from(error: io::Error) -> Self {
        FetchError::Io(error.kind())
    }
}

/// Where the client is in the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    AwaitLogin,
    Messages,
    /// End of Snapshot seen.
    Joined {
        join_seq: u64,
    },
}

/// Fetches one snapshot from `addr`, handing every ITCH message to `on_message` in order.
/// `timeout` bounds each read and write. Allocates a read buffer; off the hot path.
pub fn fetch(
    addr: SocketAddr,
    timeout: Duration,
    mut on_message: impl FnMut(&MessageRepr),
) -> Result<Fetched, FetchError> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let login = LoginRequest {
        username: *b"feed  ",
        password: [b' '; 10],
        requested_session: [b' '; 10],
        requested_seq: 1,
    };
    let mut frame = [0u8; 64];
    let len = Repr::LoginRequest(login).emit(&mut frame);
    stream.write_all(&frame[..len])?;
    let mut buffer = vec![0u8; 64 * 1024];
    let (mut filled, mut stage) = (0usize, Stage::AwaitLogin);
    let mut fetched = Fetched {
        session: [b' '; 10],
        join_seq: 0,
        message_count: 0,
    };
    // Bounded by the server: each pass reads bytes or returns.
    loop {
        let read = stream.read(&mut buffer[filled..])?;
        if read == 0 {
            return Err(FetchError::Closed);
        }
        filled += read;
        let mut consumed = 0;
        while let Split::Frame { len } =
            split(&buffer[consumed..filled], Direction::ServerToClient, 1_024)
                .map_err(|_| FetchError::Protocol("malformed SoupBinTCP packet"))?
        {
            let packet = Repr::parse_bytes(&buffer[consumed..consumed + len])
                .map_err(|_| FetchError::Protocol("malformed SoupBinTCP packet"))?;
            consumed += len;
            if let Some(done) = on_packet(packet, &mut stage, &mut fetched, &mut on_message)? {
                return Ok(done);
            }
        }
        buffer.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
}

/// Applies one server packet; `Some` when the snapshot is complete.
fn on_packet(
    packet: Repr<'_>,
    stage: &mut Stage,
    fetched: &mut Fetched,
    on_message: &mut impl FnMut(&MessageRepr),
) -> Result<Option<Fetched>, FetchError> {
    match (packet, *stage) {
        (Repr::LoginAccepted(accepted), Stage::AwaitLogin) => {
            fetched.session = accepted.session;
            *stage = Stage::Messages;
        }
        (Repr::LoginRejected(reason), Stage::AwaitLogin) => {
            return Err(FetchError::Rejected(reason))
        }
        (Repr::SequencedData(payload), Stage::Messages) => {
            if payload.first() == Some(&END_OF_SNAPSHOT_TYPE) {
                let end = EndOfSnapshotRepr::parse(payload)
                    .ok_or(FetchError::Protocol("malformed End of Snapshot"))?;
                *stage = Stage::Joined {
                    join_seq: end.join_seq,
                };
            } else {
                let message = MessageRepr::parse(payload)
                    .map_err(|_| FetchError::Protocol("malformed ITCH message"))?;
                on_message(&message);
                fetched.message_count += 1;
            }
        }
        (Repr::EndOfSession, Stage::Joined { join_seq }) => {
            fetched.join_seq = join_seq;
            return Ok(Some(*fetched));
        }
        (Repr::ServerHeartbeat | Repr::Debug(_), _) => {}
        _ => return Err(FetchError::Protocol("unexpected packet")),
    }
    Ok(None)
}
