/**
 * Copies inside a shared WebAssembly.Memory (the node arena of a process's
 * thread ranks, collectives/node-memory.ts) at memcpy speed: Wasm
 * memory.copy, where a JS copy into or out of shared memory moves a word at
 * a time (V8's relaxed memmove, a half to a third of memcpy). And which
 * arrays lie in such a memory: the ones sharedArray() hands out, registered
 * here, so a channel or a collective can copy them with memory.copy.
 * The module is inlined (60 bytes): nothing here reads a file.
 */

/** Which memory each buffer handed out views: a shared memory's `buffer` is a new object after each growth, all over the same bytes. */
const owners = new WeakMap<ArrayBufferLike, WebAssembly.Memory>();

/** Marks `buffer` (a memory's `buffer`, as it was when an array was made over it) as `memory`'s. */
export function ownBy(buffer: ArrayBufferLike, memory: WebAssembly.Memory): void {
  owners.set(buffer, memory);
}

/** The byte offset in `memory` of a view made over a buffer marked as its, or -1 for any other view. */
export function addressIn(memory: WebAssembly.Memory, v: ArrayBufferView): number {
  return owners.get(v.buffer) === memory ? v.byteOffset : -1;
}

// (module (import "m" "m" (memory 0 65536 shared))
//   (func (export "copy") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy))
const COPY_WASM = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 3, 127, 127, 127, 0, 2, 11, 1, 1, 109, 1, 109, 2, 3, 0, 128, 128, 4,
  3, 2, 1, 0, 7, 8, 1, 4, 99, 111, 112, 121, 0, 0, 10, 14, 1, 12, 0, 32, 0, 32, 1, 32, 2, 252, 10, 0, 0, 11,
];
let copyModule: WebAssembly.Module | undefined;
type Copy = (dst: number, src: number, n: number) => void;
/** One instance per memory in this thread, whoever asks. */
const copiers = new WeakMap<WebAssembly.Memory, Copy>();

/** memory.copy(dst, src, n) over `memory`, a shared memory of at most 4 GiB. */
export function copierFor(memory: WebAssembly.Memory): Copy {
  let copy = copiers.get(memory);
  if (copy === undefined) {
    copyModule ??= new WebAssembly.Module(new Uint8Array(COPY_WASM));
    copy = new WebAssembly.Instance(copyModule, { m: { m: memory } }).exports.copy as Copy;
    copiers.set(memory, copy);
  }
  return copy;
}
