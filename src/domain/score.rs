//! How a score is written for people: the one formatting the verdict's reasons and every
//! renderer share (the verdict rules word their reasons with it, so it lives below them).

/// Scores as people write them: at most four decimals, no trailing zeros.
pub fn fmt_score(score: f64) -> String {
    let text = format!("{score:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_score;

    #[test]
    fn at_most_four_decimals_without_trailing_zeros() {
        assert_eq!(fmt_score(0.80), "0.8");
        assert_eq!(fmt_score(1.0), "1");
        assert_eq!(fmt_score(0.0), "0");
        assert_eq!(fmt_score(0.123456), "0.1235");
        assert_eq!(fmt_score(-0.25), "-0.25");
    }
}
