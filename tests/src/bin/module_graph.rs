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

use std::io::Write;
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
    // Everything is written at the end, in one go: a reader that stops early (`| head`) is no error.
    let mut out = String::new();
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
                out.push_str(&format!("warning: {}: {warning}\n", graph.name()));
            }
            out.push_str(&cycles);
        } else {
            out.push_str(&format!("{}{cycles}\n", render_layers(&graph)));
        }
    }
    let code = if cyclic == 0 {
        out.push_str(&format!("no module cycles ({} crate targets)\n", roots.len()));
        ExitCode::SUCCESS
    } else {
        out.push_str(&format!("module cycles in {cyclic} of {} crate targets\n", roots.len()));
        if check {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("writing the report: {e}")),
        _ => Ok(code),
    }
}
