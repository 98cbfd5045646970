import { PYTHON_CALL } from './pythonCall.js'

/**
 * The Python side of `lpl audit --python FILE.py:CLASS`: loads the file, constructs `CLASS()`, and
 * calls `forward(logits, labels)` on each audit batch in order (training mode), on one instance.
 * It converts the module with `.double()` and computes in float64; a module that fails there runs in
 * float32. Probe calls run on deep copies, so that a stateful module's state moves once per batch.
 * An epoch is passed as `forward(..., epoch=e)` when forward takes `epoch`, else set as
 * `module.epoch`; a batch's noise as `forward(..., noise=...)`. It prints one JSON object: `dtype`
 * and the results, or `error` and `stage` (`torch`: this Python has no torch; `load`, `construct`, `call`).
 */
export const PYTHON_DRIVER = `
import sys, json, math, copy, importlib.util

def emit(obj):
    sys.stdout.write(json.dumps(obj))
    sys.stdout.flush()
    sys.exit(0)

def fail(stage, message):
    emit({'error': message, 'stage': stage})

path, class_name, batches_path = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    import torch
except Exception as e:
    fail('torch', 'no torch here: %s: %s' % (type(e).__name__, e))
try:
    spec = importlib.util.spec_from_file_location('audited_module', path)
    source = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(source)
except Exception as e:
    fail('load', '%s does not load: %s: %s' % (path, type(e).__name__, e))
cls = getattr(source, class_name, None)
if cls is None:
    fail('load', '%s has no %s' % (path, class_name))
try:
    module = cls()
except Exception as e:
    fail('construct', '%s() does not construct: %s: %s' % (class_name, type(e).__name__, e))
if not isinstance(module, torch.nn.Module):
    fail('construct', '%s() is not a torch.nn.Module' % class_name)
module.train()
with open(batches_path) as f:
    batches = json.load(f)

def number(x):
    return x if math.isfinite(x) else str(x)

${PYTHON_CALL}
def run(m, batch, dtype):
    u = torch.tensor(batch['logits'], dtype=dtype)
    probes = []
    h = batch['probe']['h']
    with torch.no_grad():
        for v in batch['probe']['directions']:
            d = torch.tensor(v, dtype=dtype).reshape(u.shape)
            plus = call_module(copy.deepcopy(m), u + h * d, batch, dtype).item()
            minus = call_module(copy.deepcopy(m), u - h * d, batch, dtype).item()
            probes.append(number((plus - minus) / (2 * h)))
    x = u.clone().requires_grad_(True)
    loss = call_module(m, x, batch, dtype)
    if loss.requires_grad:
        loss.backward()
    gradient = x.grad if x.grad is not None else torch.zeros_like(x)
    return {'loss': number(loss.item()), 'gradient': [number(g) for g in gradient.reshape(-1).tolist()], 'probes': probes}

def run_all(m, dtype):
    out = []
    for batch in batches:
        try:
            out.append(run(m, batch, dtype))
        except Exception as e:
            if not out:
                raise
            message = ('%s: %s' % (type(e).__name__, e)).splitlines()[0]
            out.append({'loss': 'nan', 'gradient': [], 'probes': [], 'error': message})
    return out

fresh = copy.deepcopy(module)
try:
    emit({'dtype': 'float64', 'results': run_all(copy.deepcopy(module).double(), torch.float64)})
except SystemExit:
    raise
except Exception:
    pass
try:
    emit({'dtype': 'float32', 'results': run_all(fresh.float(), torch.float32)})
except SystemExit:
    raise
except Exception as e:
    fail('call', '%s.forward fails on the first batch: %s: %s' % (class_name, type(e).__name__, str(e).splitlines()[0] if str(e) else ''))
`
