import { FmiError } from '../errors.js';

// Rank, size and job id from the environment of whatever started this
// process: fmi's own variables, or a cluster scheduler's or MPI launcher's.

export type Scheduler = 'fmi' | 'openmpi' | 'mpich' | 'slurm' | 'kubernetes';

export interface SchedulerEnv {
  rank?: number;
  size?: number;
  job?: string;
  /** Where the rank came from; undefined when nothing set one (a job of one rank). */
  scheduler?: Scheduler;
}

interface Source {
  name: Exclude<Scheduler, 'fmi'>;
  /** The variable whose presence means "started by this one". */
  rankVar: string;
  sizeVar?: (env: NodeJS.ProcessEnv) => string | undefined;
  job?: (env: NodeJS.ProcessEnv) => string | undefined;
  /** Besides rankVar, this must hold too (SLURM: inside an srun step, not the batch script). */
  active?: (env: NodeJS.ProcessEnv) => boolean;
}

const set = (env: NodeJS.ProcessEnv, name: string) => env[name] !== undefined && env[name] !== '';
const slurmStep = (env: NodeJS.ProcessEnv) => env.SLURM_STEP_ID || env.SLURM_STEPID || undefined;

/**
 * Looked at in this order, after FMI_RANK / FMI_SIZE / FMI_JOB (which always
 * win, each on its own): the innermost launcher first. mpirun or mpiexec run
 * inside a SLURM allocation start their ranks through srun with one task per
 * node, so there SLURM_PROCID is a node's number and only the MPI launcher's
 * variables give the rank. Kubernetes comes last: nothing else runs inside it
 * unless started there on purpose, and then that one knows better.
 */
export const SCHEDULERS: readonly Source[] = [
  {
    // Open MPI's mpirun / mpiexec / prterun. 4.x: PMIX_NAMESPACE is the job id
    // ("1530920961"), 5.x: "prterun-host-1234@1"; both the same on every rank
    // of one launch and different for the next one.
    name: 'openmpi',
    rankVar: 'OMPI_COMM_WORLD_RANK',
    sizeVar: () => 'OMPI_COMM_WORLD_SIZE',
    job: (env) => env.PMIX_NAMESPACE || env.OMPI_MCA_ess_base_jobid || env.OMPI_MCA_orte_ess_jobid || undefined,
  },
  {
    // MPICH's Hydra (mpiexec.hydra), and srun --mpi=pmi2. Hydra has no job id
    // in the environment; under srun the step below gives one.
    name: 'mpich',
    rankVar: 'PMI_RANK',
    sizeVar: () => 'PMI_SIZE',
  },
  {
    // srun. The batch script itself also has SLURM_PROCID=0 and the
    // allocation's SLURM_NTASKS, but no step id: there it is one process, not rank 0 of N.
    name: 'slurm',
    rankVar: 'SLURM_PROCID',
    active: (env) => slurmStep(env) !== undefined,
    sizeVar: (env) => (set(env, 'SLURM_STEP_NUM_TASKS') ? 'SLURM_STEP_NUM_TASKS' : 'SLURM_NTASKS'),
    job: (env) => {
      const job = env.SLURM_JOB_ID || env.SLURM_JOBID;
      const step = slurmStep(env);
      return job && step ? `${job}.${step}` : undefined;
    },
  },
  {
    // An Indexed Job: each pod has its index; the size is the Job's
    // `completions`, which pods are not told: set FMI_SIZE in the pod template.
    name: 'kubernetes',
    rankVar: 'JOB_COMPLETION_INDEX',
  },
];

/**
 * Rank, size and job from the environment: FMI_RANK, FMI_SIZE and FMI_JOB
 * first, then the first scheduler in SCHEDULERS whose rank variable is set.
 * A scheduler's job id is prefixed with its name (`slurm-123.0`); when the
 * rank's scheduler has none, the next one in the list that has one gives it
 * (MPICH's ranks under srun). Throws FMI_CONFIG on a value that is not a
 * number, and when the rank comes from a scheduler that tells no size
 * (Kubernetes) and FMI_SIZE is not set.
 */
export function schedulerEnv(env: NodeJS.ProcessEnv): SchedulerEnv {
  const fmiRank = intFrom(env, 'FMI_RANK');
  const fmiSize = intFrom(env, 'FMI_SIZE');
  const fmiJob = env.FMI_JOB || undefined;
  const at = SCHEDULERS.findIndex((s) => set(env, s.rankVar) && (s.active?.(env) ?? true));
  if (at < 0) return { rank: fmiRank, size: fmiSize, job: fmiJob, scheduler: fmiRank === undefined && fmiSize === undefined ? undefined : 'fmi' };
  const s = SCHEDULERS[at]!;
  const sizeVar = s.sizeVar?.(env);
  const size = fmiSize ?? (sizeVar === undefined ? undefined : intFrom(env, sizeVar));
  if (size === undefined) {
    throw new FmiError('FMI_CONFIG', `${s.rankVar} is set (${s.name}) but nothing gives the job's size: set FMI_SIZE (an Indexed Job's completions)`);
  }
  let job = fmiJob;
  for (let i = at; job === undefined && i < SCHEDULERS.length; i++) {
    const id = SCHEDULERS[i]!.job?.(env);
    if (id !== undefined) job = `${SCHEDULERS[i]!.name}-${id}`;
  }
  return { rank: fmiRank ?? intFrom(env, s.rankVar), size, job, scheduler: fmiRank !== undefined ? 'fmi' : s.name };
}

/** What to tell a user whose ranks have no job id, by where their rank came from. */
export function noJobHint(scheduler: Scheduler | undefined): string {
  switch (scheduler) {
    case 'kubernetes':
      return 'set FMI_JOB in the pod template from the Job\'s uid (fieldRef metadata.labels[\'batch.kubernetes.io/controller-uid\'], see README "Cluster schedulers")';
    case 'mpich':
      return 'MPICH\'s Hydra gives none: pass one to every rank, mpiexec -genv FMI_JOB "$(uuidgen)" ...';
    default:
      return 'set FMI_JOB or start the ranks with `fmi run -n N`';
  }
}

export function intFrom(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new FmiError('FMI_CONFIG', `${name}=${JSON.stringify(v)} is not a number`);
  return n;
}
