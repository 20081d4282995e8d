//! `regcli completion SHELL`: shell completions on stdout, through `clap_complete`.

use clap::Args;
use clap_complete::Shell;

use crate::failure::Failure;

/// Print shell completions for SHELL on stdout.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  regcli completion bash > /etc/bash_completion.d/regcli
  regcli completion zsh > \"${fpath[1]}/_regcli\"
  regcli completion fish > ~/.config/fish/completions/regcli.fish")]
pub(crate) struct CompletionArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

/// Run `regcli completion`: `command` is regcli's whole command tree.
pub(crate) fn run(args: CompletionArgs, mut command: clap::Command) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "regcli", &mut script);
    let text = String::from_utf8(script).map_err(|e| Failure::failed(format!("completion script: {e}")))?;
    crate::output::print(&text)
}
