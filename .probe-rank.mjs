const T0 = Number(process.env.T0);
const t = () => Date.now() - T0;
const s = t();
const { init } = await import('fmi');
const imp = t();
let comm;
try {
  comm = await init();
} catch (e) {
  console.log(`rank ${process.env.FMI_RANK} start ${s} import ${imp} init FAILED at ${t()}: ${e.message.slice(0, 80)}`);
  process.exit(1);
}
const ini = t();
await comm.barrier();
console.log(`rank ${comm.rank} start ${s} import ${imp} init ${ini} barrier ${t()}`);
await comm.close();
