#!/usr/bin/env node
// Writes native/include/pmpi.h from mpi.h: a PMPI_X prototype for every MPI_X
// function mpi.h declares (the profiling interface, MPI 3.1 §14.2). Run it
// after changing mpi.h's functions: `node scripts/pmpi-header.mjs`
// (test/mpi-abi.test.ts fails while pmpi.h is out of date).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const include = fileURLToPath(new URL('../native/include/', import.meta.url));

/** pmpi.h's text for the mpi.h text `header`. */
export function pmpiHeader(header) {
  const decls = [...header.matchAll(/^(?!typedef|#)(\w[\w ]*?\**)\s*\b(MPI_\w+)(\([^;]*\));/gm)];
  const lines = decls.map((m) => `${m[1].trim()} P${m[2]}${m[3].replace(/\s*\n\s*/g, ' ')};`);
  return `/* Generated from mpi.h by scripts/pmpi-header.mjs: do not edit. The
 * profiling interface (MPI 3.1 §14.2): every MPI_X is also PMPI_X, so a
 * program or tool can define its own MPI_X and call the library's PMPI_X. */
#ifndef FMI_PMPI_H
#define FMI_PMPI_H

${lines.join('\n')}

#endif /* FMI_PMPI_H */
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(`${include}pmpi.h`, pmpiHeader(readFileSync(`${include}mpi.h`, 'utf8')));
}
