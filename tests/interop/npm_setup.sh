#!/usr/bin/env bash
# Test set-up (a CTest fixture): installs the browser test's npm packages,
# exactly as pinned by tests/interop/browser/package-lock.json, into the build
# tree with `npm ci`, so the source tree stays clean. Skips the install when
# node_modules already matches the lockfile (npm writes its own copy of the
# lock to node_modules/.package-lock.json), so repeated runs cost nothing.
#   npm_setup.sh SOURCE_DIR DEST_DIR
set -euo pipefail
src=${1:?usage: npm_setup.sh SOURCE_DIR DEST_DIR}
dest=${2:?usage: npm_setup.sh SOURCE_DIR DEST_DIR}

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool not found (scripts/install-deps.sh --test installs Debian's nodejs and npm)" >&2
    exit 1
  fi
done

mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
installed_lock=$dest/node_modules/.package-lock.json
if [[ -f $installed_lock && -f $dest/node_modules/playwright-core/package.json ]] &&
  node -e '
    const [want, have] = process.argv.slice(1).map(f => require(f).packages);
    const ok = Object.entries(want).every(([k, v]) => k === "" || (have[k] && have[k].version === v.version));
    process.exit(ok ? 0 : 1);' "$dest/package-lock.json" "$installed_lock"; then
  echo "npm_setup: node_modules in $dest already matches the lockfile"
  exit 0
fi
# --ignore-scripts: nothing may download a browser of its own; we use Debian's.
cd "$dest"
npm ci --ignore-scripts --no-audit --no-fund
echo "npm_setup: installed $(node -p 'require("playwright-core/package.json").version' ) playwright-core in $dest"
