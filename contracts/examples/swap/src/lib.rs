//! A two-token constant-product swap pool (`x * y = k`, 0.3% fee) over two token contracts.
//!
//! Every method that moves tokens calls the token contracts: deposits pull tokens with
//! `transfer_from` (the user approves the pool first), payouts push them with `transfer`. If any
//! leg fails, the method returns an error and the engine rolls back every leg already done, so
//! the pool's books and the token balances always agree. Nothing allocates.
#![cfg_attr(target_arch = "wasm32", no_std)]

use keel_sdk::{
    Address, CallError, Event, Item, Map, TypeInfo, caller, contract, emit, self_address,
};
use parity_scale_codec::{Decode, Encode};
use token_api::{TokenClient, TokenError};

static TOKEN_A: Item<Address> = Item::new(b"A");
static TOKEN_B: Item<Address> = Item::new(b"B");
static RESERVES: Item<(u128, u128)> = Item::new(b"R");
static TOTAL_SHARES: Item<u128> = Item::new(b"S");
static SHARES: Map<Address, u128> = Map::new(b"s");

/// Why a pool method failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum SwapError {
    /// `token_in` is neither of the pool's tokens.
    UnknownToken,
    /// An amount was zero.
    ZeroAmount,
    /// The pool has no liquidity.
    EmptyPool,
    /// The output would be below the caller's `min_out`.
    Slippage,
    /// The caller does not hold that many shares.
    InsufficientShares,
    /// Arithmetic overflow (amounts too large for this pool).
    Overflow,
    /// A token call failed (the whole operation is rolled back).
    Token(CallError<TokenError>),
}

impl From<CallError<TokenError>> for SwapError {
    fn from(e: CallError<TokenError>) -> Self {
        SwapError::Token(e)
    }
}

/// A swap happened.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Event, TypeInfo)]
pub struct Swapped {
    /// Who swapped.
    #[topic]
    pub trader: Address,
    /// The token paid in.
    #[topic]
    pub token_in: Address,
    /// How much was paid in.
    pub amount_in: u128,
    /// How much of the other token was paid out.
    pub amount_out: u128,
}

fn clients() -> (TokenClient, TokenClient) {
    (
        TokenClient::new(TOKEN_A.get().unwrap_or_default()),
        TokenClient::new(TOKEN_B.get().unwrap_or_default()),
    )
}

fn mul_div(a: u128, b: u128, c: u128) -> Result<u128, SwapError> {
    a.checked_mul(b)
        .and_then(|x| x.checked_div(c))
        .ok_or(SwapError::Overflow)
}

/// The constant-product output for `amount_in` with a 0.3% fee.
pub fn amount_out(amount_in: u128, reserve_in: u128, reserve_out: u128) -> Result<u128, SwapError> {
    let in_with_fee = amount_in.checked_mul(997).ok_or(SwapError::Overflow)?;
    let num = in_with_fee
        .checked_mul(reserve_out)
        .ok_or(SwapError::Overflow)?;
    let den = reserve_in
        .checked_mul(1000)
        .and_then(|r| r.checked_add(in_with_fee))
        .ok_or(SwapError::Overflow)?;
    num.checked_div(den).ok_or(SwapError::EmptyPool)
}

/// The swap pool contract.
pub struct Swap;

#[contract(events(Swapped))]
impl Swap {
    /// Constructor: the two token contracts.
    pub fn init(token_a: Address, token_b: Address) {
        TOKEN_A.set(&token_a);
        TOKEN_B.set(&token_b);
    }

    /// Deposits `amount_a` and `amount_b` (pulled with `transfer_from`; approve the pool
    /// first) and returns the pool shares minted. After the first deposit, shares are
    /// proportional to the smaller of the two contributions.
    pub fn add_liquidity(amount_a: u128, amount_b: u128) -> Result<u128, SwapError> {
        if amount_a == 0 || amount_b == 0 {
            return Err(SwapError::ZeroAmount);
        }
        let who = caller();
        let me = self_address();
        let (a, b) = clients();
        a.transfer_from(who, me, amount_a)?;
        b.transfer_from(who, me, amount_b)?;
        let (ra, rb) = RESERVES.get_or_default();
        let total = TOTAL_SHARES.get_or_default();
        let minted = if total == 0 {
            amount_a
        } else {
            mul_div(amount_a, total, ra)?.min(mul_div(amount_b, total, rb)?)
        };
        let ra = ra.checked_add(amount_a).ok_or(SwapError::Overflow)?;
        let rb = rb.checked_add(amount_b).ok_or(SwapError::Overflow)?;
        RESERVES.set(&(ra, rb));
        TOTAL_SHARES.set(&(total + minted));
        SHARES.set(&who, &(SHARES.get_or_default(&who) + minted));
        Ok(minted)
    }

    /// Burns `shares` and pays out the caller's part of both reserves.
    pub fn remove_liquidity(shares: u128) -> Result<(u128, u128), SwapError> {
        let who = caller();
        let mine = SHARES.get_or_default(&who);
        if shares == 0 || shares > mine {
            return Err(SwapError::InsufficientShares);
        }
        let (ra, rb) = RESERVES.get_or_default();
        let total = TOTAL_SHARES.get_or_default();
        let out_a = mul_div(ra, shares, total)?;
        let out_b = mul_div(rb, shares, total)?;
        SHARES.set(&who, &(mine - shares));
        TOTAL_SHARES.set(&(total - shares));
        RESERVES.set(&(ra - out_a, rb - out_b));
        let (a, b) = clients();
        a.transfer(who, out_a)?;
        b.transfer(who, out_b)?;
        Ok((out_a, out_b))
    }

    /// Swaps `amount_in` of `token_in` (pulled with `transfer_from`) for the other token;
    /// fails with `Slippage` if the output is below `min_out`. Returns the output.
    pub fn swap(token_in: Address, amount_in: u128, min_out: u128) -> Result<u128, SwapError> {
        if amount_in == 0 {
            return Err(SwapError::ZeroAmount);
        }
        let (a, b) = clients();
        let (ra, rb) = RESERVES.get_or_default();
        let (from, to, r_in, r_out, a_to_b) = if token_in == a.address {
            (a, b, ra, rb, true)
        } else if token_in == b.address {
            (b, a, rb, ra, false)
        } else {
            return Err(SwapError::UnknownToken);
        };
        if r_in == 0 || r_out == 0 {
            return Err(SwapError::EmptyPool);
        }
        let out = amount_out(amount_in, r_in, r_out)?;
        if out < min_out || out == 0 {
            return Err(SwapError::Slippage);
        }
        let who = caller();
        from.transfer_from(who, self_address(), amount_in)?;
        to.transfer(who, out)?;
        let r_in = r_in.checked_add(amount_in).ok_or(SwapError::Overflow)?;
        let r_out = r_out - out;
        RESERVES.set(&if a_to_b { (r_in, r_out) } else { (r_out, r_in) });
        emit(&Swapped {
            trader: who,
            token_in,
            amount_in,
            amount_out: out,
        });
        Ok(out)
    }

    /// The pool's reserves of token A and token B.
    pub fn reserves() -> (u128, u128) {
        RESERVES.get_or_default()
    }

    /// The pool shares of `who`.
    pub fn shares_of(who: Address) -> u128 {
        SHARES.get_or_default(&who)
    }

    /// The two token contracts.
    pub fn tokens() -> (Address, Address) {
        (
            TOKEN_A.get().unwrap_or_default(),
            TOKEN_B.get().unwrap_or_default(),
        )
    }
}
