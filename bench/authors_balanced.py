"""
The authors' released balanced-data LPL algorithm, for `pnpm bench --backends pytorch` (the
`authors-balanced` row): what `official-balanced` reproduces, computed the way the released code is
structured, with a Python loop over the classes and one-hot matrix products, O(N·C²) per iteration.

Written for the bench from the algorithm as docs/spec.md section 4b and the doc comment of
packages/core/src/rules/official/officialBalanced.ts describe it, not transcribed from the released
code; the bench checks its loss against the exported `official-balanced` module on one batch before
timing either. For logits U [N, C] and labels y, from U = u, R = round(1.1 K) iterations:

    P   = softmax(U)
    n_c = #{i : y_i = c}, n_c := 100 where n_c = 0       (every class then counts as present)
    M   = (onehot(y)^T P) / n_c                          (row c: one-hot column c times P, O(N·C))
    G   = M - I;  G[c, :] /= ||G[:, c]||                 (row c over the norm of column c)
    m_c = M[c, c],  t = mean_c m_c,  sub = t - m,  s = sign(sub)
    a   = alpha * onehot(y) (s * G)                      (the step of every sample, O(N·C²))
    U  <- U + a;  store U;  U <- U + a

Class c takes stored entry K + max(0, r_c), r_c from the first iteration's sub (sorted, the two ends
read): round(sub_c / min(sub) * 0.1K - 1) where sub_c < 0, round(sub_c / max(sub) * 0.1K - 1)
otherwise. The loss is the cross-entropy of u + eta, eta = selected - u held constant (computed
without gradient).

The library's floors, where the released code would divide by zero (a column norm of 0, min(sub) or
max(sub) equal to 0), are kept so that both compute the same numbers on any batch: 1e-15 for the
column norms, 1e-30 in magnitude for min(sub) and max(sub).
"""
import torch
import torch.nn.functional as F


def authors_balanced_perturbation(logits, labels, steps=10, alpha=0.01):
    """The selected logits minus u, eta [N, C], computed without gradient."""
    n, c = logits.shape
    iterations = round(1.1 * steps)  # Python's round: half to even
    with torch.no_grad():
        u = logits.detach()
        one_hot = F.one_hot(labels, c).to(u.dtype)  # [N, C]
        counts = one_hot.sum(0)
        counts[counts == 0] = 100
        eye = torch.eye(c, dtype=u.dtype)
        current = u.clone()
        stored = []
        first_sub = None
        for r in range(iterations):
            probs = torch.softmax(current, dim=1)
            # The class means, one class at a time: row c is one-hot column c times P.
            means = torch.zeros(c, c, dtype=u.dtype)
            for k in range(c):
                means[k] = torch.mm(one_hot[:, k : k + 1].t(), probs)[0] / counts[k]
            g = means - eye
            norms = g.norm(dim=0).clamp(min=1e-15)
            for k in range(c):
                g[k] = g[k] / norms[k]
            diagonal = torch.diagonal(means)
            sub = diagonal.mean() - diagonal
            if r == 0:
                first_sub = sub.clone()
            step = alpha * torch.mm(one_hot, torch.sign(sub).reshape(c, 1) * g)  # [N, C]
            current = current + step
            stored.append(current)
            current = current + step
        ends = torch.sort(first_sub).values
        low, high = float(ends[0]), float(ends[-1])
        low = min(low, -1e-30)
        high = max(high, 1e-30)
        # The entry of every class, then of every sample.
        entries = []
        for k in range(c):
            s = float(first_sub[k])
            ratio = s / low if s < 0 else s / high
            entries.append(steps + max(0, round(ratio * 0.1 * steps - 1)))
        selected = torch.empty_like(u)
        sample_entries = torch.tensor(entries)[labels]
        for e in sample_entries.unique().tolist():
            rows = sample_entries == e
            selected[rows] = stored[e][rows]
        return selected - u


def authors_balanced_loss(logits, labels, steps=10, alpha=0.01):
    """mean_i CE(u_i + eta_i, y_i), eta a constant: the gradient is (softmax(u_i + eta_i) - e_{y_i}) / N."""
    eta = authors_balanced_perturbation(logits, labels, steps, alpha)
    return F.cross_entropy(logits + eta, labels)
