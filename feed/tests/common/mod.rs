//! Shared pieces of the feed's network tests: a private network namespace per test (loopback
//! up, a multicast route on it), threads that run inside it, a seeded random order flow on a
//! real `Engine`, a seeded loss hook, and the book comparison.
//!
//! Namespaces need root (the tests run as root). Creating one that fails is a test failure
//! with the reason, never a silent skip.

#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command as Process;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

use peregrine_engine::{
    AccountId, CancelOrder, Command, Engine, EngineConfig, Event, InstrumentId, NewOrder, OrderId,
    OrderType, Price, Qty, ReduceOrder, ReplaceOrder, SessionId, Side, StpMode, TimeInForce,
    TradingStatus,
};
use peregrine_feed::book::{Book, BookConfig};
use peregrine_feed::subscriber_net::{DropHook, PacketSource};

static NAMESPACES: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) {
    let output = Process::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run `ip {}`: {error} (iproute2 needed)",
                args.join(" ")
            )
        });
    assert!(
        output.status.success(),
        "`ip {}` failed (network namespaces need root and CAP_SYS_ADMIN): {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A network namespace of this test process; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates the namespace, brings loopback up and routes 224.0.0.0/4 to it, so multicast
    /// sent inside the namespace loops back to its receivers.
    pub fn new() -> Netns {
        let name = format!(
            "pgfeed-{}-{}",
            std::process::id(),
            NAMESPACES.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        let netns = Netns { name };
        ip(&["-n", &netns.name, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            &netns.name,
            "route",
            "add",
            "224.0.0.0/4",
            "dev",
            "lo",
        ]);
        netns
    }

    /// Runs `body` on a new thread that first enters the namespace (network namespaces are
    /// per thread: sockets it creates live in the namespace).
    pub fn spawn<T: Send + 'static>(
        &self,
        body: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = File::open(&path).unwrap_or_else(|error| panic!("open {path}: {error}"));
            // SAFETY: `setns` with a valid namespace file descriptor (kept open across the
            // call) and CLONE_NEWNET changes only this thread's network namespace.
            let result = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(
                result,
                0,
                "setns into {path}: {}",
                std::io::Error::last_os_error()
            );
            body()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Process::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// xorshift64*: deterministic, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

pub const INSTRUMENTS: usize = 3;
pub const ACCOUNTS: usize = 6;
const MID: i64 = 1_000_000;

pub fn engine_config() -> EngineConfig {
    EngineConfig::demo(INSTRUMENTS, ACCOUNTS, 20_000)
}

pub fn book_config() -> BookConfig {
    BookConfig {
        locate_count: INSTRUMENTS as u16,
        order_capacity: 20_000,
        level_capacity: 20_000,
        levels_per_side_max: 20_000,
    }
}

/// A seeded random order flow: limit orders near the touch (some icebergs, some IOC and
/// market orders that trade), cancels, reduces and replaces of live orders, halts and resumes.
pub struct Flow {
    rng: Rng,
    live: Vec<(OrderId, AccountId)>,
    client_ref: u64,
}

impl Flow {
    pub fn new(seed: u64) -> Flow {
        Flow {
            rng: Rng(seed | 1),
            live: Vec::new(),
            client_ref: 0,
        }
    }

    /// Applies one random command; returns its events.
    pub fn step(&mut self, engine: &mut Engine) -> Vec<Event> {
        self.client_ref += 1;
        let command = self.command();
        let mut events = Vec::new();
        engine.apply(&command, &mut events);
        for event in &events {
            if let Event::Accepted(accepted) = event {
                self.live.push((accepted.order, accepted.account));
            }
            if let Event::Replaced(replaced) = event {
                self.live.push((replaced.new_order, replaced.account));
            }
        }
        if self.live.len() > 4_000 {
            self.live.drain(..2_000);
        }
        events
    }

    fn pick(&mut self) -> (OrderId, AccountId) {
        if self.live.is_empty() {
            return (OrderId(1), AccountId(0));
        }
        let index = self.rng.below(self.live.len() as u64) as usize;
        self.live[index]
    }

    fn command(&mut self) -> Command {
        let session = SessionId(1);
        let client_ref = self.client_ref;
        let roll = self.rng.below(100);
        if roll < 20 && !self.live.is_empty() {
            let (order, account) = self.pick();
            return Command::Cancel(CancelOrder {
                account,
                session,
                client_ref,
                order,
            });
        }
        if roll < 25 {
            let (order, account) = self.pick();
            let leaves_qty = Qty(self.rng.below(50) as u32);
            return Command::Reduce(ReduceOrder {
                account,
                session,
                client_ref,
                order,
                leaves_qty,
            });
        }
        if roll < 35 {
            let (order, account) = self.pick();
            let price = Price(MID + (self.rng.below(21) as i64 - 10) * 100);
            let qty = Qty(1 + self.rng.below(200) as u32);
            return Command::Replace(ReplaceOrder {
                account,
                session,
                client_ref,
                order,
                price,
                qty,
                display_qty: Qty(0),
            });
        }
        if roll < 36 {
            let instrument = InstrumentId(self.rng.below(INSTRUMENTS as u64) as u32);
            let status = if self.rng.below(3) == 0 {
                TradingStatus::Halted
            } else {
                TradingStatus::Trading
            };
            return Command::SetTradingStatus { instrument, status };
        }
        self.new_order(session, client_ref)
    }

    fn new_order(&mut self, session: SessionId, client_ref: u64) -> Command {
        let side = if self.rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let kind = self.rng.below(20);
        let (order_type, time_in_force) = match kind {
            0 => (OrderType::Market, TimeInForce::Ioc),
            1 | 2 => (OrderType::Limit, TimeInForce::Ioc),
            _ => (OrderType::Limit, TimeInForce::Day),
        };
        // Offsets from the mid, biased to the passive side so books build up.
        let passive = self.rng.below(12) as i64 - 2;
        let offset = match side {
            Side::Buy => -passive,
            Side::Sell => passive,
        };
        let qty = 1 + self.rng.below(300) as u32;
        let market = order_type == OrderType::Market;
        let display = if !market && self.rng.below(8) == 0 {
            qty / 3
        } else {
            0
        };
        Command::NewOrder(NewOrder {
            account: AccountId(self.rng.below(ACCOUNTS as u64) as u32),
            session,
            client_ref,
            instrument: InstrumentId(self.rng.below(INSTRUMENTS as u64) as u32),
            side,
            order_type,
            time_in_force,
            price: if market {
                Price(0)
            } else {
                Price(MID + offset * 100)
            },
            qty: Qty(qty),
            display_qty: Qty(display),
            min_qty: Qty(0),
            post_only: false,
            stp: StpMode::AccountDefault,
        })
    }
}

/// A loss hook dropping about `percent` of datagrams from both sources, seeded.
pub fn loss_hook(percent: u64, seed: u64) -> DropHook {
    let mut rng = Rng(seed | 1);
    Box::new(move |_source: PacketSource, _bytes: &[u8]| rng.below(1_000) < percent * 10)
}

/// Every resting order with displayed shares, in priority, per (instrument, side), as the
/// engine has it and as a feed book has it.
pub fn assert_books_equal(engine: &Engine, book: &Book, who: &str) {
    for instrument in 0..INSTRUMENTS as u32 {
        for side in [Side::Buy, Side::Sell] {
            let mut expected = Vec::new();
            engine.for_each_order(InstrumentId(instrument), side, |order| {
                if order.displayed.0 > 0 {
                    expected.push((order.id, order.price, order.displayed));
                }
            });
            let mut actual = Vec::new();
            book.for_each_order(instrument as u16 + 1, side, |order| {
                actual.push((order.order, order.price.to_price(), order.shares));
            });
            assert_eq!(actual, expected, "{who}: instrument {instrument} {side:?}");
        }
    }
    book.verify();
}
