#!/usr/bin/env bash
# Build the Debian package: OUTDIR/nslocate_<version>_<arch>.deb (default OUTDIR: .), with dpkg-deb.
#
#   npm run build && npm run package:deb -- OUTDIR
#
# Layout:
#   /usr/lib/nslocate/                 the staged app (scripts/stage-app.sh): bin, dist, build/nslocate.node,
#                                      production node_modules, package.json, oclif.manifest.json
#   /usr/bin/nslocate                  symlink to ../lib/nslocate/bin/run.js
#   /usr/share/man/man1/nslocate.1.gz  the man page (docs/nslocate.1)
#   /usr/share/doc/nslocate/           README.md, copyright
# Depends on Debian's or NodeSource's nodejs (>= 20). The addon is built on this machine (N-API, glibc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
outdir=${1:-.}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb not found (Debian: apt-get install dpkg)" >&2; exit 1; }
name=$(node -p "require('$root/package.json').name")
# npm's 1.2.3-rc.1 sorts before 1.2.3; Debian needs ~ for that.
version=$(node -p "require('$root/package.json').version.replace(/-/, '~')")
arch=$(dpkg --print-architecture)
deb="$outdir/${name}_${version}_${arch}.deb"

pkgroot=$(mktemp -d)
trap 'rm -rf "$pkgroot"' EXIT
app="$pkgroot/usr/lib/$name"
bash "$root/scripts/stage-app.sh" "$app"

mkdir -p "$pkgroot/usr/bin" "$pkgroot/usr/share/man/man1" "$pkgroot/usr/share/doc/$name" "$pkgroot/DEBIAN"
ln -s "../lib/$name/bin/run.js" "$pkgroot/usr/bin/$name"
gzip -9n <"$root/docs/nslocate.1" >"$pkgroot/usr/share/man/man1/$name.1.gz"
cp "$root/README.md" "$pkgroot/usr/share/doc/$name/README.md"
license=$(node -p "require('$root/package.json').license || 'UNKNOWN'")
cat >"$pkgroot/usr/share/doc/$name/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $name
Comment: Bundles its production npm dependencies in /usr/lib/$name/node_modules, each with its own license file.

Files: *
License: $license
EOF

# Files 0644, directories and executables 0755, whatever the umask and the npm tarballs said.
find "$pkgroot" -type d -exec chmod 0755 {} +
find "$pkgroot" -type f -exec chmod 0644 {} +
chmod 0755 "$app/bin/run.js"
find "$app/node_modules/.bin" -maxdepth 1 -type l 2>/dev/null | while read -r l; do
  t=$(readlink -f "$l") && [ -f "$t" ] && chmod 0755 "$t"
done

description=$(node -p "require('$root/package.json').description")
cat >"$pkgroot/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: nslocate maintainers <nslocate@users.noreply.github.com>
Installed-Size: $(du -sk --exclude=DEBIAN "$pkgroot" | cut -f1)
Depends: nodejs (>= 20)
Section: admin
Priority: optional
Description: find, identify and signal a service's process across PID namespaces
 $description
 .
 nslocate reads the pidfile's lock holder, the pid written in the file and
 NSpid from /proc, and signals through a pidfd.
EOF

dpkg-deb --root-owner-group -Zxz --build "$pkgroot" "$deb" >/dev/null
echo "$deb"
