//! `--sample N`: a deterministic subset of the resolved selection for cheap smoke runs. Which
//! cases are taken depends only on the case IDs and their suites, never on a random seed, a
//! date or a name, so the same selection samples the same cases on every commit, and renaming a
//! case changes nothing.
//!
//! The rule: within each suite (cases given directly form one group of their own), cases are
//! ranked by a fixed hash of their ID (the rendezvous weight [`crate::input::shard`] uses, at a salt
//! of its own); then the suites take turns, in the order they first appear in the selection,
//! each giving its best-ranked case not yet taken, until N cases are taken. The sample keeps
//! selection order. Sampling happens before `--shard`: every shard samples the same cases and
//! then runs its own part of them.

use crate::domain::case::PlannedCase;
use crate::input::shard::sample_weight;

/// The cases a sample of `size` takes (in selection order) and the IDs it leaves out (in
/// selection order). A size at least the selection's takes every case.
pub fn sample(cases: Vec<PlannedCase>, size: usize) -> (Vec<PlannedCase>, Vec<String>) {
    if size >= cases.len() {
        return (cases, Vec::new());
    }
    let mut groups: Vec<(Option<&str>, Vec<usize>)> = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let suite = case.suite_id.as_deref();
        match groups.iter_mut().find(|(id, _)| *id == suite) {
            Some((_, members)) => members.push(index),
            None => groups.push((suite, vec![index])),
        }
    }
    for (_, members) in &mut groups {
        // Highest weight first; the ID breaks the (astronomically unlikely) tie.
        members.sort_by(|a, b| {
            let (a, b) = (&cases[*a].id, &cases[*b].id);
            sample_weight(b).cmp(&sample_weight(a)).then(a.cmp(b))
        });
    }
    let mut taken = vec![false; cases.len()];
    let mut count = 0;
    for turn in 0.. {
        for (_, members) in &groups {
            if count == size {
                break;
            }
            if let Some(index) = members.get(turn) {
                taken[*index] = true;
                count += 1;
            }
        }
        if count == size {
            break;
        }
    }
    let mut kept = Vec::new();
    let mut left_out = Vec::new();
    for (case, taken) in cases.into_iter().zip(taken) {
        if taken {
            kept.push(case);
        } else {
            left_out.push(case.id);
        }
    }
    (kept, left_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, suite: Option<&str>) -> PlannedCase {
        PlannedCase {
            id: id.to_owned(),
            name: Some(format!("name of {id}")),
            suite_id: suite.map(str::to_owned),
            suite_name: None,
        }
    }

    fn ids(cases: &[PlannedCase]) -> Vec<&str> {
        cases.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn suites_take_turns() {
        let mut cases: Vec<PlannedCase> = (0..8).map(|i| case(&format!("a{i}"), Some("A"))).collect();
        cases.extend((0..2).map(|i| case(&format!("b{i}"), Some("B"))));
        cases.push(case("direct", None));
        let (kept, left_out) = sample(cases.clone(), 3);
        assert_eq!(kept.len(), 3);
        assert_eq!(left_out.len(), 8);
        for group in ["a", "b", "direct"] {
            assert!(
                kept.iter().any(|c| c.id.starts_with(group)),
                "{group}: {:?}",
                ids(&kept)
            );
        }
        let (kept, _) = sample(cases, 5);
        assert_eq!(kept.iter().filter(|c| c.id.starts_with('b')).count(), 2);
    }

    #[test]
    fn the_sample_depends_on_ids_only() {
        let cases: Vec<PlannedCase> = (0..20).map(|i| case(&format!("c{i}"), Some("S"))).collect();
        let (first, _) = sample(cases.clone(), 5);
        let mut renamed = cases.clone();
        renamed.reverse();
        for case in &mut renamed {
            case.name = Some("renamed".into());
        }
        let (second, _) = sample(renamed, 5);
        let mut a = ids(&first);
        let mut b = ids(&second);
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        let (all, none) = sample(cases, 50);
        assert_eq!((all.len(), none.len()), (20, 0));
    }
}
