//! Imports flow one way: no file of nbi-core uses an item of a file that
//! (directly or through others) uses an item of it.
//!
//! Each source file is a node. A file depends on another when it names an
//! item defined there: through `use` (re-exports followed to the file that
//! defines the item) or a path in its code (`crate::…`, `super::…`, a child
//! module's name, a module brought in by `use`). Declaring a child module
//! (`mod x;`) is not a dependency; test modules (`#[cfg(test)]`) are left
//! out. The cycles are the strongly connected components of more than one
//! file (Tarjan).
//!
//! The reading is lexical (comments and literals removed, then paths
//! scanned), which is enough for how this crate is written: a glob import
//! or a macro that names paths would be missed, so the crate has none of
//! the first and the test says which path it could not place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file and what its code says.
struct File {
    /// Module path below the crate root (`["store", "sqlite"]`).
    module: Vec<String>,
    rel: String,
    /// The code without comments, literals and test modules.
    code: String,
    /// Child modules declared here.
    children: BTreeSet<String>,
    /// Items defined here by name.
    items: BTreeSet<String>,
    /// `pub use` re-exports: name → absolute path.
    reexports: BTreeMap<String, Vec<String>>,
}

fn main_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file below `src`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs").to_string();
    if stem != "mod" && stem != "lib" {
        parts.push(stem);
    }
    parts
}

/// The code with comments, string and char literals blanked out.
fn strip(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && !ident_char_before(&b, i)
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            'raw: while j < b.len() {
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break 'raw;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The index of the brace that closes the one at `open`.
fn matching_brace(code: &[char], open: usize) -> usize {
    let mut depth = 0;
    for (k, c) in code.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    code.len().saturating_sub(1)
}

/// Removes every item under `#[cfg(test)]` (a test module, a test-only
/// `use`); returns the code and the test-only child modules (`mod x;`).
fn without_tests(code: &str) -> (String, BTreeSet<String>) {
    let chars: Vec<char> = code.chars().collect();
    let text: String = chars.iter().collect();
    let mut keep = vec![true; chars.len()];
    let mut test_children = BTreeSet::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("#[cfg(test)]") {
        let start = from + at;
        // Byte offsets equal char offsets: the stripped code is ASCII
        // outside literals, and literals were blanked.
        let mut k = start + "#[cfg(test)]".len();
        // Skip further attributes and whitespace.
        loop {
            while k < chars.len() && chars[k].is_whitespace() {
                k += 1;
            }
            if chars.get(k) == Some(&'#') {
                while k < chars.len() && chars[k] != ']' {
                    k += 1;
                }
                k += 1;
            } else {
                break;
            }
        }
        // The item ends at its first `;` or at the brace closing its first `{`.
        let mut end = k;
        while end < chars.len() && chars[end] != ';' && chars[end] != '{' {
            end += 1;
        }
        let head: String = chars[k..end.min(chars.len())].iter().collect();
        let words: Vec<&str> = head.split_whitespace().collect();
        if chars.get(end) == Some(&'{') {
            end = matching_brace(&chars, end);
        } else if let [.., "mod", name] = words.as_slice() {
            test_children.insert(name.to_string());
        }
        for flag in keep.iter_mut().take((end + 1).min(chars.len())).skip(start) {
            *flag = false;
        }
        from = (end + 1).min(text.len());
    }
    let kept = chars
        .iter()
        .zip(&keep)
        .map(|(c, k)| if *k { *c } else { ' ' })
        .collect();
    (kept, test_children)
}

/// Expands a use tree (`a::{b, c::{d as e}}`) into its paths.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn parse(s: &[char], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let mut path: Vec<String> = prefix.to_vec();
        let mut word = String::new();
        while *i < s.len() {
            let c = s[*i];
            if is_ident(c) {
                word.push(c);
                *i += 1;
            } else if c == ':' {
                if !word.is_empty() {
                    path.push(std::mem::take(&mut word));
                }
                *i += 1;
            } else if c == '{' {
                *i += 1;
                if !word.is_empty() {
                    path.push(std::mem::take(&mut word));
                }
                loop {
                    parse(s, i, &path, out);
                    match s.get(*i) {
                        Some(',') => *i += 1,
                        Some('}') => {
                            *i += 1;
                            return;
                        }
                        _ => return,
                    }
                    while s.get(*i).is_some_and(|c| c.is_whitespace()) {
                        *i += 1;
                    }
                    if s.get(*i) == Some(&'}') {
                        *i += 1;
                        return;
                    }
                }
            } else if c == ',' || c == '}' {
                break;
            } else if c.is_whitespace() {
                // `x as y`: the alias does not matter for where x lives.
                if word == "as" {
                    word.clear();
                    while *i < s.len() && s[*i] != ',' && s[*i] != '}' {
                        *i += 1;
                    }
                    break;
                }
                if !word.is_empty() {
                    path.push(std::mem::take(&mut word));
                }
                *i += 1;
            } else {
                *i += 1;
            }
        }
        if !word.is_empty() {
            path.push(word);
        }
        if path.last().is_some_and(|w| w == "as") {
            path.pop();
        }
        if path.len() > prefix.len() || !path.is_empty() && prefix.is_empty() {
            out.push(path);
        }
    }
    let chars: Vec<char> = tree.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    parse(&chars, &mut i, &[], &mut out);
    out
}

/// The `use` statements of `code`: (is `pub`, the paths).
fn uses(code: &str) -> Vec<(usize, bool, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find("use ") {
        let start = from + at;
        from = start + 4;
        if start > 0 && is_ident(bytes[start - 1] as char) {
            continue;
        }
        // Statement context: after `;`, `{`, `}`, `]`, a line start, or `pub …`.
        let before = code[..start].trim_end();
        let public = before.ends_with("pub") || before.ends_with("pub(crate)");
        let ok = before.is_empty()
            || before.ends_with(';')
            || before.ends_with('{')
            || before.ends_with('}')
            || before.ends_with(']')
            || public;
        if !ok {
            continue;
        }
        let Some(end) = code[start..].find(';') else {
            continue;
        };
        let tree = &code[start + 4..start + end];
        out.push((start, public, expand_use(tree)));
        from = start + end;
    }
    out
}

/// Items this code defines by name.
fn items(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let words: Vec<&str> = code
        .split(|c: char| !is_ident(c))
        .filter(|w| !w.is_empty())
        .collect();
    for w in words.windows(2) {
        if matches!(
            w[0],
            "struct" | "enum" | "trait" | "fn" | "type" | "const" | "static" | "mod" | "union"
        ) {
            out.insert(w[1].to_string());
        }
    }
    // Macros defined with macro_rules! name.
    for part in code.split("macro_rules!").skip(1) {
        if let Some(name) = part.split(|c: char| !is_ident(c)).find(|w| !w.is_empty()) {
            out.insert(name.to_string());
        }
    }
    out
}

/// Paths written in code: `a::b::c` sequences (not preceded by `::`).
fn code_paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !is_ident(chars[i - 1])) {
            let preceded = i >= 2 && chars[i - 1] == ':' && chars[i - 2] == ':';
            let mut segs = Vec::new();
            let mut j = i;
            loop {
                let s = j;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                segs.push(chars[s..j].iter().collect::<String>());
                if chars.get(j) == Some(&':')
                    && chars.get(j + 1) == Some(&':')
                    && chars.get(j + 2).is_some_and(|c| is_ident(*c))
                {
                    j += 2;
                } else {
                    break;
                }
            }
            if segs.len() > 1 && !preceded {
                out.push((i, segs));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Inline modules (`mod name { … }`) of `code`: their names and spans.
fn inline_modules(code: &str) -> Vec<(String, usize, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let words: Vec<(usize, String)> = {
        let mut w = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if is_ident(chars[i]) {
                let s = i;
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
                w.push((s, chars[s..i].iter().collect()));
            } else {
                i += 1;
            }
        }
        w
    };
    for pair in words.windows(2) {
        if pair[0].1 != "mod" {
            continue;
        }
        let after = pair[1].0 + pair[1].1.chars().count();
        let mut k = after;
        while k < chars.len() && chars[k].is_whitespace() {
            k += 1;
        }
        if chars.get(k) == Some(&'{') {
            out.push((pair[1].1.clone(), k, matching_brace(&chars, k)));
        }
    }
    out
}

/// The inline modules that enclose offset `at`, outermost first.
fn enclosing(spans: &[(String, usize, usize)], at: usize) -> Vec<String> {
    let mut inside: Vec<&(String, usize, usize)> = spans
        .iter()
        .filter(|(_, s, e)| *s < at && at < *e)
        .collect();
    inside.sort_by_key(|(_, s, _)| *s);
    inside.into_iter().map(|(n, _, _)| n.clone()).collect()
}

struct Crate {
    files: Vec<File>,
    by_module: BTreeMap<Vec<String>, usize>,
}

impl Crate {
    fn load() -> Crate {
        let src = main_src();
        let mut paths = Vec::new();
        rust_files(&src, &mut paths);
        let mut files = Vec::new();
        let mut test_only: BTreeSet<Vec<String>> = BTreeSet::new();
        for p in &paths {
            let rel = p.strip_prefix(&src).expect("below src");
            let text = std::fs::read_to_string(p).expect("a readable source file");
            let (code, test_children) = without_tests(&strip(&text));
            let module = module_of(rel);
            for c in test_children {
                let mut m = module.clone();
                m.push(c);
                test_only.insert(m);
            }
            let mut children = BTreeSet::new();
            let words: Vec<&str> = code.split_whitespace().collect();
            for w in words.windows(2) {
                if w[0] == "mod" && w[1].ends_with(';') {
                    children.insert(w[1].trim_end_matches(';').to_string());
                }
            }
            let mut reexports = BTreeMap::new();
            for (_, public, paths) in uses(&code) {
                if public {
                    for path in paths {
                        if let Some(name) = path.last() {
                            reexports.insert(name.clone(), path);
                        }
                    }
                }
            }
            files.push(File {
                module,
                rel: rel.display().to_string(),
                items: items(&code),
                code,
                children,
                reexports,
            });
        }
        // A file that exists only for tests (`#[cfg(test)] mod x;`) and
        // everything below it is not part of the graph.
        files.retain(|f| !test_only.iter().any(|t| f.module.starts_with(t)));
        let by_module = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.module.clone(), i))
            .collect();
        Crate { files, by_module }
    }

    /// `path` as written in file `at`, made absolute; `None` for a path
    /// outside the crate (std, a dependency, a local name).
    fn absolute(
        &self,
        at: usize,
        inline: &[String],
        path: &[String],
        aliases: &BTreeMap<String, Vec<String>>,
    ) -> Option<Vec<String>> {
        let mut here_path = self.files[at].module.clone();
        here_path.extend(inline.iter().cloned());
        let here = &here_path;
        let first = path.first()?;
        let mut abs: Vec<String> = match first.as_str() {
            "crate" => Vec::new(),
            "self" => here.clone(),
            "super" => {
                let mut m = here.clone();
                let mut rest = path;
                while rest.first().is_some_and(|s| s == "super") {
                    m.pop();
                    rest = &rest[1..];
                }
                m.extend(rest.iter().cloned());
                if m.last().is_some_and(|s| s == "self") {
                    m.pop();
                }
                return Some(m);
            }
            name if inline.is_empty() && self.files[at].children.contains(name) => {
                let mut m = here.clone();
                m.push(name.to_string());
                m.extend(path[1..].iter().cloned());
                if m.last().is_some_and(|s| s == "self") {
                    m.pop();
                }
                return Some(m);
            }
            name => match aliases.get(name) {
                Some(target) => target.clone(),
                None => return None,
            },
        };
        abs.extend(path[1..].iter().cloned());
        if abs.last().is_some_and(|s| s == "self") {
            abs.pop();
        }
        Some(abs)
    }

    /// The file that defines what `abs` names, following re-exports.
    fn defining_file(&self, abs: &[String], depth: usize) -> Option<usize> {
        // The longest prefix that is a module.
        let mut n = abs.len();
        while n > 0 && !self.by_module.contains_key(&abs[..n]) {
            n -= 1;
        }
        let file = *self.by_module.get(&abs[..n])?;
        let Some(item) = abs.get(n) else {
            // The module itself: a namespace, not a dependency.
            return None;
        };
        let f = &self.files[file];
        if f.items.contains(item) || depth > 8 {
            return Some(file);
        }
        if let Some(target) = f.reexports.get(item) {
            let mut aliases = BTreeMap::new();
            aliases.insert(String::new(), Vec::new());
            if let Some(t) = self.absolute(file, &[], target, &aliases) {
                let mut t = t;
                t.extend(abs[n + 1..].iter().cloned());
                return self.defining_file(&t, depth + 1).or(Some(file));
            }
        }
        Some(file)
    }

    /// Files each file depends on.
    fn edges(&self) -> Vec<BTreeSet<usize>> {
        let mut edges = vec![BTreeSet::new(); self.files.len()];
        for (at, f) in self.files.iter().enumerate() {
            // Modules brought into scope by `use`: code paths may start with them.
            let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut paths: Vec<Vec<String>> = Vec::new();
            let spans = inline_modules(&f.code);
            for (offset, _, used) in uses(&f.code) {
                let inline = enclosing(&spans, offset);
                for p in used {
                    if let Some(abs) = self.absolute(at, &inline, &p, &BTreeMap::new()) {
                        if self.by_module.contains_key(&abs) {
                            if let Some(last) = abs.last() {
                                aliases.insert(last.clone(), abs.clone());
                            }
                        }
                        paths.push(abs);
                    }
                }
            }
            for (offset, p) in code_paths(&f.code) {
                let inline = enclosing(&spans, offset);
                if let Some(abs) = self.absolute(at, &inline, &p, &aliases) {
                    paths.push(abs);
                }
            }
            for abs in paths {
                if let Some(to) = self.defining_file(&abs, 0) {
                    if to != at {
                        edges[at].insert(to);
                    }
                }
            }
        }
        edges
    }
}

/// Strongly connected components (Tarjan), each as file indices.
fn components(edges: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct T<'a> {
        edges: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T<'_>, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in t.edges[v].iter() {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(i) if t.on[w] => t.low[v] = t.low[v].min(i),
                Some(_) => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut c = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                c.push(w);
                if w == v {
                    break;
                }
            }
            t.out.push(c);
        }
    }
    let n = edges.len();
    let mut t = T {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_file_of_nbi_core_is_in_an_import_cycle() {
    let krate = Crate::load();
    assert!(
        krate.files.len() > 40,
        "the crate's files were found: {}",
        krate.files.len()
    );
    let edges = krate.edges();
    let cycles: Vec<Vec<usize>> = components(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    let mut report = String::new();
    for c in &cycles {
        let names: BTreeSet<&str> = c.iter().map(|i| krate.files[*i].rel.as_str()).collect();
        report.push_str(&format!("\ncycle of {} files:", names.len()));
        for &i in c {
            let inside: Vec<&str> = edges[i]
                .iter()
                .filter(|j| c.contains(j))
                .map(|j| krate.files[*j].rel.as_str())
                .collect();
            report.push_str(&format!(
                "\n  {} uses {}",
                krate.files[i].rel,
                inside.join(", ")
            ));
        }
    }
    assert!(cycles.is_empty(), "import cycles in nbi-core:{report}");
}

#[test]
fn the_reading_finds_a_cycle_where_there_is_one() {
    // Two files that use each other, written as this crate writes them.
    let a = strip("use crate::b::B;\npub struct A; // crate::c::C\n");
    let b = strip("pub struct B;\nfn f() -> crate::a::A { let s = \"crate::c::C\"; todo!() }\n");
    let mut files = Vec::new();
    for (m, code) in [("a", a), ("b", b)] {
        files.push(File {
            module: vec![m.to_string()],
            rel: format!("{m}.rs"),
            items: items(&code),
            code,
            children: BTreeSet::new(),
            reexports: BTreeMap::new(),
        });
    }
    let by_module = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.module.clone(), i))
        .collect();
    let krate = Crate { files, by_module };
    let edges = krate.edges();
    assert_eq!(edges[0], BTreeSet::from([1]), "a uses b (not c: a comment)");
    assert_eq!(edges[1], BTreeSet::from([0]), "b uses a (not c: a string)");
    let cycles: Vec<_> = components(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    assert_eq!(cycles.len(), 1);
}

#[test]
fn use_trees_expand_to_their_paths() {
    let paths =
        expand_use("crate::store::{self, sqlite::SqliteStore, HostFilter as H, answer::{a, b}}");
    let flat: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        flat,
        [
            "crate::store::self",
            "crate::store::sqlite::SqliteStore",
            "crate::store::HostFilter",
            "crate::store::answer::a",
            "crate::store::answer::b",
        ]
    );
}
