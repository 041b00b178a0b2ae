"""PyTorch modules for Recur layers that PyTorch has no module for; train
with them, and recur.from_torch maps them (needs torch).

    from recur.torch_modules import Attention
    attend = Attention("general", query_size=128, memory_size=128)
    out = attend(h, encoder_outputs)   # [context, h] per step
"""
import math

import torch
from torch import nn


class Attention(nn.Module):
    """Recur's attention layer (docs/cells/attention.md): for each step's
    query q and the memory rows m_i,
        s_i = scale * score(q, m_i),  a = softmax(s),  out = [sum_i a_i m_i, q]
    with score "dot" (q . m_i), "general" (q . W m_i: self.weight, (query,
    memory)) or "additive" (v . tanh(W_q q + W_m m_i + b): self.query,
    self.memory (with bias b unless bias=False), self.v). scale None is 1.

    forward(query, memory, lengths=None): query (B, T, query_size), memory
    (B, S, memory_size) (both time-first with batch_first=False); `lengths`
    (B,) masks memory rows past each sequence's length (for padded
    batches; Recur's memory holds exactly the rows set).
    Returns (B, T, memory_size + query_size)."""

    def __init__(self, score, query_size, memory_size, units=None, bias=True, scale=None, batch_first=True):
        super().__init__()
        if score not in ("dot", "general", "additive"):
            raise ValueError(f"Attention: score must be 'dot', 'general' or 'additive', not {score!r}")
        if score == "dot" and query_size != memory_size:
            raise ValueError(f"Attention('dot'): query_size {query_size} must equal memory_size {memory_size}")
        if score == "additive" and not units:
            raise ValueError("Attention('additive') needs units")
        self.score, self.query_size, self.memory_size = score, query_size, memory_size
        self.units, self.scale, self.batch_first = units, scale, batch_first
        bound = 1 / math.sqrt(memory_size)
        if score == "general":
            self.weight = nn.Parameter(torch.empty(query_size, memory_size).uniform_(-bound, bound))
        elif score == "additive":
            self.query = nn.Linear(query_size, units, bias=False)
            self.memory = nn.Linear(memory_size, units, bias=bias)
            self.v = nn.Parameter(torch.empty(units).uniform_(-1 / math.sqrt(units), 1 / math.sqrt(units)))

    def forward(self, query, memory, lengths=None):
        if not self.batch_first:
            query, memory = query.transpose(0, 1), memory.transpose(0, 1)
        if self.score == "dot":
            s = query @ memory.transpose(1, 2)
        elif self.score == "general":
            s = query @ (memory @ self.weight.T).transpose(1, 2)
        else:
            s = torch.tanh(self.query(query)[:, :, None, :] + self.memory(memory)[:, None, :, :]) @ self.v
        if self.scale is not None:
            s = s * self.scale
        if lengths is not None:
            past = torch.arange(memory.shape[1], device=memory.device)[None, None, :] >= lengths[:, None, None]
            s = s.masked_fill(past, float("-inf"))
        out = torch.cat([torch.softmax(s, dim=-1) @ memory, query], dim=-1)
        return out if self.batch_first else out.transpose(0, 1)

    def extra_repr(self):
        return f"{self.score!r}, query_size={self.query_size}, memory_size={self.memory_size}" + \
            (f", units={self.units}" if self.units else "") + (f", scale={self.scale}" if self.scale else "")
