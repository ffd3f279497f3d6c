//! `Retry-After` (RFC 9110, section 10.2.3) as a delay: delay-seconds, or
//! an HTTP-date less the answer's own `Date` (the server's clock, so a
//! phone's wrong clock does not matter), else less this device's time.
//!
//! The value is not trusted here: a huge or far-future one saturates, and
//! the machine bounds the wait by `maxBackoffMillis`. A value that is
//! neither form is ignored, as RFC 9110 allows.

use std::time::SystemTime;

/// The header's delay in milliseconds, if it has a valid one. `date` is
/// the answer's `Date` header, `now` this device's time.
pub fn retry_after_millis(value: &str, date: Option<&str>, now: SystemTime) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|byte| byte.is_ascii_digit()) {
        // Only digits: a number too long for u64 is "very long".
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(seconds.saturating_mul(1_000));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let base = date
        .and_then(|date| httpdate::parse_http_date(date.trim()).ok())
        .unwrap_or(now);
    let ahead = at.duration_since(base).unwrap_or_default();
    Some(u64::try_from(ahead.as_millis()).unwrap_or(u64::MAX))
}

/// [`retry_after_millis`] of an answer's headers.
pub fn from_headers(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Option<u64> {
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    retry_after_millis(
        text(reqwest::header::RETRY_AFTER)?,
        text(reqwest::header::DATE),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::retry_after_millis;
    use std::time::{Duration, SystemTime};

    const NOW: &str = "Wed, 02 Dec 2026 12:00:00 GMT";

    fn now() -> SystemTime {
        httpdate::parse_http_date(NOW).unwrap()
    }

    #[test]
    fn seconds_and_dates_become_delays() {
        assert_eq!(retry_after_millis("120", None, now()), Some(120_000));
        assert_eq!(retry_after_millis(" 0 ", None, now()), Some(0));
        let later = "Wed, 02 Dec 2026 12:00:30 GMT";
        assert_eq!(retry_after_millis(later, None, now()), Some(30_000));
        // The server's own Date, not the device's clock.
        let device = now() + Duration::from_secs(3_600);
        assert_eq!(retry_after_millis(later, Some(NOW), device), Some(30_000));
        let earlier = "Wed, 02 Dec 2026 11:00:00 GMT";
        assert_eq!(retry_after_millis(earlier, None, now()), Some(0));
    }

    #[test]
    fn hostile_values_saturate_or_are_ignored() {
        let huge = "99999999999999999999999999";
        assert_eq!(retry_after_millis(huge, None, now()), Some(u64::MAX));
        for bad in ["", "-5", "1.5", "soon", "12 seconds", "\u{0}"] {
            assert_eq!(retry_after_millis(bad, None, now()), None, "{bad:?}");
        }
    }
}
