//! An NFT registry: the admin (whoever instantiated it) mints tokens with chosen `u64` ids;
//! owners transfer or burn them; anyone lists them in id order, a page at a time. Ids are stored
//! big-endian, so storage iteration is numeric order. Uses the SDK's `alloc` feature for the
//! listing's `Vec`.
#![cfg_attr(target_arch = "wasm32", no_std)]

use keel_sdk::alloc::vec::Vec;
use keel_sdk::{Address, BigEndian, Event, Item, Map, TypeInfo, caller, contract, emit};
use parity_scale_codec::{Decode, Encode};

static ADMIN: Item<Address> = Item::new(b"A");
static TOTAL: Item<u64> = Item::new(b"T");
static OWNERS: Map<BigEndian<u64>, Address> = Map::new(b"o");
static BALANCES: Map<Address, u64> = Map::new(b"b");

/// The most entries one `list` call returns.
pub const MAX_PAGE: u32 = 100;

/// Why an NFT method failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum NftError {
    /// The caller is not the admin.
    NotAdmin,
    /// A token with this id exists already.
    AlreadyMinted,
    /// No token has this id.
    NoSuchToken,
    /// The caller does not own the token.
    NotOwner,
}

/// A token changed hands (`from` is the zero address for a mint).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Event, TypeInfo)]
pub struct Transfer {
    /// The previous owner.
    #[topic]
    pub from: Address,
    /// The new owner.
    #[topic]
    pub to: Address,
    /// The token id.
    #[topic]
    pub id: u64,
}

fn credit(who: &Address, delta_up: bool) {
    let n = BALANCES.get_or_default(who);
    BALANCES.set(
        who,
        &if delta_up {
            n.wrapping_add(1)
        } else {
            n.wrapping_sub(1)
        },
    );
}

/// The NFT registry contract.
pub struct Nft;

#[contract(events(Transfer))]
impl Nft {
    /// Constructor: the instantiating account becomes the admin.
    pub fn init() {
        ADMIN.set(&caller());
    }

    /// Admin only: mints token `id` to `to`.
    pub fn mint(id: u64, to: Address) -> Result<(), NftError> {
        if ADMIN.get() != Some(caller()) {
            return Err(NftError::NotAdmin);
        }
        let key = BigEndian(id);
        if OWNERS.contains(&key) {
            return Err(NftError::AlreadyMinted);
        }
        OWNERS.set(&key, &to);
        credit(&to, true);
        TOTAL.set(&TOTAL.get_or_default().wrapping_add(1));
        emit(&Transfer {
            from: Address::ZERO,
            to,
            id,
        });
        Ok(())
    }

    /// Moves token `id` from the caller to `to`.
    pub fn transfer(id: u64, to: Address) -> Result<(), NftError> {
        let key = BigEndian(id);
        let owner = OWNERS.get(&key).ok_or(NftError::NoSuchToken)?;
        let from = caller();
        if owner != from {
            return Err(NftError::NotOwner);
        }
        OWNERS.set(&key, &to);
        credit(&from, false);
        credit(&to, true);
        emit(&Transfer { from, to, id });
        Ok(())
    }

    /// The owner burns token `id`: it no longer exists (and can be minted again).
    pub fn burn(id: u64) -> Result<(), NftError> {
        let key = BigEndian(id);
        let owner = OWNERS.get(&key).ok_or(NftError::NoSuchToken)?;
        if owner != caller() {
            return Err(NftError::NotOwner);
        }
        OWNERS.remove(&key);
        credit(&owner, false);
        TOTAL.set(&TOTAL.get_or_default().wrapping_sub(1));
        emit(&Transfer {
            from: owner,
            to: Address::ZERO,
            id,
        });
        Ok(())
    }

    /// The owner of token `id`, if it exists.
    pub fn owner_of(id: u64) -> Option<Address> {
        OWNERS.get(&BigEndian(id))
    }

    /// How many tokens `who` owns.
    pub fn balance_of(who: Address) -> u64 {
        BALANCES.get_or_default(&who)
    }

    /// How many tokens exist.
    pub fn total_supply() -> u64 {
        TOTAL.get_or_default()
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) tokens in ascending id order, starting after id
    /// `start_after` (or from the first): `(id, owner)` pairs. Pass the last id of a page to
    /// get the next one.
    pub fn list(start_after: Option<u64>, limit: u32) -> Vec<(u64, Address)> {
        let limit = limit.min(MAX_PAGE) as usize;
        let iter = match start_after {
            Some(id) => OWNERS.iter_after(&BigEndian(id)),
            None => OWNERS.iter(),
        };
        iter.take(limit).map(|(id, owner)| (id.0, owner)).collect()
    }
}
