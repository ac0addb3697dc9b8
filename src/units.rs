//! Sizes (`512MiB`, `2G`) and durations (`30s`, `5m`, `1500ms`) as written in policies and flags.
//! A leaf: the policy, `bounded`, the report and the flags all use it.
//!
//! All size suffixes are binary (`K` = `KiB` = 1024), as in `ulimit`, Docker's `--memory`
//! and bwrap's `--size`. `KB`/`MB`/`GB` are refused rather than guessed at.

use std::time::Duration;

/// Parses a size: a number of bytes with an optional `B`, `K`, `KiB`, `M`, `MiB`, `G`, `GiB`,
/// `T` or `TiB` suffix.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    let multiplier: u64 = match unit {
        "" | "B" => 1,
        "K" | "k" | "KiB" => 1 << 10,
        "M" | "m" | "MiB" => 1 << 20,
        "G" | "g" | "GiB" => 1 << 30,
        "T" | "t" | "TiB" => 1 << 40,
        "KB" | "kB" | "MB" | "GB" | "TB" => {
            let letter = &unit[..1].to_uppercase();
            return Err(format!(
                "`{text}`: `{unit}` is ambiguous; write `{number}{letter}` or `{number}{letter}iB` (binary units)"
            ));
        }
        _ => {
            return Err(format!(
                "`{text}` is not a size; use a number with `K`, `M`, `G` or `KiB`, `MiB`, `GiB` (e.g. `512MiB`)"
            ))
        }
    };
    if number.is_empty() {
        return Err(format!("`{text}` is not a size: no number (e.g. `512MiB`)"));
    }
    let bytes = whole(number, multiplier as f64).ok_or_else(|| {
        if number.parse::<f64>().is_ok() {
            format!("`{text}` is not a whole number of bytes (e.g. `1536` or `1.5KiB`)")
        } else {
            format!("`{text}` is not a size (e.g. `512MiB`)")
        }
    })?;
    // Integers are exact; a fraction is checked to land on a whole byte.
    if let Ok(count) = number.parse::<u64>() {
        return count
            .checked_mul(multiplier)
            .ok_or_else(|| format!("`{text}` is too large"));
    }
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    Ok(bytes as u64)
}

/// `number` (digits and at most one `.`) times `unit`, when that is a whole number: sizes
/// count bytes and durations milliseconds, so what `policy show` prints loads back exactly.
fn whole(number: &str, unit: f64) -> Option<f64> {
    let value: f64 = number.parse().ok()?;
    let product = value * unit;
    let rounded = product.round();
    // A decimal fraction in binary floating point is off by far less than this.
    ((product - rounded).abs() <= 1e-6 * rounded.max(1.0)).then_some(rounded)
}

/// Parses a duration: a number with `ms`, `s`, `m` or `h` (a bare number means seconds).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let millis_per_unit = match unit.trim() {
        "ms" => 1.0,
        "" | "s" | "sec" => 1000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        _ => {
            return Err(format!(
                "`{text}` is not a duration; use a number with `ms`, `s`, `m` or `h` (e.g. `30s`, `5m`)"
            ))
        }
    };
    if number.parse::<f64>().is_err() {
        return Err(format!("`{text}` is not a duration (e.g. `30s`, `5m`)"));
    }
    let millis = whole(number, millis_per_unit).ok_or_else(|| {
        format!(
            "`{text}` is finer than a millisecond; boxpy counts whole milliseconds (e.g. `1500ms`)"
        )
    })?;
    if !millis.is_finite() || millis > 365.0 * 86_400_000.0 {
        return Err(format!("`{text}` is too long"));
    }
    Ok(Duration::from_millis(millis as u64))
}

/// Formats a byte count the way a user would write it in a policy (`512MiB`), exactly:
/// a count that is no whole number of any unit is written in bytes (`1537B`).
pub(crate) fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (name, size) in UNITS {
        if bytes >= size && bytes % size == 0 {
            return format!("{}{name}", bytes / size);
        }
    }
    format!("{bytes}B")
}

/// Formats a duration the way a user would write it in a policy (`90s`, `5m`), exactly
/// (durations are whole milliseconds, see [`parse_duration`]).
pub(crate) fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis % 3_600_000 == 0 && millis > 0 {
        format!("{}h", millis / 3_600_000)
    } else if millis % 60_000 == 0 && millis > 0 {
        format!("{}m", millis / 60_000)
    } else if millis % 1000 == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size(" 64 MiB "), Ok(64 << 20));
        assert!(parse_size("2GB").unwrap_err().contains("`2G` or `2GiB`"));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("1e30T").is_err());
        assert_eq!(parse_size("1537"), Ok(1537));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_size("16777216T").unwrap_err().contains("too large"));
        assert!(parse_size("1.3K")
            .unwrap_err()
            .contains("whole number of bytes"));
        assert!(parse_size("0.5B").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1.1s"), Ok(Duration::from_millis(1100)));
        assert!(parse_duration("1.5ms")
            .unwrap_err()
            .contains("whole milliseconds"));
        assert!(parse_duration("0.4ms")
            .unwrap_err()
            .contains("whole milliseconds"));
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["512MiB", "2GiB", "1KiB", "10B", "1537B", "1023B"] {
            assert_eq!(format_size(parse_size(text).unwrap()), text);
        }
        for text in ["30s", "5m", "1h", "250ms", "1501ms"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }
}
