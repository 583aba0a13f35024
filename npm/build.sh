#!/usr/bin/env bash
# Builds codex-async's npm packages, at the version Cargo.toml states:
#
#   codex-async                  the commands `codexd` and `codex-async-shim`
#                                (launchers its postinstall replaces with the
#                                native binaries; see codex-async/install.js)
#   @codex-async/<os>-<cpu>      the two native binaries for one platform
#                                (os/cpu fields: npm installs only the one
#                                that fits, as an optional dependency)
#
# Usage: npm/build.sh [--out DIR] [--profile dev] [PLATFORM...]
#   PLATFORM  linux-x64 | linux-arm64 (built on Linux with cargo-zigbuild:
#             glibc, symbols no newer than 2.17) | darwin-arm64 | darwin-x64
#             (built on macOS with cargo). Each named one is compiled and
#             packed; the main package is always packed.
#   --out     where the .tgz files go (default: target/npm)
#   --profile release (default: what a release ships) or dev (unoptimized,
#             without debug info: what CI installs and drives, built in a
#             third of the time; the linking, the glibc floor and the
#             packages are the same)
#
# The Linux builds need `cargo-zigbuild` and zig (`pip install ziglang
# cargo-zigbuild`) and the target's standard library: `rustup target add
# <triple>`, or, where rustup cannot download it, the toolchain's rust-src
# (then std is compiled too, with -Zbuild-std). linux-arm64 was built so on
# an x64 Debian without network access to rustup: `RUSTC=/usr/bin/rustc
# npm/build.sh linux-arm64` (Debian's rustc-web and rust-web-src).
#
# Prints the paths of the packages, one a line, on stdout; everything else
# goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

# The oldest glibc the Linux binaries run on: RHEL/CentOS 7, Debian 8, Ubuntu 14.04.
GLIBC_FLOOR="2.17"

out="target/npm"
profile="release"
platforms=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --profile) profile="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) platforms+=("$1"); shift ;;
  esac
done

# rust_target PLATFORM: the Rust target triple that builds it.
rust_target() {
  case "$1" in
    linux-x64) echo x86_64-unknown-linux-gnu ;;
    linux-arm64) echo aarch64-unknown-linux-gnu ;;
    darwin-arm64) echo aarch64-apple-darwin ;;
    darwin-x64) echo x86_64-apple-darwin ;;
    *) echo "no such platform: $1 (linux-x64, linux-arm64, darwin-arm64, darwin-x64)" >&2; exit 2 ;;
  esac
}

# The version of both binaries, from Cargo.toml (by cargo, not by hand).
version="$(cargo metadata --no-deps --format-version 1 --locked | node -e '
  const { packages } = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const versions = new Set(packages
    .filter((p) => ["codex-async-daemon", "codex-async-shim"].includes(p.name))
    .map((p) => p.version));
  if (versions.size !== 1) throw new Error(`daemon and shim versions differ: ${[...versions]}`);
  console.log([...versions][0]);')"
echo "codex-async $version" >&2

mkdir -p "$out"
out="$(cd "$out" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# The folder cargo puts a profile's binaries in, and the profile's settings:
# dev without debug info (which would make the binaries ten times larger).
case "$profile" in
  release) profile_dir=release ;;
  dev) profile_dir=debug; export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_DEV_STRIP=symbols ;;
  *) echo "--profile is release or dev, not $profile" >&2; exit 2 ;;
esac

# build PLATFORM: compiles codexd and codex-async-shim for it; prints their folder.
build() {
  local target features=()
  target="$(rust_target "$1")"
  case "$1" in
    linux-*)
      # A target whose std rustup did not install: compile std from the
      # toolchain's sources (nightly flags on a stable compiler).
      if [ ! -d "$("${RUSTC:-rustc}" --print sysroot)/lib/rustlib/$target/lib" ]; then
        if [ ! -d "$("${RUSTC:-rustc}" --print sysroot)/lib/rustlib/src/rust/library" ]; then
          echo "no standard library for $target: rustup target add $target" >&2
          exit 1
        fi
        echo "std for $target is not installed: compiling it from rust-src" >&2
        features=(-Zbuild-std=std,panic_abort)
        export RUSTC_BOOTSTRAP=1
      fi
      # zig links against glibc $GLIBC_FLOOR's symbol set (the target's suffix).
      # (zig already leaves the binaries stripped.)
      # `|| exit`: build runs in a command substitution, which does not
      # inherit set -e; without it a failed build packs stale binaries.
      cargo zigbuild --profile "$profile" --locked \
        --target "$target.$GLIBC_FLOOR" "${features[@]}" \
        -p codex-async-daemon -p codex-async-shim >&2 || exit 1
      ;;
    darwin-*)
      CARGO_PROFILE_RELEASE_STRIP=symbols MACOSX_DEPLOYMENT_TARGET=11.0 cargo build --profile "$profile" --locked \
        --target "$target" -p codex-async-daemon -p codex-async-shim >&2 || exit 1
      ;;
  esac
  echo "${CARGO_TARGET_DIR:-target}/$target/$profile_dir"
}

# check_glibc FILE: fails when FILE needs a glibc symbol newer than the floor.
check_glibc() {
  local newest
  newest="$(readelf -W --version-info "$1" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' |
    sed 's/GLIBC_//' | sort -uV | tail -n 1)"
  if [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_FLOOR" | sort -V | tail -n 1)" != "$GLIBC_FLOOR" ]; then
    echo "$1 needs glibc $newest, newer than the floor $GLIBC_FLOOR" >&2
    exit 1
  fi
  echo "$(basename "$1"): newest glibc symbol $newest (floor $GLIBC_FLOOR)" >&2
}

# manifest NAME FIELDS-JSON: writes package.json for package NAME at $version.
manifest() {
  NAME="$1" FIELDS="$2" VERSION="$version" node -e '
    const fields = JSON.parse(process.env.FIELDS);
    const manifest = {
      name: process.env.NAME,
      version: process.env.VERSION,
      description: fields.description,
      license: "MIT",
      repository: { type: "git", url: "git+https://github.com/codex-async/codex-async.git" },
      homepage: "https://github.com/codex-async/codex-async#readme",
      ...fields,
    };
    process.stdout.write(JSON.stringify(manifest, null, 2) + "\n");'
}

for platform in ${platforms[@]+"${platforms[@]}"}; do
  from="$(build "$platform")" || exit 1
  dir="$stage/$platform"
  mkdir -p "$dir/bin"
  for command in codexd codex-async-shim; do
    install -m 755 "$from/$command" "$dir/bin/$command"
    case "$platform" in linux-*) check_glibc "$dir/bin/$command" ;; esac
  done
  os="${platform%-*}" cpu="${platform#*-}"
  # npm >= 10.4 also skips the Linux packages on a musl system by this field.
  libc=""
  [ "$os" = linux ] && libc=', "libc": ["glibc"]'
  manifest "@codex-async/$platform" "{
    \"description\": \"codexd and codex-async-shim for $os $cpu: installed by the codex-async package, not by hand.\",
    \"os\": [\"$os\"], \"cpu\": [\"$cpu\"]$libc,
    \"files\": [\"bin/\"], \"preferUnplugged\": true }" >"$dir/package.json"
  printf '# @codex-async/%s\n\nThe native `codexd` and `codex-async-shim` for %s %s. Install [codex-async](https://www.npmjs.com/package/codex-async), which picks this package on such machines.\n' \
    "$platform" "$os" "$cpu" >"$dir/README.md"
  npm pack --silent --pack-destination "$out" "$dir" | sed "s|^|$out/|"
done

# The main package: npm/codex-async as it is, at this version, with every
# platform of lib/platform.js as an optional dependency at exactly this version.
main="$stage/codex-async"
cp -R npm/codex-async "$main"
VERSION="$version" node -e '
  const fs = require("fs");
  const file = process.argv[1];
  const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
  const { PLATFORMS, SCOPE } = require(process.argv[2]);
  manifest.version = process.env.VERSION;
  manifest.optionalDependencies = Object.fromEntries(
    PLATFORMS.map((p) => [`${SCOPE}/${p}`, process.env.VERSION]));
  fs.writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n");
' "$main/package.json" "$main/lib/platform.js"
npm pack --silent --pack-destination "$out" "$main" | sed "s|^|$out/|"
