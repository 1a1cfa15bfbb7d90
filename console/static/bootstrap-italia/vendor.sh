#!/usr/bin/env bash
# Vendors Bootstrap Italia from npm (nothing is fetched at build or run time): its
# stylesheet and the Titillium Web fonts the console is set in, with their licences. The
# console serves them under /console/static/bootstrap-italia/. Usage: bash vendor.sh [version]
set -euo pipefail
cd "$(dirname "$0")"
version="${1:-2.18.3}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "bootstrap-italia@$version" --silent >/dev/null && tar xzf "bootstrap-italia-$version.tgz")
cp "$work/package/dist/css/bootstrap-italia.min.css" .
cp "$work/package/LICENSE" LICENSE
# The stylesheet names a source map that is not vendored: drop the reference.
sed -i 's|/\*# sourceMappingURL=[^*]*\*/||' bootstrap-italia.min.css
fonts="$work/package/dist/fonts/Titillium_Web"
for weight in regular italic 600 700; do
  cp "$fonts/titillium-web-v10-latin-ext_latin-$weight.woff2" "titillium-web-$weight.woff2"
done
cp "$fonts/OFL.txt" OFL-Titillium-Web.txt
echo "$version" > VERSION
