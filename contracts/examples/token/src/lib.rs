//! A fungible token: the admin mints; holders transfer and approve spenders; events for every
//! balance or allowance change. Errors are typed ([`TokenError`]); the token does not allocate.
#![cfg_attr(target_arch = "wasm32", no_std)]

use keel_sdk::{Address, Item, Map, caller, contract, emit, self_address};
use token_api::{Approval, TokenError, TokenReceiverClient, Transfer};

static ADMIN: Item<Address> = Item::new(b"A");
static SUPPLY: Item<u128> = Item::new(b"S");
static BALANCES: Map<Address, u128> = Map::new(b"b");
static ALLOWANCES: Map<(Address, Address), u128> = Map::new(b"l");

/// The token contract.
pub struct Token;

fn move_tokens(from: Address, to: Address, amount: u128) -> Result<(), TokenError> {
    let from_balance = BALANCES.get_or_default(&from);
    let rest = from_balance
        .checked_sub(amount)
        .ok_or(TokenError::InsufficientBalance)?;
    BALANCES.set(&from, &rest);
    // Cannot overflow: the sum of all balances is the total supply, a u128.
    let to_balance = BALANCES.get_or_default(&to);
    BALANCES.set(&to, &to_balance.wrapping_add(amount));
    emit(&Transfer { from, to, amount });
    Ok(())
}

#[contract(events(Transfer, Approval))]
impl Token {
    /// Makes the caller the admin. Fails if already initialised.
    pub fn init() -> Result<(), TokenError> {
        if ADMIN.exists() {
            return Err(TokenError::AlreadyInitialized);
        }
        ADMIN.set(&caller());
        Ok(())
    }

    /// Admin only: creates `amount` new tokens for `to`.
    pub fn mint(to: Address, amount: u128) -> Result<(), TokenError> {
        if ADMIN.get() != Some(caller()) {
            return Err(TokenError::NotAdmin);
        }
        let supply = SUPPLY
            .get_or_default()
            .checked_add(amount)
            .ok_or(TokenError::Overflow)?;
        SUPPLY.set(&supply);
        let balance = BALANCES.get_or_default(&to);
        BALANCES.set(&to, &balance.wrapping_add(amount));
        emit(&Transfer {
            from: Address::ZERO,
            to,
            amount,
        });
        Ok(())
    }

    /// Moves `amount` of the caller's tokens to `to`.
    pub fn transfer(to: Address, amount: u128) -> Result<(), TokenError> {
        move_tokens(caller(), to, amount)
    }

    /// Sets the allowance of `spender` over the caller's tokens to `amount`.
    pub fn approve(spender: Address, amount: u128) -> Result<(), TokenError> {
        let owner = caller();
        ALLOWANCES.set(&(owner, spender), &amount);
        emit(&Approval {
            owner,
            spender,
            amount,
        });
        Ok(())
    }

    /// Moves `amount` from `from` to `to`, spending the caller's allowance from `from`.
    pub fn transfer_from(from: Address, to: Address, amount: u128) -> Result<(), TokenError> {
        let key = (from, caller());
        let allowed = ALLOWANCES.get_or_default(&key);
        let rest = allowed
            .checked_sub(amount)
            .ok_or(TokenError::InsufficientAllowance)?;
        ALLOWANCES.set(&key, &rest);
        move_tokens(from, to, amount)
    }

    /// Transfers `amount` to the contract `to`, then calls its `on_token_received(from,
    /// amount)`. If the callback fails, the whole transfer is rolled back.
    pub fn transfer_and_call(to: Address, amount: u128) -> Result<(), TokenError> {
        let from = caller();
        move_tokens(from, to, amount)?;
        TokenReceiverClient::new(to)
            .on_token_received(from, amount)
            .map_err(|_| TokenError::CallbackFailed)
    }

    /// The balance of `who`.
    pub fn balance_of(who: Address) -> u128 {
        BALANCES.get_or_default(&who)
    }

    /// The allowance `owner` gave `spender`.
    pub fn allowance(owner: Address, spender: Address) -> u128 {
        ALLOWANCES.get_or_default(&(owner, spender))
    }

    /// All tokens in existence.
    pub fn total_supply() -> u128 {
        SUPPLY.get_or_default()
    }

    /// The admin, once initialised.
    pub fn admin() -> Option<Address> {
        ADMIN.get()
    }

    /// This token's own address (handy for tests and UIs).
    pub fn address() -> Address {
        self_address()
    }
}
