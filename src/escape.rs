//! Text from a target, a server, a profile or a stored result made safe
//! for the place it lands: one function per output format. A profile's
//! name, an endpoint's name, a model's name, a server's error message or a
//! frame of a profiled program can hold anything, and must reach the page,
//! the file or the terminal as the text it is, never as markup, a new
//! table row, a formula cut or a terminal command.
//!
//! - [`html`]: report.html (text and quoted attributes, also SVG drawn
//!   inside it);
//! - [`xml`]: standalone XML files (junit.xml, the leak chart's SVG, the
//!   frame names and titles of a flame graph) — XML 1.0 cannot carry most
//!   control characters at all;
//! - [`markdown`] and [`markdown_code_cell`]: summary.md, rendered as
//!   GitHub-flavoured Markdown *and* HTML;
//! - [`csv_field`]: one cell of a CSV file (RFC 4180);
//! - [`terminal`] and [`TerminalWriter`]: what is printed to stdout and
//!   stderr, without control characters or escape sequences.
//!
//! Pure: strings in, strings out; [`TerminalWriter`] applies [`terminal`]
//! to whatever passes through a writer.

use std::borrow::Cow;
use std::io::{self, Write};

/// Escapes text for HTML content and quoted attribute values.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// True for a character XML 1.0 cannot carry, escaped or not: the C0
/// controls but tab, line feed and carriage return, and U+FFFE, U+FFFF.
fn xml_illegal(c: char) -> bool {
    ((c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
}

/// `text` with the characters XML 1.0 cannot carry replaced by U+FFFD,
/// for text a library escapes itself (inferno's frames and titles).
pub fn xml_chars(text: &str) -> Cow<'_, str> {
    if !text.chars().any(xml_illegal) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if xml_illegal(c) { '\u{fffd}' } else { c })
            .collect(),
    )
}

/// Escapes text for XML attributes and content; characters XML 1.0
/// cannot carry become U+FFFD.
pub fn xml(text: &str) -> String {
    html(&xml_chars(text))
}

/// The characters that mean something in Markdown text (emphasis, code,
/// links and images, tables, strikethrough, headings, math), escaped with
/// a backslash wherever they stand.
const MARKDOWN_PUNCTUATION: &[char] = &[
    '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '!', '|', '~', '$',
];

/// Escapes text for Markdown, inline or in a table cell: Markdown's
/// punctuation is backslash-escaped, `<`, `>` and `&` become entities (so
/// no HTML tag, autolink or entity gets through), and line breaks and
/// other control characters become spaces (a line break would end the
/// table row or start a heading).
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if MARKDOWN_PUNCTUATION.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code span holding `text` literally, for a Markdown table cell: the
/// fence is one backtick longer than the longest run of backticks inside
/// (so none of them ends the span), a pipe is escaped (GFM splits cells at
/// an unescaped pipe even inside code), and line breaks and other control
/// characters become spaces. Inside a code span nothing else is markup:
/// `<img ...>` shows as text.
pub fn markdown_code_cell(text: &str) -> String {
    let mut body = String::with_capacity(text.len() + 4);
    let (mut run, mut longest) = (0usize, 0usize);
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
        match c {
            '|' => body.push_str("\\|"),
            c if c.is_control() => body.push(' '),
            c => body.push(c),
        }
    }
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick needs a space between it
    // and the fence; one space each side is taken off again when rendered.
    let pad = body.starts_with('`')
        || body.ends_with('`')
        || (body.starts_with(' ') && body.ends_with(' ') && !body.trim().is_empty());
    if body.is_empty() {
        body.push(' ');
    }
    let sp = if pad { " " } else { "" };
    format!("{fence}{sp}{body}{sp}{fence}")
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, a quote or a
/// line break, with its quotes doubled.
pub fn csv_field(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// True for a character a terminal may act on: the C0 controls (escape,
/// carriage return, backspace, bell, ...) but tab and line feed, DEL, and
/// the C1 controls (U+0080..U+009F, among them the one-character CSI).
fn terminal_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n')
}

/// The visible stand-in of a control character: its Unicode control
/// picture (`␛` for escape, `␍` for carriage return, `␡` for DEL), or
/// U+FFFD for a C1 control, which has none. Not a backslash escape, so
/// JSON printed through it stays JSON.
fn control_picture(c: char) -> char {
    match c as u32 {
        n @ 0..=0x1f => char::from_u32(0x2400 + n).unwrap_or('\u{fffd}'),
        0x7f => '\u{2421}',
        _ => '\u{fffd}',
    }
}

/// `text` as it may be printed to a terminal: every control character
/// but tab and line feed is shown as a visible stand-in (`␛[31m`), so an
/// escape sequence in a name or a server's message is printed, never
/// obeyed.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(terminal_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if terminal_control(c) { control_picture(c) } else { c })
            .collect(),
    )
}

/// A writer to a terminal (stdout, stderr) that passes text through
/// [`terminal`]: whatever a command prints, the names and messages in it
/// cannot move the cursor, recolour, retitle or clear the terminal.
///
/// It works on bytes, as they come: a multi-byte character split between
/// two writes is held back until it is whole. Bytes that are not UTF-8
/// pass through unchanged.
pub struct TerminalWriter<W: Write> {
    inner: W,
    /// The start of a character not yet complete.
    held: Vec<u8>,
}

impl<W: Write> TerminalWriter<W> {
    pub fn new(inner: W) -> TerminalWriter<W> {
        TerminalWriter {
            inner,
            held: Vec::new(),
        }
    }

    /// Writes `bytes`, whole characters only; keeps an incomplete last
    /// character for the next write.
    fn pass(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.inner.write_all(terminal(text).as_bytes())?;
                    rest = &[];
                }
                Err(e) => {
                    let (good, after) = rest.split_at(e.valid_up_to());
                    // from_utf8 of a valid prefix cannot fail.
                    self.inner
                        .write_all(terminal(std::str::from_utf8(good).unwrap_or_default()).as_bytes())?;
                    match e.error_len() {
                        // Not UTF-8: passed on as it is.
                        Some(n) => {
                            self.inner.write_all(&after[..n])?;
                            rest = &after[n..];
                        }
                        // Cut short: the rest comes with the next write.
                        None => {
                            self.held.extend_from_slice(after);
                            rest = &[];
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for TerminalWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.held.is_empty() {
            self.pass(buf)?;
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(buf);
            self.pass(&joined)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for TerminalWriter<W> {
    fn drop(&mut self) {
        // An incomplete character at the very end is not UTF-8: pass it on.
        let held = std::mem::take(&mut self.held);
        let _ = self.inner.write_all(&held);
        let _ = self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_both_quotes() {
        assert_eq!(
            html(r#"<img src=x onerror="alert(1)">&'"#),
            "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;"
        );
        assert_eq!(html("plain ask.p95"), "plain ask.p95");
    }

    #[test]
    fn xml_replaces_characters_xml_cannot_carry() {
        assert_eq!(xml("a\u{1}b<c>&\"'"), "a\u{fffd}b&lt;c&gt;&amp;&quot;&#39;");
        assert_eq!(xml("\u{0}\u{8}\u{b}\u{c}\u{1f}"), "\u{fffd}".repeat(5));
        assert_eq!(xml("\u{fffe}\u{ffff}"), "\u{fffd}\u{fffd}");
        assert_eq!(xml("tab\tline\nreturn\r"), "tab\tline\nreturn\r", "XML allows these");
        assert!(matches!(xml_chars("main;work"), Cow::Borrowed(_)));
        let doc = format!("<a b=\"{}\">{}</a>", xml("x\u{2}\"<"), xml("\u{0}]]>&"));
        roxmltree::Document::parse(&doc).expect("well-formed XML");
    }

    #[test]
    fn markdown_text_cannot_open_code_links_images_or_html() {
        let m = markdown("a `b` *c* _d_ [x](javascript:alert(1)) ![i](x) <img src=x onerror=alert(1)> &amp; |");
        assert_eq!(
            m,
            "a \\`b\\` \\*c\\* \\_d\\_ \\[x\\]\\(javascript:alert\\(1\\)\\) \\!\\[i\\]\\(x\\) &lt;img src=x onerror=alert\\(1\\)&gt; &amp;amp; \\|"
        );
        assert!(!m.contains('<') && !m.contains('>'));
        assert_eq!(markdown("two\nlines\r\n# heading"), "two lines  \\# heading");
        assert_eq!(markdown("back\\slash"), "back\\\\slash");
        assert_eq!(
            markdown("grows 1.2 MB/min, 95%"),
            "grows 1.2 MB/min, 95%",
            "plain text stays"
        );
    }

    #[test]
    fn markdown_code_cells_fence_backticks_and_escape_pipes_and_newlines() {
        assert_eq!(markdown_code_cell("ask.p95"), "`ask.p95`");
        assert_eq!(markdown_code_cell("a`b"), "``a`b``");
        assert_eq!(markdown_code_cell("x``y`"), "``` x``y` ```");
        assert_eq!(markdown_code_cell("`"), "`` ` ``");
        assert_eq!(markdown_code_cell("a|b\nc"), "`a\\|b c`");
        assert_eq!(
            markdown_code_cell("a\\|b"),
            "`a\\\\|b`",
            "the pipe is still escaped for the table"
        );
        assert_eq!(markdown_code_cell(""), "` `");
        assert_eq!(
            markdown_code_cell("<img src=x onerror=alert(1)>"),
            "`<img src=x onerror=alert(1)>`",
            "literal inside code"
        );
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("llama3.2:1b"), "llama3.2:1b");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\r"), "\"cr\r\"");
    }

    #[test]
    fn terminal_text_shows_control_characters_instead_of_obeying_them() {
        assert_eq!(terminal("ok\tfine\n"), "ok\tfine\n");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(terminal("\u{1b}[2J\u{1b}]0;title\u{7}"), "␛[2J␛]0;title␇");
        assert_eq!(terminal("FAIL\rpass\u{0}\u{8}"), "FAIL␍pass␀␈");
        assert_eq!(terminal("csi\u{9b}31m del\u{7f}"), "csi\u{fffd}31m del␡");
        let json = serde_json::to_string(&serde_json::json!({"model": "a\u{7f}\u{9b}b"})).unwrap();
        let shown = terminal(&json);
        let back: serde_json::Value = serde_json::from_str(&shown).expect("still JSON");
        assert_eq!(back["model"], "a␡\u{fffd}b");
    }

    #[test]
    fn the_terminal_writer_filters_across_split_writes() {
        let mut out = Vec::new();
        {
            let mut w = TerminalWriter::new(&mut out);
            let text = "é\u{1b}[31mred\u{9b}0m ✓\n".as_bytes();
            // One byte a write: every multi-byte character is split.
            for b in text {
                w.write_all(std::slice::from_ref(b)).unwrap();
            }
            w.write_all(b"bad \xff byte\n").unwrap();
            w.write_all(&"✓".as_bytes()[..1]).unwrap();
        }
        assert_eq!(
            out,
            ["é␛[31mred\u{fffd}0m ✓\nbad ".as_bytes(), b"\xff byte\n\xe2"].concat()
        );
    }
}
