import { PYTHON_CALL } from './pythonCall.js'

/**
 * The two-worker run of `lpl audit --python` (docs/audit.md#data-parallel-statistics): two processes
 * (forked by `torch.multiprocessing`, a gloo process group on `tcp://127.0.0.1:PORT`) each construct
 * `CLASS()`, convert it with `.double()` where it allows it, and call forward on their shard of one
 * batch, then backward; the module sees an initialized process group, as it would under
 * `DistributedDataParallel`. Prints one JSON object: `dtype`, each worker's loss and its gradient
 * w.r.t. its own rows, or `error` and `stage`. Epochs and batch inputs (GCL's noise) are passed as
 * the main run passes them.
 */
export const PYTHON_SHARDS_DRIVER = `
import sys, json, math, importlib.util, os, tempfile

path, class_name, batch_path, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

with open(batch_path) as f:
    batch = json.load(f)

def number(x):
    return x if math.isfinite(x) else str(x)

${PYTHON_CALL}

def worker(rank, out_dir):
    try:
        dist.init_process_group('gloo', init_method='tcp://127.0.0.1:' + port, rank=rank, world_size=2)
        spec = importlib.util.spec_from_file_location('audited_module', path)
        source = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(source)
        module = getattr(source, class_name)()
        module.train()
        start, end = batch['shards'][rank]
        result = None
        for dtype in (torch.float64, torch.float32):
            try:
                m = module.double() if dtype == torch.float64 else module.float()
                x = torch.tensor(batch['logits'][start:end], dtype=dtype, requires_grad=True)
                loss = call_module(m, x, batch, dtype, start, end)
                loss.backward()
                g = x.grad if x.grad is not None else torch.zeros_like(x)
                result = {'dtype': 'float64' if dtype == torch.float64 else 'float32', 'loss': number(loss.item()),
                          'gradient': [number(v) for v in g.reshape(-1).tolist()]}
                break
            except Exception as e:
                result = {'error': '%s: %s' % (type(e).__name__, str(e).splitlines()[0] if str(e) else '')}
        dist.barrier()
        dist.destroy_process_group()
    except Exception as e:
        result = {'error': '%s: %s' % (type(e).__name__, str(e).splitlines()[0] if str(e) else '')}
    with open(os.path.join(out_dir, str(rank) + '.json'), 'w') as f:
        json.dump(result, f)

out_dir = tempfile.mkdtemp()
mp.start_processes(worker, args=(out_dir,), nprocs=2, join=True, start_method='fork')
results = []
for rank in range(2):
    with open(os.path.join(out_dir, str(rank) + '.json')) as f:
        results.append(json.load(f))
errors = [r['error'] for r in results if 'error' in r]
if errors:
    sys.stdout.write(json.dumps({'error': errors[0], 'stage': 'call'}))
else:
    sys.stdout.write(json.dumps({'dtype': results[0]['dtype'], 'workers': results}))
`
