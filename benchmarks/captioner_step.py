"""Python PyTorch 1.13 reference for `loupe bench captioner-step`: the same captioner decoder and attribute
heads (Sources/Captioner/CaptionModel.swift), the same batch, loss, optimizer and clipping."""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

FIELDS = [("category", 8, False), ("metal", 8, False), ("gemstone", 12, True), ("style", 8, False), ("finish", 4, False)]


class Block(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.fc, self.proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, memory, causal, padding):
        h = self.ln1(x)
        x = x + self.drop(self.self_attn(h, h, h, attn_mask=causal, key_padding_mask=padding)[0])
        h = self.ln2(x)
        x = x + self.drop(self.cross_attn(h, memory, memory)[0])
        return x + self.drop(self.proj(F.gelu(self.fc(self.ln3(x)))))


class Captioner(nn.Module):
    def __init__(self, vocab, d=256, layers=2, heads=4, dropout=0.1, max_len=112, cells=49, channels=1280, pooled=2064, hidden=256):
        super().__init__()
        self.adapter, self.adapter_norm = nn.Linear(channels, d), nn.LayerNorm(d)
        self.grid_pos = nn.Parameter(torch.randn(cells, d) * 0.02)
        self.tok = nn.Embedding(vocab, d)
        nn.init.normal_(self.tok.weight, std=0.02)  # as CaptionModel (GPT-2 init, tied output)
        self.pos = nn.Parameter(torch.randn(max_len, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads, dropout) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.trunk, self.trunk_norm = nn.Linear(pooled, hidden), nn.LayerNorm(hidden)
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, n) for name, n, _ in FIELDS})
        self.drop = nn.Dropout(dropout)

    def forward(self, features, pooled, tokens, attributes):
        memory = self.drop(self.adapter_norm(self.adapter(features.flatten(2).transpose(1, 2))) + self.grid_pos)
        inp, nxt = tokens[:, :-1], tokens[:, 1:]
        t = inp.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool).triu(1)
        padding = inp.eq(0)
        x = self.drop(self.tok(inp) + self.pos[:t])
        for block in self.blocks:
            x = block(x, memory, causal, padding)
        logits = self.ln_f(x) @ self.tok.weight.t()
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), nxt.reshape(-1), ignore_index=0, label_smoothing=0.1)
        trunk = self.drop(F.gelu(self.trunk_norm(self.trunk(pooled))))
        for name, k, multiple in FIELDS:
            out = self.heads[name](trunk)
            loss = loss + (F.binary_cross_entropy_with_logits(out, attributes[name]) * k if multiple
                           else F.cross_entropy(out, attributes[name]))
        return loss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--length", type=int, default=72)
    p.add_argument("--vocabulary", type=int, default=240)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Captioner(a.vocabulary)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    features = torch.randn(a.batch, 1280, 7, 7).relu()
    pooled = torch.randn(a.batch, 2064).relu()
    tokens = torch.randint(5, a.vocabulary, (a.batch, a.length))
    attributes = {n: (torch.rand(a.batch, k).gt(0.8).float() if m else torch.randint(0, k, (a.batch,))) for n, k, m in FIELDS}

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(features, pooled, tokens, attributes)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    seconds = time.perf_counter() - start
    print(json.dumps({"impl": "python", "threads": a.threads, "steps": a.steps, "seconds": round(seconds, 3),
                      "images_per_s": round(a.steps * a.batch / seconds, 2), "loss": round(loss, 4)}))


if __name__ == "__main__":
    main()
