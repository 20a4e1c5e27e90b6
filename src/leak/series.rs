//! Reads a time series from CSV text: an `elapsed_s` column and one metric
//! column (what `loadprof sample` writes, or another tool's trace). Pure:
//! text in, values out; errors name the line and what would be valid.

/// Parses `text` and returns (times, values) of `metric`. Rows whose metric
/// cell is empty (not measured) are skipped.
pub fn parse_csv(text: &str, metric: &str) -> Result<(Vec<f64>, Vec<f64>), String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or("the file is empty; expected a header line with elapsed_s and the metric column")?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("line 1: no '{name}' column; the columns are: {}", cols.join(", ")))
    };
    let (ti, vi) = (find("elapsed_s")?, find(metric)?);
    let (mut t, mut v) = (Vec::new(), Vec::new());
    for (i, line) in lines {
        let no = i + 1;
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let cell = |k: usize, name: &str| -> Result<Option<f64>, String> {
            match cells.get(k).copied().unwrap_or("") {
                "" => Ok(None),
                c => c
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(Some)
                    .ok_or_else(|| format!("line {no}: {name} is '{c}', not a number")),
            }
        };
        let time = cell(ti, "elapsed_s")?.ok_or_else(|| format!("line {no}: elapsed_s is empty"))?;
        let Some(value) = cell(vi, metric)? else { continue };
        if let Some(&last) = t.last()
            && time <= last
        {
            return Err(format!(
                "line {no}: elapsed_s {time} does not increase (the row before had {last})"
            ));
        }
        t.push(time);
        v.push(value);
    }
    if t.is_empty() {
        return Err(format!("no rows with a value in '{metric}'"));
    }
    Ok((t, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_metric_and_skips_empty_cells() {
        let text = "elapsed_s,rss_bytes,gpu_mem_bytes\n0.0,100,\n0.1,110,5\n\n0.2,120,\n";
        assert_eq!(
            parse_csv(text, "rss_bytes").unwrap(),
            (vec![0.0, 0.1, 0.2], vec![100.0, 110.0, 120.0])
        );
        assert_eq!(parse_csv(text, "gpu_mem_bytes").unwrap(), (vec![0.1], vec![5.0]));
    }

    #[test]
    fn errors_name_the_line() {
        assert!(parse_csv("", "rss_bytes").unwrap_err().contains("empty"));
        let e = parse_csv("elapsed_s,rss\n0,1\n", "rss_bytes").unwrap_err();
        assert!(
            e.contains("no 'rss_bytes' column") && e.contains("elapsed_s, rss"),
            "{e}"
        );
        let e = parse_csv("elapsed_s,rss_bytes\n0,1\n1,lots\n", "rss_bytes").unwrap_err();
        assert_eq!(e, "line 3: rss_bytes is 'lots', not a number");
        let e = parse_csv("elapsed_s,rss_bytes\n0,1\n0,2\n", "rss_bytes").unwrap_err();
        assert!(e.starts_with("line 3: elapsed_s 0 does not increase"), "{e}");
        let e = parse_csv("elapsed_s,rss_bytes\n0,\n", "rss_bytes").unwrap_err();
        assert!(e.contains("no rows"), "{e}");
    }
}
