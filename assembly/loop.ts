// The one loop every kernel is built from: dst[i] = dst[i] op src[i].

import { vop, sop } from './ops';

/**
 * In place over n elements of T. Must be called with a constant `op` so the
 * body specialises (see ops.ts). dst == src is fine; partial overlap is not.
 */
// @ts-ignore: decorator
@inline export function run<T>(op: i32, dst: usize, src: usize, n: i32): void {
  const bytes = (<usize>n) << alignof<T>();
  let d = dst;
  let s = src;
  // Four independent vectors per iteration keep loads in flight; the
  // single-vector loop and the scalar loop finish the last 0..63 bytes.
  const end64 = dst + (bytes & ~(<usize>63));
  while (d < end64) {
    v128.store(d, vop<T>(op, v128.load(d), v128.load(s)));
    v128.store(d, vop<T>(op, v128.load(d, 16), v128.load(s, 16)), 16);
    v128.store(d, vop<T>(op, v128.load(d, 32), v128.load(s, 32)), 32);
    v128.store(d, vop<T>(op, v128.load(d, 48), v128.load(s, 48)), 48);
    d += 64;
    s += 64;
  }
  const end16 = dst + (bytes & ~(<usize>15));
  while (d < end16) {
    v128.store(d, vop<T>(op, v128.load(d), v128.load(s)));
    d += 16;
    s += 16;
  }
  const end = dst + bytes;
  while (d < end) {
    store<T>(d, sop<T>(op, load<T>(d), load<T>(s)));
    d += sizeof<T>();
    s += sizeof<T>();
  }
}
