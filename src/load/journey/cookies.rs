//! A virtual user's cookie jar: `Set-Cookie` answers in, a `Cookie` header
//! out, for the one origin a load runs against (RFC 6265 section 5, less
//! the parts that need several hosts: Domain is ignored, every cookie is a
//! host-only cookie of the target).
//!
//! Written here rather than taken from the `cookie` and `cookie_store`
//! crates: they bring a date library and a public-suffix-aware store for
//! what is, against one host, a short list of name, value and path, and a
//! jar per user must stay a few hundred bytes.

use std::time::{Duration, SystemTime};

/// Most cookies one user keeps; beyond it the oldest goes (browsers keep
/// 50 to 180 per domain).
pub const MAX_COOKIES: usize = 50;
/// Longest `name=value` kept (browsers take 4096 bytes).
pub const MAX_COOKIE_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cookie {
    name: String,
    value: String,
    path: String,
    expires: Option<SystemTime>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

impl CookieJar {
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    pub fn clear(&mut self) {
        self.cookies.clear();
    }

    /// Takes one `Set-Cookie` value, received for a request to
    /// `request_path`. One that cannot be read is ignored, as browsers do.
    pub fn store(&mut self, header: &[u8], request_path: &str, now: SystemTime) {
        let Ok(text) = std::str::from_utf8(header) else { return };
        let mut parts = text.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.len() + value.len() + 1 > MAX_COOKIE_BYTES {
            return;
        }
        let mut path = None;
        let mut max_age: Option<i64> = None;
        let mut expires = None;
        for attr in parts {
            let (k, v) = attr
                .split_once('=')
                .map_or((attr.trim(), ""), |(k, v)| (k.trim(), v.trim()));
            if k.eq_ignore_ascii_case("path") && v.starts_with('/') {
                path = Some(v.to_string());
            } else if k.eq_ignore_ascii_case("max-age") {
                // A malformed Max-Age is ignored (RFC 6265 5.2.2).
                if let Ok(n) = v.parse::<i64>() {
                    max_age = Some(n);
                }
            } else if k.eq_ignore_ascii_case("expires")
                && let Ok(t) = httpdate::parse_http_date(v)
            {
                expires = Some(t);
            }
        }
        // Max-Age wins over Expires (5.3 step 3).
        let expires = match max_age {
            Some(n) if n <= 0 => Some(SystemTime::UNIX_EPOCH),
            Some(n) => Some(now + Duration::from_secs(n.unsigned_abs().min(400 * 86_400))),
            None => expires,
        };
        let path = path.unwrap_or_else(|| default_path(request_path));
        self.cookies.retain(|c| !(c.name == name && c.path == path));
        if expires.is_some_and(|e| e <= now) {
            return;
        }
        if self.cookies.len() == MAX_COOKIES {
            self.cookies.remove(0);
        }
        self.cookies.push(Cookie {
            name: name.to_string(),
            value: value.to_string(),
            path,
            expires,
        });
    }

    /// The `Cookie` header for a request to `request_path` (in `out`,
    /// cleared first); false when no cookie applies.
    pub fn header(&mut self, request_path: &str, now: SystemTime, out: &mut String) -> bool {
        out.clear();
        self.cookies.retain(|c| c.expires.is_none_or(|e| e > now));
        let path = request_path.split(['?', '#']).next().unwrap_or("/");
        // Longer paths first (5.4 step 2).
        let mut matching: Vec<&Cookie> = self.cookies.iter().filter(|c| path_matches(path, &c.path)).collect();
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        for c in matching {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&c.name);
            out.push('=');
            out.push_str(&c.value);
        }
        !out.is_empty()
    }
}

/// The directory of the request path (RFC 6265 5.1.4).
fn default_path(request_path: &str) -> String {
    let path = request_path.split(['?', '#']).next().unwrap_or("");
    match path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path[..i].to_string(),
    }
}

/// RFC 6265 5.1.4 path-match.
fn path_matches(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie) && (cookie.ends_with('/') || request[cookie.len()..].starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn header(jar: &mut CookieJar, path: &str) -> String {
        let mut s = String::new();
        jar.header(path, now(), &mut s);
        s
    }

    #[test]
    fn cookies_are_sent_back_replaced_and_deleted() {
        let mut jar = CookieJar::default();
        jar.store(b"sid=abc; Path=/; HttpOnly", "/session/start", now());
        jar.store(b"theme=dark; Path=/", "/session/start", now());
        jar.store(b"old=1; Max-Age=0; Path=/", "/session/start", now());
        assert_eq!(header(&mut jar, "/session/visit?x=1"), "sid=abc; theme=dark");
        jar.store(b"sid=def; Path=/", "/x", now());
        assert_eq!(header(&mut jar, "/"), "theme=dark; sid=def");
        jar.store(b"theme=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/", "/", now());
        assert_eq!(header(&mut jar, "/"), "sid=def");
        jar.store(b"short=1; Max-Age=10", "/", now());
        let mut s = String::new();
        assert!(jar.header("/", now() + Duration::from_secs(5), &mut s));
        assert!(s.contains("short=1"));
        jar.header("/", now() + Duration::from_secs(11), &mut s);
        assert_eq!(s, "sid=def");
    }

    #[test]
    fn paths_scope_cookies_and_longer_paths_come_first() {
        let mut jar = CookieJar::default();
        jar.store(b"a=1; Path=/api", "/", now());
        jar.store(b"b=2", "/api/v1/login", now());
        jar.store(b"c=3; Path=/", "/", now());
        assert_eq!(header(&mut jar, "/api/v1/x"), "b=2; a=1; c=3");
        assert_eq!(header(&mut jar, "/apiary"), "c=3");
        assert_eq!(header(&mut jar, "/api"), "a=1; c=3");
    }

    #[test]
    fn odd_and_huge_cookies_are_ignored_and_the_jar_is_bounded() {
        let mut jar = CookieJar::default();
        jar.store(b"no-equals-sign", "/", now());
        jar.store(b"=anonymous", "/", now());
        jar.store(&[0xff, b'=', b'1'], "/", now());
        let huge = format!("big={}", "x".repeat(MAX_COOKIE_BYTES));
        jar.store(huge.as_bytes(), "/", now());
        assert!(jar.is_empty());
        for i in 0..MAX_COOKIES + 5 {
            jar.store(format!("c{i}=v").as_bytes(), "/", now());
        }
        let h = header(&mut jar, "/");
        assert_eq!(h.split("; ").count(), MAX_COOKIES);
        assert!(!h.contains("c0=") && h.contains(&format!("c{}=v", MAX_COOKIES + 4)));
    }
}
