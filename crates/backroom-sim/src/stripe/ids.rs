//! Ids shaped like Stripe's: a type prefix and random base-62 characters.

use rand::Rng;
use rand::distr::Alphanumeric;

pub fn new_id(prefix: &str, len: usize) -> String {
    let suffix: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{suffix}")
}
