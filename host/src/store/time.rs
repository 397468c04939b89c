//! Timestamps: the store keeps milliseconds since the Unix epoch; people see
//! ISO 8601 in UTC with milliseconds (`2026-11-24T05:44:52.123Z`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `ms` since the epoch as ISO 8601 UTC with milliseconds.
pub fn render_iso(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms_of_day % 1000
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, computed in
/// 400-year eras of 146,097 days each, with years starting in March so the
/// leap day falls at the end.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_instants() {
        assert_eq!(render_iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(render_iso(951_782_400_000), "2000-02-29T00:00:00.000Z", "a leap day of a 400-year leap year");
        assert_eq!(render_iso(1_795_499_092_123), "2026-11-24T05:44:52.123Z");
        assert_eq!(render_iso(4_107_542_399_999), "2100-02-28T23:59:59.999Z", "2100 is not a leap year");
        assert_eq!(render_iso(-1), "1969-12-31T23:59:59.999Z");
    }
}
