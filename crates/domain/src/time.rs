//! Unix time, and the two ways Gantry writes it (RFC 3339 with `Z`, and with `+00:00` as
//! Globus does), without a calendar library. The one home of the calendar arithmetic.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Formats unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: i64) -> String {
    format!("{}Z", date_time(secs, 'T'))
}

/// Formats unix seconds as `YYYY-MM-DDTHH:MM:SS+00:00`, the form of Globus task times.
pub fn rfc3339_utc_offset(secs: i64) -> String {
    format!("{}+00:00", date_time(secs, 'T'))
}

/// Formats unix seconds as `YYYY-MM-DD HH:MM:SS+00:00`, the form of Globus file times
/// (`last_modified` in a directory listing).
pub fn globus_file_time(secs: i64) -> String {
    format!("{}+00:00", date_time(secs, ' '))
}

/// How long ago (or how far ahead) `secs` is from `now`, as a person says it:
/// "just now", "5 minutes ago", "3 hours ago", "2 days ago", "in 30 days"; past a
/// year, the date.
pub fn relative(secs: i64, now: i64) -> String {
    let d = now - secs;
    let n = d.abs();
    if n < 45 {
        return "just now".into();
    }
    let (count, unit) = match n {
        n if n < 3600 => ((n + 30) / 60, "minute"),
        n if n < 86_400 => ((n + 1800) / 3600, "hour"),
        n if n < 45 * 86_400 => ((n + 43_200) / 86_400, "day"),
        n if n < 365 * 86_400 => ((n + 15 * 86_400) / (30 * 86_400), "month"),
        _ => return date_time(secs, 'T')[..10].to_string(),
    };
    let count = count.max(1);
    let plural = if count == 1 { "" } else { "s" };
    if d >= 0 { format!("{count} {unit}{plural} ago") } else { format!("in {count} {unit}{plural}") }
}

fn date_time(secs: i64, sep: char) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Reads a UTC time written `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.fff]]` or with `T`,
/// optionally ending in `Z` or `+00:00`. Other offsets and malformed dates are `None`.
pub fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, "00:00:00"),
    };
    let time = time.strip_suffix('Z').or_else(|| time.strip_suffix("+00:00")).unwrap_or(time);
    let d: Vec<&str> = date.split('-').collect();
    let [y, m, day] = d.as_slice() else { return None };
    let (y, m, day): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, day.parse().ok()?);
    if !(1..=12).contains(&m) || day == 0 || day > days_in_month(y, m) {
        return None;
    }
    let t: Vec<&str> = time.split(':').collect();
    if t.is_empty() || t.len() > 3 {
        return None;
    }
    let field = |i: usize, max: i64| -> Option<i64> {
        match t.get(i) {
            None => Some(0),
            Some(v) => {
                let whole = if i == 2 { v.split('.').next()? } else { v };
                whole.parse::<i64>().ok().filter(|x| (0..max).contains(x))
            }
        }
    };
    let (hh, mm, ss) = (field(0, 24)?, field(1, 60)?, field(2, 61)?);
    Some(days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-to-civil and civil-to-days algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {

    #[test]
    fn relative_times_read_as_people_say_them() {
        let now = 1_800_000_000;
        assert_eq!(relative(now - 10, now), "just now");
        assert_eq!(relative(now - 60, now), "1 minute ago");
        assert_eq!(relative(now - 5 * 60, now), "5 minutes ago");
        assert_eq!(relative(now - 3 * 3600, now), "3 hours ago");
        assert_eq!(relative(now - 86_400, now), "1 day ago");
        assert_eq!(relative(now - 20 * 86_400, now), "20 days ago");
        assert_eq!(relative(now - 90 * 86_400, now), "3 months ago");
        assert_eq!(relative(now + 30 * 86_400, now), "in 30 days");
        assert_eq!(relative(now - 400 * 86_400, now), rfc3339(now - 400 * 86_400)[..10]);
    }

    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc_offset(1_798_761_599), "2026-12-31T23:59:59+00:00");
        assert_eq!(globus_file_time(1_798_761_599), "2026-12-31 23:59:59+00:00");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn parses_what_it_writes_and_the_globus_forms() {
        for secs in [0, 951_782_400, 1_798_761_599, 4_102_444_800, -86_401] {
            assert_eq!(parse_utc(&rfc3339(secs)), Some(secs));
            assert_eq!(parse_utc(&rfc3339_utc_offset(secs)), Some(secs));
        }
        assert_eq!(parse_utc("2026-12-31 23:59:59+00:00"), Some(1_798_761_599));
        assert_eq!(parse_utc("2026-12-31 23:59"), Some(1_798_761_540));
        assert_eq!(parse_utc("2026-12-31T23:59:59.250Z"), Some(1_798_761_599));
        assert_eq!(parse_utc("2026-12-31"), Some(1_798_675_200));
    }

    #[test]
    fn refuses_what_is_not_a_utc_time() {
        for bad in [
            "",
            "tomorrow",
            "2026-13-01",
            "2026-02-29",
            "2026-12-32",
            "2026-12-31 24:00:00",
            "2026-12-31 23:60",
            "2026-12-31T10:00:00+02:00",
            "2026-12",
            "2026-12-31 1:2:3:4",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad:?}");
        }
        assert!(parse_utc("2024-02-29").is_some());
    }
}
