/**
 * The Python program that runs exported loss modules on given batches (`runTorchJobs`): it reads a
 * JSON list of jobs from the file named by its first argument, and for each job imports the module
 * file, builds the loss with the job's reduction (and `ignore_index`), and in float64 and float32
 * computes, on logits of any rank and class ids or soft targets, the loss, the
 * perturbed logits, autograd's gradient of the loss's sum and, where the module has one, its
 * closed-form gradient. It writes one JSON object per job to the file named by its second argument;
 * a module that raises gives `{"error": message}` instead. With a third argument `script`, each job
 * is also run on the module compiled by `torch.jit.script`, under the key `scripted`.
 */
export const TORCH_DRIVER = `
import functools
import importlib.util
import json
import math
import sys

import torch

torch.set_num_threads(1)


def flat(x):
    return [v if math.isfinite(v) else None for v in x.detach().reshape(-1).double().tolist()]


@functools.lru_cache(maxsize=None)
def load(path):
    # Once per file: the jobs of one module share its class, which TorchScript compiles once.
    spec = importlib.util.spec_from_file_location('exported_loss', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(job, dtype, scripted=False):
    module = load(job['module'])

    options = {} if job.get('ignore_index') is None else {'ignore_index': job['ignore_index']}

    built = getattr(module, job['className'])(reduction=job['reduction'], **options)
    built.train(job['training'])
    # TorchScript compiles the class once (load) but reads its source again for each module it
    # scripts: one module per job and dtype, its state reset for each quantity.
    loss_fn = torch.jit.script(built) if scripted else built
    initial = {k: v.clone() for k, v in loss_fn.state_dict().items()}

    def fresh():
        # The module as built, for each quantity: a stateful rule's training call moves its state.
        loss_fn.load_state_dict(initial)
        return loss_fn

    logits = torch.tensor(job['logits'], dtype=dtype, requires_grad=True)
    floats = job['task'] == 'multi' or job.get('soft_targets')
    labels = torch.tensor(job['labels'], dtype=dtype if floats else torch.long)
    rows = {}
    for name in ('sample_weight', 'mask'):
        if job.get(name) is not None:
            rows[name] = torch.tensor(job[name], dtype=dtype)
    # The rule's batch inputs (GCL's noise), keyword arguments of forward.
    for name, value in (job.get('batch_inputs') or {}).items():
        rows[name] = torch.tensor(value, dtype=dtype)
    loss = fresh()(logits, labels, **rows)
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    out = {'loss': flat(loss), 'perturbed': flat(fresh().perturb(logits, labels, **rows)), 'autograd': flat(grad)}
    if hasattr(loss_fn, 'gradient'):
        out['gradient'] = flat(fresh().gradient(logits, labels, **rows))
    return out


def main():
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    variants = (False, True) if sys.argv[3:] == ['script'] else (False,)
    results = []
    for job in jobs:
        result = {}
        for scripted in variants:
            out = result.setdefault('scripted', {}) if scripted else result
            for name, dtype in (('float64', torch.float64), ('float32', torch.float32)):
                try:
                    # The compiled graph as written, without the profiling executor's specializations,
                    # which would double the time of a run that calls each graph a few times.
                    with torch.jit.optimized_execution(not scripted):
                        out[name] = run(job, dtype, scripted)
                except Exception as e:
                    out[name] = {'error': f'{type(e).__name__}: {e}'}
        results.append(result)
    with open(sys.argv[2], 'w') as f:
        json.dump(results, f)


main()
`
