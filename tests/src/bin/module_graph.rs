//! Module graph of every crate in the workspace: which module depends on which, in layers, and the import cycles.
//!
//! ```text
//! cargo run -p registry-tests --bin module_graph [-- [--check] [--root DIR]]
//! ```
//!
//! Without `--check` it prints, per crate target, its modules in layers (top: depends on others; bottom: leaves),
//! one line per module with its direct dependencies, then any cycles. With `--check` it prints only the cycles,
//! each strongly connected component with the `file:line` of every edge in it, and exits with status 1 when there
//! is one (0 and "no module cycles" otherwise). The workspace is the nearest directory at or above `--root` (default:
//! the current directory) whose `Cargo.toml` has a `[workspace]` section. Status 2: bad arguments or unreadable files.

use std::path::PathBuf;
use std::process::ExitCode;

use registry_tests::modgraph::{crate_roots, find_workspace, render_cycles, render_layers, CrateGraph};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(message) => {
            eprintln!("module_graph: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let mut check = false;
    let mut start = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--root" => start = PathBuf::from(args.next().ok_or("--root needs a directory")?),
            "-h" | "--help" => {
                println!("usage: module_graph [--check] [--root DIR]");
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("unknown argument {other:?} (usage: module_graph [--check] [--root DIR])")),
        }
    }
    let root = find_workspace(&start)
        .ok_or_else(|| format!("no Cargo.toml with [workspace] at or above {}", start.display()))?;
    let roots = crate_roots(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut cyclic = 0;
    for target in &roots {
        let graph = CrateGraph::read(&target.name, &target.root_file, &root)
            .map_err(|e| format!("{}: {e}", target.root_file.display()))?;
        let cycles = render_cycles(&graph);
        if !cycles.is_empty() {
            cyclic += 1;
        }
        if check {
            for warning in graph.warnings() {
                println!("warning: {}: {warning}", graph.name());
            }
            print!("{cycles}");
        } else {
            print!("{}{cycles}", render_layers(&graph));
            println!();
        }
    }
    if cyclic == 0 {
        println!("no module cycles ({} crate targets)", roots.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("module cycles in {cyclic} of {} crate targets", roots.len());
        Ok(if check { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }
}
