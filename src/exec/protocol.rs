//! The init's report: one JSON object a line, written by the init ([`super::init`], and
//! macOS's start shim) and read by boxpy ([`super::events`]). Both ends use [`ReportLine`],
//! so the wire format is defined once; what arrives is untrusted (the program shares the
//! sandbox with the init), and a line that does not decode is ignored.

use serde::{Deserialize, Serialize};

/// One line of the init's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum ReportLine {
    /// The program was started (the sandbox is built).
    Started,
    /// The program could not be executed.
    ExecFailed { errno: i32, path: String },
    /// The init's own set-up failed.
    SetupFailed { detail: String },
    /// A limit could not be applied; `key` is the policy key behind it when known.
    LimitFailed {
        detail: String,
        #[serde(default)]
        key: Option<String>,
    },
    /// The program ended: with a `code` or by a `signal`, its usage, and per counted place
    /// the files it left and whether the count stopped at its budget.
    Ended {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        #[serde(default)]
        cpu_ms: Option<u64>,
        #[serde(default)]
        max_rss_kib: Option<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        left: Vec<(u64, bool)>,
    },
}

impl ReportLine {
    /// The line as written: one JSON object, newline-terminated.
    pub(crate) fn encode(&self) -> String {
        let mut text = serde_json::to_string(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// A line as read; `None` for anything that is not a report line.
    pub(crate) fn decode(line: &str) -> Option<ReportLine> {
        serde_json::from_str(line.trim_end()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_round_trip() {
        for line in [
            ReportLine::Started,
            ReportLine::ExecFailed {
                errno: 2,
                path: "/x \"y\"\n".to_owned(),
            },
            ReportLine::SetupFailed {
                detail: "a".to_owned(),
            },
            ReportLine::LimitFailed {
                detail: "b".to_owned(),
                key: Some("limits.memory".to_owned()),
            },
            ReportLine::LimitFailed {
                detail: "b".to_owned(),
                key: None,
            },
            ReportLine::Ended {
                code: Some(3),
                signal: None,
                cpu_ms: Some(1),
                max_rss_kib: Some(2),
                left: vec![(4, true), (0, false)],
            },
            ReportLine::Ended {
                code: None,
                signal: Some(9),
                cpu_ms: Some(0),
                max_rss_kib: Some(0),
                left: Vec::new(),
            },
        ] {
            let encoded = line.encode();
            assert!(encoded.ends_with('\n') && encoded.matches('\n').count() == 1);
            assert_eq!(ReportLine::decode(&encoded), Some(line));
        }
    }

    /// The wire format stays what it was before the types (the macOS shim and older
    /// fixtures write it).
    #[test]
    fn report_lines_keep_their_wire_format() {
        assert_eq!(ReportLine::Started.encode(), "{\"event\":\"started\"}\n");
        assert_eq!(
            ReportLine::decode(
                "{\"event\":\"ended\",\"code\":0,\"cpu_ms\":5,\"max_rss_kib\":7,\"left\":[[1,false]]}"
            ),
            Some(ReportLine::Ended {
                code: Some(0),
                signal: None,
                cpu_ms: Some(5),
                max_rss_kib: Some(7),
                left: vec![(1, false)],
            })
        );
        for junk in [
            "",
            "{}",
            "[]",
            "{\"event\":\"nope\"}",
            "{\"event\":\"exec_failed\"}",
            "\u{0}",
        ] {
            assert_eq!(ReportLine::decode(junk), None, "{junk:?}");
        }
    }
}
