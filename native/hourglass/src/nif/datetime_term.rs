//! A Unix time as the `DateTime` in UTC that Elixir's `DateTime.from_unix!(micros,
//! :microsecond)` makes, built where the task's or the activation's term is built (on the poll
//! loop's tokio thread) rather than by the worker process or the run, which would convert every
//! attempt's three times, or every activation's time, on a scheduler.

use crate::nif::atoms::named as atom;
use crate::nif::client_nif::nil;
use crate::nif::workflow_activation_term::map;
use rustler::types::tuple::make_tuple;
use rustler::{Encoder, Env, Term};

/// The years `Calendar.ISO` takes; a time outside them has no `DateTime`.
const YEARS: std::ops::RangeInclusive<i64> = -9999..=9999;

/// The civil date (proleptic Gregorian) `days` after 1970-01-01: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Counted in 400-year eras from 0000-03-01, so that a leap day ends its year.
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The fields of a `DateTime` in UTC.
struct UtcFields {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    microsecond: i64,
}

/// The fields of the `DateTime` for `micros` after the Unix epoch, or `None` when its year is
/// outside what `Calendar.ISO` takes.
fn utc_fields(micros: i64) -> Option<UtcFields> {
    let seconds = micros.div_euclid(1_000_000);
    let microsecond = micros.rem_euclid(1_000_000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    YEARS.contains(&year).then_some(UtcFields {
        year,
        month,
        day,
        hour: of_day / 3_600,
        minute: of_day % 3_600 / 60,
        second: of_day % 60,
        microsecond,
    })
}

/// A protobuf timestamp as Unix microseconds.
pub fn timestamp_micros(timestamp: &Option<prost_wkt_types::Timestamp>) -> Option<i64> {
    timestamp
        .as_ref()
        .map(|time| time.seconds * 1_000_000 + i64::from(time.nanos) / 1_000)
}

/// [`utc_datetime`] of a protobuf timestamp; nil for none.
pub fn timestamp_datetime<'a>(
    env: Env<'a>,
    timestamp: &Option<prost_wkt_types::Timestamp>,
) -> Term<'a> {
    match timestamp_micros(timestamp) {
        Some(micros) => utc_datetime(env, micros),
        None => nil(env),
    }
}

/// `%DateTime{}` in UTC with microsecond precision for `micros` after the Unix epoch; nil for a
/// time whose year `Calendar.ISO` does not take.
pub fn utc_datetime(env: Env<'_>, micros: i64) -> Term<'_> {
    let Some(fields) = utc_fields(micros) else {
        return nil(env);
    };
    map(
        env,
        &[
            ("__struct__", atom(env, "Elixir.DateTime")),
            ("calendar", atom(env, "Elixir.Calendar.ISO")),
            ("year", fields.year.encode(env)),
            ("month", fields.month.encode(env)),
            ("day", fields.day.encode(env)),
            ("hour", fields.hour.encode(env)),
            ("minute", fields.minute.encode(env)),
            ("second", fields.second.encode(env)),
            (
                "microsecond",
                make_tuple(env, &[fields.microsecond.encode(env), 6.encode(env)]),
            ),
            ("time_zone", "Etc/UTC".encode(env)),
            ("zone_abbr", "UTC".encode(env)),
            ("utc_offset", 0.encode(env)),
            ("std_offset", 0.encode(env)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(micros: i64) -> (i64, u32, u32, i64, i64, i64, i64) {
        let f = utc_fields(micros).expect("in range");
        (
            f.year,
            f.month,
            f.day,
            f.hour,
            f.minute,
            f.second,
            f.microsecond,
        )
    }

    #[test]
    fn known_times() {
        assert_eq!(date(0), (1970, 1, 1, 0, 0, 0, 0));
        assert_eq!(date(-1), (1969, 12, 31, 23, 59, 59, 999_999));
        // 2000-02-29 12:34:56.789012 (a leap day of a year divisible by 400)
        assert_eq!(
            date(951_827_696_789_012),
            (2000, 2, 29, 12, 34, 56, 789_012)
        );
        // 2100-03-01 00:00:00 (2100 is not a leap year)
        assert_eq!(date(4_107_542_400_000_000), (2100, 3, 1, 0, 0, 0, 0));
        // 2024-12-31 23:59:59.999999
        assert_eq!(
            date(1_735_689_599_999_999),
            (2024, 12, 31, 23, 59, 59, 999_999)
        );
        // 9999-12-31 23:59:59, the last second Calendar.ISO takes
        assert_eq!(date(253_402_300_799_000_000), (9999, 12, 31, 23, 59, 59, 0));
        // -9999-01-01 00:00:00, the first
        assert_eq!(date(-377_705_116_800_000_000), (-9999, 1, 1, 0, 0, 0, 0));
    }

    #[test]
    fn times_outside_calendar_iso_have_no_date() {
        assert!(utc_fields(253_402_300_800_000_000).is_none());
        assert!(utc_fields(-377_705_116_800_000_001).is_none());
        assert!(utc_fields(i64::MAX).is_none());
        assert!(utc_fields(i64::MIN).is_none());
    }

    /// Every day from 1600 to 2400 follows the one before: the day of the month goes up by one,
    /// or the month (or year) turns over on the right day.
    #[test]
    fn consecutive_days_are_consecutive_dates() {
        let days_in = |year: i64, month: u32| match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            _ => 28,
        };
        let mut previous = civil_from_days(-135_140); // 1600-01-01
        assert_eq!(previous, (1600, 1, 1));
        for days in -135_139..157_054 {
            let (year, month, day) = civil_from_days(days);
            let (p_year, p_month, p_day) = previous;
            if p_day < days_in(p_year, p_month) {
                assert_eq!((year, month, day), (p_year, p_month, p_day + 1));
            } else if p_month < 12 {
                assert_eq!((year, month, day), (p_year, p_month + 1, 1));
            } else {
                assert_eq!((year, month, day), (p_year + 1, 1, 1));
            }
            previous = (year, month, day);
        }
        assert_eq!(previous, (2399, 12, 31));
    }
}
