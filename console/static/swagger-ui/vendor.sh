#!/usr/bin/env bash
# Vendors Swagger UI from npm (nothing is fetched at build or run time): the files the API
# docs page (/api/v1/docs) serves, with their licence. Usage: bash vendor.sh [version]
set -euo pipefail
cd "$(dirname "$0")"
version="${1:-5.35.0}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "swagger-ui-dist@$version" --silent >/dev/null && tar xzf "swagger-ui-dist-$version.tgz")
for file in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE; do
  cp "$work/package/$file" "$file"
done
# The bundle names a source map that is not vendored: drop the reference.
sed -i '/^\/\/# sourceMappingURL=/d' swagger-ui-bundle.js
echo "$version" > VERSION
