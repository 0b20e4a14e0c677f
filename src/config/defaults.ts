import type { FmiConfig } from './types.js';

/**
 * The reference implementation's default configuration: config/fmi.json of
 * spcl/FMI (Copik et al.), as preserved in its fork McLavish/fmi at commit
 * 1b36aff. The model numbers also appear as the test parameters in spcl/FMI's
 * tests/channels.cpp, except Direct.bandwidth (250 there, 400 in fmi.json; we
 * take fmi.json's). Units are the reference's: ms, MB/s, USD. Where a number
 * comes from, as far as it can be traced:
 *
 * - FaaS.gib_second_price 0.0000166667: AWS Lambda's price per GB-second (x86).
 * - S3.upload_price 0.0000054 and download_price 0.00000043: S3 Standard in
 *   eu-central-1, $0.0054 per 1,000 PUT and $0.00043 per 1,000 GET requests
 *   (the reference's region, `s3_region` below).
 * - S3 bandwidth 50 MB/s, overhead 40.4 ms; Redis bandwidth_single 100 MB/s,
 *   bandwidth_multiple 400 MB/s, overhead 5.2 ms; Direct bandwidth 400 MB/s,
 *   overhead 0.34 ms: the reference's measurements (its paper fits latency and
 *   bandwidth per channel; the file gives no more detail).
 * - Redis.instance_price 0.0038 and Direct.vm_price 0.0134: USD per hour of
 *   the Redis host and of the rendezvous VM. 0.0134 is the on-demand price of
 *   an EC2 t2.micro in eu-central-1 as far as we can tell; the file does not
 *   name either instance.
 * - requests_per_hour 1000 for both: the reference's assumption of how many
 *   requests share an hour of the instance.
 * - transfer_price 0 everywhere: traffic inside one region is free.
 * - gap, FaaS.fresh_memory and fresh_overhead, overhead_multiple, exchange_overhead /
 *   exchange_bandwidth, collective_overhead, barrier_overhead, fanout_overhead and fanin_* 0: not in the reference (its model has no
 *   per-message CPU cost, no cost of fresh memory, and one latency whether
 *   one rank or all are busy); `fmi calibrate` measures them. 0 means not
 *   measured: overhead stands for overhead_multiple, and a round of
 *   exchange is overhead + gap + bytes / bandwidth.
 * - Shm (ours, thread ranks over shared memory): overhead 0.003 ms and
 *   bandwidth 5000 MB/s are issue 13's goals for it (8 B in 3 us, 4 MiB at
 *   half a memcpy), not a measurement; `fmi calibrate --threads` measures them.
 *
 * Backends are the reference's too (S3 and Redis disabled, Direct enabled),
 * except the S3 bucket: the reference names its author's bucket
 * ("romanboe-uploadtest"); we leave it empty so that enabling S3 without
 * naming your own bucket fails validation instead of writing to a stranger's.
 */
export const DEFAULT_CONFIG: FmiConfig = deepFreeze({
  backends: {
    S3: { enabled: false, bucket_name: '', s3_region: 'eu-central-1', timeout: 100, max_timeout: 1000 },
    Redis: { enabled: false, host: '127.0.0.1', port: 6379, timeout: 1, max_timeout: 1000 },
    Direct: { enabled: true, host: '127.0.0.1', port: 10000, max_timeout: 1000 },
  },
  model: {
    FaaS: { gib_second_price: 0.0000166667, fresh_memory: 0, fresh_overhead: 0 },
    S3: { bandwidth: 50.0, overhead: 40.4, overhead_multiple: 0, gap: 0, transfer_price: 0.0, download_price: 0.00000043, upload_price: 0.0000054 },
    Redis: {
      bandwidth_single: 100.0,
      bandwidth_multiple: 400.0,
      overhead: 5.2,
      overhead_multiple: 0,
      fanout_overhead: 0,
      fanin_overhead: 0,
      fanin_bandwidth: 0,
      gap: 0,
      transfer_price: 0.0,
      instance_price: 0.0038,
      requests_per_hour: 1000,
      include_infrastructure_costs: true,
    },
    Direct: {
      bandwidth: 400.0,
      overhead: 0.34,
      gap: 0,
      exchange_overhead: 0,
      exchange_bandwidth: 0,
      collective_overhead: 0,
      barrier_overhead: 0,
      fanout_overhead: 0,
      transfer_price: 0.0,
      vm_price: 0.0134,
      requests_per_hour: 1000,
      include_infrastructure_costs: true,
    },
    Shm: { bandwidth: 5000.0, overhead: 0.003, gap: 0, exchange_overhead: 0, exchange_bandwidth: 0, collective_overhead: 0, barrier_overhead: 0, fanout_overhead: 0 },
  },
});

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
