//! The checker's text output: a crate's modules in layers, and its cycles with the `file:line` of every edge.

use std::fmt::Write as _;

use super::graph::CrateGraph;

/// How many sites of one edge a cycle report lists before it counts the rest.
const SITES_SHOWN: usize = 4;

/// The header line of a crate: its name, root file, and how many modules and edges it has.
fn header(graph: &CrateGraph) -> String {
    let (modules, edges) = (graph.modules().len(), graph.edge_count());
    format!(
        "{} ({}): {modules} module{}, {edges} edge{}",
        graph.name(),
        graph.root_file().display(),
        plural(modules),
        plural(edges)
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The modules of `graph` in layers, top (depends on others) to bottom (leaves), one line per module with its
/// direct dependencies; a module in a cycle is marked with the cycle's number. Ends with a newline.
pub fn render_layers(graph: &CrateGraph) -> String {
    let cycles = graph.cycles();
    let mut out = header(graph);
    out.push('\n');
    for warning in graph.warnings() {
        let _ = writeln!(out, "  warning: {warning}");
    }
    let layers = graph.layers();
    for (level, layer) in layers.iter().enumerate().rev() {
        let _ = writeln!(out, "  layer {level}{}", if level == 0 { " (leaves)" } else { "" });
        for module in layer {
            let mark = match cycles.iter().position(|c| c.modules.contains(module)) {
                Some(k) => format!(" [cycle {}]", k + 1),
                None => String::new(),
            };
            let deps = graph.dependencies(module);
            if deps.is_empty() {
                let _ = writeln!(out, "    {module}{mark}");
            } else {
                let _ = writeln!(out, "    {module}{mark} -> {}", deps.join(", "));
            }
        }
    }
    out
}

/// The cycles of `graph`: each strongly connected component, and for each edge in it the `file:line` sites that
/// make it. Empty when the crate has none; else ends with a newline.
pub fn render_cycles(graph: &CrateGraph) -> String {
    let cycles = graph.cycles();
    if cycles.is_empty() {
        return String::new();
    }
    let mut out = header(graph);
    let _ = writeln!(out, ", {} cycle{}", cycles.len(), plural(cycles.len()));
    for (k, cycle) in cycles.iter().enumerate() {
        let _ = writeln!(out, "  cycle {}: {}", k + 1, cycle.modules.join(", "));
        for edge in &cycle.edges {
            let shown: Vec<String> = edge.sites.iter().take(SITES_SHOWN).map(ToString::to_string).collect();
            let more = edge.sites.len().saturating_sub(SITES_SHOWN);
            let more = if more > 0 { format!(" (+{more} more)") } else { String::new() };
            let _ = writeln!(out, "    {} -> {}: {}{more}", edge.from, edge.to, shown.join(", "));
        }
    }
    out
}
