/**
 * Python shared by the audit's drivers: how a module under audit is called on (rows of) a batch.
 * `forward(logits, labels, **kwargs)`: a batch's noise as `noise=` when forward takes it; its epoch
 * as `epoch=` when forward takes it, else set as `module.epoch`.
 */
export const PYTHON_CALL = `
def call_module(m, logits, batch, dtype, start=0, end=None):
    import inspect
    params = inspect.signature(m.forward).parameters
    labels = torch.tensor(batch['labels'][start:end], dtype=dtype if batch['task'] == 'multi' else torch.long)
    kwargs = {}
    if 'noise' in batch and 'noise' in params:
        kwargs['noise'] = torch.tensor(batch['noise'][start:end], dtype=dtype)
    if 'epoch' in batch:
        if 'epoch' in params:
            kwargs['epoch'] = batch['epoch']
        else:
            m.epoch = batch['epoch']
    loss = m(logits, labels, **kwargs)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError('forward must return the batch loss, a tensor of one element')
    return loss.reshape(())
`
