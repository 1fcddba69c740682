// Watches a set of files by watching their directories (one watch per directory, however many
// files: a tree of hundreds of files costs a handful of inotify watches) and calls back once per
// burst of saves. node_modules is never watched: packages change by npm install, not by saving.
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname, resolve } from "node:path";

/** Saves closer together than this are one change (editors write a file in several steps). */
const SETTLE_MS = 40;

export class FileWatch {
  private readonly watchers = new Map<string, FSWatcher>();
  private files = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly changed = new Set<string>();
  private readonly onChange: (files: string[]) => void;

  constructor(onChange: (files: string[]) => void) {
    this.onChange = onChange;
  }

  /** Watches exactly these files from now on. */
  set(files: Iterable<string>): void {
    this.files = new Set([...files].map((file) => resolve(file)).filter((file) => !file.split(/[\\/]/).includes("node_modules")));
    const dirs = new Set([...this.files].map((file) => dirname(file)));
    for (const [dir, watcher] of this.watchers) {
      if (!dirs.has(dir)) {
        watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, (_event, name) => this.saw(dir, name));
        watcher.on("error", () => {});
        this.watchers.set(dir, watcher);
      } catch {
        // A directory that went away: its files are watched again once a bundle names them.
      }
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private saw(dir: string, name: string | Buffer | null): void {
    if (name === null) return;
    const file = resolve(dir, basename(String(name)));
    if (!this.files.has(file)) return;
    this.changed.add(file);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const files = [...this.changed];
      this.changed.clear();
      this.onChange(files);
    }, SETTLE_MS);
  }
}
