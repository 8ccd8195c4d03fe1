//! Transfer's `filter` and `orderby` query parameters, for every listing that takes them
//! (directory listings, task lists).
//!
//! A `filter` parameter is clauses joined by `/`, all of which must hold; when several
//! `filter` parameters are given, a document is kept if any of them holds (globus-cli's
//! `ls -r --filter` sends `type:dir` and `name:…` and relies on that). A clause is
//! `FIELD:TEST`:
//!
//! | test | holds when the field |
//! |---|---|
//! | `a` or `=a` | equals the value |
//! | `!a` or `!=a` | does not equal the value |
//! | `~pat` | matches the pattern (`*` any run, `?` one character, ignoring case) |
//! | `!~pat` | does not match it |
//! | `a,~b*,!c` | matches one of the positive values, and none of the negated ones |
//! | `>n`, `>=n`, `<n`, `<=n` | compares so (numbers, or times) |
//! | `from,to` on a time field | is within the range (either end may be empty) |

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Every `key=value` of a query, in order, repeated keys included.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(query: &str) -> Params {
        let pairs = query.split('&').filter(|p| !p.is_empty()).map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (gantry_domain::url::unescape_form(k), gantry_domain::url::unescape_form(v))
        });
        Params(pairs.collect())
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value given for `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// The last value of each key.
    pub fn last_values(&self) -> HashMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

/// One value a field is matched against.
#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Exact(String),
    /// `*` and `?` wildcards, ignoring case.
    Glob(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    /// `a,~b*,!c,!~d*`: some positive pattern matches (if any is given) and no negated
    /// one does.
    Match {
        any: Vec<Pattern>,
        none: Vec<Pattern>,
    },
    Compare(Ordering, bool, String),
    Range(Option<String>, Option<String>),
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    field: String,
    test: Test,
}

/// The filters of a request; no filter keeps everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters(Vec<Vec<Clause>>);

/// What a clause that cannot be read says.
pub type FilterError = String;

impl Filters {
    /// Reads the `filter` parameters; `time_fields` are the fields whose `from,to` is a
    /// range rather than a list of values.
    pub fn parse(params: &[&str], time_fields: &[&str]) -> Result<Filters, FilterError> {
        let mut all = vec![];
        for p in params.iter().filter(|p| !p.is_empty()) {
            let mut clauses = vec![];
            for c in p.split('/').filter(|c| !c.is_empty()) {
                let (field, rest) =
                    c.split_once(':').ok_or_else(|| format!("filter clause {c:?} is not FIELD:VALUE"))?;
                clauses.push(Clause { field: field.to_string(), test: test(rest, time_fields.contains(&field)) });
            }
            all.push(clauses);
        }
        Ok(Filters(all))
    }

    /// True when some filter holds for `doc` (a document with the filtered fields).
    pub fn keep(&self, doc: &Value) -> bool {
        self.0.is_empty() || self.0.iter().any(|clauses| clauses.iter().all(|c| holds(c, &doc[c.field.as_str()])))
    }
}

fn test(rest: &str, is_time: bool) -> Test {
    let s = |x: &str| x.to_string();
    for (op, dir, or_equal) in [
        (">=", Ordering::Greater, true),
        ("<=", Ordering::Less, true),
        (">", Ordering::Greater, false),
        ("<", Ordering::Less, false),
    ] {
        if let Some(v) = rest.strip_prefix(op) {
            return Test::Compare(dir, or_equal, s(v));
        }
    }
    if is_time && rest.contains(',') && !rest.starts_with(['~', '!', '=']) {
        let (a, b) = rest.split_once(',').unwrap_or((rest, ""));
        let end = |x: &str| (!x.trim().is_empty()).then(|| s(x));
        return Test::Range(end(a), end(b));
    }
    let (mut any, mut none) = (vec![], vec![]);
    for item in rest.split(',') {
        if let Some(p) = item.strip_prefix("!~") {
            none.push(Pattern::Glob(s(p)));
        } else if let Some(v) = item.strip_prefix("!=").or_else(|| item.strip_prefix('!')) {
            none.push(Pattern::Exact(s(v)));
        } else if let Some(p) = item.strip_prefix('~') {
            any.push(Pattern::Glob(s(p)));
        } else {
            any.push(Pattern::Exact(s(item.strip_prefix('=').unwrap_or(item))));
        }
    }
    Test::Match { any, none }
}

/// The field as text: strings as they are, numbers and booleans as JSON writes them,
/// null as nothing.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Orders two values of a field: both times, both numbers, or as text.
fn compare(field: &str, wanted: &str) -> Option<Ordering> {
    use gantry_domain::time::parse_utc;
    if let (Ok(a), Ok(b)) = (field.parse::<f64>(), wanted.parse::<f64>()) {
        return a.partial_cmp(&b);
    }
    if let (Some(a), Some(b)) = (parse_utc(field), parse_utc(wanted)) {
        return Some(a.cmp(&b));
    }
    Some(field.cmp(wanted))
}

fn matches(p: &Pattern, field: Option<&str>) -> bool {
    match (p, field) {
        (Pattern::Exact(x), Some(f)) => x == f,
        (Pattern::Exact(x), None) => x.is_empty() || x == "null",
        (Pattern::Glob(g), f) => glob(&g.to_lowercase(), &f.unwrap_or_default().to_lowercase()),
    }
}

fn holds(c: &Clause, v: &Value) -> bool {
    let field = text(v);
    let f = field.as_deref();
    match (&c.test, f) {
        (Test::Match { any, none }, f) => {
            (any.is_empty() || any.iter().any(|p| matches(p, f))) && !none.iter().any(|p| matches(p, f))
        }
        (Test::Compare(dir, or_equal, x), Some(f)) => {
            compare(f, x).is_some_and(|o| o == *dir || (*or_equal && o == Ordering::Equal))
        }
        (Test::Range(from, to), Some(f)) => {
            from.as_deref().is_none_or(|a| compare(f, a).is_some_and(|o| o != Ordering::Less))
                && to.as_deref().is_none_or(|b| compare(f, b).is_some_and(|o| o != Ordering::Greater))
        }
        (Test::Compare(..) | Test::Range(..), None) => false,
    }
}

/// `*` matches any run of characters, `?` one; everything else itself.
pub fn glob(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    // Iterative matching with one backtracking point: linear in practice, and never
    // exponential whatever the pattern.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Sorts `docs` by an `orderby` value such as `"type ASC, name DESC"` (several
/// parameters are read in order); the fields are compared as [`compare`] does, and
/// `fallback` breaks ties. An unknown field is refused.
pub fn order(docs: &mut [Value], orderby: &[&str], fields: &[&str], fallback: &str) -> Result<(), FilterError> {
    let mut keys: Vec<(String, bool)> = vec![];
    for part in orderby.iter().flat_map(|o| o.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let field = words.next().unwrap_or_default();
        let desc = match words.next().map(str::to_ascii_uppercase).as_deref() {
            None | Some("ASC") => false,
            Some("DESC") => true,
            Some(other) => return Err(format!("orderby direction {other:?} is not ASC or DESC")),
        };
        if !fields.contains(&field) {
            return Err(format!("cannot order by {field:?}; fields: {}", fields.join(", ")));
        }
        keys.push((field.to_string(), desc));
    }
    keys.push((fallback.to_string(), false));
    docs.sort_by(|a, b| {
        for (k, desc) in &keys {
            let o = match (text(&a[k.as_str()]), text(&b[k.as_str()])) {
                (Some(x), Some(y)) => compare(&x, &y).unwrap_or(Ordering::Equal),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keeps(filters: &[&str], doc: &Value) -> bool {
        Filters::parse(filters, &["last_modified", "request_time"]).unwrap().keep(doc)
    }

    #[test]
    fn clauses_and_and_filters_or() {
        let txt = json!({"name": "run1.txt", "type": "file", "size": 40, "last_modified": "2026-11-28 22:01:43+00:00"});
        let dir = json!({"name": "data", "type": "dir", "size": 4096, "last_modified": "2020-01-01 00:00:00+00:00"});
        assert!(keeps(&["name:~*.txt"], &txt));
        assert!(keeps(&["type:file/name:~run?.txt"], &txt));
        assert!(!keeps(&["type:dir"], &txt));
        assert!(keeps(&["type:dir,file"], &txt));
        assert!(!keeps(&["name:=run2.txt"], &txt));
        assert!(keeps(&["name:!~*.csv"], &txt) && !keeps(&["name:!~*.txt"], &txt));
        assert!(keeps(&["name:!run2.txt"], &txt) && keeps(&["name:!=run2.txt"], &txt));
        assert!(keeps(&[], &txt) && keeps(&[""], &txt));
        // Several parameters: either one (globus-cli's recursive ls).
        for d in [&txt, &dir] {
            assert!(keeps(&["type:dir", "name:~*.txt"], d));
        }
        assert!(!keeps(&["type:dir", "name:~*.csv"], &txt));
        // Numbers and times.
        assert!(keeps(&["size:>=40"], &txt) && !keeps(&["size:>40"], &txt) && keeps(&["size:<100"], &txt));
        assert!(keeps(&["last_modified:2026-01-01,"], &txt) && !keeps(&["last_modified:2026-01-01,"], &dir));
        assert!(keeps(&["last_modified:,2021-01-01"], &dir) && !keeps(&["last_modified:,2021-01-01"], &txt));
        assert!(Filters::parse(&["no-colon"], &[]).is_err());
        // Task labels as globus-cli asks for them: patterns ignore case, lists mix tests.
        let task =
            json!({"label": "Nightly Backup 3", "request_time": "2026-11-28T22:01:43+00:00", "status": "SUCCEEDED"});
        assert!(keeps(&["label:~nightly*"], &task) && keeps(&["label:=Nightly Backup 3"], &task));
        assert!(!keeps(&["label:=nightly backup 3"], &task));
        assert!(keeps(&["label:~*weekly*,~*backup*,!~*4"], &task) && !keeps(&["label:~*backup*,!~*3"], &task));
        assert!(!keeps(&["label:!Nightly Backup 3"], &task) && keeps(&["label:!other"], &task));
        assert!(keeps(&["request_time:2026-11-28 00:00:00,2026-11-29 00:00:00/status:SUCCEEDED,FAILED"], &task));
        assert!(!keeps(&["request_time:2026-11-29 00:00:00,"], &task));
        assert!(!keeps(&["label:~x*"], &json!({"label": null})) && keeps(&["label:!~x*"], &json!({"label": null})));
    }

    #[test]
    fn globs_never_blow_up() {
        assert!(glob("*ile3.tx*", "file3.txt") && glob("a*b*c", "aXbYc") && !glob("a*b", "ac"));
        assert!(glob("", "") && !glob("", "x") && glob("***", ""));
        let long = "a".repeat(5000);
        let started = std::time::Instant::now();
        assert!(!glob(&format!("{}b", "*a".repeat(100)), &long));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn orders_by_several_fields() {
        let mut docs = vec![
            json!({"name": "b", "type": "file", "size": 2}),
            json!({"name": "a", "type": "file", "size": 10}),
            json!({"name": "z", "type": "dir", "size": 1}),
        ];
        order(&mut docs, &["type ASC, size DESC"], &["name", "type", "size"], "name").unwrap();
        let names: Vec<&str> = docs.iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["z", "a", "b"]);
        order(&mut docs, &["name DESC"], &["name"], "name").unwrap();
        assert_eq!(docs[0]["name"], "z");
        assert!(order(&mut docs, &["owner"], &["name"], "name").is_err());
        assert!(order(&mut docs, &["name UP"], &["name"], "name").is_err());
    }

    #[test]
    fn repeated_query_keys_are_kept() {
        let p = Params::parse("filter=type%3Adir&filter=name:~*.txt&path=/~/a+b/&limit=5");
        assert_eq!(p.all("filter"), ["type:dir", "name:~*.txt"]);
        assert_eq!(p.get("path"), Some("/~/a b/"));
        assert_eq!(p.last_values()["limit"], "5");
    }
}
