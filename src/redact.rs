//! What may be shown of a URL or a header. A URL's user and password are
//! sent (HTTP Basic) but never shown; query parameters and headers whose
//! names look secret are shown as `***`. Every place that writes a URL or
//! a header to the terminal, a result or a report goes through here.
//! Pure: strings in, strings out.

use std::borrow::Cow;

/// What is shown in place of a secret.
pub const MASK: &str = "***";

/// Parts of a query parameter's name that mark its value as secret
/// (`api_key`, `access_token`, `client_secret`, `X-Amz-Signature`, `auth`).
const SECRET_PARTS: &[&str] = &[
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "signature",
    "auth",
    "credential",
    "session",
];

/// True for a query parameter name whose value must not be shown.
pub fn is_secret_param(name: &str) -> bool {
    let name = percent_decode(name).to_ascii_lowercase();
    name == "sig" || name == "pwd" || SECRET_PARTS.iter().any(|p| name.contains(p))
}

/// True for a header whose value must not be shown: `Authorization`,
/// `Proxy-Authorization`, `Cookie`, `Set-Cookie`, and names like
/// `X-Api-Key`, `X-Auth-Token`, `X-Secret`.
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("cookie") || SECRET_PARTS.iter().any(|p| name.contains(p))
}

/// A header's value as it may be shown.
pub fn header_value<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if is_secret_header(name) {
        Cow::Borrowed(MASK)
    } else {
        Cow::Borrowed(value)
    }
}

/// `url` as it may be shown: the user and password replaced by `***`,
/// and the values of secret-looking query parameters too. Text that is
/// not a URL comes back unchanged, but for the same masking of a query.
pub fn url(url: &str) -> Cow<'_, str> {
    let (before_query, query_and_rest) = match url.find('?') {
        Some(q) => url.split_at(q),
        None => (url, ""),
    };
    let (before_query, fragment) = match (query_and_rest.is_empty(), before_query.find('#')) {
        (true, Some(f)) => before_query.split_at(f),
        _ => (before_query, ""),
    };
    let head = mask_userinfo(before_query);
    let query = mask_query(query_and_rest);
    if matches!((&head, &query), (Cow::Borrowed(_), Cow::Borrowed(_))) {
        return Cow::Borrowed(url);
    }
    Cow::Owned(format!("{head}{fragment}{query}"))
}

/// Masks `user:password@` in `scheme://user:password@host/path`.
fn mask_userinfo(s: &str) -> Cow<'_, str> {
    let Some(scheme_end) = s.find("://") else {
        return Cow::Borrowed(s);
    };
    let auth_start = scheme_end + 3;
    let auth_end = s[auth_start..].find('/').map_or(s.len(), |i| auth_start + i);
    match s[auth_start..auth_end].rfind('@') {
        Some(at) => Cow::Owned(format!("{}{MASK}{}", &s[..auth_start], &s[auth_start + at..])),
        None => Cow::Borrowed(s),
    }
}

/// Masks secret values in `?a=1&api_key=x#frag` (the leading `?` kept).
fn mask_query(q: &str) -> Cow<'_, str> {
    let Some(body) = q.strip_prefix('?') else {
        return Cow::Borrowed(q);
    };
    let (body, fragment) = match body.find('#') {
        Some(f) => body.split_at(f),
        None => (body, ""),
    };
    let mut changed = false;
    let parts: Vec<String> = body
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            if pair.contains('=') && is_secret_param(name) {
                changed = true;
                format!("{name}={MASK}")
            } else {
                pair.to_string()
            }
        })
        .collect();
    if !changed {
        return Cow::Borrowed(q);
    }
    Cow::Owned(format!("?{}{fragment}", parts.join("&")))
}

/// A command line as it may be shown: the value of a secret-looking flag
/// (`--api-key X`, `--password=X`, `-token X`), of a secret-looking
/// `NAME=value`, and URLs' passwords and keys masked.
pub fn argv<S: AsRef<str>>(args: &[S]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut mask_next = false;
    for a in args {
        let a = a.as_ref();
        if std::mem::take(&mut mask_next) && !a.starts_with('-') {
            out.push(MASK.to_string());
            continue;
        }
        let flag = a.trim_start_matches('-');
        let dashed = flag.len() < a.len();
        match flag.split_once('=') {
            Some((name, _)) if is_secret_param(name) && !name.is_empty() => {
                out.push(format!("{}{name}={MASK}", &a[..a.len() - flag.len()]))
            }
            None if dashed && is_secret_param(flag) => {
                mask_next = true;
                out.push(a.to_string());
            }
            _ => out.push(url(a).into_owned()),
        }
    }
    out
}

/// Decodes `%XX` escapes (and leaves anything else as it is); invalid
/// UTF-8 after decoding is replaced.
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_password_are_masked() {
        assert_eq!(url("http://user:pass@h:8080/a?b=1"), "http://***@h:8080/a?b=1");
        assert_eq!(url("https://tok@h/"), "https://***@h/");
        // An @ in the path is not a user.
        assert_eq!(url("http://h/a@b"), "http://h/a@b");
        // The last @ ends the user part, so a password holding @ is masked whole.
        assert_eq!(url("http://u:p@ss@h/"), "http://***@h/");
    }

    #[test]
    fn secret_query_values_are_masked_and_others_kept() {
        assert_eq!(
            url("http://h/x?q=cats&api_key=abc&page=2&access_token=t#top"),
            "http://h/x?q=cats&api_key=***&page=2&access_token=***#top"
        );
        assert_eq!(
            url("http://h/?X-Amz-Signature=s&sig=1&flag"),
            "http://h/?X-Amz-Signature=***&sig=***&flag"
        );
        assert_eq!(url("http://h/?Password=s"), "http://h/?Password=***");
        assert_eq!(url("http://h/?%61uth=s"), "http://h/?%61uth=***");
        assert!(matches!(url("http://h/?q=1"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_fragment_without_a_query_is_kept() {
        assert_eq!(url("http://u:p@h/#key=1"), "http://***@h/#key=1");
    }

    #[test]
    fn secret_headers_are_known_by_name() {
        for h in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "Set-Cookie",
            "X-Api-Key",
            "X-Auth-Token",
        ] {
            assert!(is_secret_header(h), "{h}");
            assert_eq!(header_value(h, "v"), MASK);
        }
        for h in ["Content-Type", "Accept", "User-Agent"] {
            assert!(!is_secret_header(h), "{h}");
            assert_eq!(header_value(h, "v"), "v");
        }
    }

    #[test]
    fn secret_flags_and_urls_in_a_command_line_are_masked() {
        let shown = argv(&[
            "vllm",
            "serve",
            "--api-key",
            "sk-1",
            "--port",
            "8000",
            "--hf-token=hf_2",
            "-password",
            "p3",
            "OPENAI_API_KEY=sk-4",
            "--db",
            "postgres://u:p5@h/db",
            "--verbose",
        ]);
        assert_eq!(
            shown.join(" "),
            "vllm serve --api-key *** --port 8000 --hf-token=*** -password *** OPENAI_API_KEY=*** --db postgres://***@h/db --verbose"
        );
        // A secret-looking flag followed by another flag has no value to hide.
        assert_eq!(argv(&["x", "--auth", "--port", "1"]).join(" "), "x --auth --port 1");
    }

    #[test]
    fn percent_decoding_leaves_broken_escapes() {
        assert_eq!(percent_decode("a%40b%3a"), "a@b:");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
