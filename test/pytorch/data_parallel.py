"""Exported loss modules trained with DistributedDataParallel against one process on the whole batch.

    python3 data_parallel.py MANIFEST.json OUT.json WORLD_SIZE [WORLD_SIZE ...]

MANIFEST.json maps a case name to {"file": path of an exported module, "className": its class}.
For each world size W, W CPU workers (gloo on 127.0.0.1, started by torch.multiprocessing.spawn)
train a small linear model wrapped in DistributedDataParallel for a few SGD steps; each worker sees
an uneven shard of every batch (the last worker of three sees none). Each step records the
perturbation delta = z - u of every sample, the loss of the whole batch (the sum of the workers'
losses) and the parameter gradients; one process on the whole batch records the same. Each loss is
run with all_reduce on and off. OUT.json gets, per case, world size and setting, the largest
absolute difference of each quantity from the single process.
"""
import importlib.util
import json
import socket
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

FEATURES = 5
CLASSES = 6
BATCH = 20
STEPS = 3
LEARNING_RATE = 0.5
# The shard sizes of each world size: uneven, and with three workers one empty shard.
SHARDS = {1: [BATCH], 2: [13, 7], 3: [12, 8, 0]}


def load(entry):
    spec = importlib.util.spec_from_file_location('exported_loss', entry['file'])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, entry['className'])


def batches():
    """STEPS long-tailed batches: features [BATCH, FEATURES] and labels [BATCH]."""
    g = torch.Generator().manual_seed(7)
    prior = torch.tensor([0.4, 0.25, 0.15, 0.1, 0.06, 0.04], dtype=torch.float64)
    out = []
    for _ in range(STEPS):
        labels = torch.multinomial(prior, BATCH, replacement=True, generator=g)
        features = torch.randn(BATCH, FEATURES, generator=g, dtype=torch.float64) + 0.8 * labels[:, None]
        out.append((features, labels))
    return out


def model():
    torch.manual_seed(3)
    return torch.nn.Linear(FEATURES, CLASSES).double()


def train(entry, world, rank, all_reduce):
    """Per step: this worker's delta rows, its loss and the gradients (averaged by DDP when world > 1)."""
    net = model()
    wrapped = DistributedDataParallel(net) if world > 1 else net
    loss_fn = load(entry)(all_reduce=all_reduce)
    optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE)
    start = sum(SHARDS[world][:rank])
    rows = slice(start, start + SHARDS[world][rank])
    steps = []
    for features, labels in batches():
        x, y = features[rows], labels[rows]
        logits = wrapped(x)
        # The perturbation as this step's loss sees it: perturb before the training call, in eval
        # mode, so that a stateful rule does not move its state twice.
        loss_fn.eval()
        delta = loss_fn.perturb(logits.detach(), y) - logits.detach()
        loss_fn.train()
        loss = loss_fn(logits, y)
        optimizer.zero_grad()
        # DDP averages the workers' gradients; their losses add up to the batch's: scale by W.
        (loss * world).backward()
        steps.append({
            'delta': delta.tolist(),
            'loss': loss.item(),
            'grads': [p.grad.reshape(-1).tolist() for p in net.parameters()],
        })
        optimizer.step()
    return steps


def worker(rank, world, port, manifest, results):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
    out = {}
    for name, entry in manifest.items():
        for all_reduce in (True, False):
            steps = train(entry, world, rank, all_reduce)
            gathered = [None] * world
            dist.all_gather_object(gathered, steps)
            out[f'{name}/{all_reduce}'] = gathered
    if rank == 0:
        results.put(out)
    dist.barrier()
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def largest_difference(a, b):
    a, b = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    return float((a - b).abs().max()) if a.numel() else 0.0


def compare(single, workers):
    """The largest difference of delta, loss and gradients over the steps."""
    out = {'delta': 0.0, 'loss': 0.0, 'grads': 0.0}
    for t, expected in enumerate(single):
        delta = [row for shard in workers for row in shard[t]['delta']]
        loss = sum(shard[t]['loss'] for shard in workers)
        out['delta'] = max(out['delta'], largest_difference(delta, expected['delta']))
        out['loss'] = max(out['loss'], abs(loss - expected['loss']))
        for got, want in zip(workers[0][t]['grads'], expected['grads']):
            out['grads'] = max(out['grads'], largest_difference(got, want))
    return out


def main():
    manifest_file, out_file, *worlds = sys.argv[1:]
    with open(manifest_file) as f:
        manifest = json.load(f)
    torch.set_num_threads(1)
    single = {name: train(entry, 1, 0, True) for name, entry in manifest.items()}
    report = {}
    context = mp.get_context('spawn')
    for world in map(int, worlds):
        results = context.SimpleQueue()
        mp.spawn(worker, args=(world, free_port(), manifest, results), nprocs=world, join=True)
        runs = results.get()
        for name in manifest:
            for all_reduce in (True, False):
                setting = 'all_reduce' if all_reduce else 'per_shard'
                report[f'{name} W={world} {setting}'] = compare(single[name], runs[f'{name}/{all_reduce}'])
    with open(out_file, 'w') as f:
        json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
