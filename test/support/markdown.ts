import { type Dirent, readdirSync } from 'node:fs'
import { join } from 'node:path'

/** Every `.md` file under `dir`, recursively, in name order; none if `dir` does not exist. */
export function markdownFiles(dir: string): string[] {
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
      if (e.isDirectory()) return markdownFiles(path)
      return e.isFile() && e.name.endsWith('.md') ? [path] : []
    })
}
