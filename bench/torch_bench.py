"""
The `pytorch` backend of `pnpm bench` (bench/pytorch.ts writes the job and reads the output).

    python3 bench/torch_bench.py JOB.json

For every shape, batch and row of the job it times forward plus backward of one loss on float32
logits that require grad: torch's own `F.cross_entropy` (`torch-ce`, the baseline),
`F.binary_cross_entropy_with_logits` (`torch-bce`, the baseline of the multi-label rows), the
modules `exportTorchModule` wrote, and `authors-balanced` (bench/authors_balanced.py). It prints one
JSON object a line: `{"type": "info"}` first, `{"type": "check"}` for the check of authors-balanced
against the exported official-balanced module (float64; it exits with status 3 when they differ),
then `{"type": "cell"}` per measurement.

One process: the parent imports torch and computes nothing; each cell runs in a child forked from
it, so that every cell starts from the same state (no allocator cache or memory peak left by an
earlier cell) while all cells run one after the other in one process tree. In the child:

- memory: the peak resident memory of one call above the resident memory just before it. Freed
  memory is handed back to the system first (glibc's malloc_trim) and the kernel's high-water mark
  is reset (`/proc/self/clear_refs` <- 5), so the peak is VmHWM after the call minus VmRSS before it
  (`/proc/self/status`). Torch's CPU allocator is malloc, so this counts every tensor of the call,
  the gradient included, and the free blocks glibc's heap keeps for later (it raises its mmap
  threshold to the largest block freed); with `exactMemory` the parent fixes that threshold at
  64 KiB first (`fixed_mmap_threshold`), so that a freed block leaves the count at once. Measured on the second call (the first one's one-time costs are left out),
  or on the first when it is the only one. Where clear_refs cannot be written, the delta of
  getrusage's ru_maxrss over the first call.
- time: the median over repetitions after warm-up, in rounds that also time `F.cross_entropy` on the
  same logits and labels (and `F.binary_cross_entropy_with_logits` for multi-label rows), so that
  a ratio is of calls made in the same seconds; the module is also timed with
  `check_values=False` when its call is under a second. A first call longer than `onceSeconds` is
  the measurement itself (`repetitions: 1`). The parent stops a first call that runs longer than
  `stopSeconds` or whose peak resident memory rises `memoryCapBytes` above that before it, and
  reports what it had reached (lower bounds).
"""
import ctypes
import gc
import importlib.util
import json
import math
import os
import resource
import select
import signal
import sys
import time
import traceback

import torch
import torch.nn.functional as F

# bench/authors_balanced.py, imported without leaving a __pycache__ folder in the repository.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from authors_balanced import authors_balanced_loss  # noqa: E402


def emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def status_kib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'no {field} in /proc/self/status')


def reset_peak():
    """Resets the kernel's resident high-water mark of this process; False where it cannot."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def trim():
    """Returns the allocator's free memory to the system (glibc's malloc_trim), where there is one."""
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


# glibc's mallopt parameter number of M_MMAP_THRESHOLD.
M_MMAP_THRESHOLD = -3


def fixed_mmap_threshold(nbytes=64 * 1024):
    """Every block of `nbytes` or more is mapped on its own and unmapped when freed (glibc's
    M_MMAP_THRESHOLD, which also turns off its dynamic threshold): the resident peak is then the
    peak of the tensors alive, not of the freed blocks the heap keeps for later. Without it, glibc
    raises the threshold to the largest block freed so far, and a call that frees and makes many
    [N, C] arrays peaks with the free ones counted. Every large allocation then maps fresh pages,
    so times are far slower. Set once in the parent; the children inherit it. False where there is
    no glibc."""
    try:
        return ctypes.CDLL('libc.so.6').mallopt(M_MMAP_THRESHOLD, nbytes) == 1
    except (OSError, AttributeError):
        return False


def load_module(path, class_name, check_values=True):
    spec = importlib.util.spec_from_file_location('exported_' + os.path.basename(path)[:-3].replace('-', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, class_name)(check_values=check_values)


def read_batch(batch, n, c):
    with open(batch['logits'], 'rb') as f:
        logits = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(n, c).clone()
    with open(batch['labels'], 'rb') as f:
        labels = torch.frombuffer(bytearray(f.read()), dtype=torch.int32).to(torch.long)
    return logits, labels


def multi_hot(labels, c):
    """A 0/1 target [N, C] for the multi-label rows: sample i's class and the class of sample i − 1."""
    target = F.one_hot(labels, c).float()
    return torch.maximum(target, F.one_hot(torch.roll(labels, 1), c).float())


def loss_of(row, labels, c, check_values=True):
    """The loss function of a row, of the logits it is given."""
    if row['kind'] == 'torch-ce':
        return lambda x: F.cross_entropy(x, labels)
    if row['kind'] == 'torch-bce':
        target = multi_hot(labels, c)
        return lambda x: F.binary_cross_entropy_with_logits(x, target)
    if row['kind'] == 'authors-balanced':
        return lambda x: authors_balanced_loss(x, labels, row.get('steps', 10), row.get('alpha', 0.01))
    module = load_module(row['module'], row['className'], check_values=check_values)
    target = multi_hot(labels, c) if row['task'] == 'multi' else labels
    return lambda x: module(x, target)


def median(times):
    times = sorted(times)
    return times[len(times) // 2]


def measure(job, shape, batch, row, report):
    """One cell, in a forked child: `report` sends the parent a line before and after the first call."""
    n, c = shape['n'], shape['c']
    logits, labels = read_batch(batch, n, c)
    fn = loss_of(row, labels, c)
    x = logits.clone().requires_grad_(True)

    def call_of(f):
        def call():
            x.grad = None
            loss = f(x)
            loss.backward()
            return float(loss)

        return call

    call = call_of(fn)
    gc.collect()
    trim()
    peak_reset = reset_peak()
    rss_before = status_kib('VmRSS')
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report({'phase': 'start', 'rssBeforeKiB': rss_before, 'peakReset': peak_reset})
    t = time.perf_counter()
    loss = call()
    first = time.perf_counter() - t
    if peak_reset:
        memory = (status_kib('VmHWM') - rss_before) * 1024
    else:
        memory = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before) * 1024
    report({'phase': 'first'})
    out = {
        'loss': loss,
        'firstMs': 1000 * first,
        'memoryBytes': memory,
        'memoryKind': 'peak rss' if peak_reset else 'maxrss delta',
        'gradFinite': bool(torch.isfinite(x.grad).all()),
    }
    # The baselines, timed in the same process interleaved with the row: F.cross_entropy on the same
    # logits and labels, and for multi-label rows F.binary_cross_entropy_with_logits on their target.
    baselines = {'ceMs': call if row['kind'] == 'torch-ce' else call_of(loss_of({'kind': 'torch-ce'}, labels, c))}
    if row['task'] == 'multi':
        baselines['bceMs'] = call if row['kind'] == 'torch-bce' else call_of(loss_of({'kind': 'torch-bce'}, labels, c))
    if first > job['onceSeconds']:
        out.update(medianMs=1000 * first, repetitions=1, once=True, memoryKind=out['memoryKind'] + ', first call')
        for key, f in baselines.items():
            f()
            out[key] = 1000 * median([timed(f) for _ in range(5)])
        return out
    # The memory of a call after the first, as in training: freed memory handed back to the system
    # first (malloc_trim), so that the call's reuse of it counts again.
    warm = []
    if peak_reset:
        gc.collect()
        trim()
        reset_peak()
        rss_before = status_kib('VmRSS')
        warm.append(timed(call))
        out.update(
            firstCallMemoryBytes=memory,
            memoryBytes=(status_kib('VmHWM') - rss_before) * 1024,
            memoryKind='peak rss, second call',
        )
    # Timed in rounds: the row, with check_values=False (a module's call under a second), and the
    # baselines. Each runs a few times in a row within a round (5 times for the baselines, 3 for a
    # row under 50 ms), so that the medians are of calls that follow calls of their own, as in a
    # loop of one loss, while the rounds interleave them in time.
    calls = {'medianMs': call}
    if row['kind'] == 'module' and first < 1:
        calls['checksOffMs'] = call_of(loss_of(row, labels, c, check_values=False))
    calls.update((key, f) for key, f in baselines.items() if f is not call)
    block = {key: 5 if key in baselines else 3 if first < 0.05 else 1 for key in calls}
    # Warm-up: at least 3 rounds and 0.1 s, unless a round takes longer than the cell's budget.
    rounds, elapsed, fastest = 0, 0.0, math.inf
    while rounds < 3 or elapsed < 0.1:
        round_time = sum(timed(f) for key, f in calls.items() for _ in range(block[key]))
        rounds, elapsed, fastest = rounds + 1, elapsed + round_time, min(fastest, round_time)
        if elapsed >= job['budgetSeconds']:
            break
    repetitions = max(job['minRepetitions'], min(50, math.floor(job['budgetSeconds'] / fastest)))
    times = {key: [] for key in calls}
    for _ in range(repetitions):
        for key, f in calls.items():
            times[key].extend(timed(f) for _ in range(block[key]))
    out.update(repetitions=repetitions, once=False)
    for key, values in times.items():
        out[key] = 1000 * median(values)
    for key, f in baselines.items():
        if f is call:
            out[key] = out['medianMs']
    return out


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def in_child(fn, stop_seconds=None, memory_cap=None):
    """
    Runs fn(report) in a child forked from this process; returns its JSON result (or {'error': ...}).
    Between the child's reports 'start' and 'first' (its first call), the call is stopped after
    stop_seconds or once its peak resident memory is memory_cap bytes above that before it.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        out = os.fdopen(write, 'w')

        def report(obj):
            out.write(json.dumps(obj) + '\n')
            out.flush()

        try:
            result = fn(report)
        except BaseException as e:  # noqa: BLE001 (reported, never raised in the child)
            result = {'error': f'{type(e).__name__}: {e}', 'traceback': traceback.format_exc()}
        report({'phase': 'done', **result})
        out.close()
        os._exit(0)
    os.close(write)
    buffer, started, first_done, result = b'', None, False, None
    while result is None:
        ready, _, _ = select.select([read], [], [], 0.2)
        if ready:
            chunk = os.read(read, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            while b'\n' in buffer:
                line, buffer = buffer.split(b'\n', 1)
                message = json.loads(line)
                if message['phase'] == 'start':
                    started = (time.perf_counter(), message['rssBeforeKiB'])
                elif message['phase'] == 'first':
                    first_done = True
                elif message['phase'] == 'done':
                    result = message
        if started is not None and not first_done and result is None:
            elapsed = time.perf_counter() - started[0]
            try:
                above = (child_status_kib(pid, 'VmHWM') - started[1]) * 1024
            except (OSError, RuntimeError):
                above = 0
            by = 'time' if stop_seconds is not None and elapsed > stop_seconds else None
            by = 'memory' if memory_cap is not None and above > memory_cap else by
            if by is not None:
                os.kill(pid, signal.SIGKILL)
                result = {
                    'stoppedAfterMs': 1000 * elapsed,
                    'stoppedBy': by,
                    'memoryBytes': above,
                    'memoryKind': 'peak rss when stopped (a lower bound)',
                    'repetitions': 0,
                }
    os.close(read)
    _, status = os.waitpid(pid, 0)
    if result is None:
        return {'error': f'the measuring process died (wait status {status})'}
    result.pop('phase', None)
    return result


def child_status_kib(pid, field):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'no {field} in /proc/{pid}/status')


def check_authors(job, check):
    """Compares authors-balanced's loss with the exported official-balanced module's on one batch, in float64."""
    n, c = check['n'], check['c']
    logits, labels = read_batch(check['batch'], n, c)
    x = logits.double()
    module = load_module(check['module'], check['className'])
    library = float(module(x, labels))
    authors = float(authors_balanced_loss(x, labels, check.get('steps', 10), check.get('alpha', 0.01)))
    relative = abs(library - authors) / max(abs(authors), 1e-300)
    return {'n': n, 'c': c, 'batch': check['batchName'], 'officialBalanced': library, 'authorsBalanced': authors, 'relative': relative}


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    mapped = job.get('exactMemory', False) and fixed_mmap_threshold()
    emit({'type': 'info', 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'python': sys.version.split()[0], 'mmapThreshold': mapped})
    for check in job.get('checks', []):
        result = in_child(lambda report: check_authors(job, check))
        emit({'type': 'check', 'tolerance': job['checkTolerance'], **result})
        if 'error' in result or not result['relative'] <= job['checkTolerance']:
            sys.stderr.write(f'authors-balanced and official-balanced disagree: {json.dumps(result)}\n')
            sys.exit(3)
    for shape in job['shapes']:
        for batch_name, batch in shape['batches'].items():
            group_ce = None
            for row in shape['rows']:
                result = in_child(
                    lambda report: measure(job, shape, batch, row, report),
                    stop_seconds=job['stopSeconds'],
                    memory_cap=job['memoryCapBytes'],
                )
                if 'error' in result:
                    sys.stderr.write(result.pop('traceback', ''))
                cell = {'type': 'cell', 'n': shape['n'], 'c': shape['c'], 'batch': batch_name, 'row': row['row'], **result}
                if row['kind'] == 'torch-ce' and 'medianMs' in result:
                    group_ce = result
                # Time over the baselines timed in the same process, interleaved with the row.
                if 'medianMs' in result and 'ceMs' in result:
                    cell['ratioToCe'] = result['medianMs'] / result['ceMs']
                if 'medianMs' in result and 'bceMs' in result:
                    cell['ratioToBce'] = result['medianMs'] / result['bceMs']
                if 'stoppedAfterMs' in result and group_ce is not None:
                    cell['ratioToCeAtLeast'] = result['stoppedAfterMs'] / group_ce['medianMs']
                if 'memoryBytes' in result and group_ce is not None:
                    # Like with like: a cell measured on its first call only against CE's first call.
                    second = result.get('memoryKind', '').endswith('second call')
                    ce_memory = group_ce['memoryBytes'] if second else group_ce.get('firstCallMemoryBytes', group_ce['memoryBytes'])
                    cell['memoryAboveCeBytes'] = result['memoryBytes'] - ce_memory
                emit(cell)


main()
