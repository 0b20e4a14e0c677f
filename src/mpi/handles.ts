import { HandleBase, type HandleKind } from './abi.js';

/**
 * Small integers that stand for JS objects, as C sees them: the kind's base
 * plus an index. Indexes below `firstDynamic` are the predefined objects;
 * freed indexes are reused.
 */
export class HandleTable<T> {
  readonly kind: HandleKind;
  readonly #base: number;
  readonly #items: (T | undefined)[] = [];
  readonly #free: number[] = [];
  readonly #firstDynamic: number;

  constructor(kind: HandleKind, firstDynamic: number) {
    this.kind = kind;
    this.#base = HandleBase[kind];
    this.#firstDynamic = firstDynamic;
    this.#items.length = firstDynamic;
  }

  /** Registers a predefined object at a fixed handle. */
  define(handle: number, item: T): void {
    this.#items[handle - this.#base] = item;
  }

  add(item: T): number {
    const i = this.#free.pop() ?? this.#items.length;
    this.#items[i] = item;
    return this.#base + i;
  }

  get(handle: number): T | undefined {
    const i = handle - this.#base;
    if (i < 0 || i >= this.#items.length || (i | 0) !== i) return undefined;
    return this.#items[i];
  }

  isPredefined(handle: number): boolean {
    const i = handle - this.#base;
    return i >= 0 && i < this.#firstDynamic;
  }

  remove(handle: number): void {
    const i = handle - this.#base;
    if (i < this.#firstDynamic || this.#items[i] === undefined) return;
    this.#items[i] = undefined;
    this.#free.push(i);
  }

  /** Live handles and their objects. */
  *entries(): IterableIterator<[number, T]> {
    for (let i = 0; i < this.#items.length; i++) {
      const it = this.#items[i];
      if (it !== undefined) yield [this.#base + i, it];
    }
  }
}
