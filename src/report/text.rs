//! Text helpers every renderer shares: making untrusted text inert for a terminal, the two
//! truncation rules (by characters with a visible mark, for text shown on a line; by bytes, for
//! size budgets whose caller says what was cut), durations, scores against thresholds, and the
//! pieces of a case's label.
//! Renderers depend on this module and on the model, never on each other.

use crate::policy::verdict;
use std::fmt::Write as _;
use std::time::Duration;

pub use crate::domain::score::fmt_score;

/// Makes untrusted text inert for a terminal (and a log viewer that renders ANSI). Newlines and
/// tabs are kept when `multiline`, otherwise shown as `↵` and a space; every other control
/// character (ESC included) and every bidirectional override is replaced by a visible `\u{..}`
/// escape, so text cannot move the cursor, recolour the terminal or reorder a line.
pub fn sanitize(text: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' if multiline => out.push('\n'),
            '\n' => out.push_str(" ↵ "),
            '\t' => out.push_str(if multiline { "\t" } else { " " }),
            '\r' => {}
            c if c.is_control() || is_bidi_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// Longest note shown inline (a baseline line, a case's config note), in characters: one line.
pub const NOTE_CHARS: usize = 80;

/// The first `max_chars` characters of `text`, and `…` when anything was cut.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary,
/// without a mark: the caller says what was cut (and how much).
pub fn truncate_bytes(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// `12.5s`, `3m 04s`, `850ms`.
pub fn fmt_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let secs = duration.as_secs();
        format!("{}m {:02}s", secs / 60, secs % 60)
    }
}

/// A coarse age for people: `45s`, `12m`, `5h 03m`, `3d 04h`.
pub fn fmt_age(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {:02}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// A case's duration in milliseconds as a duration, `-` when unknown.
pub fn fmt_duration_ms(ms: Option<u64>) -> String {
    ms.map(|ms| fmt_duration(Duration::from_millis(ms)))
        .unwrap_or_else(|| "-".into())
}

/// A signed score change: `+0.05`, `-0.1`, `0`.
pub fn fmt_delta(delta: f64) -> String {
    let text = fmt_score(delta.abs());
    if text == "0" {
        text
    } else if delta < 0.0 {
        format!("-{text}")
    } else {
        format!("+{text}")
    }
}

/// `0.9 >= 0.8`, `0.5 < 0.8`, or `- / 0.8` without a score: the comparison the verdict made.
pub fn score_against(score: Option<f64>, threshold: f64) -> String {
    match score {
        Some(s) if verdict::meets(s, threshold) => format!("{} >= {}", fmt_score(s), fmt_score(threshold)),
        Some(s) => format!("{} < {}", fmt_score(s), fmt_score(threshold)),
        None => format!("- / {}", fmt_score(threshold)),
    }
}

/// What to call a case: its name, or its ID when the name is missing or blank.
pub fn display_name<'a>(name: Option<&'a str>, id: &'a str) -> &'a str {
    name.filter(|n| !n.trim().is_empty()).unwrap_or(id)
}

/// Kapso's error, when the reason does not already say it.
pub fn error_beyond_reason<'a>(error: Option<&'a str>, reason: Option<&str>) -> Option<&'a str> {
    error.filter(|e| !reason.is_some_and(|r| r.contains(e)))
}

/// ` (non-blocking)` after the status of a quarantined case.
pub fn blocking_suffix(blocking: bool) -> &'static str {
    if blocking {
        ""
    } else {
        " (non-blocking)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(certain: bool, mean: f64, trials: usize, bound: (super::super::model::BoundSide, f64)) -> CertaintyFacts {
        CertaintyFacts {
            certain,
            mean,
            threshold: 0.8,
            trials,
            bound,
            confidence: 0.95,
            failed_inconclusive: false,
        }
    }

    #[test]
    fn the_certainty_sentence_quotes_only_the_bound_the_verdict_rests_on() {
        use super::super::model::BoundSide::{Lower, Upper};
        let say = |f: CertaintyFacts| certainty_sentence(&f);
        assert_eq!(
            say(facts(true, 0.6, 4, (Upper, 0.79))),
            "fails: mean certainly below 0.8 (at most 0.79, 95 %)"
        );
        assert_eq!(
            say(facts(true, 0.97, 16, (Lower, 0.83))),
            "passes: mean certainly at least 0.8 (at least 0.83, 95 %)"
        );
        let least = crate::policy::confidence::least_trials(0.8, 0.95)
            .and_then(|l| l.pass)
            .expect("reachable");
        assert_eq!(
            say(facts(false, 0.825, 6, (Lower, 0.0492))),
            format!("passes on its mean 0.825; not certain after 6 trials (a certain pass needs at least {least})")
        );
        assert_eq!(
            say(facts(false, 0.825, 20, (Lower, 0.61))),
            "passes on its mean 0.825; not certain after 20 trials (the mean may be as low as 0.61, 95 %)"
        );
        assert_eq!(
            say(facts(false, 0.75, 10, (Upper, 0.9))),
            "fails on its mean 0.75; not certain after 10 trials (the mean may be as high as 0.9, 95 %)"
        );
        let mut inconclusive = facts(false, 0.85, 20, (Lower, 0.7));
        inconclusive.failed_inconclusive = true;
        assert_eq!(
            say(inconclusive),
            "fails: not certain after 20 trials (--inconclusive fail); mean 0.85 (the mean may be as low as 0.7, 95 %)"
        );
    }

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(sanitize("a\u{1b}[31mb\u{7}", false), "a\\u{1b}[31mb\\u{7}");
        assert_eq!(sanitize("x\u{202e}y", false), "x\\u{202e}y");
        assert_eq!(sanitize("l1\nl2\r\n", true), "l1\nl2\n");
        assert_eq!(sanitize("l1\nl2", false), "l1 ↵ l2");
        assert_eq!(sanitize("مرحبا ✅", false), "مرحبا ✅");
    }

    #[test]
    fn the_two_truncation_rules() {
        assert_eq!(truncate_chars("abcdef", 3), "abc…");
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("ééé", 2), "éé…");
        assert_eq!(truncate_bytes("éé", 3), "é");
        assert_eq!(truncate_bytes("ab", 5), "ab");
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(fmt_delta(-0.1), "-0.1");
        assert_eq!(fmt_delta(0.05), "+0.05");
        assert_eq!(fmt_delta(0.0), "0");
        assert_eq!(score_against(Some(0.8), 0.8), "0.8 >= 0.8");
        assert_eq!(score_against(Some(0.5), 0.8), "0.5 < 0.8");
        assert_eq!(score_against(None, 0.8), "- / 0.8");
        assert_eq!(display_name(Some(" "), "id"), "id");
        assert_eq!(display_name(Some("Name"), "id"), "Name");
        assert_eq!(fmt_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(fmt_duration(Duration::from_secs(184)), "3m 04s");
        assert_eq!(fmt_age(Duration::from_secs(59)), "59s");
        assert_eq!(fmt_age(Duration::from_secs(600)), "10m");
        assert_eq!(fmt_age(Duration::from_secs(3 * 86_400 + 4 * 3600 + 59)), "3d 04h");
    }
}

/// What `--dry-run` says of a MIN..MAX case: the least trials that can make each decision
/// certain, and whether MAX allows a certain pass at all.
pub fn least_trials_line(least: &crate::policy::confidence::LeastTrials, max: u32) -> String {
    let count = |n: Option<u32>| n.map_or_else(|| "no number of trials".to_owned(), |n| format!("at least {n}"));
    let mut line = format!(
        "a certain pass needs {} trials, a certain fail {}",
        count(least.pass),
        count(least.fail)
    );
    if least.pass.is_none_or(|n| n > max) {
        let _ = write!(
            line,
            "; MAX {max} cannot make a pass certain: only the mean can pass it"
        );
    }
    line
}

/// What a MIN..MAX case's verdict rests on: the facts [`certainty_sentence`] puts in words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CertaintyFacts {
    /// Whether the sequential decision was certain before MAX.
    pub certain: bool,
    pub mean: f64,
    pub threshold: f64,
    /// Scored trials.
    pub trials: usize,
    /// The one-sided bound the bets aimed at (see `model::BoundRecord`).
    pub bound: (super::model::BoundSide, f64),
    pub confidence: f64,
    /// Failed for being inconclusive at MAX (`--inconclusive fail`).
    pub failed_inconclusive: bool,
}

/// The one sentence every surface shows for a MIN..MAX case: what it did, whether that is
/// certain, and the one bound behind it, e.g. "fails: mean certainly below 0.8 (at most 0.79,
/// 95 %)" or "passes on its mean 0.825; not certain after 6 trials (a certain pass needs at
/// least 14)". Only the end of the interval the bets aimed at is quoted: the far end is not
/// informative (it can read 0 for a case that clearly fails).
pub fn certainty_sentence(facts: &CertaintyFacts) -> String {
    use super::model::BoundSide;
    let percent = fmt_score(facts.confidence * 100.0);
    let (t, mean, n) = (fmt_score(facts.threshold), fmt_score(facts.mean), facts.trials);
    let (side, value) = (facts.bound.0, fmt_score(facts.bound.1));
    let trials = if n == 1 { "trial" } else { "trials" };
    if facts.certain {
        return match side {
            BoundSide::Lower => format!("passes: mean certainly at least {t} (at least {value}, {percent} %)"),
            BoundSide::Upper => format!("fails: mean certainly below {t} (at most {value}, {percent} %)"),
        };
    }
    let above = facts.mean >= facts.threshold;
    let head = if facts.failed_inconclusive {
        format!("fails: not certain after {n} {trials} (--inconclusive fail); mean {mean}")
    } else if above {
        format!("passes on its mean {mean}; not certain after {n} {trials}")
    } else {
        format!("fails on its mean {mean}; not certain after {n} {trials}")
    };
    let least = crate::policy::confidence::least_trials(facts.threshold, facts.confidence);
    let (word, needed) = if above {
        ("pass", least.and_then(|l| l.pass))
    } else {
        ("fail", least.and_then(|l| l.fail))
    };
    let tail = match (needed, side) {
        (None, _) => format!("no number of trials can make a {word} certain"),
        (Some(needed), _) if u32::try_from(n).is_ok_and(|n| n < needed) => {
            format!("a certain {word} needs at least {needed}")
        }
        (Some(_), BoundSide::Lower) => format!("the mean may be as low as {value}, {percent} %"),
        (Some(_), BoundSide::Upper) => format!("the mean may be as high as {value}, {percent} %"),
    };
    format!("{head} ({tail})")
}
