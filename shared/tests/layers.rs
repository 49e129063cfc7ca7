//! The library's layers, checked from its source: every `crate::` path a module uses must
//! point to its own layer or one below it, the flows never use each other, and no two units
//! use each other round in a loop. The picture is in `src/lib.rs`; this test keeps it true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules, bottom (0) to top.
const RANKS: &[(&str, u8)] = &[
    ("support", 0),
    ("domain", 1),
    ("chat", 2),
    ("inbox", 2),
    ("store", 2),
    ("queue", 2),
    ("config", 3),
    ("app", 4),
    ("services", 5),
    ("flows", 6),
    ("edge", 7),
];

/// Units whose parts are separate units: each flow, each service.
const SPLIT: &[&str] = &["flows", "services"];
/// Layers whose units may use each other (acyclically).
const SHARING: &[&str] = &["services"];

fn rank(unit: &str) -> Option<u8> {
    let top = unit.split("::").next().unwrap_or(unit);
    RANKS.iter().find(|(m, _)| *m == top).map(|(_, r)| *r)
}

/// The unit of a module path like `flows::home::view` or `store::records`.
fn unit_of(path: &[&str]) -> Option<String> {
    let top = *path.first()?;
    if SPLIT.contains(&top) {
        let second = path.get(1)?;
        return Some(format!("{top}::{second}"));
    }
    Some(top.to_string())
}

/// The unit a source file (relative to `src/`) belongs to.
fn unit_of_file(rel: &Path) -> Option<String> {
    let parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["lib"] => None,
        [top, "mod"] if SPLIT.contains(top) => None, // the folder's index only declares
        [top] => Some(top.to_string()),
        more => unit_of(more),
    }
}

/// Every `crate::a::b` path in code (comments left out), as its unit.
fn uses(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in source.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let path: Vec<&str> = after
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            // `crate::flows::{a, b}` names the units inside the braces.
            if path.len() == 1
                && SPLIT.contains(&path[0])
                && after[path[0].len()..].starts_with("::{")
            {
                let inner = &after[path[0].len() + 3..];
                let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                for name in inner.split(',') {
                    let name = name.trim().split("::").next().unwrap_or("").trim();
                    if !name.is_empty() {
                        out.insert(format!("{}::{name}", path[0]));
                    }
                }
            } else if let Some(u) = unit_of(&path) {
                out.insert(u);
            }
            rest = after;
        }
    }
    out
}

/// What breaks the layering in a graph of unit -> units used.
fn problems(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (from, tos) in graph {
        let Some(rf) = rank(from) else {
            out.push(format!("{from}: not in a known layer"));
            continue;
        };
        for to in tos {
            if to == from {
                continue;
            }
            let Some(rt) = rank(to) else {
                out.push(format!("{from} uses {to}, which is not in a known layer"));
                continue;
            };
            let top = from.split("::").next().unwrap_or("");
            if rt > rf {
                out.push(format!("{from} uses {to}, a layer above it"));
            } else if rt == rf && !SHARING.contains(&top) {
                out.push(format!("{from} uses {to}, a unit of its own layer"));
            }
        }
    }
    // Loops: a depth-first search that reports a unit met again on its own path.
    fn visit(
        u: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if let Some(i) = path.iter().position(|p| p == u) {
            out.push(format!("loop: {} -> {u}", path[i..].join(" -> ")));
            return;
        }
        if !done.insert(u.to_string()) {
            return;
        }
        path.push(u.to_string());
        for v in graph.get(u).into_iter().flatten() {
            if v != u {
                visit(v, graph, path, done, out);
            }
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for u in graph.keys() {
        visit(u, graph, &mut Vec::new(), &mut done, &mut out);
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn layers_import_downward_only_and_flows_never_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut long = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src/");
        let text = std::fs::read_to_string(f).expect("a readable source file");
        if text.lines().count() > 1100 {
            long.push(format!(
                "{} has {} lines",
                rel.display(),
                text.lines().count()
            ));
        }
        if let Some(unit) = unit_of_file(rel) {
            graph.entry(unit).or_default().extend(uses(&text));
        }
    }
    assert!(graph.contains_key("flows::home") && graph.contains_key("edge"));
    let found = problems(&graph);
    assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
    assert!(
        long.is_empty(),
        "files over about 1,000 lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_check_finds_upward_uses_flows_using_flows_and_loops() {
    let g = |edges: &[(&str, &str)]| {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            m.entry(a.to_string()).or_default().insert(b.to_string());
            m.entry(b.to_string()).or_default();
        }
        m
    };
    assert!(problems(&g(&[
        ("flows::home", "services::health"),
        ("services::health", "store")
    ]))
    .is_empty());
    let up = problems(&g(&[("store", "flows::home")]));
    assert!(up.iter().any(|p| p.contains("a layer above")), "{up:?}");
    let sideways = problems(&g(&[("flows::home", "flows::connect")]));
    assert!(
        sideways.iter().any(|p| p.contains("its own layer")),
        "{sideways:?}"
    );
    let adapters = problems(&g(&[("inbox", "chat")]));
    assert!(
        adapters.iter().any(|p| p.contains("its own layer")),
        "{adapters:?}"
    );
    let looped = problems(&g(&[
        ("services::a", "services::b"),
        ("services::b", "services::a"),
    ]));
    assert!(looped.iter().any(|p| p.starts_with("loop:")), "{looped:?}");

    assert_eq!(
        uses("use crate::flows::{home, connect::Step};\n// crate::edge in a comment\nlet x = crate::store::records::Records::new();"),
        ["flows::connect", "flows::home", "store"].iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(
        unit_of_file(Path::new("flows/home.rs")).as_deref(),
        Some("flows::home")
    );
    assert_eq!(
        unit_of_file(Path::new("inbox/hubspot/mod.rs")).as_deref(),
        Some("inbox")
    );
    assert_eq!(unit_of_file(Path::new("flows/mod.rs")), None);
}
