// A small element builder. Text always goes in as text nodes: app names come
// from process names on the machine and must never be parsed as HTML.

type Child = Node | string | null | undefined | false
type Props = {
  class?: string
  title?: string
  type?: string
  hidden?: boolean
  disabled?: boolean
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (ev: HTMLElementEventMap[K]) => void }>
  attrs?: Record<string, string>
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (props.class) el.className = props.class
  if (props.title) el.title = props.title
  if (props.hidden) el.hidden = true
  if (props.type && el instanceof HTMLButtonElement) el.type = props.type as HTMLButtonElement['type']
  if (props.disabled && 'disabled' in el) (el as HTMLButtonElement).disabled = true
  for (const [k, v] of Object.entries(props.attrs ?? {})) el.setAttribute(k, v)
  for (const [name, fn] of Object.entries(props.on ?? {})) el.addEventListener(name, fn as EventListener)
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c)
  return el
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false))
}
