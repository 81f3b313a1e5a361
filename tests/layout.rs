//! The code layout keeps dependencies pointing one way: `main` → `cli` → `config` →
//! `commands` → the library. Nothing below the command layer imports the argument
//! parser or a command, and the top-level modules import each other without a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its code (comments aside) names as
/// `crate::<module>` or `super::<module>` from its root file.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let top = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_str()
                .unwrap()
                .trim_end_matches(".rs")
                .to_owned();
            if top == "main" || top == "lib" {
                continue;
            }
            let code: String = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            let deps = graph.entry(top.clone()).or_default();
            for (at, _) in code.match_indices("crate::") {
                let name: String = code[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn nothing_below_the_command_layer_imports_the_cli_or_a_command() {
    for (module, deps) in module_graph() {
        if module != "cli" {
            assert!(
                !deps.contains("cli"),
                "src/{module} imports crate::cli; take a config type instead"
            );
        }
        if module != "cli" && module != "commands" {
            assert!(
                !deps.contains("commands"),
                "src/{module} imports crate::commands; move what it needs below the command layer"
            );
        }
    }
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let graph = module_graph();
    for start in graph.keys() {
        // Depth-first from `start`; reaching `start` again is a cycle.
        let mut seen = BTreeSet::new();
        let mut stack: Vec<Vec<&str>> = vec![vec![start.as_str()]];
        while let Some(path) = stack.pop() {
            let last = *path.last().unwrap();
            for next in graph.get(last).into_iter().flatten() {
                let mut longer = path.clone();
                longer.push(next);
                assert!(next != start, "import cycle: {}", longer.join(" -> "));
                if seen.insert(next.as_str()) {
                    stack.push(longer);
                }
            }
        }
    }
}
