//! The trials spec (`--trials N` or `--trials MIN..MAX`) and the `--inconclusive` policy: parsing,
//! validation and their error messages.

use super::Decision;
use std::fmt;
use std::str::FromStr;

/// How many trials a case gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trials {
    /// Exactly this many, judged by the chosen aggregate as before.
    Fixed(u32),
    /// At least `min`, then one more while the decision is uncertain, never more than `max`.
    /// `min == max` is allowed: the case runs exactly that many trials and is reported with its
    /// sequential interval and a certain or inconclusive decision.
    Sequential { min: u32, max: u32 },
}

impl Trials {
    /// The most trials a case may have.
    pub const LIMIT: u32 = 50;

    /// `Fixed(n)` when `n` is from 1 to [`Trials::LIMIT`].
    pub fn fixed(n: u32) -> Result<Trials, TrialsError> {
        if (1..=Trials::LIMIT).contains(&n) {
            Ok(Trials::Fixed(n))
        } else {
            Err(TrialsError::OutOfRange(n.to_string()))
        }
    }

    /// Whether trials continue while the decision is uncertain (`MIN..MAX`).
    pub fn is_sequential(self) -> bool {
        matches!(self, Trials::Sequential { .. })
    }

    /// The trials every case runs before any decision.
    pub fn min(self) -> u32 {
        match self {
            Trials::Fixed(n) => n,
            Trials::Sequential { min, .. } => min,
        }
    }

    /// The trials a case never exceeds.
    pub fn max(self) -> u32 {
        match self {
            Trials::Fixed(n) => n,
            Trials::Sequential { max, .. } => max,
        }
    }

    /// Whether a case should get another trial. `created` counts every run created for it,
    /// finished or still running, so that runs in flight count towards MAX; `decision` comes
    /// from the finished ones.
    pub fn wants_more(self, created: u32, decision: Decision) -> bool {
        created < self.min() || (created < self.max() && decision == Decision::Undecided)
    }
}

/// Why a trials spec was refused. The messages quote the input with Rust escapes, so control
/// characters cannot reach a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialsError {
    /// Neither a whole number nor `MIN..MAX`.
    Malformed(String),
    /// A count outside 1 to 50 (the text of that count).
    OutOfRange(String),
    /// `MIN..MAX` with `MIN > MAX`.
    Reversed { min: u32, max: u32 },
}

impl fmt::Display for TrialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = Trials::LIMIT;
        match self {
            TrialsError::Malformed(text) => write!(
                f,
                "trials {text:?} is neither a number of trials nor a range MIN..MAX (e.g. 3 or 2..12)"
            ),
            TrialsError::OutOfRange(text) => write!(f, "trials {text:?}: each count must be from 1 to {limit}"),
            TrialsError::Reversed { min, max } => write!(
                f,
                "trials \"{min}..{max}\": MIN is above MAX; write the smaller number first, e.g. {max}..{min}"
            ),
        }
    }
}

impl std::error::Error for TrialsError {}

impl FromStr for Trials {
    type Err = TrialsError;

    fn from_str(text: &str) -> Result<Trials, TrialsError> {
        let trimmed = text.trim();
        let count = |part: &str| -> Result<u32, TrialsError> {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TrialsError::Malformed(text.to_owned()));
            }
            match part.parse::<u64>() {
                Ok(n) if (1..=u64::from(Trials::LIMIT)).contains(&n) => Ok(n as u32),
                _ => Err(TrialsError::OutOfRange(text.to_owned())),
            }
        };
        match trimmed.split_once("..") {
            None => count(trimmed).map(Trials::Fixed),
            Some((min, max)) => {
                let (min, max) = (count(min)?, count(max)?);
                if min > max {
                    return Err(TrialsError::Reversed { min, max });
                }
                Ok(Trials::Sequential { min, max })
            }
        }
    }
}

impl fmt::Display for Trials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trials::Fixed(n) => write!(f, "{n}"),
            Trials::Sequential { min, max } => write!(f, "{min}..{max}"),
        }
    }
}

/// What an inconclusive case (still undecided at MAX trials) counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Inconclusive {
    /// Judged by its mean, as a fixed number of trials would be (`--inconclusive estimate`).
    #[default]
    Estimate,
    /// Fails, whatever its mean (`--inconclusive fail`).
    Fail,
}

/// An `--inconclusive` value that is neither `estimate` nor `fail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InconclusiveError(pub String);

impl fmt::Display for InconclusiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--inconclusive {:?} is not one of estimate, fail", self.0)
    }
}

impl std::error::Error for InconclusiveError {}

impl fmt::Display for Inconclusive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Inconclusive::Estimate => "estimate",
            Inconclusive::Fail => "fail",
        })
    }
}

impl FromStr for Inconclusive {
    type Err = InconclusiveError;

    fn from_str(text: &str) -> Result<Inconclusive, InconclusiveError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "estimate" => Ok(Inconclusive::Estimate),
            "fail" => Ok(Inconclusive::Fail),
            _ => Err(InconclusiveError(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ranges() {
        assert_eq!("3".parse(), Ok(Trials::Fixed(3)));
        assert_eq!(" 2..12 ".parse(), Ok(Trials::Sequential { min: 2, max: 12 }));
        assert_eq!("1..50".parse(), Ok(Trials::Sequential { min: 1, max: 50 }));
        assert_eq!("5..5".parse(), Ok(Trials::Sequential { min: 5, max: 5 }));
        assert_eq!("2 .. 8".parse(), Ok(Trials::Sequential { min: 2, max: 8 }));
        assert_eq!(Trials::Sequential { min: 2, max: 12 }.to_string(), "2..12");
        assert_eq!(Trials::Fixed(4).to_string(), "4");
    }

    #[test]
    fn refused_specs_say_why() {
        for text in [
            "", "abc", "2..", "..5", "2..=12", "2...12", "-1", "+3", "2.5", "2..x", "1..2..3",
        ] {
            let error = text.parse::<Trials>().expect_err(text);
            assert_eq!(error, TrialsError::Malformed(text.to_owned()), "{text}");
            assert!(error.to_string().contains("MIN..MAX"), "{error}");
        }
        for text in ["0", "51", "0..5", "2..51", "99999999999999999999"] {
            let error = text.parse::<Trials>().expect_err(text);
            assert_eq!(error, TrialsError::OutOfRange(text.to_owned()), "{text}");
            assert!(error.to_string().contains("from 1 to 50"), "{error}");
        }
        let error = "12..2".parse::<Trials>().expect_err("reversed");
        assert_eq!(error, TrialsError::Reversed { min: 12, max: 2 });
        assert!(error.to_string().contains("2..12"), "{error}");
        let error = "\u{1b}[31m".parse::<Trials>().expect_err("escape");
        assert!(!error.to_string().contains('\u{1b}'), "{error}");
    }

    #[test]
    fn more_trials_until_min_then_while_undecided_up_to_max() {
        let range = Trials::Sequential { min: 2, max: 4 };
        assert!(range.wants_more(1, Decision::Fail));
        assert!(range.wants_more(2, Decision::Undecided));
        assert!(!range.wants_more(2, Decision::Fail));
        assert!(!range.wants_more(3, Decision::Pass));
        assert!(!range.wants_more(4, Decision::Undecided));
        assert!(Trials::Fixed(3).wants_more(2, Decision::Pass));
        assert!(!Trials::Fixed(3).wants_more(3, Decision::Undecided));
        assert_eq!((range.min(), range.max()), (2, 4));
    }

    #[test]
    fn inconclusive_policy() {
        assert_eq!("fail".parse(), Ok(Inconclusive::Fail));
        assert_eq!(" Estimate".parse(), Ok(Inconclusive::Estimate));
        assert!("pass"
            .parse::<Inconclusive>()
            .expect_err("pass")
            .to_string()
            .contains("estimate, fail"));
        assert_eq!(Inconclusive::default(), Inconclusive::Estimate);
    }
}
