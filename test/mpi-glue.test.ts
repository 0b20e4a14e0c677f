// The C path's per-call glue (bindings/library_fmi.js -> MpiRuntime.call ->
// the implementations), on a runtime attached to a real WebAssembly.Memory:
// what bench/mpi/glue.mjs made cheaper must still behave.
import { describe, expect, it } from 'vitest';
import { datatype, op } from '../src/mpi/abi.js';
import { IMPLS } from '../src/mpi/impls.js';
import { MpiRuntime } from '../src/mpi/runtime.js';
import { planFor } from '../src/mpi/ops.js';
import { MpiError } from '../src/mpi/errors.js';

function runtime(): MpiRuntime {
  const memory = new WebAssembly.Memory({ initial: 1 });
  let top = 1024;
  const rt = new MpiRuntime({ impls: IMPLS, stderr: () => {} });
  rt.attach({
    heap: () => new Uint8Array(memory.buffer),
    memory: () => memory,
    malloc: (n) => ((top += (n + 15) & ~15), top - ((n + 15) & ~15)),
    free: () => {},
    call: () => 0,
  });
  return rt;
}

describe('mpi glue', () => {
  it('call() takes the C arguments as an Array, or as the arguments object of programs linked before', () => {
    const rt = runtime();
    const flag = 64;
    rt.mem.setI32(flag, 7);
    expect(rt.call('MPI_Initialized', [flag])).toBe(0);
    expect(rt.mem.i32(flag)).toBe(0);
    rt.mem.setI32(flag, 7);
    const viaArguments = function (..._: number[]) {
      // The arguments object itself, as programs linked before rest parameters pass it.
      return rt.call('MPI_Initialized', arguments);
    };
    expect(viaArguments(flag)).toBe(0);
    expect(rt.mem.i32(flag)).toBe(0);
  });

  it('a reduction plan is made once per datatype and op; an op a type does not support still fails every time', () => {
    const rt = runtime();
    const dbl = rt.datatype(datatype('MPI_DOUBLE'));
    const sum = rt.op(op('MPI_SUM'));
    const first = planFor(sum, dbl, datatype('MPI_DOUBLE'), rt.mem.host);
    expect(first.kind).toBe('typed');
    expect(planFor(sum, dbl, datatype('MPI_DOUBLE'), rt.mem.host)).toBe(first);
    expect(planFor(rt.op(op('MPI_MAX')), dbl, datatype('MPI_DOUBLE'), rt.mem.host)).not.toBe(first);
    // MINLOC's plan holds a JS Op: the same one on every call.
    const pair = rt.datatype(datatype('MPI_DOUBLE_INT'));
    const minloc = rt.op(op('MPI_MINLOC'));
    expect(planFor(minloc, pair, datatype('MPI_DOUBLE_INT'), rt.mem.host).op).toBe(planFor(minloc, pair, datatype('MPI_DOUBLE_INT'), rt.mem.host).op);
    const band = rt.op(op('MPI_BAND'));
    for (let i = 0; i < 2; i++) expect(() => planFor(band, dbl, datatype('MPI_DOUBLE'), rt.mem.host)).toThrow(MpiError);
  });
});
