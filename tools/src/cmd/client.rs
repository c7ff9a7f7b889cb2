//! `peregrine client`: one member session from the command line. Logs in, sends one OUCH
//! message (enter, cancel, replace, account query) or just listens, prints every sequenced
//! message received (with its number) for `--wait-ms`, then logs out.
//!
//! ```text
//! peregrine client --user ALICE --password alice enter --symbol AAPL --side B --qty 100 --price 150.25
//! peregrine client --user ALICE --password alice cancel --ref 1
//! peregrine client --user ALICE --password alice --from-seq 1 listen
//! ```
//!
//! # Invariants
//! - Exit 0 when the login was accepted; 1 when it was rejected; 2 on connection errors.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Subcommand;
use mio::{Events, Poll, Token};
use peregrine_gateway::alpha;
use peregrine_gateway::ouch::{
    AccountQuery, CancelOrder, Capacity, CrossType, Display, EnterOrder, Inbound, Options,
    Outbound, ReplaceOrder, Side, TimeInForce, MARKET_PRICE,
};

use crate::node::gateway::clock_ns;
use crate::node::member::{MemberConnection, MemberEvent};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, default_value = "127.0.0.1:15000")]
    addr: SocketAddr,
    #[arg(long)]
    user: String,
    #[arg(long)]
    password: String,
    /// Requested sequence number (0 = only new messages; 1 = the whole session).
    #[arg(long, default_value_t = 0)]
    from_seq: u64,
    /// How long to print incoming messages after sending.
    #[arg(long, default_value_t = 500)]
    wait_ms: u64,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Enter Order.
    Enter {
        #[arg(long)]
        symbol: String,
        /// B (buy), S (sell), T (sell short), E (short exempt).
        #[arg(long)]
        side: char,
        #[arg(long)]
        qty: u32,
        /// Decimal price (4 decimals at most) or `market`.
        #[arg(long)]
        price: String,
        /// day or ioc.
        #[arg(long, default_value = "day")]
        tif: String,
        /// UserRefNum (default: the server's next one, from an Account Query).
        #[arg(long = "ref")]
        user_ref_num: Option<u32>,
        #[arg(long, default_value = "CLI")]
        cl_ord_id: String,
    },
    /// Cancel Order (`--qty` > 0 reduces to that many shares).
    Cancel {
        #[arg(long = "ref")]
        user_ref_num: u32,
        #[arg(long, default_value_t = 0)]
        qty: u32,
    },
    /// Replace Order (new price and quantity, new UserRefNum).
    Replace {
        #[arg(long = "ref")]
        orig_user_ref_num: u32,
        #[arg(long)]
        qty: u32,
        #[arg(long)]
        price: String,
        #[arg(long = "new-ref")]
        user_ref_num: Option<u32>,
    },
    /// Account Query (the next UserRefNum).
    Query,
    /// Only print messages.
    Listen,
}

/// `"150.25"` → 1_502_500; `"market"` → the OUCH market sentinel.
fn parse_price(text: &str) -> anyhow::Result<u64> {
    if text.eq_ignore_ascii_case("market") {
        return Ok(MARKET_PRICE);
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 4 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        bail!("price {text:?}: at most 4 decimals");
    }
    let whole: u64 = whole.parse().with_context(|| format!("price {text:?}"))?;
    let mut fraction_units: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse()?
    };
    for _ in fraction.len()..4 {
        fraction_units *= 10;
    }
    whole
        .checked_mul(10_000)
        .and_then(|units| units.checked_add(fraction_units))
        .context("price too large")
}

fn parse_side(side: char) -> anyhow::Result<Side> {
    Side::from_code(side.to_ascii_uppercase() as u8).context("side must be B, S, T or E")
}

/// A blocking wrapper: poll until `done` says so or the deadline passes.
struct Cli {
    poll: Poll,
    events: Events,
    connection: MemberConnection,
}

impl Cli {
    fn pump(
        &mut self,
        until: Instant,
        mut on: impl FnMut(&MemberEvent) -> bool,
    ) -> anyhow::Result<bool> {
        let mut member_events = Vec::new();
        while Instant::now() < until {
            self.connection.flush();
            self.poll
                .poll(&mut self.events, Some(Duration::from_millis(10)))?;
            member_events.clear();
            self.connection.on_readable(clock_ns(), &mut member_events);
            self.connection.on_timer(clock_ns(), &mut member_events);
            // Every event of the batch is handed over, even after `on` says done.
            let mut done = false;
            for event in &member_events {
                done |= on(event);
            }
            if done {
                return Ok(true);
            }
            if self.connection.closed {
                return Ok(false);
            }
        }
        Ok(false)
    }
}

fn print_event(event: &MemberEvent) {
    match event {
        MemberEvent::Message { seq, message } => println!("{seq:>8}  {message}"),
        MemberEvent::Unparsed { seq } => println!("{seq:>8}  (unparsable OUCH message)"),
        MemberEvent::Closed => println!("connection closed by the server"),
        MemberEvent::LoggedIn { .. } | MemberEvent::LoginRejected(_) => {}
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let poll = Poll::new()?;
    let mut connection = MemberConnection::connect(
        args.addr,
        &args.user,
        &args.password,
        args.from_seq,
        clock_ns(),
    )?;
    connection.register(poll.registry(), Token(0))?;
    let mut cli = Cli {
        poll,
        events: Events::with_capacity(64),
        connection,
    };
    let mut login = None;
    cli.pump(Instant::now() + Duration::from_secs(10), |event| {
        print_event(event);
        match event {
            MemberEvent::LoggedIn { next_seq } => login = Some(Ok(*next_seq)),
            MemberEvent::LoginRejected(reason) => login = Some(Err(*reason)),
            _ => {}
        }
        login.is_some()
    })?;
    match login {
        None => bail!("no login answer from {}", args.addr),
        Some(Err(reason)) => {
            println!("login rejected: {reason}");
            return Ok(ExitCode::from(1));
        }
        Some(Ok(next_seq)) => println!(
            "logged in as {}; next sequence number {next_seq}",
            args.user
        ),
    }
    let message = build_message(&args.action, &mut cli)?;
    if let Some(message) = message {
        println!("sending  {message}");
        cli.connection.send(&message)?;
    }
    cli.pump(
        Instant::now() + Duration::from_millis(args.wait_ms),
        |event| {
            print_event(event);
            false
        },
    )?;
    println!(
        "next sequence number to request: {}",
        cli.connection.next_seq()
    );
    cli.connection.logout();
    Ok(ExitCode::SUCCESS)
}

/// The server's next UserRefNum (Account Query), printing whatever else arrives meanwhile.
fn next_user_ref_num(cli: &mut Cli) -> anyhow::Result<u32> {
    cli.connection.send(&Inbound::AccountQuery(AccountQuery {
        options: Options::default(),
    }))?;
    let mut next = None;
    cli.pump(Instant::now() + Duration::from_secs(5), |event| {
        if let MemberEvent::Message {
            message: Outbound::AccountQueryResponse(answer),
            ..
        } = event
        {
            next = Some(answer.next_user_ref_num);
            return true;
        }
        print_event(event);
        false
    })?;
    next.context("no Account Query answer")
}

fn build_message(action: &Action, cli: &mut Cli) -> anyhow::Result<Option<Inbound>> {
    let message = match action {
        Action::Listen => return Ok(None),
        Action::Query => Inbound::AccountQuery(AccountQuery {
            options: Options::default(),
        }),
        Action::Cancel { user_ref_num, qty } => Inbound::CancelOrder(CancelOrder {
            user_ref_num: *user_ref_num,
            quantity: *qty,
            options: Options::default(),
        }),
        Action::Enter {
            symbol,
            side,
            qty,
            price,
            tif,
            user_ref_num,
            cl_ord_id,
        } => {
            let user_ref_num = match user_ref_num {
                Some(num) => *num,
                None => next_user_ref_num(cli)?,
            };
            let time_in_force = match tif.as_str() {
                "day" => TimeInForce::Day,
                "ioc" => TimeInForce::Ioc,
                other => bail!("tif {other:?}: day or ioc"),
            };
            Inbound::EnterOrder(EnterOrder {
                user_ref_num,
                side: parse_side(*side)?,
                quantity: *qty,
                symbol: alpha::<8>(symbol),
                price: parse_price(price)?,
                time_in_force,
                display: Display::Visible,
                capacity: Capacity::Agency,
                intermarket_sweep: false,
                cross_type: CrossType::Continuous,
                cl_ord_id: alpha::<14>(cl_ord_id),
                options: Options::default(),
            })
        }
        Action::Replace {
            orig_user_ref_num,
            qty,
            price,
            user_ref_num,
        } => {
            let user_ref_num = match user_ref_num {
                Some(num) => *num,
                None => next_user_ref_num(cli)?,
            };
            Inbound::ReplaceOrder(ReplaceOrder {
                orig_user_ref_num: *orig_user_ref_num,
                user_ref_num,
                quantity: *qty,
                price: parse_price(price)?,
                time_in_force: TimeInForce::Day,
                display: Display::Visible,
                intermarket_sweep: false,
                cl_ord_id: alpha::<14>("CLIREPL"),
                options: Options::default(),
            })
        }
    };
    Ok(Some(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_with_four_implied_decimals() {
        assert_eq!(parse_price("150.25").ok(), Some(1_502_500));
        assert_eq!(parse_price("7").ok(), Some(70_000));
        assert_eq!(parse_price("0.0001").ok(), Some(1));
        assert_eq!(parse_price("market").ok(), Some(MARKET_PRICE));
        assert!(parse_price("1.00001").is_err());
        assert!(parse_price("abc").is_err());
    }
}
