/**
 * The matcher's receives that take any source or any tag, in posting order:
 * an array and a count. It keeps its memory when it empties: a JS array that
 * splice, pop or `length = 0` empty gives its backing store back, and the
 * next push allocates it again. A collective's receive takes any tag from its
 * peer (signed-recv.ts): one post and one match per message.
 */
export class PostedList<T> {
  readonly #items: (T | undefined)[] = [];
  #n = 0;

  get length(): number {
    return this.#n;
  }

  at(i: number): T {
    return this.#items[i]!;
  }

  push(v: T): void {
    this.#items[this.#n++] = v;
  }

  removeAt(i: number): void {
    const a = this.#items;
    const n = --this.#n;
    for (let j = i; j < n; j++) a[j] = a[j + 1];
    a[n] = undefined;
  }

  indexOf(v: T): number {
    const a = this.#items;
    for (let i = 0; i < this.#n; i++) if (a[i] === v) return i;
    return -1;
  }

  /** Removes the entries `pred` holds for (the others keep their order) and returns them. */
  take(pred: (v: T) => boolean): T[] {
    const a = this.#items;
    const out: T[] = [];
    let k = 0;
    for (let i = 0; i < this.#n; i++) {
      const v = a[i]!;
      if (pred(v)) out.push(v);
      else a[k++] = v;
    }
    for (let j = k; j < this.#n; j++) a[j] = undefined;
    this.#n = k;
    return out;
  }
}
