// The slice of the WebAssembly JS API that the kernels use. tsconfig's libs
// (ES2023 + @types/node) have no WebAssembly namespace and lib.dom is not
// loaded; this global augmentation is emitted into dist/*.d.ts so consumers
// see the same names. Delete it if the project ever adds lib "DOM".

declare global {
  namespace WebAssembly {
    interface MemoryDescriptor {
      initial: number;
      maximum?: number;
      shared?: boolean;
    }
    interface Memory {
      readonly buffer: ArrayBuffer;
      grow(delta: number): number;
    }
    var Memory: {
      prototype: Memory;
      new (descriptor: MemoryDescriptor): Memory;
    };

    type ImportExportKind = 'function' | 'global' | 'memory' | 'table' | 'tag';
    interface ModuleImportDescriptor { module: string; name: string; kind: ImportExportKind }
    interface ModuleExportDescriptor { name: string; kind: ImportExportKind }
    interface Module {}
    var Module: {
      prototype: Module;
      new (bytes: ArrayBufferView | ArrayBuffer): Module;
      imports(module: Module): ModuleImportDescriptor[];
      exports(module: Module): ModuleExportDescriptor[];
    };

    type ImportValue = ((...args: never[]) => unknown) | Memory | number;
    type Imports = Record<string, Record<string, ImportValue>>;
    type Exports = Record<string, unknown>;
    interface Instance { readonly exports: Exports }
    var Instance: {
      prototype: Instance;
      new (module: Module, importObject?: Imports): Instance;
    };
  }
}

export {};
