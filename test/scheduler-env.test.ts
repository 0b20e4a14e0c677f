import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FmiError, init, Op, RendezvousServer } from '../src/index.js';
import { schedulerEnv } from '../src/comm/scheduler-env.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The variables Open MPI 4.1's mpirun gave rank 1 of 2 on this machine (`mpirun -np 2 env`). */
const OMPI = { OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_MCA_ess_base_jobid: '1530920961', PMIX_NAMESPACE: '1530920961', PMIX_RANK: '1' };
/** srun -n 8, task 3, job 4242, its second step. */
const SRUN = { SLURM_PROCID: '3', SLURM_NTASKS: '8', SLURM_STEP_NUM_TASKS: '8', SLURM_JOB_ID: '4242', SLURM_STEP_ID: '1', SLURM_LOCALID: '1', SLURM_NODEID: '0' };
/** The batch script of a job with --ntasks=4: one process, though SLURM_PROCID and SLURM_NTASKS are there. */
const BATCH = { SLURM_PROCID: '0', SLURM_NTASKS: '4', SLURM_JOB_ID: '4242', SLURM_LOCALID: '0' };

function configError(fn: () => unknown): FmiError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FmiError);
    expect((err as FmiError).code).toBe('FMI_CONFIG');
    return err as FmiError;
  }
  throw new Error('expected an FMI_CONFIG error');
}

describe('scheduler env - where rank, size and job come from', () => {
  it('nothing set: nothing found (init makes a job of one rank)', () => {
    expect(schedulerEnv({})).toEqual({ rank: undefined, size: undefined, job: undefined, scheduler: undefined });
    expect(schedulerEnv(BATCH)).toEqual({ rank: undefined, size: undefined, job: undefined, scheduler: undefined });
  });

  it('FMI_* as fmi run sets them', () => {
    expect(schedulerEnv({ FMI_RANK: '2', FMI_SIZE: '4', FMI_JOB: 'j' })).toEqual({ rank: 2, size: 4, job: 'j', scheduler: 'fmi' });
  });

  it('Open MPI: OMPI_COMM_WORLD_RANK/SIZE, job from PMIX_NAMESPACE (4.x and 5.x forms)', () => {
    expect(schedulerEnv(OMPI)).toEqual({ rank: 1, size: 2, job: 'openmpi-1530920961', scheduler: 'openmpi' });
    expect(schedulerEnv({ ...OMPI, PMIX_NAMESPACE: 'prterun-node7-81234@1' }).job).toBe('openmpi-prterun-node7-81234@1');
    const { PMIX_NAMESPACE: _, ...older } = OMPI;
    expect(schedulerEnv(older).job).toBe('openmpi-1530920961');
  });

  it('MPICH Hydra: PMI_RANK/PMI_SIZE and no job id; under srun the step gives it', () => {
    expect(schedulerEnv({ PMI_RANK: '2', PMI_SIZE: '4', PMI_FD: '9' })).toEqual({ rank: 2, size: 4, job: undefined, scheduler: 'mpich' });
    expect(schedulerEnv({ ...SRUN, PMI_RANK: '3', PMI_SIZE: '8' })).toEqual({ rank: 3, size: 8, job: 'slurm-4242.1', scheduler: 'mpich' });
  });

  it('SLURM: SLURM_PROCID and the step\'s task count inside srun, job id with the step', () => {
    expect(schedulerEnv(SRUN)).toEqual({ rank: 3, size: 8, job: 'slurm-4242.1', scheduler: 'slurm' });
    expect(schedulerEnv({ ...SRUN, SLURM_STEP_NUM_TASKS: undefined }).size).toBe(8);
    expect(schedulerEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_JOBID: '7', SLURM_STEPID: '0' })).toEqual({ rank: 0, size: 2, job: 'slurm-7.0', scheduler: 'slurm' });
  });

  it('mpirun inside a SLURM step: the MPI launcher\'s rank wins over SLURM_PROCID (a node number there)', () => {
    expect(schedulerEnv({ ...SRUN, SLURM_PROCID: '0', SLURM_NTASKS: '2', ...OMPI })).toMatchObject({ rank: 1, size: 2, job: 'openmpi-1530920961', scheduler: 'openmpi' });
  });

  it('Kubernetes Indexed Job: JOB_COMPLETION_INDEX with FMI_SIZE, job from FMI_JOB', () => {
    expect(schedulerEnv({ JOB_COMPLETION_INDEX: '5', FMI_SIZE: '8', FMI_JOB: 'uid-1' })).toEqual({ rank: 5, size: 8, job: 'uid-1', scheduler: 'kubernetes' });
    expect(configError(() => schedulerEnv({ JOB_COMPLETION_INDEX: '5' })).message).toMatch(/JOB_COMPLETION_INDEX is set \(kubernetes\).*set FMI_SIZE/);
  });

  it('FMI_* win, each on its own', () => {
    expect(schedulerEnv({ ...OMPI, FMI_JOB: 'mine' })).toMatchObject({ rank: 1, size: 2, job: 'mine' });
    expect(schedulerEnv({ ...SRUN, FMI_RANK: '0', FMI_SIZE: '3' })).toEqual({ rank: 0, size: 3, job: 'slurm-4242.1', scheduler: 'fmi' });
  });

  it('a value that is not a number is an FMI_CONFIG error naming the variable', () => {
    expect(configError(() => schedulerEnv({ ...OMPI, OMPI_COMM_WORLD_SIZE: 'two' })).message).toContain('OMPI_COMM_WORLD_SIZE="two" is not a number');
    expect(configError(() => schedulerEnv({ ...SRUN, SLURM_PROCID: 'x' })).message).toContain('SLURM_PROCID');
  });
});

describe('scheduler env - init()', () => {
  it('two ranks from SLURM variables join one job named after the step', async () => {
    const server = new RendezvousServer({ host: '127.0.0.1', port: 0 });
    const addr = await server.listen();
    const env = (rank: number) => ({ SLURM_PROCID: String(rank), SLURM_NTASKS: '2', SLURM_JOB_ID: String(Date.now()), SLURM_STEP_ID: '0', FMI_RENDEZVOUS: `${addr.host}:${addr.port}` });
    const e0 = env(0);
    const comms = await Promise.all([init({ env: e0 }), init({ env: { ...env(1), SLURM_JOB_ID: e0.SLURM_JOB_ID } })]);
    try {
      expect(comms.map((c) => [c.rank, c.size, c.job])).toEqual([0, 1].map((r) => [r, 2, `slurm-${e0.SLURM_JOB_ID}.0`]));
      expect(await Promise.all(comms.map((c) => c.allreduce(c.rank + 1, Op.SUM)))).toEqual([3, 3]);
    } finally {
      await Promise.all(comms.map((c) => c.close()));
      await server.close();
    }
  });

  it('no job id where the scheduler gives none: the error says how to set one', async () => {
    const rv = { FMI_RENDEZVOUS: '127.0.0.1:1' };
    await expect(init({ env: { ...rv, JOB_COMPLETION_INDEX: '1', FMI_SIZE: '4' } })).rejects.toThrow(/no job id: set FMI_JOB in the pod template from the Job's uid/);
    await expect(init({ env: { ...rv, PMI_RANK: '1', PMI_SIZE: '4' } })).rejects.toThrow(/no job id: MPICH's Hydra gives none: .*-genv FMI_JOB/);
  });
});

describe('scheduler env - under Open MPI\'s mpirun', () => {
  it('mpirun -np 3 node x.mjs: the ranks find each other and allreduce', async () => {
    const server = new RendezvousServer({ host: '127.0.0.1', port: 0, requireSecret: true });
    const addr = await server.listen();
    // mpirun hands its own environment to the ranks it starts on this host (-x NAME for other hosts).
    const env = { ...process.env, FMI_RENDEZVOUS: `${addr.host}:${addr.port}`, FMI_SECRET: randomBytes(32).toString('base64') };
    for (const k of ['FMI_RANK', 'FMI_SIZE', 'FMI_JOB']) delete env[k];
    const args = ['--allow-run-as-root', '--oversubscribe', '-np', '3', process.execPath, `${root}test/fixtures/scheduler-rank.mjs`];
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn('mpirun', args, { cwd: root, env });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      const t = setTimeout(() => p.kill('SIGKILL'), 50_000);
      p.on('error', reject);
      p.on('exit', (code) => {
        clearTimeout(t);
        resolve({ code, stdout, stderr });
      });
    }).finally(() => server.close());
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { rank: number; size: number; job: string; sum: number });
    expect(lines.map((l) => l.rank).sort()).toEqual([0, 1, 2]);
    for (const l of lines) expect(l).toMatchObject({ size: 3, sum: 6, job: lines[0]!.job });
    expect(lines[0]!.job).toMatch(/^openmpi-\S+$/);
    expect(lines[0]!.job).not.toBe(`openmpi-${randomUUID()}`);
  });
});
