// package-json: an orch gate plugin written in JavaScript, built with
// componentize-js against orch's contract (wit/0.2.0/orch-plugin.wit).
//
// It judges what a change does to package.json files:
// - an added dependency pinned to "*", "latest", or a git/http/file URL fails
//   the gate (builds stop being reproducible);
// - dependencies that change without the lockfile beside them changing are a
//   warning (the change passes but cannot merge cleanly).
// It reads only the change's diff, so it needs no capabilities.

const SECTIONS = /"(dependencies|devDependencies|peerDependencies|optionalDependencies)"\s*:/;
const ENTRY = /^\s*"([^"]+)"\s*:\s*"([^"]*)"/;
const UNPINNED = /^(\*|latest|x|git[+:]|https?:|file:|github:)/;

/** Added lines of each package.json in a unified diff: {path: [{line, text}]}. */
function addedLines(diff) {
  const files = {};
  let path = null;
  let line = 0;
  for (const raw of diff.split('\n')) {
    if (raw.startsWith('+++ ')) {
      const target = raw.slice(4).trim();
      path = target.startsWith('b/') && target.endsWith('package.json') ? target.slice(2) : null;
      if (path) files[path] = [];
    } else if (raw.startsWith('@@')) {
      const match = /\+(\d+)/.exec(raw);
      line = match ? Number(match[1]) : 0;
    } else if (path && raw.startsWith('+')) {
      files[path].push({ line, text: raw.slice(1) });
      line += 1;
    } else if (path && raw.startsWith(' ')) {
      line += 1;
    }
  }
  return files;
}

export const gate = {
  describe() {
    return {
      name: 'package-json',
      version: '0.1.0',
      kind: 'gate',
      description: 'Fails unpinned dependencies in package.json; warns when the lockfile does not change with them',
      capabilities: { http: [], secrets: [], readPaths: [], commands: [] },
    };
  },

  check(request) {
    const findings = [];
    const changed = new Set(request.changedFiles);
    for (const [path, lines] of Object.entries(addedLines(request.diff))) {
      let dependencies = 0;
      for (const { line, text } of lines) {
        const entry = ENTRY.exec(text);
        if (!entry || SECTIONS.test(text)) continue;
        dependencies += 1;
        const [, name, version] = entry;
        if (UNPINNED.test(version)) {
          findings.push({
            severity: 'error',
            file: path,
            line,
            message: `dependency "${name}" is not pinned ("${version}"); use a version range such as "^1.2.3"`,
          });
        }
      }
      const lock = path.replace(/package\.json$/, 'package-lock.json');
      if (dependencies > 0 && !changed.has(lock)) {
        findings.push({
          severity: 'warning',
          file: path,
          line: undefined,
          message: `${path} changes dependencies but ${lock} does not change; run npm install and commit the lockfile`,
        });
      }
    }
    const errors = findings.filter((f) => f.severity === 'error').length;
    const warnings = findings.length - errors;
    const summary = findings.length === 0 ? 'package.json changes are pinned and locked' : `${errors} unpinned, ${warnings} warning(s)`;
    return { passed: errors === 0, summary, findings };
  },
};
