//! The fungible token's interface: its typed errors, its events, and a typed client
//! ([`TokenClient`]) for contracts that call a token.
#![no_std]

use keel_sdk::{Address, Event, TypeInfo, interface};
use parity_scale_codec::{Decode, Encode};

/// Why a token method failed (the revert data is this value's SCALE encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum TokenError {
    /// `init` was already called.
    AlreadyInitialized,
    /// The caller is not the admin.
    NotAdmin,
    /// The sender's balance is too small.
    InsufficientBalance,
    /// The spender's allowance is too small.
    InsufficientAllowance,
    /// The total supply would overflow `u128`.
    Overflow,
    /// `transfer_and_call`'s callback failed (the transfer is rolled back).
    CallbackFailed,
}

/// Tokens moved (`from` is the zero address for a mint).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Event, TypeInfo)]
pub struct Transfer {
    /// The sender.
    #[topic]
    pub from: Address,
    /// The receiver.
    #[topic]
    pub to: Address,
    /// How much.
    pub amount: u128,
}

/// An allowance was set.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Event, TypeInfo)]
pub struct Approval {
    /// The owner of the tokens.
    #[topic]
    pub owner: Address,
    /// Who may spend them.
    #[topic]
    pub spender: Address,
    /// The new allowance.
    pub amount: u128,
}

/// The token's methods, as seen by a caller.
#[interface]
pub trait Token {
    /// Makes the caller the admin (once).
    fn init() -> Result<(), TokenError>;
    /// Admin only: creates `amount` tokens for `to`.
    fn mint(to: Address, amount: u128) -> Result<(), TokenError>;
    /// Moves `amount` from the caller to `to`.
    fn transfer(to: Address, amount: u128) -> Result<(), TokenError>;
    /// Lets `spender` move up to `amount` of the caller's tokens.
    fn approve(spender: Address, amount: u128) -> Result<(), TokenError>;
    /// Moves `amount` from `from` to `to` using the caller's allowance from `from`.
    fn transfer_from(from: Address, to: Address, amount: u128) -> Result<(), TokenError>;
    /// Transfers to the contract `to`, then calls its `on_token_received(from, amount)`.
    fn transfer_and_call(to: Address, amount: u128) -> Result<(), TokenError>;
    /// The balance of `who`.
    fn balance_of(who: Address) -> u128;
    /// The allowance `owner` gave `spender`.
    fn allowance(owner: Address, spender: Address) -> u128;
    /// All tokens in existence.
    fn total_supply() -> u128;
    /// The admin, once initialised.
    fn admin() -> Option<Address>;
}

/// The callback a contract implements to receive `transfer_and_call`.
#[interface]
pub trait TokenReceiver {
    /// `amount` tokens from `from` have just been credited to this contract.
    fn on_token_received(from: Address, amount: u128);
}
