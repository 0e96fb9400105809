//! The repository's references stay true.
//!
//! Every text file of the workspace (`*.rs`, `*.md`, `*.js`, `*.html`, `*.toml`; build output,
//! npm packages and fuzzing corpora left out) is read, and the test fails, naming each
//! `file:line`, when:
//!
//! - a section citation (`§` and a number, such as `docs/PROTOCOL.md §3.6` or a bare `§10.12`)
//!   names no numbered heading of `docs/PROTOCOL.md`. Citations of RFC sections are not ours
//!   and are skipped: `RFC 6455 §5 and §7.4`;
//! - the protocol document is named by any other path than `docs/PROTOCOL.md` (files in
//!   `docs/` may use its bare name);
//! - a relative Markdown link (`[text](path)`, `[text](path#anchor)`, `[label]: path`) names a
//!   file that does not exist, a heading that its Markdown target does not have, or a place
//!   outside the repository;
//! - anything mentions a path outside the repository or on one particular machine.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The protocol document, relative to the repository root.
const DOC: &str = "docs/PROTOCOL.md";

const EXTENSIONS: &[&str] = &["rs", "md", "js", "html", "toml"];

/// Directories skipped wherever they are.
const SKIP_NAMES: &[&str] = &["target", "node_modules"];

/// Directories skipped by their path from the root.
const SKIP_PATHS: &[&str] = &["fuzz/target", "fuzz/corpus", "fuzz/artifacts"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository root exists")
}

/// The file name of the document, without its folder: a mention of it must carry the folder.
fn doc_name() -> &'static str {
    DOC.rsplit('/').next().unwrap_or(DOC)
}

/// Text that must not appear anywhere: paths that lead out of the repository or exist only on
/// one machine. Assembled at run time so that this file does not match itself.
fn forbidden() -> Vec<String> {
    vec![
        ["..", "/shared"].concat(),
        ["shared/", "PROTOCOL"].concat(),
        ["/wo", "rk/"].concat(),
        ["/ho", "me/"].concat(),
        ["/Us", "ers/"].concat(),
        ["file:", "///"].concat(),
    ]
}

/// One broken reference.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Problem {
    file: String,
    line: usize,
    what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.what)
    }
}

/// Every file to check, as paths relative to the root with `/` separators, sorted.
fn text_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        let entries = fs::read_dir(root.join(&rel))
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.join(&rel).display()));
        for entry in entries {
            let entry = entry.expect("a directory entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = rel.join(&name);
            let shown = path.to_string_lossy().replace('\\', "/");
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let skipped = name.starts_with('.')
                    || SKIP_NAMES.contains(&name.as_str())
                    || SKIP_PATHS.contains(&shown.as_str());
                if !skipped {
                    dirs.push(path);
                }
            } else if kind.is_file()
                && Path::new(&name)
                    .extension()
                    .is_some_and(|e| EXTENSIONS.contains(&e.to_string_lossy().as_ref()))
            {
                out.push(shown);
            }
        }
    }
    out.sort();
    out
}

/// Lines outside fenced code blocks, with their numbers (from 1).
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// The section numbers of a Markdown document's headings (`## 3. Sessions` gives `3`,
/// `### 3.6 Heartbeats` gives `3.6`).
fn section_numbers(markdown: &str) -> BTreeSet<String> {
    prose_lines(markdown)
        .into_iter()
        .filter_map(|(_, line)| {
            let title = line.strip_prefix('#')?.trim_start_matches('#').trim_start();
            let number = title.split_whitespace().next()?.trim_end_matches('.');
            let numeric = !number.is_empty()
                && number.starts_with(|c: char| c.is_ascii_digit())
                && number.chars().all(|c| c.is_ascii_digit() || c == '.');
            numeric.then(|| number.to_owned())
        })
        .collect()
}

/// The anchors GitHub gives a Markdown document's headings.
fn anchors(markdown: &str) -> BTreeSet<String> {
    prose_lines(markdown)
        .into_iter()
        .filter_map(|(_, line)| {
            let title = line.strip_prefix('#')?.trim_start_matches('#').trim();
            Some(slug(title))
        })
        .collect()
}

/// GitHub's heading anchor: lower case, punctuation dropped, spaces as `-`.
fn slug(title: &str) -> String {
    title
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether the `§` citation that follows `prefix` cites an RFC: `RFC 6455 §5`, and each
/// `§` of `RFC 6455 §5 and §7.4` or `RFC 6455 §5, §7`.
fn cites_an_rfc(prefix: &str) -> bool {
    let mut p = prefix.trim_end();
    loop {
        let before = p;
        if let Some(rest) = p.strip_suffix(',').or_else(|| p.strip_suffix(" and")) {
            p = rest.trim_end();
        }
        if let Some(i) = p.rfind('§') {
            let tail = &p[i + '§'.len_utf8()..];
            if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit() || c == '.') {
                p = p[..i].trim_end();
            }
        }
        if p == before {
            break;
        }
    }
    let without_number = p.trim_end_matches(|c: char| c.is_ascii_digit());
    without_number.len() < p.len() && without_number.trim_end().ends_with("RFC")
}

/// The section citations on one line: (byte offset, number).
fn citations(line: &str) -> Vec<(usize, String)> {
    line.match_indices('§')
        .filter_map(|(at, s)| {
            let rest = &line[at + s.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let number = rest[..end].trim_end_matches('.');
            let numeric = number.starts_with(|c: char| c.is_ascii_digit());
            numeric.then(|| (at, number.to_owned()))
        })
        .collect()
}

/// Section citations that name no heading of the document, and mentions of the document by
/// another path.
fn check_citations(file: &str, text: &str, sections: &BTreeSet<String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let name = doc_name();
    for (i, line) in text.lines().enumerate() {
        let problem = |what: String| Problem {
            file: file.to_owned(),
            line: i + 1,
            what,
        };
        for (at, number) in citations(line) {
            if cites_an_rfc(&line[..at]) {
                continue;
            }
            if !sections.contains(&number) {
                problems.push(problem(format!(
                    "cites §{number}, but {DOC} has no heading numbered {number}"
                )));
            }
        }
        // Files beside the document may name it by its bare file name.
        if !file.starts_with(&DOC[..DOC.len() - name.len()]) {
            for (at, _) in line.match_indices(name) {
                if !line[..at].ends_with(&DOC[..DOC.len() - name.len()]) {
                    problems.push(problem(format!(
                        "names {name} without its folder: the document is {DOC}"
                    )));
                }
            }
        }
    }
    problems
}

/// The targets of a Markdown line's links: inline `[text](target)` and reference definitions
/// `[label]: target`.
fn link_targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let Some(end) = after.find(')') else {
            break;
        };
        out.push(after[..end].to_owned());
        rest = &after[end..];
    }
    let definition = line.trim_start().strip_prefix('[').and_then(|label| {
        let close = label.find(']')?;
        label[close..].strip_prefix("]:")
    });
    if let Some(target) = definition.and_then(|d| d.split_whitespace().next()) {
        out.push(target.to_owned());
    }
    out.into_iter()
        .map(|t| {
            let t = t.trim();
            let t = t.split_once(" \"").map_or(t, |(path, _title)| path);
            t.trim_start_matches('<').trim_end_matches('>').to_owned()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// `base` joined with `rel`, both relative to the root; `None` when it leaves the root.
fn resolve(base: &Path, rel: &str) -> Option<PathBuf> {
    let joined = match rel.strip_prefix('/') {
        Some(from_root) => PathBuf::from(from_root),
        None => base.join(rel),
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Relative links of a Markdown file that lead nowhere.
fn check_links(root: &Path, file: &str, text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
    for (n, line) in prose_lines(text) {
        for target in link_targets(line) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let mut problem = |what: String| {
                problems.push(Problem {
                    file: file.to_owned(),
                    line: n,
                    what,
                })
            };
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                Some(PathBuf::from(file))
            } else {
                resolve(dir, path)
            };
            let Some(resolved) = resolved else {
                problem(format!(
                    "links to {target}, which is outside the repository"
                ));
                continue;
            };
            let full = root.join(&resolved);
            if !full.exists() {
                problem(format!(
                    "links to {target}, but {} does not exist",
                    resolved.display()
                ));
                continue;
            }
            let Some(anchor) = anchor.filter(|a| !a.is_empty()) else {
                continue;
            };
            if full.extension().is_some_and(|e| e == "md") {
                let target_text = fs::read_to_string(&full).unwrap_or_default();
                if !anchors(&target_text).contains(anchor) {
                    problem(format!(
                        "links to {target}, but {} has no heading with the anchor #{anchor}",
                        resolved.display()
                    ));
                }
            }
        }
    }
    problems
}

/// Mentions of places outside the repository.
fn check_outside(file: &str, text: &str) -> Vec<Problem> {
    let patterns = forbidden();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for p in &patterns {
            if line.contains(p.as_str()) {
                problems.push(Problem {
                    file: file.to_owned(),
                    line: i + 1,
                    what: format!(
                        "mentions {p:?}, a path outside the repository; the repository must \
                         stand on its own"
                    ),
                });
            }
        }
    }
    problems
}

#[test]
fn references_in_the_repository_are_true() {
    let root = root();
    let doc = fs::read_to_string(root.join(DOC)).unwrap_or_else(|e| {
        panic!("{DOC} must exist: code and docs cite its sections ({e})");
    });
    let sections = section_numbers(&doc);
    assert!(
        !sections.is_empty(),
        "{DOC} has no numbered headings (`## 3. Sessions`, `### 3.6 Heartbeats`)"
    );
    let files = text_files(&root);
    assert!(
        files.iter().any(|f| f == DOC),
        "the scan did not find {DOC}"
    );
    let mut problems = Vec::new();
    for file in &files {
        let Ok(text) = fs::read_to_string(root.join(file)) else {
            continue; // not UTF-8: not prose
        };
        problems.extend(check_citations(file, &text, &sections));
        if file.ends_with(".md") {
            problems.extend(check_links(&root, file, &text));
        }
        problems.extend(check_outside(file, &text));
    }
    assert!(
        problems.is_empty(),
        "{} broken reference(s) in {} files:\n{}",
        problems.len(),
        files.len(),
        problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// The checks themselves, on made-up text.

fn sample_sections() -> BTreeSet<String> {
    section_numbers("# Title\n## 3. Sessions\n### 3.6 Heartbeats\n```\n## 9. in code\n```\n")
}

#[test]
fn headings_give_section_numbers() {
    let expected: BTreeSet<String> = ["3", "3.6"].map(String::from).into_iter().collect();
    assert_eq!(sample_sections(), expected);
}

#[test]
fn citations_are_checked_and_rfc_sections_skipped() {
    let s = sample_sections();
    let cite = |line: &str| check_citations("x.rs", line, &s);
    assert!(cite(&format!("see {DOC} §3.6.")).is_empty());
    assert!(cite(&format!("({DOC} §3, §3.6)")).is_empty());
    assert!(cite("RFC 6455 §5 and §7.4, RFC 9112 §2.2").is_empty());
    assert!(cite("a section sign alone: §, or §x").is_empty());
    let broken = cite(&format!("// the attach routine ({DOC} §3.3)"));
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].line, 1);
    assert!(broken[0].what.contains("§3.3"), "{}", broken[0]);
    assert_eq!(cite("RFC 6455 (see §4.1)").len(), 1);
    let bare_name = cite(&format!("listed in {} §3", doc_name()));
    assert_eq!(bare_name.len(), 1, "{bare_name:?}");
}

#[test]
fn links_are_resolved_inside_the_repository() {
    let root = root();
    let ok = format!("[doc](../../{DOC}#36-heartbeats) [web](https://example.com) [here](#x)");
    assert_eq!(
        link_targets(&ok),
        [
            format!("../../{DOC}#36-heartbeats"),
            "https://example.com".into(),
            "#x".into()
        ]
    );
    let links = |text: &str| check_links(&root, "tests/reference/README.md", text);
    assert!(links(&format!("[doc](../../{DOC}#36-heartbeats)")).is_empty());
    assert!(links("[up](../../README.md) and [x]: y\n[label]: ../Cargo.toml").is_empty());
    assert_eq!(links("[label]: ../nothing-here.toml").len(), 1);
    assert_eq!(links("[gone](../nothing-here.md)").len(), 1);
    assert_eq!(
        links(&format!("[doc](../../{DOC}#no-such-heading)")).len(),
        1
    );
    assert_eq!(links("[out](../../../elsewhere.md)").len(), 1);
    assert!(links("```\n[in code](nowhere.md)\n```").is_empty());
}

#[test]
fn outside_paths_are_refused() {
    for p in forbidden() {
        assert_eq!(check_outside("x.md", &format!("see {p}x")).len(), 1, "{p}");
    }
    assert!(check_outside("x.md", "see ../../README.md").is_empty());
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("3.6 Heartbeats"), "36-heartbeats");
    assert_eq!(slug("10.12 CORS"), "1012-cors");
    assert_eq!(
        slug("4.1.2 hixie-76 and its worked example"),
        "412-hixie-76-and-its-worked-example"
    );
}
