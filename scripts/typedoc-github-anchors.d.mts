import type { Application } from 'typedoc'

/** GitHub's anchor of a heading whose text (code spans included, markup removed) is `text`. */
export function githubSlug(text: string): string
/** Registers the `github-anchors` router and the heading rule with TypeDoc. */
export function load(app: Application): void
