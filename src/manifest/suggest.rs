//! "Did you mean": the closest known name to one that matched nothing, within a work
//! budget. A hostile or broken manifest (a 900 KB name, 20,000 unknown names against
//! 5,000 apps) must not turn an error message into minutes of string distances.

/// Names longer than this, typed or known, take no part in suggestions: nobody
/// mistypes a 300-character name by one letter.
pub const MAX_NAME_CHARS: usize = 256;

/// Work allowed for one reference, in character pairs compared. Enough to compare a
/// 30-character name with every app of a 10,000-app account.
pub const WORK_PER_REFERENCE: usize = 20_000_000;

/// Work allowed for one manifest's suggestions in all; references after it is spent
/// get none (their errors are still reported).
pub const TOTAL_WORK: usize = 200_000_000;

/// Hands out suggestions until the total budget is spent.
#[derive(Debug)]
pub struct Suggester {
    left: usize,
}

impl Default for Suggester {
    fn default() -> Self {
        Self { left: TOTAL_WORK }
    }
}

impl Suggester {
    /// The candidate closest to `word`, when one is close enough to be a likely typo
    /// and the budget allows looking.
    pub fn suggest<'c>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'c str>,
    ) -> Option<&'c str> {
        let budget = self.left.min(WORK_PER_REFERENCE);
        let (best, spent) = closest(word, candidates, budget);
        self.left = self.left.saturating_sub(spent);
        best
    }
}

/// [`Suggester::suggest`] for a one-off lookup among a few names (field names).
pub fn suggest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    closest(word, candidates, WORK_PER_REFERENCE).0
}

/// The closest candidate and the work spent finding it. Stops when `budget` is spent.
fn closest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    budget: usize,
) -> (Option<&'c str>, usize) {
    let typed_len = word.chars().count();
    if typed_len == 0 || typed_len > MAX_NAME_CHARS {
        return (None, 0);
    }
    let lower = word.to_lowercase();
    let mut spent = 0;
    let mut best: Option<(f64, usize, &str)> = None;
    for c in candidates {
        let len = c.chars().count();
        if len == 0 || len > MAX_NAME_CHARS || !could_be_close(typed_len, len) {
            continue;
        }
        // Jaro-Winkler and Levenshtein each look at about every pair of characters.
        let cost = 2 * (typed_len + 1) * (len + 1);
        if spent + cost > budget {
            break;
        }
        spent += cost;
        let cl = c.to_lowercase();
        let jw = strsim::jaro_winkler(&lower, &cl);
        let lev = strsim::levenshtein(&lower, &cl);
        if !(jw > 0.85 || (lev <= 2 && lev < len)) {
            continue;
        }
        let better = best.is_none_or(|(bjw, blev, _)| {
            jw.total_cmp(&bjw).then(blev.cmp(&lev)) == std::cmp::Ordering::Greater
        });
        if better {
            best = Some((jw, lev, c));
        }
    }
    (best.map(|(_, _, c)| c), spent)
}

/// Whether names of these lengths can pass the closeness test at all. Jaro-Winkler
/// over 0.85 needs a Jaro score over 0.75, which needs the shorter name to be more than
/// a quarter of the longer; a Levenshtein distance of 2 needs lengths within 2.
fn could_be_close(a: usize, b: usize) -> bool {
    let (short, long) = if a < b { (a, b) } else { (b, a) };
    long - short <= 2 || short * 4 > long
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["version", "owner", "account_id", "servers"];

    #[test]
    fn suggestions_catch_typos_and_ignore_unrelated_words() {
        assert_eq!(
            suggest("downstrem", ["app", "downstream"]),
            Some("downstream")
        );
        assert_eq!(suggest("ap", ["app", "downstream"]), Some("app"));
        assert_eq!(
            suggest("acount_id", KEYS.iter().copied()),
            Some("account_id")
        );
        assert_eq!(suggest("colour", KEYS.iter().copied()), None);
        assert_eq!(
            suggest("internal api", ["Internal API", "Wiki"]),
            Some("Internal API")
        );
    }

    #[test]
    fn the_length_filter_never_drops_a_name_the_test_would_accept() {
        let names = [
            "a",
            "ab",
            "abc",
            "abcd",
            "abcdefgh",
            "abcdefghijklmnop",
            "x",
        ];
        for typed in names {
            for c in names {
                let lower = typed.to_lowercase();
                let jw = strsim::jaro_winkler(&lower, c);
                let lev = strsim::levenshtein(&lower, c);
                if jw > 0.85 || (lev <= 2 && lev < c.len()) {
                    assert!(could_be_close(typed.len(), c.len()), "{typed} {c}");
                }
            }
        }
    }

    #[test]
    fn huge_names_get_no_suggestion_and_cost_nothing() {
        let huge = "x".repeat(900_000);
        let apps: Vec<String> = (0..5000).map(|i| format!("app-{i}")).collect();
        let mut s = Suggester::default();
        assert_eq!(s.suggest(&huge, apps.iter().map(String::as_str)), None);
        assert_eq!(s.left, TOTAL_WORK);
        // A huge candidate is skipped, the typo still found.
        assert_eq!(
            s.suggest("app-12", [huge.as_str(), "app-13"]),
            Some("app-13")
        );
    }

    #[test]
    fn the_budget_bounds_work_per_reference_and_in_total() {
        let apps: Vec<String> = (0..10_000).map(|i| format!("application-{i:05}")).collect();
        let mut s = Suggester::default();
        // A typo of the last app is still found in a 10,000-app account.
        assert_eq!(
            s.suggest("aplication-09999", apps.iter().map(String::as_str)),
            Some("application-09999")
        );
        assert!(TOTAL_WORK - s.left <= WORK_PER_REFERENCE);
        // Unknown names spend the total budget, each within its own share...
        let one = 2 * 16 * 18; // a 15-character name against one 17-character app
        let mut asked = 0;
        while s.left >= one && asked < 1000 {
            s.suggest("unknown-name-00", apps.iter().map(String::as_str));
            asked += 1;
        }
        assert!(
            (TOTAL_WORK / WORK_PER_REFERENCE..1000).contains(&asked),
            "{asked}"
        );
        // ...and once it is spent, even a close typo is not looked for.
        assert_eq!(
            s.suggest("aplication-09999", apps.iter().map(String::as_str)),
            None
        );
    }
}
