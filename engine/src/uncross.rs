//! Uncross price discovery: the one price at which a crossed call book trades.
//!
//! With `B(p)` the buy quantity at prices `>= p` and `S(p)` the sell quantity at prices
//! `<= p` (open quantities, reserves included), the executable volume at `p` is
//! `min(B(p), S(p))` and the imbalance `B(p) - S(p)`. The uncross price is the tick-aligned `p`
//! that, in this order:
//! 1. maximises the executable volume;
//! 2. minimises `|imbalance|`;
//! 3. is nearest the reference price (the last trade, else the `SetReferencePrice` value;
//!    without either, this step ties everything);
//! 4. is the lower price.
//!
//! Method: `B` only changes just below a bid price and `S` at an ask price, so walking the
//! level prices of both sides in ascending order, between the lowest ask and the highest bid,
//! sees every distinct `(B, S)` pair: at a level price, and in the open gap to the next one
//! (where `B` is already the next price's and `S` still this one's). Every tick of a gap has the
//! same volume and imbalance, so the gap's best tick is the one nearest the reference. The walk
//! is `O(levels in the crossed range)` and allocates nothing.
//!
//! # Invariants
//! - Inputs: levels in strictly ascending price, positive quantities, tick-aligned prices on one
//!   grid; bids restricted to prices `>=` the lowest ask and asks to prices `<=` the highest bid
//!   (levels outside cannot change the result). Violations are programmer errors (asserts in
//!   debug builds, as the walk is a hot loop of the uncross).
//! - The result has `volume > 0`; a book that does not cross gives `None`.

use crate::types::Price;

/// Where and how much a call book uncrosses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discovery {
    pub price: Price,
    /// `min(buy_qty, sell_qty)`: shares that trade.
    pub volume: u64,
    /// `B(price)`: buy quantity at `price` or better.
    pub buy_qty: u64,
    /// `S(price)`: sell quantity at `price` or better.
    pub sell_qty: u64,
}

/// Ranking key of a candidate: smaller is better.
fn rank(candidate: &Discovery, reference: Option<Price>) -> (u64, u64, u64, i64) {
    let imbalance = candidate.buy_qty.abs_diff(candidate.sell_qty);
    let distance = reference.map_or(0, |r| candidate.price.0.abs_diff(r.0));
    (
        u64::MAX - candidate.volume,
        imbalance,
        distance,
        candidate.price.0,
    )
}

/// The tick of `[low, high]` (both on the grid, `low <= high`) nearest `reference`, the lower
/// one on a tie; `low` without a reference.
fn nearest_tick(low: i64, high: i64, tick: i64, reference: Option<Price>) -> i64 {
    let Some(reference) = reference else {
        return low;
    };
    if reference.0 <= low {
        return low;
    }
    if reference.0 >= high {
        return high;
    }
    let below = low + (reference.0 - low) / tick * tick;
    let above = below + tick;
    if above <= high && above - reference.0 < reference.0 - below {
        above
    } else {
        below
    }
}

/// Keeps the better of `best` and `candidate`.
fn consider(best: &mut Option<Discovery>, candidate: Discovery, reference: Option<Price>) {
    if candidate.volume == 0 {
        return;
    }
    let better = match best {
        None => true,
        Some(current) => rank(&candidate, reference) < rank(current, reference),
    };
    if better {
        *best = Some(candidate);
    }
}

/// Discovers the uncross of a call book from its level totals `(price, open qty)`, both sides
/// in ascending price (see the module docs for the input contract). `tick` is the price grid.
pub fn discover<B, A>(
    bids_ascending: B,
    asks_ascending: A,
    tick: i64,
    reference: Option<Price>,
) -> Option<Discovery>
where
    B: Iterator<Item = (Price, u64)> + Clone,
    A: Iterator<Item = (Price, u64)>,
{
    assert!(tick > 0);
    let mut buy_at_or_above: u64 = bids_ascending.clone().map(|(_, qty)| qty).sum();
    let mut sell_at_or_below: u64 = 0;
    let mut bids = bids_ascending.peekable();
    let mut asks = asks_ascending.peekable();
    let mut best: Option<Discovery> = None;
    loop {
        let next_bid = bids.peek().map(|&(price, _)| price);
        let next_ask = asks.peek().map(|&(price, _)| price);
        let price = match (next_bid, next_ask) {
            (None, None) => break,
            (Some(bid), None) => bid,
            (None, Some(ask)) => ask,
            (Some(bid), Some(ask)) => bid.min(ask),
        };
        if next_ask == Some(price) {
            if let Some((_, qty)) = asks.next() {
                sell_at_or_below += qty;
            }
        }
        let at_level = Discovery {
            price,
            volume: buy_at_or_above.min(sell_at_or_below),
            buy_qty: buy_at_or_above,
            sell_qty: sell_at_or_below,
        };
        consider(&mut best, at_level, reference);
        if next_bid == Some(price) {
            if let Some((_, qty)) = bids.next() {
                buy_at_or_above -= qty;
            }
        }
        let following = [bids.peek(), asks.peek()]
            .into_iter()
            .flatten()
            .map(|&(price, _)| price)
            .min();
        let Some(following) = following else {
            break;
        };
        debug_assert!(following > price, "levels not ascending");
        if following.0 - price.0 > tick {
            let inside = nearest_tick(price.0 + tick, following.0 - tick, tick, reference);
            let in_gap = Discovery {
                price: Price(inside),
                volume: buy_at_or_above.min(sell_at_or_below),
                buy_qty: buy_at_or_above,
                sell_qty: sell_at_or_below,
            };
            consider(&mut best, in_gap, reference);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(rows: &[(i64, u64)]) -> Vec<(Price, u64)> {
        rows.iter().map(|&(p, q)| (Price(p), q)).collect()
    }

    fn run(bids: &[(i64, u64)], asks: &[(i64, u64)], reference: Option<i64>) -> Option<Discovery> {
        discover(
            levels(bids).into_iter(),
            levels(asks).into_iter(),
            1,
            reference.map(Price),
        )
    }

    #[test]
    fn single_cross_at_the_volume_maximum() {
        // Bids 10@12, 10@11; asks 5@10, 10@11. B(11)=20, S(11)=15 → 15; B(10)=20, S(10)=5.
        let found = run(&[(11, 10), (12, 10)], &[(10, 5), (11, 10)], None);
        assert_eq!(
            found,
            Some(Discovery {
                price: Price(11),
                volume: 15,
                buy_qty: 20,
                sell_qty: 15
            })
        );
    }

    #[test]
    fn gap_with_zero_imbalance_beats_both_ends() {
        // Bids 5@100, 10@110; asks 10@100, 5@110. At 100: B 15, S 10 (imbalance 5); at 110:
        // B 10, S 15 (imbalance 5); inside the gap B 10, S 10.
        let found = run(&[(100, 5), (110, 10)], &[(100, 10), (110, 5)], Some(107));
        assert_eq!(found.map(|d| (d.price, d.volume)), Some((Price(107), 10)));
        let found = run(&[(100, 5), (110, 10)], &[(100, 10), (110, 5)], None);
        assert_eq!(found.map(|d| d.price), Some(Price(101)));
        let found = run(&[(100, 5), (110, 10)], &[(100, 10), (110, 5)], Some(500));
        assert_eq!(found.map(|d| d.price), Some(Price(109)));
    }

    #[test]
    fn no_cross_is_none() {
        assert_eq!(run(&[], &[], None), None);
        assert_eq!(run(&[(5, 1)], &[], None), None);
    }

    #[test]
    fn nearest_tick_rounds_to_the_grid_lower_on_ties() {
        assert_eq!(nearest_tick(100, 200, 10, Some(Price(144))), 140);
        assert_eq!(nearest_tick(100, 200, 10, Some(Price(146))), 150);
        assert_eq!(nearest_tick(100, 200, 10, Some(Price(145))), 140);
        assert_eq!(nearest_tick(100, 200, 10, Some(Price(50))), 100);
        assert_eq!(nearest_tick(100, 200, 10, Some(Price(250))), 200);
        assert_eq!(nearest_tick(100, 200, 10, None), 100);
    }
}
