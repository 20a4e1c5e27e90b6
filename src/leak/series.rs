//! Reads a time series from CSV text: an `elapsed_s` column and one metric
//! column (what `loadprof sample` writes, or another tool's trace). Pure:
//! text in, values out; errors name the line and what would be valid.

/// Parses `text` and returns (times, values) of `metric`. Rows whose metric
/// cell is empty (not measured) are skipped. Cells may be quoted (RFC 4180)
/// and a leading byte-order mark is ignored, as spreadsheets write them.
pub fn parse_csv(text: &str, metric: &str) -> Result<(Vec<f64>, Vec<f64>), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = records(text)?.into_iter();
    let (header_line, header) = rows
        .next()
        .ok_or("the file is empty; expected a header line with elapsed_s and the metric column")?;
    let cols: Vec<&str> = header.iter().map(String::as_str).collect();
    let find = |name: &str| {
        cols.iter().position(|c| *c == name).ok_or_else(|| {
            format!(
                "line {header_line}: no '{name}' column; the columns are: {}",
                cols.join(", ")
            )
        })
    };
    let (ti, vi) = (find("elapsed_s")?, find(metric)?);
    let (mut t, mut v) = (Vec::new(), Vec::new());
    for (no, cells) in rows {
        if cells.len() > cols.len() {
            return Err(format!(
                "line {no}, column {}: the row has {} cells but the header names {} columns",
                cols.len() + 1,
                cells.len(),
                cols.len()
            ));
        }
        let cell = |k: usize, name: &str| -> Result<Option<f64>, String> {
            match cells.get(k).map_or("", |c| c.trim()) {
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
        if value < 0.0 {
            return Err(format!(
                "line {no}, column {} ({metric}): {value} is below zero; an amount of memory is 0 or more",
                vi + 1
            ));
        }
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

/// Splits CSV text into records, each with the 1-based line it starts on.
/// Cells are trimmed; a quoted cell keeps what is inside its quotes
/// (commas, line breaks, `""` for a quote). Blank lines are skipped.
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut out = Vec::new();
    let mut cells: Vec<String> = Vec::new();
    let mut cell = String::new();
    let (mut line, mut start) = (1, 1);
    // Inside quotes; and whether the cell being read was quoted.
    let (mut quoting, mut quoted) = (false, false);
    let mut chars = text.chars().peekable();
    let end_cell = |cell: &mut String, quoted: bool| {
        let c = std::mem::take(cell);
        if quoted { c } else { c.trim().to_string() }
    };
    while let Some(c) = chars.next() {
        if quoting {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoting = false,
                c => {
                    if c == '\n' {
                        line += 1;
                    }
                    cell.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if !quoted && cell.trim().is_empty() => {
                cell.clear();
                quoting = true;
                quoted = true;
            }
            ',' => {
                cells.push(end_cell(&mut cell, quoted));
                quoted = false;
            }
            '\n' => {
                let last = end_cell(&mut cell, quoted);
                if !(cells.is_empty() && last.is_empty() && !quoted) {
                    cells.push(last);
                    out.push((start, std::mem::take(&mut cells)));
                }
                quoted = false;
                line += 1;
                start = line;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            // Text after a closing quote is kept with the cell.
            c => cell.push(c),
        }
    }
    if quoting {
        return Err(format!("line {start}: a quoted cell has no closing quote"));
    }
    let last = end_cell(&mut cell, quoted);
    if !(cells.is_empty() && last.is_empty() && !quoted) {
        cells.push(last);
        out.push((start, cells));
    }
    Ok(out)
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

    #[test]
    fn a_byte_order_mark_and_quoted_cells_are_read() {
        let text = "\u{feff}\"elapsed_s\",\"rss_bytes\",\"note, with \"\"comma\"\"\"\r\n\"0.0\",100,\"a\nb\"\r\n 0.5 ,\" 110 \",\r\n";
        assert_eq!(
            parse_csv(text, "rss_bytes").unwrap(),
            (vec![0.0, 0.5], vec![100.0, 110.0])
        );
        let e = parse_csv("elapsed_s,rss_bytes\n0,\"1\n", "rss_bytes").unwrap_err();
        assert_eq!(e, "line 2: a quoted cell has no closing quote");
        // Line numbers count the line breaks inside quotes.
        let e = parse_csv("elapsed_s,rss_bytes,n\n0,1,\"x\ny\"\n1,z,\n", "rss_bytes").unwrap_err();
        assert_eq!(e, "line 4: rss_bytes is 'z', not a number");
    }

    #[test]
    fn negative_memory_and_extra_cells_are_refused() {
        let e = parse_csv("elapsed_s,rss_bytes\n0,1\n1,-5\n", "rss_bytes").unwrap_err();
        assert_eq!(
            e,
            "line 3, column 2 (rss_bytes): -5 is below zero; an amount of memory is 0 or more"
        );
        let e = parse_csv("elapsed_s,rss_bytes\n0,1\n1,2,3\n", "rss_bytes").unwrap_err();
        assert_eq!(
            e,
            "line 3, column 3: the row has 3 cells but the header names 2 columns"
        );
        // Fewer cells than the header is a value not measured.
        assert_eq!(
            parse_csv("elapsed_s,x,rss_bytes\n0,1,5\n1,2\n", "rss_bytes").unwrap(),
            (vec![0.0], vec![5.0])
        );
    }
}
