//! Human units used on the command line and in profiles: durations
//! (`250ms`, `30s`, `5m`, `1h`, `1m30s`, `1.5s`), sizes (`2GB`, powers of
//! 1024) and growth rates (`1MB/min`). Pure parsing and formatting; no I/O.

use std::time::Duration;

/// Why a duration string was rejected. The message says what would be valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("empty duration; expected a number with a unit, e.g. 100ms, 30s, 5m, 1h")]
    Empty,
    #[error("'{0}' has no unit; write it as e.g. {0}s or {0}ms (units: us, ms, s, m, h)")]
    MissingUnit(String),
    #[error("'{input}': unknown unit '{unit}' (units: us, ms, s, m, h)")]
    UnknownUnit { input: String, unit: String },
    #[error("'{0}' is not a duration; expected e.g. 100ms, 30s, 5m, 1h or 1m30s")]
    Malformed(String),
    #[error("'{0}' is too large")]
    TooLarge(String),
}

/// Parses a duration such as `250ms`, `30s`, `5m`, `1h`, `1.5s` or `1m30s`.
///
/// A bare `0` is accepted (zero needs no unit); any other number needs one,
/// because "100" could mean seconds to one user and milliseconds to another.
pub fn parse_duration(input: &str) -> Result<Duration, UnitError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(UnitError::Empty);
    }
    if s.chars().all(|c| c == '0' || c == '.') {
        return Ok(Duration::ZERO);
    }
    let mut total_ns: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(UnitError::Malformed(input.to_string()));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| UnitError::Malformed(input.to_string()))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = &rest[unit_len..];
        let scale = match unit {
            "" => return Err(UnitError::MissingUnit(input.to_string())),
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" | "sec" => 1e9,
            "m" | "min" => 60e9,
            "h" => 3600e9,
            other => {
                return Err(UnitError::UnknownUnit {
                    input: input.to_string(),
                    unit: other.to_string(),
                });
            }
        };
        total_ns += number * scale;
    }
    if !total_ns.is_finite() || total_ns > u64::MAX as f64 {
        return Err(UnitError::TooLarge(input.to_string()));
    }
    Ok(Duration::from_nanos(total_ns.round() as u64))
}

/// The largest size accepted (1 EiB): far beyond any machine's memory,
/// and small enough that arithmetic on it stays exact enough and finite.
const MAX_SIZE: f64 = (1u64 << 60) as f64;

/// Parses a size: `512KB`, `1.5MB`, `2GB`, `4096` (bytes), with powers of
/// 1024 (`KiB`, `MiB`, `GiB` and `B` accepted too).
pub fn parse_size(input: &str) -> Result<f64, String> {
    let s = input.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let number: f64 = s[..split]
        .parse()
        .map_err(|_| format!("'{input}' is not a size; expected e.g. 512KB, 1.5MB, 2GB"))?;
    let scale = match s[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0f64.powi(4),
        other => {
            return Err(format!(
                "'{input}': unknown size unit '{other}' (B, KB, MB, GB, TB; powers of 1024)"
            ));
        }
    };
    let bytes = number * scale;
    if !bytes.is_finite() || bytes > MAX_SIZE {
        return Err(format!("'{input}' is too large; sizes go up to 1 EiB"));
    }
    Ok(bytes)
}

/// Parses a growth rate, `1MB/min`, `10KB/s`, `50MB/h`, into bytes per second.
pub fn parse_byte_rate(input: &str) -> Result<f64, String> {
    let (size, per) = input
        .split_once('/')
        .ok_or_else(|| format!("'{input}' is not a rate; expected e.g. 1MB/min, 10KB/s, 50MB/h"))?;
    let secs = match per.trim() {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" | "hour" => 3600.0,
        other => return Err(format!("'{input}': unknown period '{other}' (s, min, h)")),
    };
    Ok(parse_size(size)? / secs)
}

/// Formats bytes with binary units: `512 B`, `1.5 KiB`, `120.3 MiB`, `2.00 GiB`.
pub fn format_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{v:.0} {}", UNITS[0]),
        _ if v.abs() >= 100.0 => format!("{v:.1} {}", UNITS[unit]),
        _ => format!("{v:.2} {}", UNITS[unit]),
    }
}

/// Formats a duration the way a person would type it: `100ms`, `30s`,
/// `2m30s`, `1h`, `1.5s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if d.is_zero() {
        return "0s".into();
    }
    if ms == 0 {
        return format!("{}us", d.as_micros());
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if !ms.is_multiple_of(1000) {
        return format!("{}s", trim_float(d.as_secs_f64(), 3));
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

fn trim_float(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
    }

    #[test]
    fn parses_fractions_and_compounds() {
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h 2m"), Ok(Duration::from_secs(3720)));
    }

    #[test]
    fn zero_needs_no_unit() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_bare_number_with_hint() {
        let err = parse_duration("100").unwrap_err();
        assert_eq!(err, UnitError::MissingUnit("100".into()));
        assert!(err.to_string().contains("100s or 100ms"));
    }

    #[test]
    fn rejects_unknown_unit_and_garbage() {
        assert!(matches!(parse_duration("10d"), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(parse_duration("fast"), Err(UnitError::Malformed(_))));
        assert!(matches!(parse_duration("1..2s"), Err(UnitError::Malformed(_))));
        assert_eq!(parse_duration("  "), Err(UnitError::Empty));
    }

    #[test]
    fn sizes_and_byte_rates() {
        assert_eq!(parse_size("2GB"), Ok(2.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse_size("1.5MiB"), Ok(1.5 * 1024.0 * 1024.0));
        assert_eq!(parse_size("4096"), Ok(4096.0));
        assert!(parse_size("2 parsecs").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_byte_rate("1MB/min"), Ok(1024.0 * 1024.0 / 60.0));
        assert_eq!(parse_byte_rate("10KB/s"), Ok(10240.0));
        assert!(parse_byte_rate("1MB").unwrap_err().contains("1MB/min"));
        assert!(parse_byte_rate("1MB/day").unwrap_err().contains("'day'"));
    }

    #[test]
    fn sizes_too_large_to_be_finite_are_refused() {
        let digits = "9".repeat(400);
        assert!(parse_size(&digits).unwrap_err().contains("too large"));
        assert!(parse_size("2000000TB").unwrap_err().contains("too large"));
        assert!(parse_byte_rate(&format!("{digits}MB/min")).is_err());
        assert_eq!(parse_size("1048576TB"), Ok((1u64 << 60) as f64));
    }

    #[test]
    fn durations_past_the_clock_negative_or_not_numbers_are_errors() {
        for s in [
            "1e30s",
            "-5s",
            "NaN",
            "nans",
            "inf",
            "infs",
            "99999999999999999999h",
            "1.5.5s",
        ] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
        assert!(matches!(parse_duration("600000000h"), Err(UnitError::TooLarge(_))));
    }

    #[test]
    fn formats_round_trip() {
        for s in ["100ms", "30s", "2m30s", "1h", "1.5s", "1h1m1s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(format_duration(Duration::from_micros(250)), "250us");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
