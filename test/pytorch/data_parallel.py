"""Exported loss modules trained with DistributedDataParallel against one process on the whole batch.

    python3 data_parallel.py MANIFEST.json OUT.json WORLD_SIZE [WORLD_SIZE ...]

MANIFEST.json maps a case name to {"file": path of an exported module, "className": its class},
and for a dense case "dense": true and, optionally, the module's "ignore_index". For each world size
W, W CPU workers (gloo on 127.0.0.1, started by torch.multiprocessing.spawn) train a small linear
model wrapped in DistributedDataParallel for a few SGD steps; each worker sees an uneven shard of
every batch (the last worker of three sees none). A dense case's samples are images: the model maps
each pixel's features to logits [n, C, H, W], and some pixels carry the ignore label. Each step
records the perturbation delta = z - u of every sample, the loss of the whole batch (the sum of the
workers' losses), the parameter gradients and the loss's state after the step; one process on the
whole batch records the same. Each loss is run with all_reduce on and off. OUT.json gets, per case,
world size and setting, the largest absolute difference of each quantity from the single process.
"""
import importlib.util
import json
import os
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
# The pixels of a dense case's images, and how often a pixel is unlabelled.
HEIGHT = 3
WIDTH = 4
IGNORED_SHARE = 0.2
PRIOR = [0.4, 0.25, 0.15, 0.1, 0.06, 0.04]


def load(entry, all_reduce):
    spec = importlib.util.spec_from_file_location('exported_loss', entry['file'])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    options = {} if entry.get('ignore_index') is None else {'ignore_index': entry['ignore_index']}
    return getattr(module, entry['className'])(all_reduce=all_reduce, **options)


def batches(entry):
    """STEPS long-tailed batches: features [BATCH, FEATURES] and labels [BATCH]; dense cases
    [BATCH, HEIGHT, WIDTH, FEATURES] and [BATCH, HEIGHT, WIDTH], with ignored pixels."""
    g = torch.Generator().manual_seed(7)
    prior = torch.tensor(PRIOR, dtype=torch.float64)
    shape = torch.Size((BATCH, HEIGHT, WIDTH) if entry.get('dense') else (BATCH,))
    ignore_index = entry.get('ignore_index', -100)
    out = []
    for _ in range(STEPS):
        labels = torch.multinomial(prior, shape.numel(), replacement=True, generator=g).reshape(shape)
        features = torch.randn(*shape, FEATURES, generator=g, dtype=torch.float64) + 0.8 * labels[..., None]
        if entry.get('dense'):
            labels = labels.masked_fill(torch.rand(shape, generator=g) < IGNORED_SHARE, ignore_index)
        out.append((features, labels))
    return out


def model():
    torch.manual_seed(3)
    return torch.nn.Linear(FEATURES, CLASSES).double()


def train(entry, world, rank, all_reduce):
    """Per step: this worker's delta rows, its loss, the gradients (averaged by DDP when world > 1)
    and the loss's state after the step."""
    net = model()
    wrapped = DistributedDataParallel(net) if world > 1 else net
    loss_fn = load(entry, all_reduce)
    optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE)
    start = sum(SHARDS[world][:rank])
    rows = slice(start, start + SHARDS[world][rank])
    steps = []
    for features, labels in batches(entry):
        x, y = features[rows], labels[rows]
        logits = wrapped(x)
        if entry.get('dense'):
            # Per-pixel logits [n, H, W, C] as a segmentation network gives them: [n, C, H, W].
            logits = logits.movedim(-1, 1)
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
            'state': [v for t in loss_fn.state_dict().values() for v in t.reshape(-1).tolist()],
        })
        optimizer.step()
    return steps


def worker(rank, world, port, manifest, runs_file):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
    out = {}
    for name, entry in manifest.items():
        for all_reduce in (True, False):
            steps = train(entry, world, rank, all_reduce)
            gathered = [None] * world
            dist.all_gather_object(gathered, steps)
            out[f'{name}/{all_reduce}'] = gathered
    if rank == 0:
        # A file, not a queue: a queue's pipe fills with a dense case's results before anyone reads it.
        with open(runs_file, 'w') as f:
            json.dump(out, f)
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
    """The largest difference of delta, loss, gradients and every worker's state over the steps."""
    out = {'delta': 0.0, 'loss': 0.0, 'grads': 0.0, 'state': 0.0}
    for t, expected in enumerate(single):
        delta = [row for shard in workers for row in shard[t]['delta']]
        loss = sum(shard[t]['loss'] for shard in workers)
        out['delta'] = max(out['delta'], largest_difference(delta, expected['delta']))
        out['loss'] = max(out['loss'], abs(loss - expected['loss']))
        for got, want in zip(workers[0][t]['grads'], expected['grads']):
            out['grads'] = max(out['grads'], largest_difference(got, want))
        for shard in workers:
            out['state'] = max(out['state'], largest_difference(shard[t]['state'], expected['state']))
    return out


def main():
    manifest_file, out_file, *worlds = sys.argv[1:]
    with open(manifest_file) as f:
        manifest = json.load(f)
    torch.set_num_threads(1)
    single = {name: train(entry, 1, 0, True) for name, entry in manifest.items()}
    report = {}
    for world in map(int, worlds):
        runs_file = f'{out_file}.world-{world}'
        mp.spawn(worker, args=(world, free_port(), manifest, runs_file), nprocs=world, join=True)
        with open(runs_file) as f:
            runs = json.load(f)
        os.remove(runs_file)
        for name in manifest:
            for all_reduce in (True, False):
                setting = 'all_reduce' if all_reduce else 'per_shard'
                report[f'{name} W={world} {setting}'] = compare(single[name], runs[f'{name}/{all_reduce}'])
    with open(out_file, 'w') as f:
        json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
