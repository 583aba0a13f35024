// Putting the native binaries in place of the Node launchers.
//
// npm links `codexd` and `codex-async-shim` on PATH to bin/codexd and
// bin/codex-async-shim of this package, shipped as small Node launchers.
// Replacing each launcher with the binary itself (a hard link, else a copy)
// makes the commands the native programs: no Node process between Claude
// Code and the shim. install.js (the postinstall) does it at install; where
// install scripts did not run (--ignore-scripts, or npm's allowScripts policy
// not covering this package), the launcher does it on its first run, so only
// that run goes through Node.
'use strict';

const fs = require('fs');
const path = require('path');
const { COMMANDS, PACKAGE_ROOT, binaryPath } = require('./platform');

// The first bytes of a script (the launchers); a binary never starts so.
const SHEBANG = '#!';

// True when `file` is a script, i.e. still a launcher.
function isLauncher(file) {
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 2, 0);
  } finally {
    fs.closeSync(fd);
  }
  return head.toString('latin1') === SHEBANG;
}

// Replaces `dest` with `binary`: linked (or copied) to a temporary name
// beside it, then renamed over it, so `dest` is at every moment either the
// launcher or the whole binary. Returns the error, or null.
function place(binary, dest) {
  const temporary = `${dest}.installing-${process.pid}`;
  try {
    try {
      fs.linkSync(binary, temporary);
    } catch {
      // Another file system, or one without hard links.
      fs.copyFileSync(binary, temporary);
    }
    fs.chmodSync(temporary, 0o755);
    fs.renameSync(temporary, dest);
    return null;
  } catch (err) {
    fs.rmSync(temporary, { force: true });
    return err;
  }
}

// Each command's [command, binary, bin path] (binaryPath throws a problem
// when this machine has no fitting package).
function targets() {
  return COMMANDS.map((command) => [
    command,
    binaryPath(command),
    path.join(PACKAGE_ROOT, 'bin', command),
  ]);
}

module.exports = { isLauncher, place, targets };
