import { Kind, type Encoded } from '../codec.js';
import { FmiError } from '../errors.js';
import { binomialTree } from './bcast.js';
import { raiseIfError, sendError, type CollContext } from './context.js';

/**
 * The verdict step of rooted collectives. A rank that only sends in a call
 * (a reduce or gather leaf, a bcast or scatter root) cannot see a mismatch
 * there: without this step it returns "ok" while the call failed elsewhere,
 * or returns its own value while the others named another root. So the
 * ranks that only send wait for one empty message over the edges of the
 * binomial tree rooted at the call's root (the ones reduce, gather, bcast
 * and scatter use, so no new pair is made): `down` after reduce and gather
 * (the root's outcome reaches every rank: all fail or all succeed), `up`
 * after bcast and scatter (every subtree's outcome reaches the root, so a
 * root that others did not name fails). Its cost is a tree's depth of
 * empty messages (bench/README.md, "Verdicts").
 */
export const VERDICT_OK: Encoded = { kind: Kind.BUNDLE, bytes: new Uint8Array(0) };

/** A rank that failed this way does not wait for its verdict partners: they may never send. */
const NO_WAIT = new Set(['FMI_MISMATCH', 'FMI_PEER_LOST', 'FMI_TIMEOUT', 'FMI_ABORTED', 'FMI_CLOSED', 'FMI_CHANNEL', 'FMI_PROTOCOL']);
/**
 * MPI_ERR_ARG is this rank's own (an `into` that does not fit, a value it
 * could not send, and the gather root's "could not contribute"): the call
 * went through for the others, so it fails this rank only.
 */
const shared = (err: unknown) => (err instanceof FmiError && err.code === 'MPI_ERR_ARG' ? undefined : err);
const waits = (err: unknown) => err === undefined || (err instanceof FmiError && !NO_WAIT.has(err.code));

/** Down the tree: waits for the parent's verdict (unless `failed` says not to), passes it (or `failed`) on; throws the first error. */
export async function verdictDown(c: CollContext, root: number, failed: unknown): Promise<void> {
  const { parent, children } = binomialTree(c.rank, root, c.size);
  let err = shared(failed);
  if (parent >= 0 && waits(err)) {
    try {
      raiseIfError(c, await c.recv(parent));
    } catch (e) {
      err ??= e;
    }
  }
  await pass(c, children, err);
  if (failed !== undefined) throw failed;
}

/** Up the tree: waits for every child's verdict (unless `failed` says not to), sends the subtree's to the parent; throws the first error. */
export async function verdictUp(c: CollContext, root: number, failed: unknown): Promise<void> {
  const { parent, children } = binomialTree(c.rank, root, c.size);
  let err = shared(failed);
  if (waits(err)) {
    // A mismatch or a lost peer ends the wait: the other children may never send, and their receives are withdrawn.
    // Any other error (bad input the root sent down as data) reached every child, and each sends its verdict.
    const stop = new AbortController();
    await Promise.all(
      children.map(async (child) => {
        try {
          raiseIfError(c, await c.recv(child, undefined, undefined, undefined, stop.signal));
        } catch (e) {
          err ??= e;
          if (!waits(e)) stop.abort();
        }
      }),
    );
  }
  await pass(c, parent >= 0 ? [parent] : [], err);
  if (failed !== undefined) throw failed;
}

async function pass(c: CollContext, to: number[], err: unknown): Promise<void> {
  if (err === undefined) {
    await Promise.all(to.map((peer) => c.send(peer, VERDICT_OK)));
    return;
  }
  // Mismatch errors reached every rank already (sendError skips them).
  if (to.length > 0) await sendError(c, to, err);
  throw err;
}

/** Which rooted collectives take which verdict. */
export const VERDICTS: Partial<Record<string, typeof verdictDown>> = {
  reduce: verdictDown,
  gather: verdictDown,
  gatherv: verdictDown,
  bcast: verdictUp,
  scatter: verdictUp,
  scatterv: verdictUp,
};

