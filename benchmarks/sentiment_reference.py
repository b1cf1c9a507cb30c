"""Reference inference time for a sentiment model: the same BERT encoder (Hugging Face transformers
4.30.2 BertModel over Debian's PyTorch 1.13), mean pooling and a linear head, on the same sentences,
in batches of 32 padded to each batch's longest (what transformers does), ordered by length and in
corpus order; the median of three passes each. Weights are random: the time does not depend on them.

usage: sentiment_reference.py MODEL.json VOCAB.txt TEXTS.txt  → one JSON line
"""
import json
import sys
import time

import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

torch.set_num_threads(2)
config, vocab, texts_file = sys.argv[1:4]
encoder = json.load(open(config))["encoder"]
model = BertModel(BertConfig(**encoder), add_pooling_layer=False).eval()
head = torch.nn.Linear(encoder["hidden_size"], 2).eval()
tokenizer = BertTokenizerFast(vocab_file=vocab, do_lower_case=True)
texts = [line.rstrip("\n") for line in open(texts_file, encoding="utf-8")]


def classify(batch):
    encoded = tokenizer(batch, padding=True, truncation=True, max_length=128, return_tensors="pt")
    states = model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).last_hidden_state
    mask = encoded["attention_mask"].unsqueeze(-1).float()
    return head((states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).softmax(-1)


def ms_per_review(ordered, rounds=3):
    """The median over `rounds` passes, as `loupe eval sentiment` reports."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(0, len(ordered), 32):
            classify(ordered[i:i + 32])
        times.append((time.perf_counter() - start) * 1000 / len(ordered))
    return sorted(times)[rounds // 2]


with torch.no_grad():
    classify(texts[:32])  # warm-up
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
    by_length = [t for _, t in sorted(zip(lengths, texts), key=lambda p: p[0])]
    print(json.dumps({"ms_per_review": ms_per_review(by_length), "ms_per_review_arrival_order": ms_per_review(texts), "count": len(texts)}))
