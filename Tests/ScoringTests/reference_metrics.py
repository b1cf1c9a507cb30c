"""Scores a JSON corpus {"hypotheses": [...], "references": [[...], ...]} with the reference packages."""
import json
import sys

import sacrebleu
from rouge_score import rouge_scorer
from pycocoevalcap.cider.cider import Cider

corpus = json.load(sys.stdin)
hyps, refs = corpus["hypotheses"], corpus["references"]
width = max(len(r) for r in refs)
# sacrebleu wants reference streams; pad ragged sets with None as its docs allow.
streams = [[r[i] if i < len(r) else None for r in refs] for i in range(width)]
scores = [sacrebleu.BLEU(max_ngram_order=n).corpus_score(hyps, streams) for n in (1, 2, 3, 4)]
bleu = [s.score / 100 for s in scores]
scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
rouge = sum(scorer.score_multi(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs)) / len(hyps)
result = {"bleu": bleu, "bleuLengths": [scores[3].sys_len, scores[3].ref_len], "rougeL": rouge}
if "cider" in corpus:
    c = corpus["cider"]
    gts = {i: r for i, r in enumerate(c["references"])}
    res = {i: [h] for i, h in enumerate(c["hypotheses"])}
    mean, scores = Cider().compute_score(gts, res)
    result["cider"] = float(mean)
    result["ciderScores"] = [float(s) for s in scores]
json.dump(result, sys.stdout)
