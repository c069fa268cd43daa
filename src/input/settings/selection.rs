//! Which test cases, suites and agents to run: from the arguments, `KAPSO_TEST_CASE_IDS`, the
//! suite and agent options, or (when none of those is given) the config file. Every ID is
//! validated and duplicates are dropped in first-seen order.

use super::error::UsageError;
use crate::domain::ids::{self, IdError};
use crate::input::cli::Args;
use crate::input::config::Config;

/// The selection as given, before suites and agents are expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Test case IDs given directly.
    pub case_ids: Vec<String>,
    /// Suites to expand.
    pub suite_ids: Vec<String>,
    /// Agents whose suites to expand.
    pub agent_ids: Vec<String>,
    /// IDs dropped because they were given more than once.
    pub duplicates_dropped: usize,
}

impl Selection {
    fn is_empty(&self) -> bool {
        self.case_ids.is_empty() && self.suite_ids.is_empty() && self.agent_ids.is_empty()
    }

    /// Adds the IDs in `values` (each split on commas and whitespace when `split`) to the list
    /// `pick` chooses, validating each and counting duplicates.
    fn add<'a>(
        &mut self,
        values: impl IntoIterator<Item = &'a String>,
        split: bool,
        pick: fn(&mut Selection) -> &mut Vec<String>,
        bad: fn(IdError) -> UsageError,
    ) -> Result<(), UsageError> {
        for value in values {
            let parts: Vec<&str> = if split {
                ids::split_list(value).collect()
            } else {
                vec![value.as_str()]
            };
            for id in parts {
                ids::validate(id).map_err(bad)?;
                let list = pick(self);
                if list.iter().any(|known| known == id) {
                    self.duplicates_dropped += 1;
                } else {
                    list.push(id.to_owned());
                }
            }
        }
        Ok(())
    }
}

/// Resolves the selection. Arguments are IDs as given (so "a b" is refused, not split); the
/// variable and the suite and agent options are lists. The config file's lists are a default:
/// they apply only when nothing was selected otherwise.
pub fn resolve(args: &Args, config: &Config) -> Result<Selection, UsageError> {
    fn cases(s: &mut Selection) -> &mut Vec<String> {
        &mut s.case_ids
    }
    fn suites(s: &mut Selection) -> &mut Vec<String> {
        &mut s.suite_ids
    }
    fn agents(s: &mut Selection) -> &mut Vec<String> {
        &mut s.agent_ids
    }
    let mut selection = Selection::default();
    selection.add(&args.test_case_ids, false, cases, UsageError::BadCaseId)?;
    selection.add(&args.test_case_ids_env, true, cases, UsageError::BadCaseId)?;
    let given_duplicates = selection.duplicates_dropped;
    selection.add(&args.suites, true, suites, UsageError::BadSuiteId)?;
    selection.add(&args.agents, true, agents, UsageError::BadAgentId)?;
    // Repeated suite or agent IDs are dropped quietly: they never count as dropped cases.
    selection.duplicates_dropped = given_duplicates;
    if selection.is_empty() {
        selection.add(&config.test_cases, true, cases, UsageError::BadCaseId)?;
        let config_duplicates = selection.duplicates_dropped;
        selection.add(&config.suites, true, suites, UsageError::BadSuiteId)?;
        selection.add(&config.agents, true, agents, UsageError::BadAgentId)?;
        selection.duplicates_dropped = config_duplicates;
    }
    if selection.is_empty() {
        return Err(UsageError::EmptySelection);
    }
    Ok(selection)
}
