// Which prebuilt package serves this machine, and where its two binaries are.
//
// Shared by install.js (the postinstall, which puts the native binaries at
// the bin paths so `codexd` and `codex-async-shim` run with no Node process
// in between) and launch.js (the fallback launcher used when install scripts
// were disabled). Every failure is an Error whose message says what is wrong
// on this machine and which command fixes it: a user must never be left with
// a bare ENOENT, and Claude Code starting the shim must get the message on
// stderr and an exit, never a hang.
'use strict';

const fs = require('fs');
const path = require('path');

const PACKAGE_ROOT = path.join(__dirname, '..');
const { name: NAME, version: VERSION } = require('../package.json');

// The scope of the platform packages: @codex-async/<os>-<cpu>.
const SCOPE = '@codex-async';

// The platforms a release ships, as Node names them (process.platform-process.arch).
// The Linux binaries link glibc, built against this version's symbols (zig as
// the linker, cargo-zigbuild's way), so they run on any distribution since it.
const PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'darwin-x64'];
const GLIBC_FLOOR = [2, 17];

// The two commands the package puts on PATH; both ship in every platform package.
const COMMANDS = ['codexd', 'codex-async-shim'];

const REPOSITORY = 'https://github.com/codex-async/codex-async';
const FROM_SOURCE =
  'build it from source instead (needs Rust >= 1.94, about 10 minutes):\n' +
  `  git clone ${REPOSITORY} && cd codex-async\n` +
  '  cargo install --locked --path daemon && cargo install --locked --path shim';

// The command that reinstalls this version with its platform package.
function reinstall() {
  return `npm install -g ${NAME}@${VERSION}`;
}

// An error carrying a message meant for people (printed as is, no stack).
function problem(message) {
  const err = new Error(message);
  err.codexAsync = true;
  return err;
}

// glibc's version as [major, minor], or null where Node runs on another libc
// (musl: Node's report has no glibcVersionRuntime there).
function glibcVersion() {
  const report =
    process.report && typeof process.report.getReport === 'function'
      ? process.report.getReport()
      : null;
  const found = report && report.header && report.header.glibcVersionRuntime;
  if (typeof found !== 'string') {
    return null;
  }
  return found.split('.').map((part) => Number.parseInt(part, 10));
}

// This machine's platform key (one of PLATFORMS), or a problem saying why
// no prebuilt binary serves it.
function platformKey() {
  const { platform, arch } = process;
  const key = `${platform}-${arch}`;
  if (platform === 'win32') {
    throw problem(
      `codex-async does not run on Windows (${key}): codexd is a Unix daemon ` +
        '(Unix sockets, process sessions and signals). Use WSL ' +
        '(https://learn.microsoft.com/windows/wsl/install) and install it inside ' +
        `Linux there: ${reinstall()}`,
    );
  }
  if (!PLATFORMS.includes(key)) {
    throw problem(
      `codex-async has no prebuilt binaries for ${key} (there are: ${PLATFORMS.join(', ')});\n` +
        FROM_SOURCE,
    );
  }
  if (platform === 'linux') {
    const glibc = glibcVersion();
    if (glibc === null) {
      throw problem(
        `codex-async's prebuilt binaries for ${key} need glibc, and this Linux has ` +
          'another C library (musl, as on Alpine);\n' +
          FROM_SOURCE,
      );
    }
    const [major, minor] = glibc;
    if (major < GLIBC_FLOOR[0] || (major === GLIBC_FLOOR[0] && minor < GLIBC_FLOOR[1])) {
      throw problem(
        `codex-async's prebuilt binaries for ${key} need glibc >= ${GLIBC_FLOOR.join('.')}, ` +
          `and this system has ${glibc.join('.')};\n` +
          FROM_SOURCE,
      );
    }
  }
  return key;
}

// The folder of this platform's package at this package's version.
function platformPackageDir(key) {
  const pkg = `${SCOPE}/${key}`;
  let manifest;
  try {
    // Node's own resolution from this package: finds the platform package
    // nested in ours or hoisted beside it, as npm placed it.
    manifest = require.resolve(`${pkg}/package.json`, { paths: [PACKAGE_ROOT] });
  } catch (err) {
    throw problem(
      `${pkg}, the package with ${NAME}'s binaries for this machine (${key}), is not ` +
        'installed: npm leaves it out when optional dependencies are omitted ' +
        `(--omit=optional, --no-optional) or its download failed. Reinstall: ${reinstall()}`,
    );
  }
  let found;
  try {
    found = JSON.parse(fs.readFileSync(manifest, 'utf8')).version;
  } catch (err) {
    throw problem(`${manifest} cannot be read (${err.message}). Reinstall: ${reinstall()}`);
  }
  if (found !== VERSION) {
    throw problem(
      `${pkg} is version ${found}, but ${NAME} is ${VERSION}: the binaries and their ` +
        `launcher must be of one release. Reinstall: ${reinstall()}`,
    );
  }
  return path.dirname(manifest);
}

// The native binary of `command` (one of COMMANDS) for this machine.
function binaryPath(command) {
  const key = platformKey();
  const dir = platformPackageDir(key);
  const binary = path.join(dir, 'bin', command);
  try {
    fs.accessSync(binary, fs.constants.X_OK);
  } catch (err) {
    throw problem(
      `${SCOPE}/${key} ${VERSION} has no runnable ${command} at ${binary} (${err.code}): ` +
        `the package is damaged. Reinstall: ${reinstall()}`,
    );
  }
  return binary;
}

module.exports = {
  COMMANDS,
  NAME,
  PACKAGE_ROOT,
  PLATFORMS,
  SCOPE,
  VERSION,
  binaryPath,
  platformKey,
  reinstall,
};
