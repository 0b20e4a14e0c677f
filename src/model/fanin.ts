import { fitLink, type LinkFit } from './fit.js';
import { storeTraffic, type StoreLink } from './mediated.js';

/**
 * Redis's fan-in (fanin_overhead, fanin_bandwidth) from the allreduce
 * itself, timed back to back at each size as the model check and a job
 * call it: the allreduce's time minus the model's release (rank 0 writes
 * the result, the others read it: storeTraffic's allreduce with a fan-in
 * of nothing), at least what the server must move (the n - 1 parts in and
 * out, (n - 1)·m / betaTotal); the line through those points (fitLink).
 * The fan-in timed alone after a barrier (calibrate-rank's `fanin`) moved
 * from 5.8 to 34 ms at 1 MiB between calibrations, while the allreduce it
 * priced took 29-59 ms back to back: the back-to-back calls overlap and
 * queue at the one server thread, which a fan-in after a barrier does not
 * see. Undefined when no point is left (every allreduce faster than its
 * release).
 */
export function fitFanIn(allreduce: readonly { bytes: number; seconds: number }[], ranks: number, link: StoreLink): LinkFit | undefined {
  const nothing = { ...link, fanIn: { alpha: 0, beta: Infinity } };
  const points = allreduce
    .map((s) => {
      const release = storeTraffic('allreduce', s.bytes, ranks, nothing).time_s;
      const floor = ((ranks - 1) * s.bytes) / link.betaTotal;
      return { bytes: s.bytes, seconds: Math.max(s.seconds - release, floor) };
    })
    .filter((p) => p.seconds > 0);
  return points.length > 0 ? fitLink(points, link.beta) : undefined;
}
