//! pprof profiles (`profile.proto`, as served by Go's net/http/pprof and by
//! [`super::endpoint`]): decode, pick the value to weigh by, fold. Pure.

use std::collections::HashMap;
use std::io::Read;

use pprof::protos::{Function, Location, Message, Profile};

/// Largest profile read, as sent (Go's CPU profiles are a few MB).
pub const COMPRESSED_LIMIT: usize = 256 << 20;
/// Largest profile unpacked: a small gzip file can expand a thousandfold.
pub const UNPACKED_LIMIT: u64 = 512 << 20;

/// Why a pprof body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the body is gzip but does not unpack: {0}")]
    Gzip(std::io::Error),
    #[error("the profile unpacks to more than {} MiB; a pprof profile is far smaller", UNPACKED_LIMIT >> 20)]
    TooLarge,
    #[error("not a pprof profile (profile.proto): {0}")]
    Proto(String),
}

/// Decodes a profile, gzip-compressed (as Go serves it) or not.
pub fn decode(bytes: &[u8]) -> Result<Profile, DecodeError> {
    decode_within(bytes, UNPACKED_LIMIT)
}

/// [`decode`], refusing a gzip body that unpacks to more than `limit` bytes.
fn decode_within(bytes: &[u8], limit: u64) -> Result<Profile, DecodeError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut raw = Vec::with_capacity(bytes.len().saturating_mul(4).min(64 << 20));
        flate2::read::GzDecoder::new(bytes)
            .take(limit + 1)
            .read_to_end(&mut raw)
            .map_err(DecodeError::Gzip)?;
        if raw.len() as u64 > limit {
            return Err(DecodeError::TooLarge);
        }
        Profile::decode(raw.as_slice()).map_err(|e| DecodeError::Proto(e.to_string()))
    } else {
        Profile::decode(bytes).map_err(|e| DecodeError::Proto(e.to_string()))
    }
}

/// The column of sample values a graph is weighed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueColumn {
    pub index: usize,
    /// e.g. `cpu`, `samples`, `inuse_space`.
    pub kind: String,
    /// e.g. `nanoseconds`, `count`, `bytes`.
    pub unit: String,
}

fn string(p: &Profile, i: i64) -> &str {
    usize::try_from(i)
        .ok()
        .and_then(|i| p.string_table.get(i))
        .map_or("", String::as_str)
}

/// The sample types a profile carries, as `kind/unit`.
pub fn value_types(p: &Profile) -> Vec<String> {
    p.sample_type
        .iter()
        .map(|t| format!("{}/{}", string(p, t.ty), string(p, t.unit)))
        .collect()
}

/// Picks the value column: the first of `wanted` that the profile has (by
/// type name), else its `default_sample_type`, else the last column (the
/// rule `go tool pprof` follows). None when the profile has no columns.
pub fn choose_column(p: &Profile, wanted: &[&str]) -> Option<ValueColumn> {
    let column = |index: usize| {
        let t = &p.sample_type[index];
        ValueColumn {
            index,
            kind: string(p, t.ty).to_string(),
            unit: string(p, t.unit).to_string(),
        }
    };
    for want in wanted {
        if let Some(i) = p.sample_type.iter().position(|t| string(p, t.ty) == *want) {
            return Some(column(i));
        }
    }
    if p.default_sample_type != 0
        && let Some(i) = p.sample_type.iter().position(|t| t.ty == p.default_sample_type)
    {
        return Some(column(i));
    }
    p.sample_type.len().checked_sub(1).map(column)
}

/// The number of samples in a profile: the `samples/count` column where
/// there is one, else the number of records with a value in `column`.
pub fn sample_count(p: &Profile, column: &ValueColumn) -> u64 {
    match p.sample_type.iter().position(|t| string(p, t.ty) == "samples") {
        Some(i) => p
            .sample
            .iter()
            .map(|s| s.value.get(i).copied().unwrap_or(0).max(0) as u64)
            .sum(),
        None => p
            .sample
            .iter()
            .filter(|s| s.value.get(column.index).is_some_and(|&v| v > 0))
            .count() as u64,
    }
}

/// Folds a profile into stacks weighed by `column`, root first. A location
/// with inlined functions gives one frame per function, the inlined callee
/// last; a location with no symbol gives `0xADDR (library)`. A `thread`
/// label (written by pprof-rs) becomes the root frame. Samples with zero or
/// negative value are left out.
pub fn fold(p: &Profile, column: &ValueColumn) -> super::Folded {
    fold_frames(p, column, false)
}

/// [`fold`] with each frame's source line, `function (file:line)`, as heap
/// profiles name the sites that allocate.
pub fn fold_with_lines(p: &Profile, column: &ValueColumn) -> super::Folded {
    fold_frames(p, column, true)
}

fn fold_frames(p: &Profile, column: &ValueColumn, lines: bool) -> super::Folded {
    let funcs: HashMap<u64, &Function> = p.function.iter().map(|f| (f.id, f)).collect();
    let frames_of = |loc: &Location| -> String {
        // Line[0] is the innermost (inlined) function; its caller comes last.
        let names: Vec<String> = loc
            .line
            .iter()
            .rev()
            .filter_map(|line| funcs.get(&line.function_id).map(|f| (f, line.line)))
            .filter_map(|(f, line)| {
                let name = string(p, f.name);
                let name = if name.is_empty() {
                    string(p, f.system_name)
                } else {
                    name
                };
                if name.is_empty() {
                    return None;
                }
                let file = string(p, f.filename);
                Some(if lines && !file.is_empty() && line > 0 {
                    format!("{name} ({file}:{line})")
                } else if lines && !file.is_empty() {
                    format!("{name} ({file})")
                } else {
                    name.to_string()
                })
            })
            .collect();
        if !names.is_empty() {
            return super::folded::join_frames(names.iter().map(String::as_str));
        }
        let lib = p
            .mapping
            .iter()
            .find(|m| m.id == loc.mapping_id && loc.mapping_id != 0)
            .map(|m| string(p, m.filename))
            .unwrap_or("");
        let lib = lib.rsplit('/').next().unwrap_or(lib);
        if lib.is_empty() {
            format!("0x{:x}", loc.address)
        } else {
            format!("0x{:x} ({lib})", loc.address)
        }
    };
    let locations = Locations::new(p.location.iter().map(|l| (l.id, frames_of(l))));
    let thread_key = p.string_table.iter().position(|s| s == "thread").map(|i| i as i64);
    // Add up samples with the same locations (and thread) first, so each
    // distinct stack is spelled out once.
    let mut keyed: Vec<(i64, &[u64], u64)> = Vec::with_capacity(p.sample.len());
    for sample in &p.sample {
        let value = sample.value.get(column.index).copied().unwrap_or(0);
        if value <= 0 {
            continue;
        }
        let thread = thread_key
            .and_then(|key| sample.label.iter().find(|l| l.key == key && l.str != 0))
            .map_or(0, |l| l.str);
        keyed.push((thread, sample.location_id.as_slice(), value as u64));
    }
    keyed.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut by_ids: Vec<(i64, &[u64], u64)> = Vec::with_capacity(keyed.len());
    for (thread, ids, value) in keyed {
        match by_ids.last_mut() {
            Some(last) if last.0 == thread && last.1 == ids => last.2 = last.2.saturating_add(value),
            _ => by_ids.push((thread, ids, value)),
        }
    }
    let bytes: usize = by_ids
        .iter()
        .map(|(t, ids, _)| string(p, *t).len() + ids.iter().map(|&id| locations.get(id).len() + 1).sum::<usize>() + 22)
        .sum();
    let mut w = super::folded::FoldedWriter::with_capacity(bytes, by_ids.len());
    for (thread, ids, count) in by_ids {
        let start = w.stack_start();
        let buf = w.buf();
        if thread != 0 {
            super::folded::push_frame(buf, string(p, thread));
        }
        // Location ids are leaf first.
        for &id in ids.iter().rev() {
            if buf.len() > start {
                buf.push(';');
            }
            buf.push_str(locations.get(id));
        }
        w.end_stack(start, count);
    }
    w.finish()
}

/// Frames by location id: a table indexed by id when the ids are dense
/// (as Go and pprof-rs number them), a map otherwise.
enum Locations {
    Dense(Vec<Option<String>>),
    Sparse(HashMap<u64, String>),
}

impl Locations {
    fn new(frames: impl ExactSizeIterator<Item = (u64, String)>) -> Locations {
        let frames: Vec<(u64, String)> = frames.collect();
        let max = frames.iter().map(|(id, _)| *id).max().unwrap_or(0);
        if max <= 4 * frames.len() as u64 + 1024 {
            let mut table = vec![None; max as usize + 1];
            for (id, f) in frames {
                table[id as usize] = Some(f);
            }
            Locations::Dense(table)
        } else {
            Locations::Sparse(frames.into_iter().collect())
        }
    }

    /// The frames of a location (`;`-joined when inlined); `[unknown]` for
    /// an id no location has.
    fn get(&self, id: u64) -> &str {
        let found = match self {
            Locations::Dense(t) => t.get(id as usize).and_then(Option::as_deref),
            Locations::Sparse(m) => m.get(&id).map(String::as_str),
        };
        found.unwrap_or("[unknown]")
    }
}

#[cfg(test)]
mod tests {
    use pprof::protos::{Label, Line, Mapping, Sample, ValueType};

    use super::*;

    #[test]
    fn a_gzip_body_that_unpacks_past_the_limit_is_refused_before_it_is_all_unpacked() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 8 << 10, "{}", bomb.len());
        assert!(matches!(decode_within(&bomb, 64 << 10), Err(DecodeError::TooLarge)));
        // Under the limit it unpacks (and then is not a profile).
        assert!(matches!(decode_within(&bomb, 2 << 20), Err(DecodeError::Proto(_))));
    }

    /// A profile with strings interned in order of first use.
    struct Builder {
        p: Profile,
    }

    impl Builder {
        fn new(types: &[(&str, &str)]) -> Builder {
            let mut b = Builder {
                p: Profile {
                    string_table: vec![String::new()],
                    ..Profile::default()
                },
            };
            for (ty, unit) in types {
                let vt = ValueType {
                    ty: b.s(ty),
                    unit: b.s(unit),
                };
                b.p.sample_type.push(vt);
            }
            b
        }
        fn s(&mut self, text: &str) -> i64 {
            if let Some(i) = self.p.string_table.iter().position(|x| x == text) {
                return i as i64;
            }
            self.p.string_table.push(text.to_string());
            (self.p.string_table.len() - 1) as i64
        }
        fn func(&mut self, id: u64, name: &str) {
            let name = self.s(name);
            self.p.function.push(Function {
                id,
                name,
                ..Function::default()
            });
        }
        /// A location whose lines are given innermost first, like pprof.
        fn loc(&mut self, id: u64, funcs: &[u64]) {
            self.p.location.push(Location {
                id,
                address: 0x1000 + id,
                line: funcs
                    .iter()
                    .map(|&f| Line {
                        function_id: f,
                        line: 1,
                    })
                    .collect(),
                ..Location::default()
            });
        }
        fn sample(&mut self, leaf_first: &[u64], values: &[i64]) {
            self.p.sample.push(Sample {
                location_id: leaf_first.to_vec(),
                value: values.to_vec(),
                label: vec![],
            });
        }
    }

    fn cpu() -> Builder {
        let mut b = Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
        b.func(1, "main.main");
        b.func(2, "main.handler");
        b.func(3, "main.hashLoop");
        b.func(4, "crypto/sha256.block");
        b.loc(10, &[1]);
        b.loc(11, &[2]);
        // hashLoop inlined into the handler's call site: innermost first.
        b.loc(12, &[4, 3]);
        b
    }

    #[test]
    fn folds_root_first_with_inlined_frames_and_weighs_by_the_chosen_column() {
        let mut b = cpu();
        b.sample(&[12, 11, 10], &[3, 30_000_000]);
        b.sample(&[11, 10], &[1, 10_000_000]);
        b.sample(&[12, 11, 10], &[2, 20_000_000]);
        let col = choose_column(&b.p, &["cpu"]).unwrap();
        assert_eq!((col.index, col.unit.as_str()), (1, "nanoseconds"));
        let f = fold(&b.p, &col);
        assert_eq!(
            f.lines().collect::<Vec<_>>(),
            vec![
                "main.main;main.handler 10000000",
                "main.main;main.handler;main.hashLoop;crypto/sha256.block 50000000",
            ]
        );
        assert_eq!(sample_count(&b.p, &col), 6);
        let by_count = fold(&b.p, &choose_column(&b.p, &["samples"]).unwrap());
        assert_eq!(by_count.total(), 6);
    }

    #[test]
    fn locations_with_the_same_function_merge_into_one_stack() {
        let mut b = cpu();
        // Two call sites in the handler: different locations, same frame.
        b.loc(13, &[2]);
        b.sample(&[11, 10], &[1, 10]);
        b.sample(&[13, 10], &[2, 20]);
        let f = fold(&b.p, &choose_column(&b.p, &["cpu"]).unwrap());
        assert_eq!(f.lines().collect::<Vec<_>>(), vec!["main.main;main.handler 30"]);
    }

    #[test]
    fn zero_value_samples_are_dropped() {
        let mut b = Builder::new(&[
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes"),
        ]);
        b.func(1, "main.keep");
        b.func(2, "main.freed");
        b.loc(1, &[1]);
        b.loc(2, &[2]);
        b.sample(&[1], &[1, 4096, 1, 4096]);
        b.sample(&[2], &[9, 9000, 0, 0]);
        let col = choose_column(&b.p, &["inuse_space"]).unwrap();
        assert_eq!(col.unit, "bytes");
        assert_eq!(fold(&b.p, &col).lines().collect::<Vec<_>>(), vec!["main.keep 4096"]);
        assert_eq!(sample_count(&b.p, &col), 1);
        // Without a wish, the last column (Go's default) is used.
        assert_eq!(choose_column(&b.p, &[]).unwrap().kind, "inuse_space");
    }

    #[test]
    fn missing_names_fall_back_to_the_address_and_library() {
        let mut b = Builder::new(&[("samples", "count")]);
        b.func(1, "");
        b.func(2, "main.known");
        let lib = b.s("/usr/lib/x86_64-linux-gnu/libc.so.6");
        b.p.mapping.push(Mapping {
            id: 7,
            filename: lib,
            ..Mapping::default()
        });
        b.loc(1, &[1]);
        b.p.location[0].mapping_id = 7;
        b.loc(2, &[2]);
        b.loc(3, &[]);
        // A location id that no location has.
        b.sample(&[1, 2], &[2]);
        b.sample(&[3, 99, 2], &[1]);
        let f = fold(&b.p, &choose_column(&b.p, &[]).unwrap());
        assert_eq!(
            f.lines().collect::<Vec<_>>(),
            vec!["main.known;0x1001 (libc.so.6) 2", "main.known;[unknown];0x1003 1"]
        );
    }

    #[test]
    fn the_thread_label_is_the_root_and_default_type_is_honoured() {
        let mut b = cpu();
        b.p.default_sample_type = b.p.sample_type[0].ty;
        let key = b.s("thread");
        let name = b.s("tokio-rt-worker");
        b.sample(&[11, 10], &[4, 40]);
        b.p.sample[0].label.push(Label {
            key,
            str: name,
            ..Label::default()
        });
        let col = choose_column(&b.p, &["nope"]).unwrap();
        assert_eq!(col.kind, "samples");
        assert_eq!(
            fold(&b.p, &col).lines().collect::<Vec<_>>(),
            vec!["tokio-rt-worker;main.main;main.handler 4"]
        );
    }

    #[test]
    fn decodes_gzip_and_plain_and_rejects_junk() {
        let mut b = cpu();
        b.sample(&[12, 11, 10], &[1, 10]);
        let raw = b.p.encode_to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decode(&raw).unwrap(), b.p);
        assert_eq!(decode(&gz).unwrap(), b.p);
        assert_eq!(value_types(&b.p), vec!["samples/count", "cpu/nanoseconds"]);
        assert!(decode(b"<html>404 page not found</html>").is_err());
        assert!(decode(&gz[..gz.len() / 2]).is_err());
    }

    #[test]
    fn a_profile_without_columns_has_no_column() {
        assert_eq!(choose_column(&Profile::default(), &["cpu"]), None);
    }
}
