// The fallback launcher: runs the native binary as a child process.
//
// Used only when install.js did not run (npm's --ignore-scripts, npm's
// allowScripts policy, or an install script that could not place the
// binaries): then bin/codexd and bin/codex-async-shim are still the small
// Node scripts that call this. It first puts the native binaries in their
// place for the next starts (as install.js would have; silently skipped
// where it may not write), then runs this one as a child: a Node process
// stays in between for this run only. It passes on stdio untouched (the
// shim's stdout is the MCP protocol), forwards the signals a terminal or
// Claude Code sends, and exits as the binary did.
'use strict';

const { spawn } = require('child_process');
const { binaryPath } = require('./platform');
const { isLauncher, place, targets } = require('./native');

// The signals passed on to the binary; the launcher itself then waits for it.
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

function run(command) {
  let binary;
  try {
    binary = binaryPath(command);
  } catch (err) {
    // A message for people, never a stack; exit at once so a client waiting
    // on the shim (Claude Code) sees the server fail instead of hanging.
    process.stderr.write(`${command}: ${err.codexAsync ? err.message : err.stack}\n`);
    process.exit(1);
  }
  try {
    for (const [, from, dest] of targets()) {
      if (isLauncher(dest)) {
        place(from, dest);
      }
    }
  } catch {
    // Not ours to fix here: this run goes through Node all the same.
  }
  const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit' });
  for (const signal of FORWARDED) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('error', (err) => {
    process.stderr.write(`${command}: cannot run ${binary}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, so the caller sees what the binary saw.
      for (const forwarded of FORWARDED) {
        process.removeAllListeners(forwarded);
      }
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code === null ? 1 : code);
  });
}

module.exports = { run };
