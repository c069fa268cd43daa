//! Sharding: which part of the resolved selection one of N parallel CI jobs runs, and what it
//! may spend of the key's rate limit.
//!
//! A case belongs to the shard that gives it the highest weight (rendezvous, or
//! highest-random-weight, hashing). The weight is a fixed, documented function of the case ID
//! and the shard number alone, so every job computes the same partition without talking to the
//! others, on any platform and with any Rust version (std's `DefaultHasher` promises neither):
//!
//! ```text
//! h            = FNV-1a 64 of the ID's UTF-8 bytes
//!                (offset 0xcbf29ce484222325, prime 0x100000001b3)
//! weight(id,k) = splitmix64(h XOR (k * 0x9e3779b97f4a7c15))   for k = 1..=N, wrapping
//! shard(id)    = the k with the highest weight (the lowest k on a tie)
//! ```
//!
//! Because a case's shard depends on its own ID and N only, adding or removing a case moves no
//! other case, and going from N to N+1 shards moves about 1/(N+1) of them.

use crate::input::vars;
use std::fmt;

/// Shards are 1 to this many.
pub const MAX_SHARDS: u32 = 1000;

/// One shard of N, numbered from 1 as people (and GitLab) count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

/// Why a `--shard` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard {0:?} is not K/N or auto: use e.g. --shard 2/3 for the second of three shards")]
    Syntax(String),
    #[error("--shard {0:?}: N must be from 1 to {MAX_SHARDS} and K from 1 to N")]
    Range(String),
    #[error(
        "--shard auto found no parallel-job variables ({}); pass --shard K/N instead",
        auto_var_names()
    )]
    NoCiVariables,
    #[error("--shard auto: {system} sets {index_var}={index:?} and {total_var}={total:?}, which is not a shard of a parallel job")]
    BadCiVariables {
        system: &'static str,
        index_var: &'static str,
        index: String,
        total_var: &'static str,
        total: String,
    },
}

/// A CI system's parallel-job variables, as `--shard auto` reads them.
#[derive(Debug, Clone, Copy)]
pub struct CiParallelism {
    pub system: &'static str,
    pub index_var: &'static str,
    pub total_var: &'static str,
    /// What the first job's index is: GitLab counts from 1, CircleCI and Buildkite from 0.
    pub first_index: u32,
}

/// The CI systems `--shard auto` knows, in the order they are tried. GitHub's matrix has no
/// such variables: pass `--shard ${{ matrix.shard }}/3` there.
pub const CI_SYSTEMS: [CiParallelism; 3] = [
    CiParallelism {
        system: "GitLab CI",
        index_var: vars::CI_NODE_INDEX,
        total_var: vars::CI_NODE_TOTAL,
        first_index: 1,
    },
    CiParallelism {
        system: "CircleCI",
        index_var: vars::CIRCLE_NODE_INDEX,
        total_var: vars::CIRCLE_NODE_TOTAL,
        first_index: 0,
    },
    CiParallelism {
        system: "Buildkite",
        index_var: vars::BUILDKITE_PARALLEL_JOB,
        total_var: vars::BUILDKITE_PARALLEL_JOB_COUNT,
        first_index: 0,
    },
];

fn auto_var_names() -> String {
    CI_SYSTEMS
        .iter()
        .map(|ci| format!("{}/{}", ci.index_var, ci.total_var))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every variable `--shard auto` may read, for capturing the environment once.
pub fn auto_variables() -> impl Iterator<Item = &'static str> {
    CI_SYSTEMS.iter().flat_map(|ci| [ci.index_var, ci.total_var])
}

/// Resolves a `--shard` value: `K/N`, or `auto` from the first CI system whose two variables
/// are both set (`lookup` reads the captured environment).
pub fn resolve(raw: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
    let raw = raw.trim();
    if !raw.eq_ignore_ascii_case("auto") {
        return parse(raw);
    }
    for ci in CI_SYSTEMS {
        let (Some(index), Some(total)) = (lookup(ci.index_var), lookup(ci.total_var)) else {
            continue;
        };
        let bad = || ShardError::BadCiVariables {
            system: ci.system,
            index_var: ci.index_var,
            index: index.clone(),
            total_var: ci.total_var,
            total: total.clone(),
        };
        let (Ok(k), Ok(n)) = (index.trim().parse::<u32>(), total.trim().parse::<u32>()) else {
            return Err(bad());
        };
        let k = k.checked_sub(ci.first_index).ok_or_else(bad)? + 1;
        return checked(k, n).ok_or_else(bad);
    }
    Err(ShardError::NoCiVariables)
}

/// Parses `K/N`.
pub fn parse(raw: &str) -> Result<Shard, ShardError> {
    let (k, n) = raw.split_once('/').ok_or_else(|| ShardError::Syntax(raw.to_owned()))?;
    let number = |s: &str| s.trim().parse::<u32>().map_err(|_| ShardError::Syntax(raw.to_owned()));
    checked(number(k)?, number(n)?).ok_or_else(|| ShardError::Range(raw.to_owned()))
}

fn checked(index: u32, total: u32) -> Option<Shard> {
    ((1..=MAX_SHARDS).contains(&total) && (1..=total).contains(&index)).then_some(Shard { index, total })
}

/// FNV-1a, 64 bits: tiny, fixed and specified, unlike std's hasher.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The splitmix64 finaliser: spreads FNV's weak low bits over the whole word.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The weight of shard `k` for a case whose ID hashes to `hash`.
fn weight(hash: u64, k: u32) -> u64 {
    splitmix64(hash ^ u64::from(k).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The salt of `--sample`'s ranking: a rendezvous weight no shard number reaches.
const SAMPLE_SALT: u32 = u32::MAX;

/// The fixed weight `--sample` ranks the case `id` by (see [`crate::run::sample`]).
pub fn sample_weight(id: &str) -> u64 {
    weight(fnv1a64(id.as_bytes()), SAMPLE_SALT)
}

/// The shard (1 to `total`) that runs the case `id`.
pub fn owner(id: &str, total: u32) -> u32 {
    let hash = fnv1a64(id.as_bytes());
    let mut best = (1, weight(hash, 1));
    for k in 2..=total.max(1) {
        let w = weight(hash, k);
        if w > best.1 {
            best = (k, w);
        }
    }
    best.0
}

impl Shard {
    /// Whether this shard runs the case `id`.
    pub fn owns(&self, id: &str) -> bool {
        owner(id, self.total) == self.index
    }
}

/// A fingerprint of the whole resolved selection (IDs in selection order), so that `--merge`
/// and `--rerun-failed` can tell reports of different selections apart: SHA-256 over the IDs,
/// each followed by a newline, as 64 hex digits.
pub fn selection_digest<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut bytes = Vec::new();
    for id in ids {
        bytes.extend_from_slice(id.as_bytes());
        bytes.push(b'\n');
    }
    crate::domain::digest::sha256_hex(&bytes)
}

/// `limit` split between `share` gates (a rate limit, a run cap): at least 1 each, and 0 (no limit) stays 0.
pub fn share_of(limit: u32, share: u32) -> u32 {
    match limit {
        0 => 0,
        n => (n / share.max(1)).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn the_hash_is_the_documented_one() {
        // Published FNV-1a 64 test vectors: the partition must never change under users' feet.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        // Pinned owners: a change to the weight function shows up here.
        let owners: Vec<u32> = ["tc_1", "tc_2", "tc_3", "tc_4", "tc_5", "tc_6"]
            .iter()
            .map(|id| owner(id, 3))
            .collect();
        assert_eq!(owners, PINNED_OWNERS);
        assert_eq!(
            selection_digest(["a", "b"]),
            crate::domain::digest::sha256_hex(b"a\nb\n")
        );
    }

    /// The owners of tc_1..tc_6 among 3 shards, computed with an independent implementation of the
    /// documented formula (Python) when the function was fixed.
    const PINNED_OWNERS: [u32; 6] = [3, 2, 2, 3, 1, 3];

    #[test]
    fn parses_k_of_n() {
        assert_eq!(parse("2/3"), Ok(Shard { index: 2, total: 3 }));
        assert_eq!(parse(" 1 / 1 "), Ok(Shard { index: 1, total: 1 }));
        assert!(matches!(parse("0/3"), Err(ShardError::Range(_))));
        assert!(matches!(parse("4/3"), Err(ShardError::Range(_))));
        assert!(matches!(parse("1/1001"), Err(ShardError::Range(_))));
        assert!(matches!(parse("2"), Err(ShardError::Syntax(_))));
        assert!(matches!(parse("a/b"), Err(ShardError::Syntax(_))));
        assert_eq!(Shard { index: 2, total: 3 }.to_string(), "2/3");
    }

    #[test]
    fn auto_reads_each_ci_system_with_its_own_base() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
        };
        let gitlab = env(&[("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "3")]);
        assert_eq!(resolve("auto", gitlab), Ok(Shard { index: 1, total: 3 }));
        let circle = env(&[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "3")]);
        assert_eq!(resolve("AUTO", circle), Ok(Shard { index: 1, total: 3 }));
        let buildkite = env(&[("BUILDKITE_PARALLEL_JOB", "2"), ("BUILDKITE_PARALLEL_JOB_COUNT", "3")]);
        assert_eq!(resolve("auto", buildkite), Ok(Shard { index: 3, total: 3 }));
        // GitLab sets CI_NODE_TOTAL=1 on every job but CI_NODE_INDEX only on parallel ones.
        let not_parallel = env(&[("CI_NODE_TOTAL", "1")]);
        assert_eq!(resolve("auto", not_parallel), Err(ShardError::NoCiVariables));
        let gitlab_zero = env(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "3")]);
        assert!(matches!(
            resolve("auto", gitlab_zero),
            Err(ShardError::BadCiVariables {
                system: "GitLab CI",
                ..
            })
        ));
        let circle_past_end = env(&[("CIRCLE_NODE_INDEX", "3"), ("CIRCLE_NODE_TOTAL", "3")]);
        assert!(resolve("auto", circle_past_end).is_err());
        assert_eq!(resolve("2/5", |_| None), Ok(Shard { index: 2, total: 5 }));
    }

    fn ids() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::hash_set("[a-z0-9_-]{1,24}", 0..120).prop_map(|set| set.into_iter().collect())
    }

    proptest! {
        #[test]
        fn shards_are_disjoint_and_complete(ids in ids(), total in 1u32..12) {
            let mut seen = HashSet::new();
            for index in 1..=total {
                let shard = Shard { index, total };
                for id in ids.iter().filter(|id| shard.owns(id)) {
                    prop_assert!(seen.insert(id.clone()), "{} is in two shards", id);
                }
            }
            prop_assert_eq!(seen.len(), ids.len(), "every case is in a shard");
        }

        #[test]
        fn adding_a_case_moves_no_other(ids in ids(), extra in "[A-Z]{1,8}", total in 2u32..12) {
            let before: Vec<u32> = ids.iter().map(|id| owner(id, total)).collect();
            let mut grown = ids.clone();
            grown.push(extra);
            let after: Vec<u32> = grown.iter().take(ids.len()).map(|id| owner(id, total)).collect();
            prop_assert_eq!(before, after);
        }

        #[test]
        fn one_more_shard_moves_only_cases_to_it(ids in ids(), total in 1u32..12) {
            for id in &ids {
                let (old, new) = (owner(id, total), owner(id, total + 1));
                prop_assert!(new == old || new == total + 1, "{} moved from {} to {}", id, old, new);
            }
        }
    }

    #[test]
    fn shards_are_roughly_balanced() {
        let ids: Vec<String> = (0..3000).map(|i| format!("case-{i}")).collect();
        for total in [2u32, 3, 5] {
            let expected = ids.len() / total as usize;
            for index in 1..=total {
                let size = ids.iter().filter(|id| owner(id, total) == index).count();
                assert!(
                    size.abs_diff(expected) * 10 < expected,
                    "shard {index}/{total} has {size} of {}",
                    ids.len()
                );
            }
        }
    }
}
