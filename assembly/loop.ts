// The loops every kernel is built from: dst[i] = a[i] op b[i],
// dst[i] = (a[i] op b[i]) op c[i] and ((a[i] op b[i]) op c[i]) op d[i]
// (two or three contributions folded per pass over dst, in the same order
// as one pass each, so the same bits).

import { vop, sop } from './ops';

/**
 * dst = a op b over n elements of T. Must be called with a constant `op` so
 * the body specialises (see ops.ts). dst may be a or b (in place); partial
 * overlap is not fine.
 */
// @ts-ignore: decorator
@inline export function run<T>(op: i32, dst: usize, a: usize, b: usize, n: i32): void {
  const bytes = (<usize>n) << alignof<T>();
  let d = dst;
  let x = a;
  let y = b;
  // Four independent vectors per iteration keep loads in flight; the
  // single-vector loop and the scalar loop finish the last 0..63 bytes.
  const end64 = dst + (bytes & ~(<usize>63));
  while (d < end64) {
    v128.store(d, vop<T>(op, v128.load(x), v128.load(y)));
    v128.store(d, vop<T>(op, v128.load(x, 16), v128.load(y, 16)), 16);
    v128.store(d, vop<T>(op, v128.load(x, 32), v128.load(y, 32)), 32);
    v128.store(d, vop<T>(op, v128.load(x, 48), v128.load(y, 48)), 48);
    d += 64;
    x += 64;
    y += 64;
  }
  const end16 = dst + (bytes & ~(<usize>15));
  while (d < end16) {
    v128.store(d, vop<T>(op, v128.load(x), v128.load(y)));
    d += 16;
    x += 16;
    y += 16;
  }
  const end = dst + bytes;
  while (d < end) {
    store<T>(d, sop<T>(op, load<T>(x), load<T>(y)));
    d += sizeof<T>();
    x += sizeof<T>();
    y += sizeof<T>();
  }
}

/** dst = (a op b) op c over n elements of T, like run (dst may be a, b or c). */
// @ts-ignore: decorator
@inline export function run3<T>(op: i32, dst: usize, a: usize, b: usize, c: usize, n: i32): void {
  const bytes = (<usize>n) << alignof<T>();
  let d = dst;
  let x = a;
  let y = b;
  let z = c;
  const end64 = dst + (bytes & ~(<usize>63));
  while (d < end64) {
    v128.store(d, vop<T>(op, vop<T>(op, v128.load(x), v128.load(y)), v128.load(z)));
    v128.store(d, vop<T>(op, vop<T>(op, v128.load(x, 16), v128.load(y, 16)), v128.load(z, 16)), 16);
    v128.store(d, vop<T>(op, vop<T>(op, v128.load(x, 32), v128.load(y, 32)), v128.load(z, 32)), 32);
    v128.store(d, vop<T>(op, vop<T>(op, v128.load(x, 48), v128.load(y, 48)), v128.load(z, 48)), 48);
    d += 64;
    x += 64;
    y += 64;
    z += 64;
  }
  const end16 = dst + (bytes & ~(<usize>15));
  while (d < end16) {
    v128.store(d, vop<T>(op, vop<T>(op, v128.load(x), v128.load(y)), v128.load(z)));
    d += 16;
    x += 16;
    y += 16;
    z += 16;
  }
  const end = dst + bytes;
  while (d < end) {
    store<T>(d, sop<T>(op, sop<T>(op, load<T>(x), load<T>(y)), load<T>(z)));
    d += sizeof<T>();
    x += sizeof<T>();
    y += sizeof<T>();
    z += sizeof<T>();
  }
}

/** dst = ((a op b) op c) op d over n elements of T, like run (dst may be a, b, c or d). */
// @ts-ignore: decorator
@inline export function run4<T>(op: i32, dst: usize, a: usize, b: usize, c: usize, e: usize, n: i32): void {
  const bytes = (<usize>n) << alignof<T>();
  let d = dst;
  let x = a;
  let y = b;
  let z = c;
  let w = e;
  const end64 = dst + (bytes & ~(<usize>63));
  while (d < end64) {
    v128.store(d, vop<T>(op, vop<T>(op, vop<T>(op, v128.load(x), v128.load(y)), v128.load(z)), v128.load(w)));
    v128.store(d, vop<T>(op, vop<T>(op, vop<T>(op, v128.load(x, 16), v128.load(y, 16)), v128.load(z, 16)), v128.load(w, 16)), 16);
    v128.store(d, vop<T>(op, vop<T>(op, vop<T>(op, v128.load(x, 32), v128.load(y, 32)), v128.load(z, 32)), v128.load(w, 32)), 32);
    v128.store(d, vop<T>(op, vop<T>(op, vop<T>(op, v128.load(x, 48), v128.load(y, 48)), v128.load(z, 48)), v128.load(w, 48)), 48);
    d += 64;
    x += 64;
    y += 64;
    z += 64;
    w += 64;
  }
  const end16 = dst + (bytes & ~(<usize>15));
  while (d < end16) {
    v128.store(d, vop<T>(op, vop<T>(op, vop<T>(op, v128.load(x), v128.load(y)), v128.load(z)), v128.load(w)));
    d += 16;
    x += 16;
    y += 16;
    z += 16;
    w += 16;
  }
  const end = dst + bytes;
  while (d < end) {
    store<T>(d, sop<T>(op, sop<T>(op, sop<T>(op, load<T>(x), load<T>(y)), load<T>(z)), load<T>(w)));
    d += sizeof<T>();
    x += sizeof<T>();
    y += sizeof<T>();
    z += sizeof<T>();
    w += sizeof<T>();
  }
}
