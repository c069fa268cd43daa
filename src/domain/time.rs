//! The one timestamp type: an RFC 3339 date-time parsed once where it enters (Kapso's answers, a
//! report read back), carried typed to the report, and written back exactly as it came (so a
//! report shows Kapso's own text). The duration between two timestamps is one method.
//!
//! `humantime` reads and writes RFC 3339 only in UTC, so the offset (`+02:00`, `-05:30`) and the
//! fraction are handled here, by hand.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant with the RFC 3339 text it was read from (or written as).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    at: SystemTime,
    text: String,
}

impl Timestamp {
    /// Reads an RFC 3339 date-time: `2026-01-01T10:00:00Z`, with an optional fraction and `Z` or
    /// a `±HH:MM` offset (`T`/`Z` in either case). Anything else, or a field out of range, is
    /// `None`: the report promises a date-time or null.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        let at = parse_rfc3339(text)?;
        Some(Timestamp {
            at,
            text: text.to_owned(),
        })
    }

    /// The gate's own clock reading, written in UTC with milliseconds.
    pub fn from_system(at: SystemTime) -> Timestamp {
        Timestamp {
            at,
            text: humantime::format_rfc3339_millis(at).to_string(),
        }
    }

    pub fn system_time(&self) -> SystemTime {
        self.at
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// How long after `earlier` this instant is; `None` when it is before.
    pub fn duration_since(&self, earlier: &Timestamp) -> Option<Duration> {
        self.at.duration_since(earlier.at).ok()
    }

    /// The duration from `started` to `ended`, when both are known and in order.
    pub fn between(started: Option<&Timestamp>, ended: Option<&Timestamp>) -> Option<Duration> {
        ended?.duration_since(started?)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 date-time")))
    }
}

/// Seconds in a day, and the days from 0000-03-01 to 1970-01-01 (the civil-date algorithm's
/// epoch shift).
const DAY_SECS: i64 = 86_400;
const EPOCH_SHIFT_DAYS: i64 = 719_468;

fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let shape =
        b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b't') && b[13] == b':' && b[16] == b':';
    if !shape {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = text.get(from..to)?;
        digits
            .bytes()
            .all(|d| d.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    // A leap second (60) is allowed by RFC 3339 and counted as the next second.
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let (nanos, zone) = fraction(&text[19..])?;
    let offset = offset_secs(zone)?;
    let secs = days_from_civil(year, month, day) * DAY_SECS + hour * 3600 + minute * 60 + second - offset;
    let since_epoch = |s: i64| Duration::new(s.unsigned_abs(), 0);
    if secs >= 0 {
        UNIX_EPOCH.checked_add(since_epoch(secs) + Duration::from_nanos(nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(since_epoch(secs))?
            .checked_add(Duration::from_nanos(nanos))
    }
}

/// The fraction after the seconds (`.5` → 500 ms; digits past nanoseconds are dropped) and the
/// rest of the text.
fn fraction(rest: &str) -> Option<(u64, &str)> {
    let Some(digits) = rest.strip_prefix('.') else {
        return Some((0, rest));
    };
    let n = digits.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    let nanos = digits[..n.min(9)]
        .bytes()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    Some((nanos * 10u64.pow(9 - n.min(9) as u32), &digits[n..]))
}

/// `Z` is 0; `+HH:MM` is east of UTC (subtracted to reach UTC), `-HH:MM` west.
fn offset_secs(zone: &str) -> Option<i64> {
    if matches!(zone, "Z" | "z") {
        return Some(0);
    }
    let z = zone.as_bytes();
    if z.len() != 6 || z[3] != b':' || !z[1..3].iter().chain(&z[4..6]).all(u8::is_ascii_digit) {
        return None;
    }
    let (hours, minutes): (i64, i64) = (zone[1..3].parse().ok()?, zone[4..6].parse().ok()?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    let secs = hours * 3600 + minutes * 60;
    match z[0] {
        b'+' => Some(secs),
        b'-' => Some(-secs),
        _ => None,
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - EPOCH_SHIFT_DAYS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        Timestamp::parse(text).expect(text).system_time()
    }

    #[test]
    fn agrees_with_humantime_in_utc() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2026-01-01T10:00:00.000Z",
            "2024-02-29T23:59:59.999999999Z",
            "2100-12-31T00:00:00Z",
        ] {
            assert_eq!(at(text), humantime::parse_rfc3339(text).unwrap(), "{text}");
        }
    }

    #[test]
    fn offsets_name_the_same_instant() {
        let utc = at("2026-01-01T10:00:00Z");
        assert_eq!(at("2026-01-01T10:00:00+00:00"), utc);
        assert_eq!(at("2026-01-01T12:00:00+02:00"), utc);
        assert_eq!(at("2026-01-01T04:30:00-05:30"), utc);
        assert_eq!(at("2025-12-31T23:00:00-11:00"), utc);
        assert_eq!(at("2026-01-01t10:00:00z"), utc);
    }

    #[test]
    fn fractions_of_any_length() {
        let base = at("2026-01-01T10:00:00Z");
        assert_eq!(
            at("2026-01-01T10:00:00.5Z").duration_since(base).unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            at("2026-01-01T10:00:00.000123+00:00").duration_since(base).unwrap(),
            Duration::from_micros(123)
        );
        assert_eq!(
            at("2026-01-01T10:00:00.1234567891Z").duration_since(base).unwrap(),
            Duration::from_nanos(123_456_789)
        );
    }

    #[test]
    fn before_the_epoch() {
        assert_eq!(at("1969-12-31T23:59:59.5Z"), UNIX_EPOCH - Duration::from_millis(500));
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for text in [
            "",
            "soon",
            "last tuesday",
            "2026-01-01 10:00:00Z",
            "2026-01-01T10:00:00",
            "2026-01-01T10:00:00.Z",
            "2026-13-01T10:00:00Z",
            "2026-02-29T10:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T10:00:00+0200",
            "2026-01-01T10:00:00+24:00",
            "2026-01-01T10:00:00Z trailing",
            "2026-01-01T10:00:00 00:00",
            "+026-01-01T10:00:00Z",
        ] {
            assert!(Timestamp::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn keeps_the_text_it_was_read_from() {
        let t = Timestamp::parse(" 2026-01-01T10:00:12.500+00:00 ").unwrap();
        assert_eq!(t.to_string(), "2026-01-01T10:00:12.500+00:00");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2026-01-01T10:00:12.500+00:00\"");
        let back: Timestamp = serde_json::from_str("\"2026-01-01T10:00:12.500+00:00\"").unwrap();
        assert_eq!(back, t);
        assert!(serde_json::from_str::<Timestamp>("\"soon\"").is_err());
        let own = Timestamp::from_system(UNIX_EPOCH + Duration::from_millis(1500));
        assert_eq!(own.as_str(), "1970-01-01T00:00:01.500Z");
    }

    #[test]
    fn durations_between_two() {
        let start = Timestamp::parse("2026-01-01T10:00:00.000Z").unwrap();
        let end = Timestamp::parse("2026-01-01T12:00:12.500+02:00").unwrap();
        assert_eq!(end.duration_since(&start), Some(Duration::from_millis(12_500)));
        assert_eq!(start.duration_since(&end), None);
        assert_eq!(
            Timestamp::between(Some(&start), Some(&end)),
            Some(Duration::from_millis(12_500))
        );
        assert_eq!(Timestamp::between(None, Some(&end)), None);
    }
}
