//! template.yaml declares exactly the routes the local runner serves, each on the function
//! that `shared::edge::routes` names, and one function crate per Lambda.

use std::collections::BTreeSet;

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml at the repository root")
}

/// (method, path, binary) of every HttpApi event, read block by block under Resources.
fn template_routes(t: &str) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let mut blocks: Vec<Vec<&str>> = vec![];
    for line in t.lines() {
        // A resource starts at two spaces of indentation.
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            blocks.push(vec![]);
        }
        if let Some(b) = blocks.last_mut() {
            b.push(line.trim());
        }
    }
    for b in blocks {
        let Some(binary) = b.iter().find_map(|l| l.strip_prefix("Binary: ")) else {
            continue;
        };
        let mut path = None;
        for l in &b {
            if let Some(p) = l.strip_prefix("Path: ") {
                path = Some(p.to_string());
            }
            if let Some(m) = l.strip_prefix("Method: ") {
                if let Some(p) = path.take() {
                    out.insert((m.to_uppercase(), p, binary.to_string()));
                }
            }
        }
    }
    out
}

#[test]
fn template_routes_match_the_runner() {
    let expected: BTreeSet<_> = shared::edge::routes::routes()
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                r.function.to_string(),
            )
        })
        .collect();
    assert_eq!(template_routes(&template()), expected);
}

#[test]
fn every_function_crate_is_in_the_template() {
    let t = template();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            t.contains(&format!("Binary: {name}")),
            "functions/{name} is not deployed by template.yaml"
        );
    }
}
