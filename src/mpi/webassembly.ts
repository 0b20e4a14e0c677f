// Adds the asynchronous WebAssembly calls the program loader uses to the
// declarations in src/kernels/webassembly.ts (tsconfig loads no lib.dom).
import type {} from '../kernels/webassembly.js';

declare global {
  namespace WebAssembly {
    function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
    function instantiate(module: Module, importObject?: Imports): Promise<Instance>;
  }
}

export {};
