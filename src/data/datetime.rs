//! Date and time columns: recognising text that holds dates or timestamps, and the parts
//! (year, month, day of week, …) a learner can use.
//!
//! A column is a date column when one format parses nearly all of its values; the format is kept
//! in the schema so new data is read the same way. Values become seconds since 1970-01-01 (UTC;
//! a time zone offset is applied), and the parts are taken from those seconds, so the parts are
//! a pure function of the cell: nothing is fitted on rows.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

/// One part of a date or time, used as a numeric feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePart {
    /// Calendar year.
    Year,
    /// Month, 1–12.
    Month,
    /// Day of the month, 1–31.
    Day,
    /// Day of the week, Monday = 0 … Sunday = 6.
    DayOfWeek,
    /// Day of the year, 1–366.
    DayOfYear,
    /// Quarter, 1–4.
    Quarter,
    /// ISO week of the year, 1–53.
    WeekOfYear,
    /// Hour, 0–23.
    Hour,
    /// Minute, 0–59.
    Minute,
    /// Second, 0–59.
    Second,
    /// Days since 1970-01-01 (fractional): the date as one ordered number.
    Ordinal,
}

/// Every part, in the order features are laid out.
pub const ALL_PARTS: [DatePart; 11] = [
    DatePart::Year,
    DatePart::Month,
    DatePart::Day,
    DatePart::DayOfWeek,
    DatePart::DayOfYear,
    DatePart::Quarter,
    DatePart::WeekOfYear,
    DatePart::Hour,
    DatePart::Minute,
    DatePart::Second,
    DatePart::Ordinal,
];

impl DatePart {
    /// Name of the part, as in derived feature names (`date.month`).
    pub fn name(self) -> &'static str {
        match self {
            DatePart::Year => "year",
            DatePart::Month => "month",
            DatePart::Day => "day",
            DatePart::DayOfWeek => "day_of_week",
            DatePart::DayOfYear => "day_of_year",
            DatePart::Quarter => "quarter",
            DatePart::WeekOfYear => "week_of_year",
            DatePart::Hour => "hour",
            DatePart::Minute => "minute",
            DatePart::Second => "second",
            DatePart::Ordinal => "ordinal",
        }
    }

    /// The part of a timestamp given in seconds since 1970 (NaN stays NaN).
    pub fn of(self, secs: f64) -> f64 {
        if !secs.is_finite() {
            return f64::NAN;
        }
        if self == DatePart::Ordinal {
            return secs / 86_400.0;
        }
        let whole = secs.floor();
        let Some(t) = DateTime::from_timestamp(whole as i64, 0).map(|d| d.naive_utc()) else {
            return f64::NAN;
        };
        f64::from(match self {
            DatePart::Year => t.year() as u32,
            DatePart::Month => t.month(),
            DatePart::Day => t.day(),
            DatePart::DayOfWeek => t.weekday().num_days_from_monday(),
            DatePart::DayOfYear => t.ordinal(),
            DatePart::Quarter => (t.month() - 1) / 3 + 1,
            DatePart::WeekOfYear => t.iso_week().week(),
            DatePart::Hour => t.hour(),
            DatePart::Minute => t.minute(),
            DatePart::Second => t.second(),
            DatePart::Ordinal => 0,
        })
    }
}

/// Formats with a time, tried in this order (ISO first; month-first before day-first).
const DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
];

/// Date-only formats, tried in this order.
const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%m-%d-%Y",
    "%d-%m-%Y",
    "%d %b %Y",
    "%d-%b-%Y",
    "%b %d, %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%B %d, %Y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%y",
];

/// Name under which RFC 3339 timestamps with a zone (`2024-05-01T10:00:00+02:00`) are kept.
pub const RFC3339: &str = "rfc3339";

/// Seconds since 1970 of `text` read with `format` (a chrono format or [`RFC3339`]). Years
/// outside 1000–9999 are refused: chrono reads `%Y` from a single digit, which would take
/// version numbers (`1.2.3`) or codes (`3-12-7`) for dates.
pub fn parse(text: &str, format: &str) -> Option<f64> {
    let t = text.trim();
    // chrono reads `%y` from one digit too: a two-digit year must have two.
    if format.ends_with("%y") && t.rsplit(|c: char| !c.is_ascii_digit()).next().map(str::len) != Some(2) {
        return None;
    }
    let t = if format == RFC3339 {
        DateTime::parse_from_rfc3339(t).ok().map(|d| d.naive_utc())
    } else if DATE_FORMATS.contains(&format) {
        NaiveDate::parse_from_str(t, format)
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    } else {
        NaiveDateTime::parse_from_str(t, format).ok()
    }?;
    (1000..=9999).contains(&t.year()).then(|| seconds(&t))
}

/// The date part of a format (before its time), which fixes the order of day, month and year.
fn date_order(format: &str) -> &str {
    if format == RFC3339 {
        return "%Y-%m-%d";
    }
    format.split([' ', 'T']).next().unwrap_or(format)
}

/// [`parse`] with `format`, else with a format of the same day/month/year order (a date where
/// the training data had timestamps, or the reverse, as when a Parquet timestamp column is
/// scored from a CSV of dates).
pub fn parse_like(text: &str, format: &str) -> Option<f64> {
    parse(text, format).or_else(|| {
        let order = date_order(format);
        std::iter::once(RFC3339)
            .chain(DATETIME_FORMATS.iter().copied())
            .chain(DATE_FORMATS.iter().copied())
            .filter(|f| *f != format && date_order(f) == order)
            .find_map(|f| parse(text, f))
    })
}

fn seconds(t: &NaiveDateTime) -> f64 {
    let u = t.and_utc();
    u.timestamp() as f64 + f64::from(u.timestamp_subsec_nanos()) * 1e-9
}

/// Share of a column's non-missing values that must parse for it to count as dates.
pub const MIN_PARSE_RATE: f64 = 0.95;

/// Values looked at to choose a format.
const SAMPLE: usize = 200;

/// The format that reads the column's values as dates, if one reads at least
/// [`MIN_PARSE_RATE`] of them (and at least 3 values): the format with the most hits on the
/// first values, confirmed on all of them.
pub fn detect(values: &[Option<String>]) -> Option<&'static str> {
    let present: Vec<&str> = values.iter().flatten().map(String::as_str).collect();
    if present.len() < 3 {
        return None;
    }
    // Cheap rejection: dates hold digits.
    let first = &present[..present.len().min(SAMPLE)];
    if first
        .iter()
        .filter(|v| v.bytes().any(|b| b.is_ascii_digit()))
        .count()
        * 2
        < first.len()
    {
        return None;
    }
    // Formats ranked by hits on values spread over the whole column (a column sorted by date
    // can open with days that all read month-first), each then checked on every value; ties
    // keep the listed order.
    let step = present.len().div_ceil(SAMPLE).max(1);
    let sample: Vec<&str> = present.iter().step_by(step).copied().collect();
    let mut ranked: Vec<(&'static str, usize)> = std::iter::once(RFC3339)
        .chain(DATETIME_FORMATS.iter().copied())
        .chain(DATE_FORMATS.iter().copied())
        .map(|f| (f, sample.iter().filter(|v| parse(v, f).is_some()).count()))
        .filter(|(_, hits)| (*hits as f64) >= MIN_PARSE_RATE * sample.len() as f64)
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
    ranked.into_iter().map(|(f, _)| f).find(|f| {
        let all = present.iter().filter(|v| parse(v, f).is_some()).count();
        (all as f64) >= MIN_PARSE_RATE * present.len() as f64
    })
}

/// The parts that vary over a column's values read with `format` (unreadable ones missing).
pub fn parts_of(values: &[Option<String>], format: &str) -> Vec<DatePart> {
    let secs: Vec<f64> = values
        .iter()
        .map(|v| v.as_deref().and_then(|s| parse(s, format)).unwrap_or(f64::NAN))
        .collect();
    varying_parts(&secs)
}

/// The parts that vary over `secs` (constant ones carry nothing and are dropped).
pub fn varying_parts(secs: &[f64]) -> Vec<DatePart> {
    ALL_PARTS
        .iter()
        .copied()
        .filter(|p| {
            let mut range: Option<(f64, f64)> = None;
            for &s in secs {
                let v = p.of(s);
                if v.is_nan() {
                    continue;
                }
                range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
            }
            range.is_some_and(|(lo, hi)| hi > lo)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| (!s.is_empty()).then(|| s.to_string())).collect()
    }

    #[test]
    fn formats_are_recognised() {
        assert_eq!(
            detect(&col(&["2024-01-05", "2023-12-31", "", "2020-02-29"])),
            Some("%Y-%m-%d")
        );
        assert_eq!(
            detect(&col(&[
                "2024-01-05 10:00:01",
                "2023-12-31 23:59:59.5",
                "2020-02-29 00:00:00"
            ])),
            Some("%Y-%m-%d %H:%M:%S%.f")
        );
        assert_eq!(
            detect(&col(&[
                "2024-01-05T10:00:00Z",
                "2023-12-31T23:59:59+02:00",
                "2020-02-29T00:00:00Z"
            ])),
            Some(RFC3339)
        );
        // 13/01 only reads day-first.
        assert_eq!(
            detect(&col(&["13/01/2024", "02/03/2024", "28/02/2023"])),
            Some("%d/%m/%Y")
        );
        assert_eq!(
            detect(&col(&["01/13/2024", "02/03/2024", "02/28/2023"])),
            Some("%m/%d/%Y")
        );
        assert_eq!(
            detect(&col(&["Jan 5, 2024", "Dec 31, 2023", "Feb 29, 2020"])),
            Some("%b %d, %Y")
        );
    }

    #[test]
    fn versions_codes_and_short_years() {
        assert_eq!(detect(&col(&["1.2.3", "2.10.1", "3.4.5"])), None);
        assert_eq!(detect(&col(&["3-12-7", "1-1-1", "2-5-9"])), None);
        assert_eq!(detect(&col(&["1/2/3", "4/5/6", "7/8/9"])), None);
        assert_eq!(
            detect(&col(&["01/05/24", "12/31/23", "02/29/20"])),
            Some("%m/%d/%y")
        );
        let s = parse("01/05/24", "%m/%d/%y").unwrap();
        assert_eq!(DatePart::Year.of(s), 2024.0);
    }

    #[test]
    fn a_sorted_day_first_column_is_read_day_first() {
        // 300 dates from 1 January: the first 12 days of each month read either way.
        let base = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
        let days: Vec<String> = (0..300)
            .map(|i| (base + chrono::Days::new(i)).format("%d/%m/%Y").to_string())
            .collect();
        let refs: Vec<&str> = days.iter().map(String::as_str).collect();
        assert_eq!(detect(&col(&refs)), Some("%d/%m/%Y"));
    }

    #[test]
    fn new_data_may_hold_dates_where_training_had_timestamps() {
        let f = "%Y-%m-%d %H:%M:%S%.f";
        assert_eq!(parse_like("2021-05-18", f), parse("2021-05-18 00:00:00.000", f));
        // Same order only: a day-first format never reads month-first text.
        assert_eq!(parse_like("05/18/2021", "%d/%m/%Y"), None);
        assert!(parse_like("18/05/2021 10:00", "%d/%m/%Y").is_some());
    }

    #[test]
    fn words_codes_and_rare_dates_are_not_dates() {
        assert_eq!(detect(&col(&["red", "green", "blue", "red"])), None);
        assert_eq!(detect(&col(&["z95823", "z95811", "z95815"])), None);
        assert_eq!(detect(&col(&["B3", "B4", "C1"])), None);
        // Two of four parse: below the rate.
        assert_eq!(detect(&col(&["2024-01-05", "soon", "2023-12-31", "never"])), None);
        assert_eq!(detect(&col(&["2024-01-05", "2023-12-31"])), None);
    }

    #[test]
    fn parts_of_a_known_timestamp() {
        // 2024-03-15 (a Friday) 13:45:30 UTC.
        let s = parse("2024-03-15T13:45:30Z", RFC3339).unwrap();
        let got: Vec<f64> = ALL_PARTS.iter().map(|p| p.of(s)).collect();
        assert_eq!(
            &got[..10],
            &[2024.0, 3.0, 15.0, 4.0, 75.0, 1.0, 11.0, 13.0, 45.0, 30.0]
        );
        assert!((got[10] - 19797.573).abs() < 1e-3);
        // The offset is applied: 01:00 at +02:00 is 23:00 UTC the day before.
        let z = parse("2024-03-15T01:00:00+02:00", RFC3339).unwrap();
        assert_eq!(DatePart::Day.of(z), 14.0);
        assert!(DatePart::Hour.of(f64::NAN).is_nan());
    }

    #[test]
    fn constant_parts_are_dropped() {
        let secs: Vec<f64> = ["2024-01-01", "2024-01-02", "2024-01-09"]
            .iter()
            .map(|d| parse(d, "%Y-%m-%d").unwrap())
            .collect();
        assert_eq!(
            varying_parts(&secs),
            vec![
                DatePart::Day,
                DatePart::DayOfWeek,
                DatePart::DayOfYear,
                DatePart::WeekOfYear,
                DatePart::Ordinal
            ]
        );
    }
}
