//! `regcli`: the command line for OCI / Docker registries.

fn main() {
    eprintln!("regcli: not built yet");
    std::process::exit(2);
}
