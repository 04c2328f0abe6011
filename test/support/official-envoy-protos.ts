/**
 * Envoy's OFFICIAL API protos, as shipped by the @grpc/grpc-js-xds devDependency under `deps/`.
 * Tests use them as the reference our own protos and our Envoy configs are checked against.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** Root of the grpc-js-xds package (its `deps/` holds envoy-api, xds, googleapis, protoc-gen-validate). */
const XDS_PACKAGE_DIR = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));

/** Include directories for the official protos, in protoc `-I` order. */
export const OFFICIAL_INCLUDE_DIRS: readonly string[] = [
  path.join(XDS_PACKAGE_DIR, 'deps/envoy-api'),
  path.join(XDS_PACKAGE_DIR, 'deps/xds'),
  path.join(XDS_PACKAGE_DIR, 'deps/googleapis'),
  path.join(XDS_PACKAGE_DIR, 'deps/protoc-gen-validate'),
  // google/protobuf/descriptor.proto (imported by the annotation protos) is not in protobufjs'
  // bundled set of well-known types, but ships as a file with protobufjs.
  path.dirname(require.resolve('protobufjs/package.json')),
];

const cache = new Map<string, protobuf.Root>();

/**
 * Loads the given official .proto files (paths relative to the include dirs) with `keepCase`,
 * resolved and cached per file list.
 */
export function loadOfficialProtos(files: readonly string[]): protobuf.Root {
  const key = files.join('\n');
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of OFFICIAL_INCLUDE_DIRS) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target; // google/protobuf/* well-known types: protobufjs substitutes its bundled copies
  };
  root.loadSync([...files], { keepCase: true });
  root.resolveAll();
  cache.set(key, root);
  return root;
}
