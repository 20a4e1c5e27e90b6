//! Finds where streamed chunks end in a response body, as the bytes arrive:
//! Server-Sent Events that carry data, or NDJSON lines. Pure: bytes in,
//! chunk counts out; the caller stamps the times.
//!
//! An SSE event counts only when it carries data. Comments (`: ping`),
//! `event:`/`id:`/`retry:` lines and empty `data:` keep-alives are skipped,
//! so the first counted chunk is the first one a user would see.

/// How a response body is split into chunks (`--stream`, `stream = ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    /// Not a stream: no first-chunk timing.
    #[default]
    None,
    /// Server-Sent Events (`text/event-stream`): one chunk per event with data.
    Sse,
    /// Newline-delimited JSON: one chunk per non-empty line.
    Ndjson,
}

/// Bytes of a line kept to classify it: enough for `data:` plus one space.
const PREFIX: usize = 6;

/// Incremental chunk boundary scanner for one response body.
#[derive(Debug, Clone)]
pub struct ChunkScanner {
    kind: StreamKind,
    prefix: [u8; PREFIX],
    /// Bytes seen in the current line (not counting the terminator).
    line_len: usize,
    /// The current NDJSON line holds something other than whitespace.
    line_has_content: bool,
    /// The previous byte was `\r`, so a `\n` right after it ends nothing.
    after_cr: bool,
    /// The SSE event being read has a `data` line with a value.
    event_has_data: bool,
}

impl ChunkScanner {
    pub fn new(kind: StreamKind) -> ChunkScanner {
        ChunkScanner {
            kind,
            prefix: [0; PREFIX],
            line_len: 0,
            line_has_content: false,
            after_cr: false,
            event_has_data: false,
        }
    }

    /// Reads the next piece of the body and returns how many chunks it
    /// completed.
    pub fn feed(&mut self, bytes: &[u8]) -> u32 {
        if self.kind == StreamKind::None {
            return 0;
        }
        let mut done = 0;
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    done += u32::from(self.end_line());
                }
                _ => {
                    self.after_cr = false;
                    if self.line_len < PREFIX {
                        self.prefix[self.line_len] = b;
                    }
                    self.line_len += 1;
                    self.line_has_content |= !b.is_ascii_whitespace();
                }
            }
        }
        done
    }

    /// The body ended: an NDJSON line without a final newline still counts.
    /// (An SSE event without its blank line is incomplete and is dropped, as
    /// a browser's `EventSource` would drop it.)
    pub fn finish(&mut self) -> u32 {
        match self.kind {
            StreamKind::Ndjson => u32::from(self.end_line()),
            _ => 0,
        }
    }

    fn end_line(&mut self) -> bool {
        let len = std::mem::take(&mut self.line_len);
        let content = std::mem::take(&mut self.line_has_content);
        match self.kind {
            StreamKind::None => false,
            StreamKind::Ndjson => content,
            StreamKind::Sse if len == 0 => std::mem::take(&mut self.event_has_data),
            StreamKind::Sse => {
                let p = &self.prefix[..len.min(PREFIX)];
                if p.starts_with(b"data:") {
                    // `data:` then one optional space, then the value.
                    let skip = if p.get(5) == Some(&b' ') { 6 } else { 5 };
                    self.event_has_data |= len > skip;
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(kind: StreamKind, pieces: &[&str]) -> Vec<u32> {
        let mut s = ChunkScanner::new(kind);
        let mut out: Vec<u32> = pieces.iter().map(|p| s.feed(p.as_bytes())).collect();
        out.push(s.finish());
        out
    }

    #[test]
    fn sse_counts_events_at_their_blank_line() {
        assert_eq!(
            count(StreamKind::Sse, &["data: a\n", "\n", "data: b\n\n"]),
            [0, 1, 1, 0]
        );
    }

    #[test]
    fn sse_skips_comments_keepalives_and_empty_data() {
        let body = ": ping\n\nevent: message_start\n\ndata:\n\ndata: \n\nretry: 10\n\n";
        assert_eq!(count(StreamKind::Sse, &[body]), [0, 0]);
        assert_eq!(count(StreamKind::Sse, &[": ping\n\ndata:x\n\n"]), [1, 0]);
    }

    #[test]
    fn sse_event_with_several_data_lines_is_one_chunk() {
        assert_eq!(
            count(StreamKind::Sse, &["event: delta\ndata: a\ndata: b\nid: 3\n\n"]),
            [1, 0]
        );
    }

    #[test]
    fn sse_handles_crlf_and_cr_line_ends() {
        assert_eq!(count(StreamKind::Sse, &["data: a\r\n\r\ndata: b\r\r"]), [2, 0]);
        // A CRLF split across two pieces is still one line end: the event
        // ends at the second CR, and the LF after it ends nothing.
        assert_eq!(count(StreamKind::Sse, &["data: a\r", "\n\r", "\n"]), [0, 1, 0, 0]);
    }

    #[test]
    fn sse_field_split_across_pieces() {
        assert_eq!(
            count(StreamKind::Sse, &["da", "ta", ": x", "\n", "\n"]),
            [0, 0, 0, 0, 1, 0]
        );
    }

    #[test]
    fn sse_unterminated_event_at_end_is_dropped() {
        assert_eq!(count(StreamKind::Sse, &["data: a\n"]), [0, 0]);
    }

    #[test]
    fn sse_field_named_like_data_is_not_data() {
        assert_eq!(count(StreamKind::Sse, &["database: x\n\ndata\n\n"]), [0, 0]);
    }

    #[test]
    fn ndjson_counts_non_blank_lines_and_a_last_line_without_newline() {
        assert_eq!(
            count(StreamKind::Ndjson, &["{\"a\":1}\n\n  \n{\"b\"", ":2}\n{}"]),
            [1, 1, 1]
        );
    }

    #[test]
    fn not_a_stream_counts_nothing() {
        assert_eq!(count(StreamKind::None, &["data: a\n\n"]), [0, 0]);
    }
}
