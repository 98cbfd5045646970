import { type Dirent, readdirSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Every file under `dir` whose name ends with `suffix`, recursively, in name order, skipping
 * `node_modules`; none if `dir` does not exist.
 */
export function filesUnder(dir: string, suffix: string): string[] {
  let entries: Dirent[]
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  return entries
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const path = join(dir, e.name)
      if (e.isDirectory()) return e.name === 'node_modules' ? [] : filesUnder(path, suffix)
      return e.isFile() && e.name.endsWith(suffix) ? [path] : []
    })
}

/** Every `.md` file under `dir`: {@link filesUnder} for Markdown. */
export function markdownFiles(dir: string): string[] {
  return filesUnder(dir, '.md')
}
