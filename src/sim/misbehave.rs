//! Ways the simulator can misbehave on purpose, to prove the client never acts on a bad
//! read: lists that lie, bodies too large or cut short, hot 429s, redirects, a server
//! that quotes the `Authorization` header. None of these is the real API's default
//! behaviour; all are off unless asked for.
//!
//! `sim serve --misbehave SPEC` and [`Misbehaviour::from_str`] take a comma-separated
//! list; list-scoped items name the list (`apps` or `policies`, or `tags` for
//! `GET /access/tags`) first:
//!
//! | item | effect |
//! |---|---|
//! | `repeat-last-page=LIST` | pages past the end repeat the last page |
//! | `understate-total=LIST` | `total_count` reports half the real count |
//! | `total=LIST:N` | `total_count` is always N |
//! | `null-result=LIST` / `object-result=LIST` | 200, `success: true`, `result: null` / `{}` |
//! | `endless=LIST` | pages past the end are full of new ids, forever |
//! | `page-as=LIST:P:Q` | page P answers with page Q's items |
//! | `drop-page=LIST:P` | page P's items are left out (later pages move up); `total_count` still counts them |
//! | `huge-body=LIST:SIZE` | the list answers a SIZE body (e.g. `1GiB`), streamed, without `Content-Length` |
//! | `stall-body=LIST` | the list answers a `Content-Length` longer than the body and holds the connection open |
//! | `max-per-page=N` | a list asked for more than N per page answers 400 / 12130 |
//! | `always-429=SECONDS` | every request answers 429 with `Retry-After: SECONDS` |
//! | `echo-auth` | every request answers 400 / 6003 with a message quoting its `Authorization` header |
//! | `redirect-writes=STATUS:URL` | every POST, PUT and DELETE answers STATUS (307/308) with `Location: URL` + path |

use std::str::FromStr;
use std::time::Duration;

use super::SimError;

/// Which list a list-scoped misbehaviour applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// `GET /access/apps`.
    Apps,
    /// `GET /access/policies`.
    Policies,
    /// `GET /access/tags`.
    Tags,
}

/// What `result` a broken list answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadResult {
    /// `"result": null`.
    Null,
    /// `"result": {}`.
    Object,
}

/// The misbehaviours of one list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // independent switches, each off by default
pub struct ListMisbehaviour {
    /// Pages past the end repeat the last page.
    pub repeat_last_page: bool,
    /// `total_count` is half the real count.
    pub understate_total: bool,
    /// `total_count` is always this.
    pub total: Option<u64>,
    /// `result` is not a list.
    pub bad_result: Option<BadResult>,
    /// Pages past the end are full of new ids.
    pub endless: bool,
    /// `(P, Q)`: page P answers with page Q's items.
    pub page_as: Vec<(usize, usize)>,
    /// This page's items are left out of the list.
    pub drop_page: Option<usize>,
    /// The list answers a body this large.
    pub huge_body: Option<u64>,
    /// The list answers a body shorter than its `Content-Length` and stalls.
    pub stall_body: bool,
}

impl ListMisbehaviour {
    /// True when the list behaves.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }
}

/// A redirect answered to every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// 301, 302, 303, 307 or 308.
    pub status: u16,
    /// Prefixed to the request's path in `Location`.
    pub to: String,
}

/// Every misbehaviour switch; the default is a faithful simulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Misbehaviour {
    /// `GET /access/apps`.
    pub apps: ListMisbehaviour,
    /// `GET /access/policies`.
    pub policies: ListMisbehaviour,
    /// `GET /access/tags`.
    pub tags: ListMisbehaviour,
    /// Lists refuse a larger `per_page` with 400.
    pub max_per_page: Option<usize>,
    /// Every request answers 429 with this `Retry-After`.
    pub always_429: Option<Duration>,
    /// Every request answers 400 quoting its `Authorization` header.
    pub echo_auth: bool,
    /// Every write answers with this redirect.
    pub redirect_writes: Option<Redirect>,
}

impl Misbehaviour {
    /// True for a faithful simulator.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    /// The misbehaviours of one list.
    pub fn list(&self, list: List) -> &ListMisbehaviour {
        match list {
            List::Apps => &self.apps,
            List::Policies => &self.policies,
            List::Tags => &self.tags,
        }
    }

    fn list_mut(&mut self, list: List) -> &mut ListMisbehaviour {
        match list {
            List::Apps => &mut self.apps,
            List::Policies => &mut self.policies,
            List::Tags => &mut self.tags,
        }
    }
}

impl FromStr for Misbehaviour {
    type Err = SimError;

    /// Parses the spec in the module's doc; empty or `none` is a faithful simulator.
    #[allow(clippy::many_single_char_names)] // m, l, p, q read as the spec's letters
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut m = Misbehaviour::default();
        let trimmed = s.trim();
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("none") {
            return Ok(m);
        }
        for item in trimmed.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = |reason: String| SimError::InvalidMisbehaviour {
                input: s.to_owned(),
                reason: format!("`{item}`: {reason}"),
            };
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            let mut args = value.split(':');
            let list = |v: Option<&str>| match v.map(str::trim) {
                Some("apps") => Ok(List::Apps),
                Some("policies") => Ok(List::Policies),
                Some("tags") => Ok(List::Tags),
                other => Err(bad(format!(
                    "expected a list, `apps` or `policies` (or `tags`), got `{}`",
                    other.unwrap_or_default()
                ))),
            };
            let number = |v: Option<&str>| {
                v.map(str::trim)
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| bad("expected a whole number".to_owned()))
            };
            let page = |v: Option<&str>| {
                number(v).and_then(|n| {
                    usize::try_from(n)
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| bad("pages are numbered from 1".to_owned()))
                })
            };
            match key.trim() {
                "repeat-last-page" => m.list_mut(list(args.next())?).repeat_last_page = true,
                "understate-total" => m.list_mut(list(args.next())?).understate_total = true,
                "total" => {
                    let l = list(args.next())?;
                    m.list_mut(l).total = Some(number(args.next())?);
                }
                "null-result" => m.list_mut(list(args.next())?).bad_result = Some(BadResult::Null),
                "object-result" => {
                    m.list_mut(list(args.next())?).bad_result = Some(BadResult::Object);
                }
                "endless" => m.list_mut(list(args.next())?).endless = true,
                "page-as" => {
                    let l = list(args.next())?;
                    let (p, q) = (page(args.next())?, page(args.next())?);
                    m.list_mut(l).page_as.push((p, q));
                }
                "drop-page" => {
                    let l = list(args.next())?;
                    m.list_mut(l).drop_page = Some(page(args.next())?);
                }
                "huge-body" => {
                    let l = list(args.next())?;
                    let size = crate::cloudflare::parse_size(args.next().unwrap_or_default())
                        .map_err(bad)?;
                    m.list_mut(l).huge_body = Some(size);
                }
                "stall-body" => m.list_mut(list(args.next())?).stall_body = true,
                "max-per-page" => {
                    m.max_per_page = Some(page(args.next())?);
                }
                "always-429" => {
                    m.always_429 = Some(Duration::from_secs(number(args.next())?));
                }
                "echo-auth" => m.echo_auth = true,
                "redirect-writes" => {
                    let (status, to) = value
                        .split_once(':')
                        .ok_or_else(|| bad("expected STATUS:URL".to_owned()))?;
                    let status: u16 = status
                        .trim()
                        .parse()
                        .ok()
                        .filter(|s| matches!(s, 301 | 302 | 303 | 307 | 308))
                        .ok_or_else(
                            || bad("STATUS must be 301, 302, 303, 307 or 308".to_owned()),
                        )?;
                    m.redirect_writes = Some(Redirect {
                        status,
                        to: to.trim().trim_end_matches('/').to_owned(),
                    });
                }
                other => {
                    return Err(bad(format!(
                        "unknown misbehaviour `{other}` (known: repeat-last-page, understate-total, total, null-result, object-result, endless, page-as, drop-page, huge-body, stall-body, max-per-page, always-429, echo-auth, redirect-writes)"
                    )));
                }
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_item() {
        let m: Misbehaviour =
            "repeat-last-page=policies, understate-total=apps, total=policies:1000000000, \
             null-result=apps, endless=policies, page-as=apps:2:1, drop-page=policies:2, \
             huge-body=apps:1GiB, stall-body=policies, max-per-page=100, always-429=0, echo-auth, \
             redirect-writes=307:http://127.0.0.1:9/x"
                .parse()
                .unwrap();
        assert!(m.policies.repeat_last_page && m.apps.understate_total);
        assert_eq!(m.policies.total, Some(1_000_000_000));
        assert_eq!(m.apps.bad_result, Some(BadResult::Null));
        assert_eq!(m.apps.page_as, vec![(2, 1)]);
        assert_eq!(m.policies.drop_page, Some(2));
        assert_eq!(m.apps.huge_body, Some(1 << 30));
        assert_eq!(m.max_per_page, Some(100));
        assert_eq!(m.always_429, Some(Duration::ZERO));
        assert!(m.echo_auth && m.policies.stall_body && m.policies.endless);
        assert_eq!(m.redirect_writes.unwrap().to, "http://127.0.0.1:9/x");
        assert!("".parse::<Misbehaviour>().unwrap().is_none());
    }

    #[test]
    fn rejects_bad_items_naming_them() {
        for (input, needle) in [
            ("repeat-last-page=groups", "`apps` or `policies`"),
            ("page-as=apps:0:1", "numbered from 1"),
            ("total=apps:lots", "whole number"),
            ("redirect-writes=200:http://x", "STATUS"),
            ("huge-body=apps:big", "size"),
            ("boom", "unknown misbehaviour `boom`"),
        ] {
            let err = input.parse::<Misbehaviour>().unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn the_tag_list_can_misbehave_too() {
        let m: Misbehaviour = "null-result=tags, endless=tags".parse().unwrap();
        assert_eq!(m.tags.bad_result, Some(BadResult::Null));
        assert!(m.tags.endless && m.list(List::Tags).endless);
        assert!(m.apps.is_none() && m.policies.is_none());
    }
}
