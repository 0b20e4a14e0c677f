// Plain JS reduction loops, one function per (op, type).
//
// Spelled out on purpose: V8 keeps type feedback per function literal, so one
// generic loop (or closures made by one factory) that sees several typed-array
// kinds goes megamorphic and runs ~30x slower (measured: 33-37 ns/element vs
// ~1 ns). Each function below only ever sees one array kind.
//
// Stores do the wrapping: an Int8Array store keeps the low 8 bits, a
// BigInt64Array store wraps to 64 bits. Math.imul keeps 32-bit products exact
// before they wrap; float MIN/MAX use Math.min/max (NaN and -0 rules match the
// Wasm f32x4/f64x2.min/max and f32/f64.min/max).

/** A kernel over one concrete array kind; callers pass the matching kind. */
export type JsKernel = (d: never, s: never) => void;

function sumI8(d: Int8Array, s: Int8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a + b; } }
function sumU8(d: Uint8Array, s: Uint8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a + b; } }
function sumI16(d: Int16Array, s: Int16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a + b; } }
function sumU16(d: Uint16Array, s: Uint16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a + b; } }
function sumI32(d: Int32Array, s: Int32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a + b; } }
function sumU32(d: Uint32Array, s: Uint32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a + b; } }
function sumI64(d: BigInt64Array, s: BigInt64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a + b; } }
function sumU64(d: BigUint64Array, s: BigUint64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a + b; } }
function sumF32(d: Float32Array, s: Float32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a + b; } }
function sumF64(d: Float64Array, s: Float64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a + b; } }

function prodI8(d: Int8Array, s: Int8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = Math.imul(a, b); } }
function prodU8(d: Uint8Array, s: Uint8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = Math.imul(a, b); } }
function prodI16(d: Int16Array, s: Int16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = Math.imul(a, b); } }
function prodU16(d: Uint16Array, s: Uint16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = Math.imul(a, b); } }
function prodI32(d: Int32Array, s: Int32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = Math.imul(a, b); } }
function prodU32(d: Uint32Array, s: Uint32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = Math.imul(a, b); } }
function prodI64(d: BigInt64Array, s: BigInt64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a * b; } }
function prodU64(d: BigUint64Array, s: BigUint64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a * b; } }
function prodF32(d: Float32Array, s: Float32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a * b; } }
function prodF64(d: Float64Array, s: Float64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a * b; } }

function minI8(d: Int8Array, s: Int8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a < b ? a : b; } }
function minU8(d: Uint8Array, s: Uint8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a < b ? a : b; } }
function minI16(d: Int16Array, s: Int16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a < b ? a : b; } }
function minU16(d: Uint16Array, s: Uint16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a < b ? a : b; } }
function minI32(d: Int32Array, s: Int32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a < b ? a : b; } }
function minU32(d: Uint32Array, s: Uint32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a < b ? a : b; } }
function minI64(d: BigInt64Array, s: BigInt64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a < b ? a : b; } }
function minU64(d: BigUint64Array, s: BigUint64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a < b ? a : b; } }
function minF32(d: Float32Array, s: Float32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = Math.min(a, b); } }
function minF64(d: Float64Array, s: Float64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = Math.min(a, b); } }

function maxI8(d: Int8Array, s: Int8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a > b ? a : b; } }
function maxU8(d: Uint8Array, s: Uint8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a > b ? a : b; } }
function maxI16(d: Int16Array, s: Int16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a > b ? a : b; } }
function maxU16(d: Uint16Array, s: Uint16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a > b ? a : b; } }
function maxI32(d: Int32Array, s: Int32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a > b ? a : b; } }
function maxU32(d: Uint32Array, s: Uint32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a > b ? a : b; } }
function maxI64(d: BigInt64Array, s: BigInt64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a > b ? a : b; } }
function maxU64(d: BigUint64Array, s: BigUint64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a > b ? a : b; } }
function maxF32(d: Float32Array, s: Float32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = Math.max(a, b); } }
function maxF64(d: Float64Array, s: Float64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = Math.max(a, b); } }

function landI8(d: Int8Array, s: Int8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 && b !== 0 ? 1 : 0; } }
function landU8(d: Uint8Array, s: Uint8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 && b !== 0 ? 1 : 0; } }
function landI16(d: Int16Array, s: Int16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 && b !== 0 ? 1 : 0; } }
function landU16(d: Uint16Array, s: Uint16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 && b !== 0 ? 1 : 0; } }
function landI32(d: Int32Array, s: Int32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 && b !== 0 ? 1 : 0; } }
function landU32(d: Uint32Array, s: Uint32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 && b !== 0 ? 1 : 0; } }
function landI64(d: BigInt64Array, s: BigInt64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0n && b !== 0n ? 1n : 0n; } }
function landU64(d: BigUint64Array, s: BigUint64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0n && b !== 0n ? 1n : 0n; } }

function lorI8(d: Int8Array, s: Int8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 || b !== 0 ? 1 : 0; } }
function lorU8(d: Uint8Array, s: Uint8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 || b !== 0 ? 1 : 0; } }
function lorI16(d: Int16Array, s: Int16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 || b !== 0 ? 1 : 0; } }
function lorU16(d: Uint16Array, s: Uint16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 || b !== 0 ? 1 : 0; } }
function lorI32(d: Int32Array, s: Int32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 || b !== 0 ? 1 : 0; } }
function lorU32(d: Uint32Array, s: Uint32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0 || b !== 0 ? 1 : 0; } }
function lorI64(d: BigInt64Array, s: BigInt64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0n || b !== 0n ? 1n : 0n; } }
function lorU64(d: BigUint64Array, s: BigUint64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a !== 0n || b !== 0n ? 1n : 0n; } }

function lxorI8(d: Int8Array, s: Int8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = (a !== 0) !== (b !== 0) ? 1 : 0; } }
function lxorU8(d: Uint8Array, s: Uint8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = (a !== 0) !== (b !== 0) ? 1 : 0; } }
function lxorI16(d: Int16Array, s: Int16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = (a !== 0) !== (b !== 0) ? 1 : 0; } }
function lxorU16(d: Uint16Array, s: Uint16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = (a !== 0) !== (b !== 0) ? 1 : 0; } }
function lxorI32(d: Int32Array, s: Int32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = (a !== 0) !== (b !== 0) ? 1 : 0; } }
function lxorU32(d: Uint32Array, s: Uint32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = (a !== 0) !== (b !== 0) ? 1 : 0; } }
function lxorI64(d: BigInt64Array, s: BigInt64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = (a !== 0n) !== (b !== 0n) ? 1n : 0n; } }
function lxorU64(d: BigUint64Array, s: BigUint64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = (a !== 0n) !== (b !== 0n) ? 1n : 0n; } }

function bandI8(d: Int8Array, s: Int8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a & b; } }
function bandU8(d: Uint8Array, s: Uint8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a & b; } }
function bandI16(d: Int16Array, s: Int16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a & b; } }
function bandU16(d: Uint16Array, s: Uint16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a & b; } }
function bandI32(d: Int32Array, s: Int32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a & b; } }
function bandU32(d: Uint32Array, s: Uint32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a & b; } }
function bandI64(d: BigInt64Array, s: BigInt64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a & b; } }
function bandU64(d: BigUint64Array, s: BigUint64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a & b; } }

function borI8(d: Int8Array, s: Int8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a | b; } }
function borU8(d: Uint8Array, s: Uint8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a | b; } }
function borI16(d: Int16Array, s: Int16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a | b; } }
function borU16(d: Uint16Array, s: Uint16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a | b; } }
function borI32(d: Int32Array, s: Int32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a | b; } }
function borU32(d: Uint32Array, s: Uint32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a | b; } }
function borI64(d: BigInt64Array, s: BigInt64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a | b; } }
function borU64(d: BigUint64Array, s: BigUint64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a | b; } }

function bxorI8(d: Int8Array, s: Int8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a ^ b; } }
function bxorU8(d: Uint8Array, s: Uint8Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a ^ b; } }
function bxorI16(d: Int16Array, s: Int16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a ^ b; } }
function bxorU16(d: Uint16Array, s: Uint16Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a ^ b; } }
function bxorI32(d: Int32Array, s: Int32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a ^ b; } }
function bxorU32(d: Uint32Array, s: Uint32Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a ^ b; } }
function bxorI64(d: BigInt64Array, s: BigInt64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a ^ b; } }
function bxorU64(d: BigUint64Array, s: BigUint64Array): void { for (let i = 0, n = d.length; i < n; i++) { const a = d[i], b = s[i]; d[i] = a ^ b; } }

/** JS_KERNELS[opCode][typeCode]; undefined where MPI does not define the op. */
export const JS_KERNELS: readonly (readonly (JsKernel | undefined)[])[] = [
  [sumI8, sumU8, sumI16, sumU16, sumI32, sumU32, sumI64, sumU64, sumF32, sumF64],
  [prodI8, prodU8, prodI16, prodU16, prodI32, prodU32, prodI64, prodU64, prodF32, prodF64],
  [minI8, minU8, minI16, minU16, minI32, minU32, minI64, minU64, minF32, minF64],
  [maxI8, maxU8, maxI16, maxU16, maxI32, maxU32, maxI64, maxU64, maxF32, maxF64],
  [landI8, landU8, landI16, landU16, landI32, landU32, landI64, landU64, undefined, undefined],
  [lorI8, lorU8, lorI16, lorU16, lorI32, lorU32, lorI64, lorU64, undefined, undefined],
  [lxorI8, lxorU8, lxorI16, lxorU16, lxorI32, lxorU32, lxorI64, lxorU64, undefined, undefined],
  [bandI8, bandU8, bandI16, bandU16, bandI32, bandU32, bandI64, bandU64, undefined, undefined],
  [borI8, borU8, borI16, borU16, borI32, borU32, borI64, borU64, undefined, undefined],
  [bxorI8, bxorU8, bxorI16, bxorU16, bxorI32, bxorU32, bxorI64, bxorU64, undefined, undefined],
];
