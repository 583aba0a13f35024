// codex-async's postinstall: put the native binaries at the bin paths.
//
// Checks the platform package npm picked for this machine (its version, and
// that each binary runs and says that version), then replaces each Node
// launcher in bin/ with the binary itself (lib/native.js), esbuild's way:
// from then on the commands are the native programs, and no Node process
// sits between Claude Code and the shim. The plugin's start script
// (plugin/scripts/codex-async-shim) runs it too, after an npm install
// without scripts.
//
// A machine no package serves (Windows, musl, 32-bit, …) or a missing or
// mismatched platform package fails the install with a message saying why
// and what to do; npm prints it. If only the replacing fails (a read-only
// or odd file system), the launchers stay: the commands still work, through
// Node, and a note says so.
'use strict';

const { spawnSync } = require('child_process');
const { NAME, VERSION, reinstall } = require('./lib/platform');
const { place, targets } = require('./lib/native');

// How long `<binary> --version` may take before it counts as not running.
const VERSION_TIMEOUT_MS = 10000;

function fail(message) {
  process.stderr.write(`\n${NAME}: ${message}\n\n`);
  process.exit(1);
}

// Runs `binary --version` and checks it prints "<command> <VERSION>" (clap's
// form): the binary runs on this machine and is of this release.
function check(command, binary) {
  const ran = spawnSync(binary, ['--version'], {
    encoding: 'utf8',
    timeout: VERSION_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (ran.error) {
    fail(`${binary} does not run on this machine: ${ran.error.message}. Reinstall: ${reinstall()}`);
  }
  const said = (ran.stdout || '').trim();
  if (ran.status !== 0 || said !== `${command} ${VERSION}`) {
    const stderr = (ran.stderr || '').trim();
    fail(
      `${binary} --version said ${JSON.stringify(said)} (exit ${ran.status}` +
        `${stderr ? `, stderr: ${stderr}` : ''}), expected "${command} ${VERSION}": ` +
        `the binary is not of this release or does not run here. Reinstall: ${reinstall()}`,
    );
  }
}

function main() {
  let found;
  try {
    found = targets();
  } catch (err) {
    fail(err.codexAsync ? err.message : err.stack);
  }
  for (const [command, binary] of found) {
    check(command, binary);
  }
  for (const [command, binary, dest] of found) {
    const err = place(binary, dest);
    if (err) {
      process.stderr.write(
        `${NAME}: note: could not put ${binary} at ${dest} (${err.message}); ` +
          `${command} will start it through Node instead.\n`,
      );
      continue;
    }
    // The placed file must be the binary, and run: else the install is broken.
    check(command, dest);
  }
}

main();
