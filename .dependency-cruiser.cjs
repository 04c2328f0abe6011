/**
 * Import rules for src/, checked by `npm run check:cycles` (dependency-cruiser) in .ci/run.
 * The layers and why they point one way are in docs/architecture.md.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment: 'Folders form a layered graph: a folder never reaches itself through another folder.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-module-cycles',
      comment: 'No module reaches itself through its imports (type-only imports included).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-no-layer',
      comment: 'src/core is shared by every layer, so it imports nothing of theirs.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'adapters-independent',
      comment: 'Protocol adapters depend on the engine, never on each other.',
      severity: 'error',
      from: { path: '^src/(envoy|http)/' },
      to: { path: '^src/(envoy|http)/', pathNot: '^src/$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
