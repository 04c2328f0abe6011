/**
 * Watches a config file for changes. The directory is watched rather than the file, because
 * Kubernetes updates a mounted ConfigMap by swapping a `..data` symlink: the file's own inode never
 * changes, and editors often replace files by rename. Bursts of events are coalesced.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export function watchConfigFile(path: string, onChange: () => void, debounceMs = 200): () => void {
  const file = resolve(path);
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      // `..data` is the ConfigMap symlink; other names in the directory are unrelated files.
      if (changed === null || changed === name || changed.startsWith('..')) fire();
    });
    watcher.on('error', () => undefined);
  } catch {
    // Watching is a convenience; SIGHUP still reloads.
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
