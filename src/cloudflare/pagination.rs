//! Reading a paginated list without trusting what the server says about it.
//!
//! NOTE (reference page, "Pagination" and "Added after the first release"): the server
//! may give fewer items per page than asked; `total_pages` may be absent; a page past
//! the end is empty and the official SDK walks until it gets one; `total_count` has
//! been wrong on other endpoints, and `count` has been too (cloudflare-go #3631: always
//! 1), so `count` is ignored; `per_page` has no documented maximum.
//!
//! So: the first page tells the honoured page size and a total; the pages the total
//! announces are fetched concurrently; the walk then goes on, one page at a time, until
//! a short or an empty page (at most one extra GET when the total was right). A
//! `per_page` the API refuses with 400 falls back (1000, 100, 50, 25), and the size
//! that worked is kept for the rest of the process. The walk is bounded by
//! `max_list_items`: a reported total past it is refused at once.
//!
//! A list that does not add up (an id seen twice, which means the offsets shifted or
//! the server repeated a page, so items may be missing; fewer distinct items than the
//! reported total; a short page followed by more) is read once more; if it still does
//! not add up, the read fails and nothing is written from it.

use std::collections::HashSet;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::client::Client;
use super::error::Error;
use super::error::Permission;
use super::response::{self, Context, Envelope, Idempotence};
use super::types::AppSummary;

/// The `per_page` sizes tried, largest first, when the API refuses one with 400.
pub const PAGE_SIZES: [u32; 4] = [1000, 100, 50, 25];

/// Cloudflare's standard account limits: 500 applications and 500 reusable policies
/// (Access account-limits page; enterprise accounts can ask for more).
pub const ACCOUNT_LIMIT: usize = 500;

/// The default bound on the items one list may hold: 40 times the account limit, so
/// enterprise accounts with raised limits (and the 10,000-app benchmark) fit.
pub const DEFAULT_MAX_LIST_ITEMS: usize = 20_000;

/// An item of a paginated list, identified by its id.
pub(super) trait Listed: serde::de::DeserializeOwned + Send {
    fn key(&self) -> Option<&str>;
}

impl Listed for Value {
    fn key(&self) -> Option<&str> {
        self.get("id")
            .or_else(|| self.get("uid"))
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
    }
}

impl Listed for AppSummary {
    fn key(&self) -> Option<&str> {
        Some(self.0.uid()).filter(|k| !k.is_empty())
    }
}

/// A list page's `result_info`. `count` is not read: it has been wrong in the wild.
#[derive(Deserialize, Default, Clone, Copy, Debug)]
pub(super) struct ResultInfo {
    #[serde(default)]
    per_page: Option<u64>,
    #[serde(default)]
    total_count: Option<u64>,
}

/// One page as read.
struct Page<T> {
    number: usize,
    items: Vec<T>,
    info: ResultInfo,
}

/// What one walk of a list read, and what did not add up.
struct Walk<'a, T> {
    request: &'a str,
    max_items: usize,
    items: Vec<T>,
    seen: HashSet<String>,
    duplicates: usize,
    largest_total: Option<u64>,
    /// The first page that came back short, when a later one was not empty.
    short_page: Option<(usize, usize)>,
    problems: Vec<String>,
}

impl<'a, T: Listed> Walk<'a, T> {
    fn new(request: &'a str, max_items: usize) -> Self {
        Self {
            request,
            max_items,
            items: Vec::new(),
            seen: HashSet::new(),
            duplicates: 0,
            largest_total: None,
            short_page: None,
            problems: Vec::new(),
        }
    }

    /// Takes in a page of `size` items at most; returns how many new items it held.
    fn add(&mut self, page: Page<T>, size: usize) -> Result<usize, Error> {
        if let Some(total) = page.info.total_count {
            self.check_total(total)?;
            self.largest_total = Some(self.largest_total.map_or(total, |t| t.max(total)));
        }
        let len = page.items.len();
        if len > 0
            && let Some((short, short_len)) = self.short_page.take()
        {
            self.problems.push(format!(
                "page {short} held {short_len} of {size} items, but page {} was not empty",
                page.number
            ));
        }
        if len < size && len > 0 {
            self.short_page.get_or_insert((page.number, len));
        }
        let mut added = 0;
        for (i, item) in page.items.into_iter().enumerate() {
            let Some(key) = item.key() else {
                return Err(Error::Decode {
                    request: self.request.to_owned(),
                    reason: format!("item {} of page {} has no id", i + 1, page.number),
                });
            };
            if self.seen.insert(key.to_owned()) {
                self.items.push(item);
                added += 1;
            } else {
                self.duplicates += 1;
            }
        }
        if self.items.len() > self.max_items {
            return Err(self.too_long(format!(
                "more than {} items listed (--max-list-items {}; Cloudflare's standard limit is {ACCOUNT_LIMIT} per account); raise --max-list-items if the account really holds more",
                self.max_items, self.max_items
            )));
        }
        Ok(added)
    }

    fn check_total(&self, total: u64) -> Result<(), Error> {
        if usize::try_from(total).map_or(true, |t| t > self.max_items) {
            return Err(self.too_long(format!(
                "the API reports {total} items, more than --max-list-items {} allows (Cloudflare's standard limit is {ACCOUNT_LIMIT} per account); raise --max-list-items if the account really holds that many. Nothing was written",
                self.max_items
            )));
        }
        Ok(())
    }

    fn too_long(&self, message: String) -> Error {
        Error::ListTooLong {
            request: self.request.to_owned(),
            message,
        }
    }

    /// The checks that need the whole list.
    fn finish(mut self) -> Self {
        if self.duplicates > 0 {
            self.problems.push(format!(
                "{} id(s) were listed twice (the offsets shifted while the list was read, or the server repeated a page), so items may be missing",
                self.duplicates
            ));
        }
        if let Some(total) = self.largest_total {
            let read = self.items.len() as u64;
            if total > read {
                self.problems.push(format!(
                    "the pages reported total_count {total}, but only {read} distinct items were listed"
                ));
            } else if total < read {
                tracing::debug!(request = %self.request, total, read, "total_count understated; read to the end anyway");
            }
        }
        self
    }
}

impl Client {
    /// Every item of a paginated list, checked (see the module's doc).
    pub(super) async fn list_all<T: Listed>(&self, path: &str) -> Result<Vec<T>, Error> {
        let request = format!("GET {path}");
        let first = self.walk::<T>(path, &request).await?;
        if first.problems.is_empty() {
            return Ok(first.items);
        }
        tracing::warn!(
            "{request}: the list does not add up ({}); reading it again",
            first.problems.join("; ")
        );
        let second = self.walk::<T>(path, &request).await?;
        if second.problems.is_empty() {
            return Ok(second.items);
        }
        let problems = second.problems.join("; ");
        Err(Error::InconsistentList { request, problems })
    }

    async fn walk<'r, T: Listed>(
        &self,
        path: &str,
        request: &'r str,
    ) -> Result<Walk<'r, T>, Error> {
        let max_items = self.config().max_list_items.max(1);
        let mut walk = Walk::new(request, max_items);
        let progress = self.progress();
        progress.set_message("reading the account");
        progress.inc_length(1);
        let (asked, first) = self.first_page::<T>(path).await?;
        progress.inc(1);
        let first_len = first.items.len();
        let total = first.info.total_count;
        let reported = first
            .info
            .per_page
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0)
            .map(|n| n.min(asked as usize));
        let mut size = reported.unwrap_or(first_len).max(1);
        let mut done = first_len == 0;
        if first_len > 0 && first_len < size {
            if total.is_none_or(|t| t <= first_len as u64) {
                done = true;
            } else {
                // More to come by the total, though the page looks short: the server
                // gave fewer than it says; its real page size is what it gave.
                size = first_len;
            }
        }
        walk.add(first, size)?;
        if done {
            return Ok(walk.finish());
        }
        let max_pages = max_items.div_ceil(size) + 1;
        // `check_total` bounded the total by `max_items`, so this is at most `max_pages`.
        let planned = total
            .map_or(1, |t| usize::try_from(t).unwrap_or(0).div_ceil(size))
            .max(1);
        let mut last_len = first_len;
        if planned >= 2 {
            progress.inc_length((planned - 1) as u64);
            let mut pages = futures::stream::iter(2..=planned)
                .map(|number| async move {
                    let page = self.get_page::<T>(path, number, asked).await;
                    progress.inc(1);
                    page
                })
                .buffered(self.config().concurrency.max(1));
            while let Some(page) = pages.next().await {
                let page = page?;
                last_len = page.items.len();
                walk.add(page, size)?;
            }
        }
        // Never stop on the total alone: walk on until a short or an empty page.
        let mut number = planned + 1;
        while last_len >= size {
            if number > max_pages {
                return Err(walk.too_long(format!(
                    "still full pages after {max_pages} pages of {size} items (--max-list-items {max_items} bounds the walk); raise --max-list-items if the account really holds more"
                )));
            }
            progress.inc_length(1);
            let page = self.get_page::<T>(path, number, asked).await?;
            progress.inc(1);
            last_len = page.items.len();
            if walk.add(page, size)? == 0 {
                // Nothing new: a repeated page. The duplicates are counted; stop here.
                break;
            }
            number += 1;
        }
        Ok(walk.finish())
    }

    /// Page 1, falling back to smaller page sizes while the API answers 400; the size
    /// that worked is remembered for this endpoint.
    async fn first_page<T: Listed>(&self, path: &str) -> Result<(u32, Page<T>), Error> {
        let endpoint = super::client::endpoint_label(path);
        let mut size = self.page_size(endpoint);
        loop {
            match self.get_page::<T>(path, 1, size).await {
                Ok(page) => {
                    self.remember_page_size(endpoint, size);
                    return Ok((size, page));
                }
                Err(e) if refuses_page_size(&e) => {
                    let Some(&smaller) = PAGE_SIZES.iter().find(|&&s| s < size) else {
                        return Err(e);
                    };
                    tracing::info!(
                        "GET {path} refused per_page={size} ({e}); trying per_page={smaller}"
                    );
                    size = smaller;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn get_page<T: Listed>(
        &self,
        path: &str,
        number: usize,
        per_page: u32,
    ) -> Result<Page<T>, Error> {
        let query = [
            ("page", number.to_string()),
            ("per_page", per_page.to_string()),
        ];
        let env = self
            .send::<Vec<T>>(Method::GET, path, &query, None, Idempotence::Idempotent)
            .await
            .map_err(not_a_list)?;
        checked_page(path, number, env)
    }
}

/// A page that did not parse says what a list page must be.
fn not_a_list(e: Error) -> Error {
    match e {
        Error::Decode { request, reason } => Error::Decode {
            request,
            reason: format!("a list page must be a JSON array with success: true ({reason})"),
        },
        e => e,
    }
}

/// A list page's envelope, checked: `success: true` and a `result` that is a list.
fn checked_page<T>(path: &str, number: usize, env: Envelope<Vec<T>>) -> Result<Page<T>, Error> {
    let request = || format!("GET {path}");
    if env.success != Some(true) {
        return Err(Error::Decode {
            request: request(),
            reason: format!("page {number} lacks `success: true`; refusing to read it as a list"),
        });
    }
    let Some(items) = env.result else {
        return Err(Error::Decode {
            request: request(),
            reason: format!(
                "page {number} has `result: null` where a list belongs; refusing to read it as an empty list"
            ),
        });
    };
    Ok(Page {
        number,
        items,
        info: env.result_info.unwrap_or_default(),
    })
}

/// One read of a list from page bodies instead of the network, for the fuzz targets
/// ([`super::fuzzing`]): each body parsed and checked as [`Client::get_page`] does, the
/// pages taken in as a walk takes them (the page size from the first, stopping at a
/// short or empty page), then the list's checks. The items, or the error the read ends
/// with.
pub(super) fn read_bodies<T: Listed>(
    path: &str,
    bodies: &[&[u8]],
    max_items: usize,
) -> Result<Vec<T>, Error> {
    let request = format!("GET {path}");
    let ctx = Context {
        request: &request,
        idempotence: Idempotence::Idempotent,
        permission: Permission::Read,
        account_id: "0123456789abcdef0123456789abcdef",
    };
    let mut walk = Walk::new(&request, max_items.max(1));
    let mut size = None;
    for (i, body) in bodies.iter().enumerate() {
        let env = response::classify::<Vec<T>>(&ctx, StatusCode::OK, None, body)
            .map_err(|attempt| not_a_list(attempt.error))?;
        let page = checked_page(path, i + 1, env)?;
        let len = page.items.len();
        let size = *size.get_or_insert_with(|| {
            page.info
                .per_page
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0)
                .unwrap_or(len)
                .max(1)
        });
        if walk.add(page, size)? == 0 && i > 0 || len < size {
            break;
        }
    }
    let walk = walk.finish();
    if walk.problems.is_empty() {
        Ok(walk.items)
    } else {
        Err(Error::InconsistentList {
            problems: walk.problems.join("; "),
            request,
        })
    }
}

/// A 400 to a list request that is not about the credentials: maybe the page size.
fn refuses_page_size(e: &Error) -> bool {
    e.status() == Some(400) && !e.codes().iter().any(|c| matches!(c, 6003 | 6111 | 9106))
}
