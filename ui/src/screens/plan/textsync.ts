// Character-position text editing for plan sections that several units edit at once.
//
// The backend counts splice positions in characters = Unicode code points (Rust `char`s), while
// a textarea's value, selectionStart and selectionEnd are UTF-16 indices. Everything here works
// in code points and converts at the edges, so "đ", "ữ" and emoji land where they should.

/** A splice in code points: at `pos` delete `del` characters and insert `text`. */
export interface Splice {
  pos: number;
  del: number;
  text: string;
}

/** Number of code points in `s`. */
export function cpLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The code point index of UTF-16 index `i` in `s` (an index inside a pair counts as after it). */
export function toCodePoints(s: string, i: number): number {
  let cp = 0;
  let u = 0;
  for (const ch of s) {
    if (u >= i) break;
    u += ch.length;
    cp++;
  }
  return cp;
}

/** The UTF-16 index of code point index `cp` in `s` (clamped to the end). */
export function toUtf16(s: string, cp: number): number {
  let u = 0;
  let n = 0;
  for (const ch of s) {
    if (n >= cp) break;
    u += ch.length;
    n++;
  }
  return u;
}

/**
 * The single splice that turns `oldValue` into `newValue`, in code points, or null when equal.
 *
 * `caret` (code points, in the new value, e.g. the textarea's selectionEnd after an input event)
 * settles ambiguous cases: typing "a" after the first "a" of "aa" is an insertion ending at the
 * caret, not at the end of the common prefix.
 */
export function diffToSplice(oldValue: string, newValue: string, caret?: number): Splice | null {
  if (oldValue === newValue) return null;
  const a = Array.from(oldValue);
  const b = Array.from(newValue);
  const minimal = regionSplice(a, b, Infinity);
  if (caret === undefined) return minimal;
  // the edit ending at the caret, if it is as small as the minimal one (it only slides it
  // within repeated letters; a Telex "a" → "ầ" before the caret keeps its minimal form)
  const atCaret = regionSplice(a, b, Math.max(0, b.length - caret), true);
  const size = (s: Splice) => s.del + cpLength(s.text);
  return size(atCaret) <= size(minimal) ? atCaret : minimal;
}

/** The region between the common prefix and suffix; suffix first (capped) when `suffixFirst`. */
function regionSplice(a: string[], b: string[], maxSuffix: number, suffixFirst = false): Splice {
  const common = Math.min(a.length, b.length);
  let prefix = 0;
  let suffix = 0;
  const growPrefix = (cap: number) => {
    while (prefix < cap && a[prefix] === b[prefix]) prefix++;
  };
  const growSuffix = (cap: number) => {
    while (suffix < cap && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;
  };
  if (suffixFirst) {
    growSuffix(Math.min(common, maxSuffix));
    growPrefix(common - suffix);
  } else {
    growPrefix(common);
    growSuffix(Math.min(common - prefix, maxSuffix));
  }
  return { pos: prefix, del: a.length - prefix - suffix, text: b.slice(prefix, b.length - suffix).join("") };
}

/** Applies a code-point splice to a string. */
export function applySplice(s: string, sp: Splice): string {
  const a = Array.from(s);
  a.splice(sp.pos, sp.del, ...Array.from(sp.text));
  return a.join("");
}

/**
 * Where a caret (code points) goes when another unit's splice is applied to the text:
 * a change wholly before the caret shifts it by the change's net length; a change at or after
 * the caret leaves it; a change around it moves it by the net length, kept inside the new text.
 */
export function transformCaret(caret: number, sp: Splice): number {
  const ins = cpLength(sp.text);
  if (sp.pos >= caret) return caret;
  if (sp.pos + sp.del <= caret) return caret + ins - sp.del;
  return Math.min(Math.max(caret + ins - sp.del, sp.pos), sp.pos + ins);
}

/** A textarea selection in UTF-16 indices, as the DOM reports it. */
export interface Selection16 {
  start: number;
  end: number;
}

/**
 * Rebases the local selection when the text changes from `localValue` to `remoteValue` under the
 * user's hands: returns the new selection in UTF-16 indices of `remoteValue`.
 */
export function rebaseSelection(localValue: string, remoteValue: string, sel: Selection16): Selection16 {
  const sp = diffToSplice(localValue, remoteValue);
  if (!sp) return sel;
  const start = transformCaret(toCodePoints(localValue, sel.start), sp);
  const end = transformCaret(toCodePoints(localValue, sel.end), sp);
  return { start: toUtf16(remoteValue, start), end: toUtf16(remoteValue, Math.max(start, end)) };
}

/** The part of a textarea the section sync touches (a real HTMLTextAreaElement in the app). */
export interface TextAreaLike {
  value: string;
  selectionStart: number | null;
  selectionEnd: number | null;
  setSelectionRange(start: number, end: number): void;
}

/**
 * One text field edited through splices: turns each input event into a splice sent in order
 * (one at a time, so positions stay valid), and applies another unit's text without moving the
 * local caret or losing what is being typed.
 */
export class SpliceSync {
  /** the value the last input event left (what the backend has, or will once the queue drains) */
  known: string;
  /** bumped on every local edit; a re-read started before an edit is stale */
  version = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    initial: string,
    private send: (sp: Splice) => Promise<unknown>,
    private onError: (e: unknown) => void = () => {},
  ) {
    this.known = initial;
  }

  /** Call from the textarea's `input` event. Returns the splice sent, if any. */
  input(el: TextAreaLike): Splice | null {
    const next = el.value;
    const caret = toCodePoints(next, el.selectionEnd ?? next.length);
    const sp = diffToSplice(this.known, next, caret);
    this.known = next;
    if (!sp) return null;
    this.version++;
    this.queue = this.queue.then(() => this.send(sp)).catch((e) => this.onError(e));
    return sp;
  }

  /** Resolves when every splice sent so far has been answered. */
  drained(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  /** Shows `remote` (the stored text re-read after a sync) keeping the selection in place. */
  applyRemote(el: TextAreaLike | null, remote: string, focused = true): void {
    const local = el ? el.value : this.known;
    if (local === remote) {
      this.known = remote;
      return;
    }
    if (el) {
      const sel = rebaseSelection(local, remote, {
        start: el.selectionStart ?? local.length,
        end: el.selectionEnd ?? local.length,
      });
      el.value = remote;
      if (focused) el.setSelectionRange(sel.start, sel.end);
    }
    this.known = remote;
  }
}
