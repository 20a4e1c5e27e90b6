//! Asking a Prometheus server about the run's window: the URL of a
//! `/api/v1/query_range` request and the reading of its answer (a matrix,
//! or Prometheus's error), bounded and checked. The request itself is
//! [`crate::http`]'s.

use serde_json::Value;

/// Most points Prometheus answers per series (`query_range` refuses a
/// step that would give more).
pub const MAX_POINTS: f64 = 11_000.0;

/// Most series of one answer kept.
pub const MAX_SERIES: usize = 20;

/// One series of an answer: its labels and `(unix seconds, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub labels: Vec<(String, String)>,
    pub points: Vec<(f64, f64)>,
}

/// The step for `[start, end]`: `wanted`, widened so the answer stays
/// under [`MAX_POINTS`], and never finer than a millisecond.
pub fn step(start: f64, end: f64, wanted: f64) -> f64 {
    let least = ((end - start) / MAX_POINTS).max(0.001);
    let s = wanted.max(least);
    // Whole milliseconds, as Prometheus prints them back.
    (s * 1000.0).ceil() / 1000.0
}

/// `BASE/api/v1/query_range?query=…&start=…&end=…&step=…`.
pub fn range_url(base: &str, expr: &str, start: f64, end: f64, step: f64) -> String {
    format!(
        "{}/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step:.3}",
        base.trim_end_matches('/'),
        percent_encode(expr)
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        // Prometheus writes sample values as strings: "1.5", "NaN", "+Inf".
        Value::String(s) => match s.as_str() {
            "+Inf" | "Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            "NaN" => Some(f64::NAN),
            other => other.parse().ok(),
        },
        _ => None,
    }
}

/// Reads a `query_range` answer: the series of a matrix (at most
/// [`MAX_SERIES`]; how many there were is returned too), or Prometheus's
/// own words when it refused the query.
pub fn read_range(status: u16, body: &[u8]) -> Result<(Vec<Answer>, usize), String> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| {
        format!("the server answered {status} with something other than Prometheus's JSON; is prometheus_url the server's base URL?")
    })?;
    if doc["status"] != "success" {
        let kind = doc["errorType"].as_str().unwrap_or("error");
        let why = doc["error"].as_str().unwrap_or("no reason given");
        return Err(format!(
            "Prometheus refused the query ({kind}): {}",
            why.chars().take(300).collect::<String>()
        ));
    }
    let data = &doc["data"];
    if data["resultType"] != "matrix" {
        return Err(format!(
            "the answer is a {}, not a range of series",
            data["resultType"].as_str().unwrap_or("nothing")
        ));
    }
    let result = data["result"].as_array().ok_or("the answer has no result list")?;
    let mut out = Vec::new();
    for s in result.iter().take(MAX_SERIES) {
        let mut labels: Vec<(String, String)> = s["metric"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        labels.sort();
        let points = s["values"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter_map(|p| Some((number(p.get(0)?)?, number(p.get(1)?)?)))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Answer { labels, points });
    }
    Ok((out, result.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_is_read_with_special_values() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"job":"x","__name__":"up"},"values":[[1700000000,"1"],[1700000001.5,"NaN"],[1700000003,"+Inf"]]},
            {"metric":{},"values":[[1700000000,"2.5"]]}]}}"#;
        let (series, n) = read_range(200, body).unwrap();
        assert_eq!(n, 2);
        assert_eq!(series[0].labels[0], ("__name__".to_string(), "up".to_string()));
        assert_eq!(series[0].points[0], (1_700_000_000.0, 1.0));
        assert!(series[0].points[1].1.is_nan());
        assert_eq!(series[0].points[2].1, f64::INFINITY);
        assert_eq!(series[1].points, vec![(1_700_000_000.0, 2.5)]);
    }

    #[test]
    fn refusals_and_strangers_are_errors_in_words() {
        let e = read_range(
            400,
            br#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#,
        )
        .unwrap_err();
        assert!(e.contains("bad_data") && e.contains("parse error"), "{e}");
        let e = read_range(200, b"<html>hello</html>").unwrap_err();
        assert!(e.contains("prometheus_url"), "{e}");
        let e = read_range(
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        )
        .unwrap_err();
        assert!(e.contains("vector"), "{e}");
    }

    #[test]
    fn the_step_keeps_an_answer_under_the_point_limit() {
        assert_eq!(step(0.0, 60.0, 1.0), 1.0);
        let s = step(0.0, 86_400.0, 1.0);
        assert!(86_400.0 / s <= MAX_POINTS, "{s}");
        let url = range_url("http://h:9090/", "rate(x{a=\"b c\"}[1m])", 10.0, 20.0, 1.0);
        assert_eq!(
            url,
            "http://h:9090/api/v1/query_range?query=rate%28x%7Ba%3D%22b%20c%22%7D%5B1m%5D%29&start=10.000&end=20.000&step=1.000"
        );
    }
}
