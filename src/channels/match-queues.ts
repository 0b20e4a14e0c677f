/**
 * FIFO lists keyed by (context, source, tag): the matcher's posted receives
 * and early messages. Keyed by numbers, not by a string built per message:
 * contexts first, then source and tag in one safe integer.
 */
export class MatchQueues<T> {
  readonly #byCtx = new Map<number, Map<number, T[]>>();

  first(ctx: number, source: number, tag: number): T | undefined {
    return this.#byCtx.get(ctx)?.get(inner(source, tag))?.[0];
  }

  push(ctx: number, source: number, tag: number, v: T): void {
    let m = this.#byCtx.get(ctx);
    if (!m) this.#byCtx.set(ctx, (m = new Map()));
    const k = inner(source, tag);
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  }

  /** Removes `v` (the first entry, usually) from its list. */
  remove(ctx: number, source: number, tag: number, v: T): void {
    const m = this.#byCtx.get(ctx);
    const k = inner(source, tag);
    const list = m?.get(k);
    if (!list) return;
    if (list[0] === v) list.shift();
    else {
      const i = list.indexOf(v);
      if (i < 0) return;
      list.splice(i, 1);
    }
    // An empty list goes (tags may be many, say iteration numbers); a context's map stays (they are few).
    if (list.length === 0) m!.delete(k);
  }

  /** The lists of one context (every list has at least one entry). */
  lists(ctx: number): IterableIterator<T[]> | undefined {
    return this.#byCtx.get(ctx)?.values();
  }

  /** Every list; `drop` returns true for lists to delete whole. */
  sweep(drop: (list: T[]) => boolean): void {
    for (const [ctx, m] of this.#byCtx) {
      for (const [k, list] of m) if (drop(list)) m.delete(k);
      if (m.size === 0) this.#byCtx.delete(ctx);
    }
  }

  clear(): void {
    this.#byCtx.clear();
  }
}

/** Ranks above this would not fit the key (2^21 = 2,097,152 ranks). */
export const MAX_SOURCE = 0x1f_ffff;

function inner(source: number, tag: number): number {
  if (source > MAX_SOURCE) throw new RangeError(`rank ${source} is beyond the ${MAX_SOURCE + 1} ranks a job may have`);
  return source * 0x1_0000_0000 + (tag >>> 0);
}
