#!/usr/bin/env bash
# The one test command: installs the real components the tests need, then runs fmt, clippy, the module-cycle
# check and every test.
# Usage: scripts/test.sh            (from anywhere; exits non-zero on any failure)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
if [ ${#need[@]} -gt 0 ]; then
    echo "==> installing ${need[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: missing ${need[*]} and not root: run 'apt-get update && apt-get install -y ${need[*]}'" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Debian package starts a system registry on :5000; the tests start their own and do not need it.
if command -v systemctl >/dev/null 2>&1; then systemctl stop docker-registry >/dev/null 2>&1 || true; fi

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> module cycles"
cargo run -q --locked -p registry-tests --bin module_graph -- --check
echo "==> cargo test"
cargo test --workspace --locked --no-fail-fast
echo "==> the README's main job (cargo run -q -p registry-cli -- demo)"
cargo run -q --locked -p registry-cli -- demo
echo "==> the same mirror with the library alone (cargo run --example mirror)"
cargo run --example mirror --locked -q
