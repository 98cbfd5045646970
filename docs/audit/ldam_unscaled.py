"""LDAM (Cao et al., NeurIPS 2019) with margins C/n_c^(1/4) for C = 1: the released code's rescaling
of the largest margin to max_m is left out."""
import torch
import torch.nn.functional as F

COUNTS = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


class UnscaledLDAM(torch.nn.Module):
    def __init__(self, s=30.0):
        super().__init__()
        self.s = s
        self.register_buffer('margins', 1.0 / torch.tensor(COUNTS, dtype=torch.float64) ** 0.25)

    def forward(self, logits, labels):
        margin = self.margins.to(logits.dtype)[labels]
        index = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
        return F.cross_entropy(self.s * (logits - index * margin[:, None]), labels)
