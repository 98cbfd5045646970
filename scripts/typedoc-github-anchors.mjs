/**
 * A TypeDoc plugin (loaded by `typedoc.json`) that gives the guide pages under `docs/` the heading
 * anchors GitHub gives them, so that a link such as `multilabel.md#lpl-multilabel` works both on
 * GitHub and in the generated site, and TypeDoc's anchor check agrees with `test/docs-links.test.ts`.
 *
 * - Headings keep the text of their code spans (`## \`bce\`` has the anchor `bce`; TypeDoc alone
 *   would drop the code and give `_`).
 * - Anchors are made with GitHub's rule (`githubSlug`): lower case, punctuation other than `-` and
 *   `_` removed, each space a `-`, and `-1`, `-2`, … appended to repeated headings.
 */
import { Application, KindRouter } from 'typedoc'

/**
 * GitHub's anchor of a heading whose text (code spans included, markup removed) is `text`.
 * @param {string} text
 * @returns {string}
 */
export function githubSlug(text) {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-')
}

/** The anchors of one page, made and de-duplicated as GitHub does. */
class GitHubSlugger {
  /** @type {Map<string, number>} */
  seen = new Map()

  /** @param {string} value */
  slug(value) {
    const base = githubSlug(value.trim()) || '_'
    let slug = base
    while (this.seen.has(slug)) {
      const count = (this.seen.get(base) ?? 0) + 1
      this.seen.set(base, count)
      slug = `${base}-${count}`
    }
    this.seen.set(slug, 0)
    return slug
  }

  /** @param {string} anchor */
  hasAnchor(anchor) {
    return this.seen.has(anchor)
  }

  /** @param {string} anchor */
  getSimilarAnchors(anchor) {
    return [...this.seen.keys()].filter((a) => a.includes(anchor) || anchor.includes(a)).slice(0, 5)
  }
}

/** TypeDoc's default router (`kind`), with GitHub's anchors on every page. */
class GitHubAnchorRouter extends KindRouter {
  /** @type {Map<unknown, GitHubSlugger>} */
  githubSluggers = new Map()

  /** @param {import('typedoc').ProjectReflection} project */
  buildPages(project) {
    this.githubSluggers = new Map()
    return super.buildPages(project)
  }

  /** @param {import('typedoc').RouterTarget} target */
  getSlugger(target) {
    let page = target
    while (!this.sluggers.has(page)) page = page.parent
    let slugger = this.githubSluggers.get(page)
    if (slugger === undefined) {
      slugger = new GitHubSlugger()
      this.githubSluggers.set(page, slugger)
    }
    return /** @type {any} */ (slugger)
  }
}

/**
 * markdown-it rule: a code span in a heading becomes `<code>`, its text, `</code>`, so that the
 * heading's text (which TypeDoc reads from the text tokens only) includes the code.
 * @param {any} md
 */
function codeSpansInHeadings(md) {
  md.core.ruler.push('code-spans-in-headings', (/** @type {any} */ state) => {
    const tokens = state.tokens
    for (let i = 1; i < tokens.length; i++) {
      if (tokens[i].type !== 'inline' || tokens[i - 1].type !== 'heading_open') continue
      tokens[i].children = tokens[i].children.flatMap((/** @type {any} */ child) => {
        if (child.type !== 'code_inline') return [child]
        const open = new state.Token('html_inline', '', 0)
        open.content = '<code>'
        const text = new state.Token('text', '', 0)
        text.content = child.content
        const close = new state.Token('html_inline', '', 0)
        close.content = '</code>'
        return [open, text, close]
      })
    }
  })
}

/** @param {Application} app */
export function load(app) {
  app.renderer.defineRouter('github-anchors', GitHubAnchorRouter)
  app.on(Application.EVENT_BOOTSTRAP_END, () => {
    const previous = app.options.getValue('markdownItLoader')
    app.options.setValue('markdownItLoader', (/** @type {any} */ md) => {
      previous(md)
      codeSpansInHeadings(md)
    })
  })
}
