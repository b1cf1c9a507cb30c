#!/usr/bin/env bash
# Reference implementations the metric tests compare against, pinned, in a virtual environment under
# .cache/pyref (git ignores it): sacrebleu 2.6.0 (BLEU), rouge-score 0.1.2 (ROUGE-L) and pycocoevalcap 1.2
# (CIDEr-D; installed without its pycocotools dependency, which CIDEr does not use); selenium 4.27.1 for
# the web-page test; scipy 1.13.1 (sqrtm) for the FID test; tokenizers 0.20.3 (Hugging Face's BERT
# WordPiece, on MiniLM's tokenizer.json) for the tokenizer test, safetensors 0.4.5 for the reader test and
# scikit-learn 1.5.2 (LinearSVC, liblinear) for the NB-SVM test.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/pyref
stamp=$venv/.loupe-pyref-6
if [ -f "$stamp" ]; then echo "install-pyref: present"; exit 0; fi
rm -rf "$venv"
# Debian's python3 (python3-venv) or any python3 with venv.
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check sacrebleu==2.6.0 rouge-score==0.1.2
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps pycocoevalcap==1.2
# WebDriver client for the web-page test (Tests/ServiceTests/Web/pages.py); it drives Debian's chromium-driver.
"$venv/bin/pip" install -q --disable-pip-version-check selenium==4.27.1
# scipy's sqrtm: the Fréchet distance reference (Tests/SynthesisTests).
"$venv/bin/pip" install -q --disable-pip-version-check scipy==1.13.1
# Hugging Face's tokenizer: the reference ids for the WordPiece test (Tests/SentimentTests).
"$venv/bin/pip" install -q --disable-pip-version-check tokenizers==0.20.3 safetensors==0.4.5 scikit-learn==1.5.2
# Hugging Face transformers 4.30.2 over Debian's PyTorch 1.13 (its own venv, seeing the system packages):
# BertModel on MiniLM's safetensors is the reference for the Swift encoder (Tests/SentimentTests).
torchvenv=.cache/pyref-torch
rm -rf "$torchvenv"
/usr/bin/python3 -m venv --system-site-packages "$torchvenv"
"$torchvenv/bin/pip" install -q --disable-pip-version-check transformers==4.30.2 tokenizers==0.13.3 safetensors==0.4.5 huggingface_hub==0.23.5
"$torchvenv/bin/python" -c "import torch, transformers; from transformers import BertModel"
"$venv/bin/python" -c "import sacrebleu, rouge_score; from pycocoevalcap.cider.cider import Cider; import selenium, scipy.linalg, tokenizers, safetensors.numpy, sklearn.svm"
touch "$stamp"
echo "install-pyref: installed into $venv"
