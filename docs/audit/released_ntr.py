"""The negative-tolerant regularization as the distribution-balanced loss's released code computes it
(mmdetection's ResampleLoss, Wu et al., ECCV 2020), without its re-weighting and focal term."""
import torch
import torch.nn.functional as F

CLASS_FREQ = [600, 240, 90, 30, 8]
TRAIN_NUM = 1000


class ReleasedNegativeTolerant(torch.nn.Module):
    def __init__(self, neg_scale=2.0, init_bias=0.05):
        super().__init__()
        self.neg_scale = neg_scale
        class_freq = torch.tensor(CLASS_FREQ, dtype=torch.float64)
        self.register_buffer('init_bias', -torch.log(TRAIN_NUM / class_freq - 1) * init_bias / neg_scale)

    def forward(self, cls_score, label):
        cls_score = cls_score + self.init_bias.to(cls_score.dtype)
        logits = cls_score * (1 - label) * self.neg_scale + cls_score * label
        weight = label + (1 - label) / self.neg_scale
        return F.binary_cross_entropy_with_logits(logits, label, weight=weight, reduction='mean')
