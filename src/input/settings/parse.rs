//! Parsers for single option values, each turning the raw text of a flag, a variable or the
//! config file into a typed value once, with a message that names the option.

use super::error::UsageError;
use crate::policy::verdict;
use reqwest::Url;
use std::net::IpAddr;
use std::time::Duration;

/// A number from 0 to [`verdict::SCORE_LIMIT`] (thresholds, score drops), or `None`.
pub fn non_negative(raw: &str) -> Option<f64> {
    raw.trim().parse::<f64>().ok().and_then(finite_non_negative)
}

/// `value` when it is a number from 0 to [`verdict::SCORE_LIMIT`]: one the verdict rules can compare
/// with a score (see [`verdict::comparable`]).
pub fn finite_non_negative(value: f64) -> Option<f64> {
    (verdict::comparable(value) && value >= 0.0).then_some(value)
}

/// A score threshold: a number from 0 to [`verdict::SCORE_LIMIT`].
pub fn threshold(raw: &str) -> Result<f64, UsageError> {
    non_negative(raw).ok_or_else(|| UsageError::BadThreshold(raw.to_owned()))
}

/// A humantime duration greater than zero.
pub fn duration(option: &'static str, raw: &str) -> Result<Duration, UsageError> {
    let value = humantime::parse_duration(raw.trim()).map_err(|err| UsageError::BadDuration {
        option,
        value: raw.to_owned(),
        reason: err.to_string(),
    })?;
    if value.is_zero() {
        return Err(UsageError::ZeroDuration { option });
    }
    Ok(value)
}

/// A whole number in `range`.
pub fn number<T>(option: &'static str, raw: &str, range: std::ops::RangeInclusive<T>) -> Result<T, UsageError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match raw.trim().parse::<T>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => Err(out_of_range(option, raw, range)),
    }
}

/// The error for a number (as given) outside `range`.
pub fn out_of_range<T: std::fmt::Display>(
    option: &'static str,
    value: impl std::fmt::Display,
    range: std::ops::RangeInclusive<T>,
) -> UsageError {
    UsageError::BadNumber {
        option,
        value: value.to_string(),
        range: format!(" from {} to {}", range.start(), range.end()),
    }
}

/// The API root: https, or http to a loopback host; no credentials, query or fragment.
pub fn base_url(raw: &str) -> Result<Url, UsageError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|_| UsageError::BadUrl(raw.to_owned()))?;
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(UsageError::UrlExtras);
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(UsageError::InsecureUrl),
        _ => return Err(UsageError::BadUrl(raw.to_owned())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UsageError::BadUrl(raw.to_owned()));
    }
    Ok(url)
}

/// `raw` as a URL with any credentials, query and fragment removed, for a report that must
/// name the URL even when the options are invalid; empty when it is not a URL at all.
pub fn displayable_url(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => String::new(),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A commit as a report records it: at most 256 printable characters, no whitespace (a SHA, a
/// tag, a branch name). Anything else is a usage error rather than text in every report.
pub fn commit(raw: &str) -> Result<String, UsageError> {
    let commit = raw.trim();
    if commit.is_empty() || commit.chars().count() > 256 || !commit.chars().all(|c| c.is_ascii_graphic()) {
        return Err(UsageError::BadCommit(raw.to_owned()));
    }
    Ok(commit.to_owned())
}
